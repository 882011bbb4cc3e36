// Serving benchmark: aggregate generated tokens/s and time-to-first-token (p50/p99) of
// `deepkb serve` at several numbers of concurrent streaming requests.
//
// Usage: node bench/serve_bench.mjs --url http://127.0.0.1:8080 [--concurrency 1,4,8,16]
//          [--prompt "Once upon a time"] [--tokens 64] [--rounds 1] [--api-key KEY] [--json]
// Each level sends N simultaneous POST /v1/completions requests (stream: true,
// temperature 0, max_tokens = --tokens, stream_options.include_usage) and measures
//   aggregate t/s = completion tokens of all N / wall time from the first send to the last end
//   TTFT         = send → first non-empty text chunk, per request (p50 and p99 over all)
//   per-stream t/s = (completion tokens - 1) / (end - first token), median.
// Needs only Node.js ≥ 18 (fetch); no packages.
const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => {
  if (a.startsWith('--')) acc.push([a.slice(2), all[i + 1] && !all[i + 1].startsWith('--') ? all[i + 1] : 'true']);
  return acc;
}, []));
const url = args.url ?? 'http://127.0.0.1:8080';
const levels = (args.concurrency ?? '1,4,8,16').split(',').map(Number);
const prompt = args.prompt ?? 'Once upon a time';
const tokens = Number(args.tokens ?? 64);
const rounds = Number(args.rounds ?? 1);
const headers = { 'Content-Type': 'application/json' };
if (args['api-key']) headers.Authorization = `Bearer ${args['api-key']}`;

async function one() {
  const t0 = performance.now();
  const res = await fetch(`${url}/v1/completions`, {
    method: 'POST', headers,
    body: JSON.stringify({ prompt, max_tokens: tokens, temperature: 0, stream: true, stream_options: { include_usage: true } }),
  });
  if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
  let first = null;
  let usage = null;
  let buf = '';
  const dec = new TextDecoder();
  for await (const part of res.body) {
    buf += dec.decode(part, { stream: true });
    let at;
    while ((at = buf.indexOf('\n\n')) >= 0) {
      const ev = buf.slice(0, at);
      buf = buf.slice(at + 2);
      if (!ev.startsWith('data: ') || ev === 'data: [DONE]') continue;
      const j = JSON.parse(ev.slice(6));
      if (j.error) throw new Error(JSON.stringify(j.error));
      if (j.usage) usage = j.usage;
      if (first === null && j.choices?.[0]?.text) first = performance.now();
    }
  }
  const end = performance.now();
  const n = usage?.completion_tokens ?? 0;
  return { ttft: (first ?? end) - t0, n, tps: n > 1 && first ? (n - 1) / ((end - first) / 1000) : 0, end };
}

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};

await one();  // warm-up (and a check that the server answers)
const rows = [];
for (const c of levels) {
  const ttfts = [];
  const tps = [];
  let total = 0;
  let wall = 0;
  for (let r = 0; r < rounds; ++r) {
    const t0 = performance.now();
    const results = await Promise.all(Array.from({ length: c }, one));
    wall += (Math.max(...results.map((x) => x.end)) - t0) / 1000;
    for (const x of results) {
      ttfts.push(x.ttft / 1000);
      tps.push(x.tps);
      total += x.n;
    }
  }
  rows.push({ streams: c, requests: c * rounds, tokens: total, aggregate_tps: total / wall,
              per_stream_tps_p50: pct(tps, 50), ttft_p50_s: pct(ttfts, 50), ttft_p99_s: pct(ttfts, 99) });
  const last = rows.at(-1);
  if (!args.json) {
    console.error(`streams ${c}: ${last.tokens} tokens, aggregate ${last.aggregate_tps.toFixed(2)} t/s, ` +
                  `per stream ${last.per_stream_tps_p50.toFixed(2)} t/s, TTFT p50 ${last.ttft_p50_s.toFixed(2)} s p99 ${last.ttft_p99_s.toFixed(2)} s`);
  }
}
if (args.json) {
  console.log(JSON.stringify(rows, null, 2));
} else {
  console.log('| streams | requests | tokens | aggregate t/s | per-stream t/s (p50) | TTFT p50 | TTFT p99 |');
  console.log('|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of rows) {
    console.log(`| ${r.streams} | ${r.requests} | ${r.tokens} | ${r.aggregate_tps.toFixed(2)} | ${r.per_stream_tps_p50.toFixed(2)} | ` +
                `${r.ttft_p50_s.toFixed(2)} s | ${r.ttft_p99_s.toFixed(2)} s |`);
  }
}
