// How busy the whole machine was while a benchmark step ran, from /proc/stat: on a small
// machine shared with other work, a step's wall time says little unless we know that the
// cores were ours. Linux only; elsewhere `available` is false.
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { sleep } from './load.ts';
import { num } from './stats.ts';

function ticks(): { busy: number; total: number } | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    const total = v.slice(0, 8).reduce((a, b) => a + b, 0); // user..steal
    const idle = (v[3] ?? 0) + (v[4] ?? 0); // idle + iowait
    return { busy: total - idle, total };
  } catch {
    return undefined;
  }
}

export interface MachineLoad {
  available: boolean;
  seconds: number;
  /** Busy cores on average (1.0 = one core fully busy), whoever used them. */
  busyCores: number;
}

/** Starts measuring; stop() says how busy the machine was since. */
export function machineMeter(): { stop(): MachineLoad } {
  const first = ticks();
  const started = performance.now();
  return {
    stop() {
      const last = ticks();
      const seconds = (performance.now() - started) / 1000;
      if (!first || !last || last.total === first.total) return { available: false, seconds, busyCores: 0 };
      const share = (last.busy - first.busy) / (last.total - first.total);
      return { available: true, seconds, busyCores: share * cpus().length };
    },
  };
}

/**
 * Waits (up to maxWaitMs) for a second in which the machine is nearly idle (≤ `threshold`
 * busy cores), so that a timed step does not start in the middle of someone else's work.
 * Returns the busy cores of the last second looked at.
 */
export async function waitForQuiet(
  maxWaitMs: number,
  threshold = 0.3,
): Promise<{ busyCores: number; waitedMs: number }> {
  const started = performance.now();
  for (;;) {
    const m = machineMeter();
    await sleep(1000);
    const load = m.stop();
    const waitedMs = performance.now() - started;
    if (!load.available || load.busyCores <= threshold || waitedMs >= maxWaitMs) {
      return { busyCores: load.busyCores, waitedMs };
    }
  }
}

/** Other engineers' work shares the cores: the figures are only comparable with the load beside them. */
export const loadLine = (when: string) =>
  `load average ${when}: ${loadavg()
    .map((l) => num(l, 2))
    .join(', ')}`;
