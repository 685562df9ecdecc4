// The real `claimtrail start` process: migrates, becomes ready, and on SIGTERM stops cleanly
// (exit 0 within SHUTDOWN_TIMEOUT_MS) having logged JSON lines that never hold a secret.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/context.ts';
import { dropDatabase, ownerUrlFor } from '../helpers/databases.ts';
import { freePort } from '../helpers/net.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const shutdownTimeoutMs = 5_000;

// A database and key prefix of its own: the process runs workers and the sequencer, which
// must not take jobs or integrate ledger events belonging to other test files. `start`
// creates the database itself (it migrates first).
const dbUrl = new URL(process.env.DATABASE_URL ?? '');
dbUrl.pathname = `${dbUrl.pathname}_process`;
// Migrated as the owner, run as the runtime role, as `npm start` does.
const ownerUrl = ownerUrlFor(dbUrl.toString());

let child: ChildProcess | undefined;
let dir: string | undefined;

afterAll(async () => {
  if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  if (dir) await rm(dir, { recursive: true, force: true });
  await dropDatabase(dbUrl.toString());
});

/** What `npm start` is given in these tests: this file's database, prefix and files. */
const startEnv = (port: number, keyFile: string, blobParent: string) => ({
  ...process.env,
  NODE_ENV: 'test',
  HOST: '127.0.0.1',
  PORT: String(port),
  DATABASE_URL: dbUrl.toString(),
  MIGRATION_DATABASE_URL: ownerUrl,
  REDIS_PREFIX: `${process.env.REDIS_PREFIX}:process`,
  LOG_SIGNING_KEY_FILE: keyFile,
  BLOB_DIR: join(blobParent, 'blobs'),
  LOG_LEVEL: 'info',
  SHUTDOWN_TIMEOUT_MS: String(shutdownTimeoutMs),
});

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('claimtrail start', () => {
  it('becomes ready, then exits 0 on SIGTERM after logging "shutdown complete"', async () => {
    dir = await mkdtemp(join(tmpdir(), 'claimtrail-process-'));
    const keyFile = join(dir, 'key');
    const port = await freePort();
    const proc = spawn(process.execPath, ['bin/claimtrail.mjs', 'start'], {
      cwd: root,
      env: startEnv(port, keyFile, dir),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = proc;
    let stdout = '';
    let stderr = '';
    proc.stdout?.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    proc.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const exited = once(proc, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;

    const base = `http://127.0.0.1:${port}`;
    await waitFor(
      async () => {
        if (proc.exitCode !== null) throw new Error(`exited early (${proc.exitCode}):\n${stderr}\n${stdout}`);
        const res = await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(3_000) }).catch(
          () => undefined,
        );
        return res?.status === 200;
      },
      60_000,
      250,
    );

    // A request carrying a token and an idempotency key: neither may reach the log.
    const token = `ct_${'A'.repeat(43)}`;
    const probe = await fetch(`${base}/v1/no-such-route`, {
      headers: {
        Authorization: `Bearer ${token}`,
        'Idempotency-Key': 'idem-secret-123',
        'X-Request-Id': 'proc-test-1',
      },
    });
    expect(probe.status).toBe(401); // the made-up token is refused: it still must not be logged

    proc.kill('SIGTERM');
    const outcome = await Promise.race([
      exited,
      sleep(shutdownTimeoutMs + 5_000).then(() => 'timeout' as const),
    ]);
    expect(outcome, `still running ${shutdownTimeoutMs + 5_000} ms after SIGTERM`).not.toBe('timeout');
    expect(outcome).toEqual([0, null]);

    const lines = stdout.split('\n').filter((l) => l.trim() !== '');
    const records = lines.map((l) => {
      try {
        return JSON.parse(l) as Record<string, unknown>;
      } catch {
        throw new Error(`a stdout line is not JSON: ${l}`);
      }
    });
    const messages = records.map((r) => r.msg);
    expect(messages).toEqual(
      expect.arrayContaining(['database migrated', 'workers started', 'sequencer started', 'api listening']),
    );
    // Not asserted as the very last line: pino writes asynchronously and its exit-time flush
    // can put a line written just before after it.
    expect(messages, stdout).toContain('shutdown complete');
    const stopped = records.filter((r) => r.msg === 'stopped').map((r) => r.component);
    expect(stopped.sort(), stdout).toEqual(['api', 'sequencer', 'workers']);
    for (const r of records) expect(r.service, JSON.stringify(r)).toBe('claimtrail');
    // Migrated as the owner, granted the runtime role, which then gets no privilege warning.
    const migrated = records.find((r) => r.msg === 'database migrated');
    expect(migrated?.grants, stdout).toMatch(
      /^(created the runtime role \S+ .*; )?granted \S+ least privilege on \d+ tables$/,
    );
    expect(stdout).not.toContain('SECURITY');

    // The request was logged (so its headers went through the redaction)...
    expect(records.some((r) => (r.req as { id?: string } | undefined)?.id === 'proc-test-1')).toBe(true);
    // ...and no secret made it out.
    const signerKey = (await readFile(keyFile, 'utf8')).trim();
    expect(signerKey).toMatch(/^PRIVATE\+KEY\+/);
    expect((await stat(keyFile)).mode & 0o777).toBe(0o600);
    for (const l of lines) {
      expect(l).not.toMatch(/ct_[A-Za-z0-9_-]{43}/);
      expect(l).not.toContain('PRIVATE+KEY');
      // PRIVATE+KEY+<name>+<hash>+<base64>: the base64 itself may contain '+'.
      expect(l).not.toContain(signerKey.split('+').slice(4).join('+'));
      expect(l).not.toContain('idem-secret-123');
    }
    expect(stderr).toBe('');
  }, 120_000);

  // `npm start` as the README says: a SIGTERM to npm (what a supervisor sends) must reach the
  // service, not leave it running orphaned (npm's `sh -c` used to die without passing it on).
  it('npm start: SIGTERM to npm stops the service too', async () => {
    dir ??= await mkdtemp(join(tmpdir(), 'claimtrail-process-'));
    const port = await freePort();
    const npm = spawn('npm', ['start', '--silent'], {
      cwd: root,
      env: startEnv(port, join(dir, 'key'), join(dir, 'npm')),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = npm;
    let output = '';
    for (const s of [npm.stdout, npm.stderr]) s?.on('data', (d: Buffer) => (output += d.toString()));
    const exited = once(npm, 'exit');
    await waitFor(
      async () => {
        if (npm.exitCode !== null) throw new Error(`npm exited early (${npm.exitCode}):\n${output}`);
        const res = await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined);
        return res?.status === 200;
      },
      60_000,
      250,
    );
    // Every process under npm: the service is one of them, however npm starts it.
    const tree = (pid: number): number[] => {
      const out = spawnSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).stdout;
      const kids = out.split('\n').filter(Boolean).map(Number);
      return kids.flatMap((k) => [k, ...tree(k)]);
    };
    const descendants = tree(npm.pid!);
    expect(descendants.length, output).toBeGreaterThan(0);
    npm.kill('SIGTERM');
    await Promise.race([exited, sleep(shutdownTimeoutMs + 5_000)]);
    await waitFor(async () => descendants.every((pid) => !alive(pid)), shutdownTimeoutMs + 5_000).catch(
      () => {
        for (const pid of descendants) if (alive(pid)) process.kill(pid, 'SIGKILL');
        throw new Error(
          `processes still running after SIGTERM to npm: ${descendants.filter(alive).join(', ')}\n${output}`,
        );
      },
    );
    expect(output).toContain('shutdown complete');
  }, 120_000);
});
