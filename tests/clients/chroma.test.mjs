// deepkb serve's Chroma-compatible API driven by the official `chromadb` JavaScript client.
// Run by CTest (test "client_sdks") with DEEPKB_BIN and DKB_FIXTURES set.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, fixtures } from './serve.mjs';
import {
  ChromaClient, ChromaClientError, ChromaNotFoundError, ChromaUniqueError, ChromaUnauthorizedError,
} from 'chromadb';

const embed = `${fixtures}/models/tiny-bert-F16.gguf`;
const KEY = 'sk-chroma-test';
let server;
let base;

before(async () => {
  server = await startServer(['--embed-model', embed, '--api-key', KEY, '--threads', '2'], [embed]);
  base = server.url;
});

after(async () => {
  if (server) await server.stop();
});

function client(key = KEY) {
  return new ChromaClient({ host: base.hostname, port: Number(base.port), ssl: false,
                            headers: { Authorization: `Bearer ${key}` } });
}

// An embedding function backed by the server's own model (its OpenAI-style /v1/embeddings).
const serverEmbeddings = {
  async generate(texts) {
    const r = await fetch(`${base.origin}/v1/embeddings`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
      body: JSON.stringify({ input: texts }),
    });
    assert.equal(r.status, 200);
    return (await r.json()).data.map((d) => d.embedding);
  },
};

test('chromadb: heartbeat, version, auth', async () => {
  const c = client();
  assert.ok((await c.heartbeat()) > 0);
  assert.equal(typeof (await c.version()), 'string');
  await assert.rejects(client('wrong').listCollections(), ChromaUnauthorizedError);
});

test('chromadb: collection with explicit embeddings: add, query, get, update, upsert, delete, count', async () => {
  const c = client();
  const col = await c.createCollection({ name: 'js-explicit', metadata: { team: 'qa' }, embeddingFunction: null });
  assert.match(col.id, /^[0-9a-f-]{36}$/);
  await assert.rejects(c.createCollection({ name: 'js-explicit', embeddingFunction: null }), ChromaUniqueError);
  const same = await c.getOrCreateCollection({ name: 'js-explicit', embeddingFunction: null });
  assert.equal(same.id, col.id);

  await col.add({
    ids: ['a', 'b', 'c'],
    embeddings: [[1, 0], [0, 1], [0.5, 0.5]],
    metadatas: [{ kind: 'x', n: 1 }, { kind: 'y', n: 2 }, { kind: 'x', n: 3 }],
    documents: ['apple pie', 'banana bread', 'cherry tart'],
  });
  assert.equal(await col.count(), 3);
  await assert.rejects(col.add({ ids: ['d'], embeddings: [[1, 2, 3]] }), ChromaClientError);
  await assert.rejects(col.add({ ids: ['a'], embeddings: [[1, 1]] }), ChromaUniqueError);

  const q = await col.query({ queryEmbeddings: [[1, 0]], nResults: 3, include: ['distances', 'documents', 'metadatas'] });
  assert.deepEqual(q.ids, [['a', 'c', 'b']]);
  assert.ok(Math.abs(q.distances[0][1] - 0.5) < 1e-6);  // squared L2, Chroma's default space
  assert.equal(q.documents[0][0], 'apple pie');
  assert.equal(q.metadatas[0][2].kind, 'y');
  const qf = await col.query({ queryEmbeddings: [[0, 1]], nResults: 1, where: { kind: 'x' } });
  assert.deepEqual(qf.ids, [['c']]);

  const g = await col.get({ where: { n: { $gte: 2 } }, include: ['documents', 'embeddings', 'metadatas'] });
  assert.deepEqual(g.ids, ['b', 'c']);
  assert.deepEqual(g.embeddings, [[0, 1], [0.5, 0.5]]);
  const gd = await col.get({ whereDocument: { $contains: 'tart' } });
  assert.deepEqual(gd.ids, ['c']);

  await col.update({ ids: ['a'], metadatas: [{ kind: 'z' }], embeddings: [[0.9, 0.1]] });
  const ga = await col.get({ ids: ['a'], include: ['metadatas', 'embeddings'] });
  assert.equal(ga.metadatas[0].kind, 'z');
  assert.equal(ga.metadatas[0].n, 1);
  assert.ok(Math.abs(ga.embeddings[0][0] - 0.9) < 1e-6);
  await col.upsert({ ids: ['d'], embeddings: [[2, 2]], documents: ['date loaf'] });
  assert.equal(await col.count(), 4);

  const del = await col.delete({ where: { kind: 'x' } });
  assert.equal(del.deleted, 1);  // c ('a' became kind z)
  await col.delete({ ids: ['d'] });
  assert.equal(await col.count(), 2);

  await col.modify({ name: 'js-renamed', metadata: { team: 'ml' } });
  const renamed = await c.getCollection({ name: 'js-renamed' });
  assert.equal(renamed.id, col.id);
  assert.deepEqual(renamed.metadata, { team: 'ml' });
  assert.ok((await c.listCollections()).some((x) => x.name === 'js-renamed'));
  await c.deleteCollection({ name: 'js-renamed' });
  await assert.rejects(c.getCollection({ name: 'js-renamed' }), ChromaNotFoundError);
});

test('chromadb: documents embedded by the server model', async () => {
  const c = client();
  const col = await c.createCollection({ name: 'js-server-embedded', metadata: { 'hnsw:space': 'cosine' },
                                         embeddingFunction: serverEmbeddings });
  const docs = ['Paris is the capital of France', 'Berlin is the capital of Germany', 'Sushi is a Japanese dish'];
  // Through the client: its embedding function asks the server's model.
  await col.add({ ids: ['fr', 'de'], documents: docs.slice(0, 2), metadatas: [{ lang: 'fr' }, { lang: 'de' }] });
  // Raw request without embeddings: deepkb embeds the document itself.
  const r = await fetch(`${base.origin}/api/v2/tenants/default_tenant/databases/default_database/collections/${col.id}/add`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
    body: JSON.stringify({ ids: ['jp'], documents: [docs[2]], metadatas: [{ lang: 'ja' }] }),
  });
  assert.equal(r.status, 201, await r.text());
  assert.equal(await col.count(), 3);

  const q = await col.query({ queryTexts: [docs[2], docs[0]], nResults: 2 });
  assert.equal(q.ids[0][0], 'jp');
  assert.ok(q.distances[0][0] < 1e-3, `server- and client-side embeddings agree (${q.distances[0][0]})`);
  assert.equal(q.ids[1][0], 'fr');
  const filtered = await col.query({ queryTexts: [docs[2]], nResults: 3, where: { lang: { $ne: 'ja' } } });
  assert.ok(!filtered.ids[0].includes('jp'));
  await c.deleteCollection({ name: 'js-server-embedded' });
});
