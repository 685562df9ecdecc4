// Load generators that run in the benchmark's own process with async concurrency (the
// machine has two cores: a second process would only compete with Postgres for them).
import { performance } from 'node:perf_hooks';

export interface ClosedLoopResult {
  /** Operations that completed inside the measured window. */
  completed: number;
  /** Operations that failed inside the measured window (and the first error seen). */
  errors: number;
  firstError?: string;
  /** Measured window, Date.now() clock. */
  windowStart: number;
  windowEnd: number;
  /** Latency (ms) of each operation completed inside the window. */
  latencies: number[];
  opsPerSecond: number;
}

/**
 * `clients` async loops each run `op` back to back for warmupMs + durationMs; only operations
 * that complete inside the window after the warm-up count. Load stays continuous across the
 * warm-up boundary (no ramp-down and ramp-up in between).
 */
export async function closedLoop(opts: {
  clients: number;
  warmupMs: number;
  durationMs: number;
  op: (client: number, iteration: number) => Promise<void>;
  /** Called when the measured window opens and when it closes (e.g. to meter CPU over it). */
  onWindowStart?: () => void;
  onWindowEnd?: () => void;
}): Promise<ClosedLoopResult> {
  const t0 = Date.now();
  const windowStart = t0 + opts.warmupMs;
  const windowEnd = windowStart + opts.durationMs;
  // Each hook runs once: on its timer, or (when the clients finish first) right after them.
  const once = (fn: (() => void) | undefined) => {
    let done = fn === undefined;
    return () => {
      if (!done) fn?.();
      done = true;
    };
  };
  const start = once(opts.onWindowStart);
  const end = once(opts.onWindowEnd);
  const timers = [setTimeout(start, opts.warmupMs), setTimeout(end, opts.warmupMs + opts.durationMs)];
  const result: ClosedLoopResult = {
    completed: 0,
    errors: 0,
    windowStart,
    windowEnd,
    latencies: [],
    opsPerSecond: 0,
  };
  const client = async (c: number) => {
    for (let i = 0; Date.now() < windowEnd; i++) {
      const started = performance.now();
      let failed: unknown;
      try {
        await opts.op(c, i);
      } catch (err) {
        failed = err;
      }
      const now = Date.now();
      if (now < windowStart || now > windowEnd) continue;
      if (failed !== undefined) {
        result.errors++;
        result.firstError ??= failed instanceof Error ? failed.message : String(failed);
      } else {
        result.completed++;
        result.latencies.push(performance.now() - started);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: opts.clients }, (_, c) => client(c)));
  } finally {
    for (const t of timers) clearTimeout(t);
    start();
    end();
  }
  result.opsPerSecond = result.completed / (opts.durationMs / 1000);
  return result;
}

export interface FixedCountResult {
  latencies: number[];
  errors: number;
  firstError?: string;
  elapsedMs: number;
}

/** Runs `total` operations at most `concurrency` at a time; latency of each in ms. */
export async function fixedCount(opts: {
  total: number;
  concurrency: number;
  op: (i: number) => Promise<void>;
}): Promise<FixedCountResult> {
  const result: FixedCountResult = { latencies: [], errors: 0, elapsedMs: 0 };
  let next = 0;
  const started = performance.now();
  const worker = async () => {
    while (next < opts.total) {
      const i = next++;
      const t = performance.now();
      try {
        await opts.op(i);
        result.latencies.push(performance.now() - t);
      } catch (err) {
        result.errors++;
        result.firstError ??= err instanceof Error ? err.message : String(err);
      }
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, worker));
  result.elapsedMs = performance.now() - started;
  return result;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `fn` until it returns true; throws after timeoutMs. */
export async function until(
  fn: () => Promise<boolean>,
  timeoutMs: number,
  what: string | (() => string),
  stepMs = 50,
) {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${typeof what === 'string' ? what : what()}`,
      );
    await sleep(stepMs);
  }
}
