// deepkb serve driven by the official OpenAI and Ollama JavaScript SDKs (real clients).
// Run by CTest (test "client_sdks") with DEEPKB_BIN and DKB_FIXTURES set.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { startServer, fixtures } from './serve.mjs';
import OpenAI from 'openai';
import { Ollama } from 'ollama';

const model = `${fixtures}/models/stories260K.gguf`;
const embed = `${fixtures}/models/tiny-bert-F16.gguf`;
const KEY = 'sk-sdk-test';
let server;
let base;

before(async () => {
  server = await startServer(['-m', model, '--embed-model', embed, '--alias', 'deepseek-chat',
                              '--api-key', KEY, '--ctx-size', '256', '--threads', '2'], [model, embed]);
  base = server.url.origin;
});

after(async () => {
  if (server) await server.stop();
});

function reference(prompt) {
  const ref = JSON.parse(readFileSync(`${fixtures}/reference/stories260K.json`, 'utf8'));
  return ref.cases.find((c) => c.prompt === prompt).greedy_text;
}

test('openai: completions match llama.cpp greedy text', async () => {
  const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: KEY });
  const r = await client.completions.create({ model: 'deepseek-chat', prompt: 'Once upon a time', temperature: 0, max_tokens: 32 });
  assert.equal(r.choices[0].text, reference('Once upon a time'));
  assert.equal(r.usage.completion_tokens, 32);
});

test('openai: chat completion, streaming with usage', async () => {
  const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: KEY });
  const r = await client.chat.completions.create({
    model: 'deepseek-chat', messages: [{ role: 'user', content: 'The sun was' }], temperature: 0, max_tokens: 8 });
  assert.equal(r.choices[0].message.role, 'assistant');
  assert.equal(typeof r.choices[0].message.content, 'string');
  const stream = await client.chat.completions.create({
    model: 'deepseek-chat', messages: [{ role: 'user', content: 'The sun was' }], temperature: 0, max_tokens: 8,
    stream: true, stream_options: { include_usage: true } });
  let text = '';
  let usage = null;
  let finish = null;
  for await (const chunk of stream) {
    if (chunk.usage) usage = chunk.usage;
    for (const c of chunk.choices) {
      text += c.delta.content ?? '';
      finish = c.finish_reason ?? finish;
    }
  }
  assert.equal(text, r.choices[0].message.content, 'same seed-free greedy output streamed and not streamed');
  assert.equal(finish, r.choices[0].finish_reason);
  assert.equal(usage.completion_tokens, r.usage.completion_tokens);
});

test('openai: embeddings and models', async () => {
  const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: KEY });
  const e = await client.embeddings.create({ model: 'tiny-bert-F16', input: ['hello world', '知识库'] });
  assert.equal(e.data.length, 2);
  assert.equal(e.data[0].embedding.length, 128);
  const models = await client.models.list();
  const ids = models.data.map((m) => m.id);
  assert.ok(ids.includes('deepseek-chat') && ids.includes('stories260K'), ids.join(','));
});

test('openai: errors surface as SDK error classes', async () => {
  const bad = new OpenAI({ baseURL: `${base}/v1`, apiKey: 'wrong', maxRetries: 0 });
  await assert.rejects(bad.models.list(), OpenAI.AuthenticationError);
  const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: KEY, maxRetries: 0 });
  await assert.rejects(client.chat.completions.create({ model: 'gpt-9', messages: [{ role: 'user', content: 'x' }] }),
                       OpenAI.NotFoundError);
  await assert.rejects(client.chat.completions.create({ model: 'deepseek-chat', messages: [] }), OpenAI.BadRequestError);
});

test('ollama: generate, chat stream, embed, list', async () => {
  const ollama = new Ollama({ host: base, headers: { Authorization: `Bearer ${KEY}` } });
  const g = await ollama.generate({ model: 'stories260K', prompt: 'Once upon a time', raw: true, options: { temperature: 0, num_predict: 32 } });
  assert.equal(g.response, reference('Once upon a time'));
  assert.equal(g.done, true);
  let text = '';
  let last = null;
  for await (const part of await ollama.chat({ model: 'stories260K', messages: [{ role: 'user', content: 'hi' }], stream: true, options: { num_predict: 6 } })) {
    text += part.message.content;
    last = part;
  }
  assert.equal(last.done, true);
  assert.ok(last.eval_count <= 6);
  const e = await ollama.embed({ model: 'tiny-bert-F16', input: 'hello' });
  assert.equal(e.embeddings[0].length, 128);
  const list = await ollama.list();
  assert.equal(list.models.length, 2);
});

test('simple API: POST /v1/chat as the Python snippet does', async () => {
  const r = await fetch(`${base}/v1/chat`, {
    method: 'POST', headers: { Authorization: `Bearer ${KEY}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ prompt: 'Once upon a time', temperature: 0.7, max_tokens: 30 }) });
  assert.equal(r.status, 200);
  const j = await r.json();
  assert.equal(typeof j.choices[0].text, 'string');
});
