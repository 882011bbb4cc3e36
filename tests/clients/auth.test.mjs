// Users, keys and roles (issue #8) seen through the official clients: a viewer of one
// collection, signed in with a token or holding an API key, works through the `chromadb` and
// `openai` clients but can neither see nor read another collection; revoked keys are refused.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, fixtures } from './serve.mjs';
import { ChromaClient, ChromaForbiddenError, ChromaUnauthorizedError } from 'chromadb';
import OpenAI from 'openai';

const model = `${fixtures}/models/stories260K.gguf`;
const embed = `${fixtures}/models/tiny-bert-F16.gguf`;
const ADMIN_PASSWORD = 'admin-password-js';
let server;
let base;

before(async () => {
  server = await startServer(['-m', model, '--embed-model', embed, '--threads', '2', '--no-warmup',
                              '--ctx-size', '256', '--rate-limit', '0'], [model, embed],
                             { auth: true, env: { DEEPKB_ADMIN_PASSWORD: ADMIN_PASSWORD } });
  base = server.url;
});

after(async () => {
  if (server) await server.stop();
});

async function api(method, path, body, token) {
  const headers = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const r = await fetch(`${base.origin}${path}`, { method, headers, body: body ? JSON.stringify(body) : undefined });
  return { status: r.status, body: await r.json() };
}

async function login(username, password) {
  const r = await api('POST', '/v1/auth/login', { username, password });
  assert.equal(r.status, 200);
  assert.equal(r.body.token_type, 'Bearer');
  return r.body.access_token;
}

function chroma(token) {
  return new ChromaClient({ host: base.hostname, port: Number(base.port), ssl: false,
                            headers: { Authorization: `Bearer ${token}` } });
}

test('a viewer sees and reads only the collection it was granted', async () => {
  const admin = await login('admin', ADMIN_PASSWORD);
  const a = chroma(admin);
  for (const name of ['js-alpha', 'js-beta']) {
    const col = await a.createCollection({ name, embeddingFunction: null });
    await col.add({ ids: [`${name}-1`], embeddings: [[1, 0]], documents: [`secret of ${name}`] });
  }
  assert.equal((await api('POST', '/v1/admin/users', { username: 'js-viewer', password: 'viewer-password' }, admin)).status, 201);
  assert.equal((await api('POST', '/v1/admin/grants', { user: 'js-viewer', kb: 'js-alpha', role: 'viewer' }, admin)).status, 200);

  const v = chroma(await login('js-viewer', 'viewer-password'));
  assert.deepEqual((await v.listCollections()).map((c) => c.name), ['js-alpha']);
  const alpha = await v.getCollection({ name: 'js-alpha', embeddingFunction: null });
  const q = await alpha.query({ queryEmbeddings: [[1, 0]], nResults: 5 });
  assert.deepEqual(q.documents, [['secret of js-alpha']]);
  await assert.rejects(v.getCollection({ name: 'js-beta', embeddingFunction: null }), ChromaForbiddenError);
  await assert.rejects(alpha.add({ ids: ['x'], embeddings: [[0, 1]], documents: ['nope'] }), ChromaForbiddenError);
  await assert.rejects(chroma('not-a-credential').listCollections(), ChromaUnauthorizedError);
});

test('API keys work with the OpenAI client until revoked', async () => {
  const admin = await login('admin', ADMIN_PASSWORD);
  const created = await api('POST', '/v1/admin/keys', { name: 'js' }, admin);
  assert.equal(created.status, 201);
  const client = new OpenAI({ baseURL: `${base.origin}/v1`, apiKey: created.body.key, maxRetries: 0 });
  const r = await client.chat.completions.create({ model: 'stories260K', max_tokens: 2,
                                                   messages: [{ role: 'user', content: 'Hi' }] });
  assert.equal(r.object, 'chat.completion');
  const listed = await api('GET', '/v1/admin/keys', null, admin);
  assert.ok(!JSON.stringify(listed.body).includes(created.body.key));  // shown once only
  assert.equal((await api('DELETE', `/v1/admin/keys/${created.body.id}`, null, admin)).status, 200);
  await assert.rejects(client.models.list(), OpenAI.AuthenticationError);
});
