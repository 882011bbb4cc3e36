// /v1/ws with the `ws` npm client: a chat streamed as deltas equals the OpenAI SDK's
// non-streaming answer; cancel; a missing key refuses the upgrade. Run by CTest ("client_sdks").
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, fixtures } from './serve.mjs';
import OpenAI from 'openai';
import WebSocket from 'ws';

const model = `${fixtures}/models/stories260K.gguf`;
const KEY = 'sk-ws-node';
let server;
let base;

before(async () => {
  server = await startServer(['-m', model, '--api-key', KEY, '--ctx-size', '512', '--threads', '2'], [model]);
  base = server.url.origin;
});

after(async () => {
  if (server) await server.stop();
});

function open(headers = { Authorization: `Bearer ${KEY}` }) {
  const ws = new WebSocket(`${base.replace('http', 'ws')}/v1/ws`, { headers });
  const messages = [];
  const waiters = [];
  ws.on('message', (data, isBinary) => {
    assert.equal(isBinary, false);
    messages.push(JSON.parse(data.toString('utf8')));
    for (const w of waiters.splice(0)) w();
  });
  // Resolves with the messages of `id` once its done/error message arrived.
  const until = (id) => new Promise((resolve) => {
    const check = () => {
      const mine = messages.filter((m) => m.id === id);
      if (mine.some((m) => m.type === 'done' || m.type === 'error')) resolve(mine);
      else waiters.push(check);
    };
    check();
  });
  return { ws, until, ready: new Promise((resolve, reject) => { ws.on('open', resolve); ws.on('unexpected-response', (req, res) => { req.destroy(); reject(res.statusCode); }); ws.on('error', () => {}); }) };
}

test('ws: deltas concatenate to the non-streaming answer; usage at the end', async () => {
  const body = { model: 'stories260K', messages: [{ role: 'user', content: 'Once upon a time' }], temperature: 0, max_tokens: 30 };
  const c = open();
  await c.ready;
  c.ws.send(JSON.stringify({ type: 'chat', id: 'n1', ...body }));
  const msgs = await c.until('n1');
  const text = msgs.filter((m) => m.type === 'delta').map((m) => m.delta.content ?? '').join('');
  const done = msgs.at(-1);
  assert.equal(done.type, 'done');
  const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: KEY });
  const ref = await client.chat.completions.create(body);
  assert.equal(text, ref.choices[0].message.content);
  assert.equal(done.finish_reason, ref.choices[0].finish_reason);
  assert.equal(done.usage.completion_tokens, ref.usage.completion_tokens);
  c.ws.close();
});

test('ws: cancel ends a request with finish_reason cancelled', async () => {
  const c = open();
  await c.ready;
  c.ws.send(JSON.stringify({ id: 'long', model: 'stories260K', messages: [{ role: 'user', content: 'Tell me a story' }],
                             temperature: 1, seed: 3, max_tokens: 400 }));
  c.ws.send(JSON.stringify({ type: 'cancel', id: 'long' }));
  const msgs = await c.until('long');
  const done = msgs.at(-1);
  assert.equal(done.type, 'done');
  assert.equal(done.finish_reason, 'cancelled');
  assert.ok(done.usage.completion_tokens < 400);
  c.ws.close();
});

test('ws: the upgrade needs the API key', async () => {
  const c = open({});
  await assert.rejects(c.ready, (status) => status === 401);
});
