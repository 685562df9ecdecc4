// A Redis of a test's own: `redis-server` in a child process on a loopback port, keeping
// nothing on disk (no RDB, no AOF), so `kill()` + `start()` on the same port is a Redis that
// came back empty — every queued job, scheduler entry and lease gone — without touching the
// machine's shared Redis. Needs `redis-server` on PATH (`hasRedisServer`).
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { waitFor } from './context.ts';
import { freePort } from './net.ts';

export const hasRedisServer = spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;

export interface RedisServer {
  port: number;
  url: string;
  /** The running server's pid (undefined while it is down). */
  pid(): number | undefined;
  /** SIGKILL: a crash; what it held is lost. */
  kill(): Promise<void>;
  /** Starts it again on the same port (empty). */
  start(): Promise<void>;
  stop(): Promise<void>;
}

async function spawnRedis(port: number): Promise<ChildProcess> {
  const child = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      // What the project requires of its Redis (README: Operating it).
      '--maxmemory-policy',
      'noeviction',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  const collect = (d: Buffer) => {
    out += d.toString();
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  await waitFor(
    async () => out.includes('Ready to accept connections') || child.exitCode !== null,
    10_000,
    50,
  );
  if (child.exitCode !== null) throw new Error(`redis-server exited (${child.exitCode}):\n${out}`);
  return child;
}

async function kill(child: ChildProcess | undefined, signal: NodeJS.Signals): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill(signal);
  await exited;
}

/** Starts a server on `port` (default: a free one). The caller stops it. */
export async function startRedisServer(port?: number): Promise<RedisServer> {
  const p = port ?? (await freePort());
  let child: ChildProcess | undefined = await spawnRedis(p);
  return {
    port: p,
    url: `redis://127.0.0.1:${p}`,
    pid: () => (child && child.exitCode === null && child.signalCode === null ? child.pid : undefined),
    async kill() {
      await kill(child, 'SIGKILL');
      child = undefined;
    },
    async start() {
      await kill(child, 'SIGKILL');
      child = await spawnRedis(p);
    },
    async stop() {
      await kill(child, 'SIGTERM');
      child = undefined;
    },
  };
}
