// `claimtrail worker` in a process of its own, for tests that kill one (SIGKILL: no chance to
// clean up) and look at what it left: its output, its exit, and the processes it started
// (found under a directory of the test's own, e.g. the TMPDIR it was given).
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { afterAll } from 'vitest';
import type { Config } from '../../src/config/env.ts';
import type { AppContext } from '../../src/context.ts';
import { handlers } from '../../workers/handlers.ts';
import { startWorkers } from '../../workers/worker-runner.ts';
import { spawnClaimtrail, waitForOutput } from './cli.ts';

export interface WorkerProcess {
  child: ChildProcess;
  exited: Promise<[number | null, NodeJS.Signals | null]>;
  output(): string;
  /** Resolves once it says its workers started (throws if it exits first). */
  started(timeoutMs?: number): Promise<void>;
}

const children = new Set<ChildProcess>();
let cleanup = false;

/**
 * Spawns a worker on the test context's database, Redis prefix, blob directory, allow-list and
 * signing key, plus `env`; killed after the file if still alive.
 */
export function spawnWorker(
  config: Pick<
    Config,
    'DATABASE_URL' | 'REDIS_PREFIX' | 'BLOB_DIR' | 'FETCH_ALLOWLIST' | 'LOG_SIGNING_KEY_FILE'
  >,
  env: Record<string, string> = {},
): WorkerProcess {
  if (!cleanup) {
    cleanup = true;
    afterAll(async () => {
      for (const c of children) {
        if (c.exitCode === null && c.signalCode === null) {
          c.kill('SIGKILL');
          await once(c, 'exit');
        }
      }
    });
  }
  const proc = spawnClaimtrail(['worker'], {
    NODE_ENV: 'test',
    LOG_LEVEL: 'info',
    DATABASE_URL: config.DATABASE_URL,
    REDIS_PREFIX: config.REDIS_PREFIX,
    BLOB_DIR: config.BLOB_DIR,
    FETCH_ALLOWLIST: config.FETCH_ALLOWLIST.join(','),
    FETCH_CONNECT_TIMEOUT_MS: '2000',
    LOG_SIGNING_KEY_FILE: config.LOG_SIGNING_KEY_FILE,
    ...env,
  });
  children.add(proc.child);
  return { ...proc, started: (timeoutMs = 60_000) => waitForOutput(proc, '"workers started"', timeoutMs) };
}

/** Processes whose command line names `dir` or whose working directory is under it. */
export function processesUnder(dir: string): { pid: number; command: string }[] {
  const found: { pid: number; command: string }[] = [];
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      const command = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
      let cwd = '';
      try {
        cwd = readlinkSync(`/proc/${pid}/cwd`);
      } catch {}
      if (command.includes(dir) || cwd.startsWith(dir)) found.push({ pid, command: command.slice(0, 200) });
    } catch {
      // It ended while we looked.
    }
  }
  return found;
}

/**
 * Workers in this process that take over a killed worker's stalled job within seconds (lock
 * 5 s, stalled check every second), once started after the kill; stopped after the file.
 * Called at the top of a file (it registers the afterAll).
 */
export function standbyWorkers(ctx: AppContext): { start(): Promise<void> } {
  let running: Awaited<ReturnType<typeof startWorkers>> | undefined;
  afterAll(() => running?.stop(Date.now() + 5_000));
  return {
    async start() {
      running = await startWorkers(ctx, {
        handlers,
        concurrency: 2,
        workerOptions: { lockDuration: 5_000, stalledInterval: 1_000 },
      });
    },
  };
}
