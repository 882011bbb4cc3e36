// Shared by the client tests: runs `deepkb serve ARGS --port 0 --data <temp dir>` from
// DEEPKB_BIN, resolves when it prints "ready", and stops it with SIGTERM (expecting exit 0).
// The server runs with --no-auth unless { auth: true } is passed (then users, keys and roles
// apply; give DEEPKB_ADMIN_PASSWORD in { env } to know the first administrator's password).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';

export const fixtures = process.env.DKB_FIXTURES ?? new URL('../../../shared/fixtures', import.meta.url).pathname;

// Returns { url: URL of the server, stop: async () => void }.
export async function startServer(args, required = [], { auth = false, env = {} } = {}) {
  const bin = process.env.DEEPKB_BIN;
  assert.ok(bin && existsSync(bin), `DEEPKB_BIN must point at the deepkb binary (got ${bin})`);
  for (const f of required) assert.ok(existsSync(f), `fixture missing: ${f}`);
  const dataDir = mkdtempSync(`${tmpdir()}/dkb_client_`);
  const authArgs = auth || args.includes('--no-auth') ? [] : ['--no-auth'];
  const server = spawn(bin, ['serve', ...args, ...authArgs, '--port', '0', '--data', dataDir],
                       { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } });
  const url = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`server not ready: ${out}`)), 60000);
    server.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/listening on (http:\/\/[^\s]+)/);
      if (m && out.includes('deepkb: ready')) {
        clearTimeout(timer);
        resolve(new URL(m[1]));
      }
    });
    server.on('exit', (code) => reject(new Error(`server exited ${code}: ${out}`)));
  });
  const stop = async () => {
    const exited = new Promise((resolve) => server.on('exit', (code) => resolve(code)));
    server.kill('SIGTERM');
    assert.equal(await exited, 0);
    rmSync(dataDir, { recursive: true, force: true });
  };
  return { url, stop };
}
