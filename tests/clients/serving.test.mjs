// Serving extras driven by the official clients: OpenAI's n > 1 streamed (choices[].index),
// Ollama's /api/show, /api/ps and /api/version. Run by CTest (test "client_sdks").
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, fixtures } from './serve.mjs';
import OpenAI from 'openai';
import { Ollama } from 'ollama';

const model = `${fixtures}/models/stories260K.gguf`;
const embed = `${fixtures}/models/tiny-bert-F16.gguf`;
const KEY = 'sk-serving-test';
let server;
let base;

before(async () => {
  server = await startServer(['-m', model, '--embed-model', embed, '--api-key', KEY, '--ctx-size', '256',
                              '--parallel', '4', '--threads', '2'], [model, embed]);
  base = server.url.origin;
});

after(async () => {
  if (server) await server.stop();
});

test('openai: chat completions stream n = 3 choices, usage once at the end', async () => {
  const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: KEY });
  const body = { model: 'stories260K', messages: [{ role: 'user', content: 'Once upon a time' }],
                 n: 3, temperature: 1.0, seed: 42, max_tokens: 12 };
  const stream = await client.chat.completions.create({ ...body, stream: true, stream_options: { include_usage: true } });
  const text = ['', '', ''];
  const finish = [null, null, null];
  let usageChunks = 0;
  let usage = null;
  for await (const chunk of stream) {
    if (chunk.usage) {
      usageChunks++;
      usage = chunk.usage;
      assert.equal(chunk.choices.length, 0);
    }
    for (const c of chunk.choices) {
      assert.ok(c.index >= 0 && c.index < 3, `index ${c.index}`);
      text[c.index] += c.delta.content ?? '';
      if (c.finish_reason) finish[c.index] = c.finish_reason;
    }
  }
  assert.equal(usageChunks, 1);
  assert.ok(finish.every((f) => f === 'stop' || f === 'length'), finish.join(','));
  // The same seeded request without streaming gives the same three choices.
  const whole = await client.chat.completions.create(body);
  assert.equal(whole.choices.length, 3);
  for (const c of whole.choices) assert.equal(text[c.index], c.message.content, `choice ${c.index}`);
  assert.equal(usage.completion_tokens, whole.usage.completion_tokens);
  assert.equal(usage.prompt_tokens, whole.usage.prompt_tokens);
});

test('openai: completions stream n = 2 choices with choices[].index', async () => {
  const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: KEY });
  const body = { model: 'stories260K', prompt: 'The sun was', n: 2, temperature: 0, max_tokens: 10 };
  const text = ['', ''];
  let usage = null;
  for await (const chunk of await client.completions.create({ ...body, stream: true, stream_options: { include_usage: true } })) {
    if (chunk.usage) usage = chunk.usage;
    for (const c of chunk.choices) text[c.index] += c.text;
  }
  const whole = await client.completions.create(body);
  assert.equal(text[0], whole.choices[0].text);
  assert.equal(text[1], whole.choices[1].text);
  assert.equal(text[0], text[1], 'greedy choices are equal');
  assert.equal(usage.completion_tokens, whole.usage.completion_tokens);
  // Streamed logprobs of several choices are refused precisely.
  await assert.rejects(client.completions.create({ ...body, stream: true, logprobs: 1 }), OpenAI.BadRequestError);
});

test('ollama: show, ps and version', async () => {
  const ollama = new Ollama({ host: base, headers: { Authorization: `Bearer ${KEY}` } });
  const v = await ollama.version();
  assert.match(v.version, /^\d+\.\d+\.\d+/);
  const show = await ollama.show({ model: 'stories260K' });
  assert.equal(show.details.format, 'gguf');
  assert.equal(show.details.family, 'llama');
  assert.equal(show.details.quantization_level, 'F32');
  assert.match(show.details.parameter_size, /^\d+(\.\d)?[KMB]$/);
  assert.equal(show.model_info['general.architecture'], 'llama');
  assert.equal(show.model_info['llama.block_count'], 5);
  assert.equal(show.model_info['tokenizer.ggml.tokens'], null, 'arrays only with verbose');
  assert.ok(show.capabilities.includes('completion'));
  assert.match(show.modelfile, /FROM .*stories260K\.gguf/);
  const verbose = await ollama.show({ model: 'stories260K:latest', verbose: true });
  assert.equal(verbose.model_info['tokenizer.ggml.tokens'].length, 512);
  const emb = await ollama.show({ model: 'tiny-bert-F16' });
  assert.deepEqual(emb.capabilities, ['embedding']);
  await assert.rejects(ollama.show({ model: 'nope' }), (e) => e.status_code === 404 && /not found/.test(e.error));
  const ps = await ollama.ps();
  assert.deepEqual(ps.models.map((m) => m.name).sort(), ['stories260K', 'tiny-bert-F16']);
  const chat = ps.models.find((m) => m.name === 'stories260K');
  assert.equal(chat.context_length, 256);
  assert.ok(chat.size > 0);
  assert.equal(chat.details.family, 'llama');
  assert.ok(!Number.isNaN(new Date(chat.expires_at).getTime()));
  // Without the key: 401 in Ollama's error shape.
  const anon = new Ollama({ host: base });
  await assert.rejects(anon.ps(), (e) => e.status_code === 401);
});
