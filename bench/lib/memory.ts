// Memory sampling for benchmarks: a full GC before a measurement (so "before" is not inflated
// by garbage of an earlier phase) and the peak RSS / heap sampled on a timer while it runs.
import v8 from 'node:v8';
import vm from 'node:vm';

let gcFn: (() => void) | undefined;

/** Forces a full garbage collection (exposes V8's gc() at runtime; no node flag needed). */
export function fullGc(): void {
  if (!gcFn) {
    v8.setFlagsFromString('--expose-gc');
    gcFn = vm.runInNewContext('gc') as () => void;
  }
  gcFn();
  gcFn();
}

export interface MemoryPeak {
  rssBefore: number;
  rssPeak: number;
  heapBefore: number;
  heapPeak: number;
  samples: number;
}

/** Samples process.memoryUsage() every `intervalMs` until stop(). */
export function sampleMemory(intervalMs = 50): { stop(): MemoryPeak } {
  const first = process.memoryUsage();
  const peak: MemoryPeak = {
    rssBefore: first.rss,
    rssPeak: first.rss,
    heapBefore: first.heapUsed,
    heapPeak: first.heapUsed,
    samples: 1,
  };
  const sample = () => {
    const m = process.memoryUsage();
    peak.rssPeak = Math.max(peak.rssPeak, m.rss);
    peak.heapPeak = Math.max(peak.heapPeak, m.heapUsed);
    peak.samples++;
  };
  const timer = setInterval(sample, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      sample();
      return peak;
    },
  };
}

/**
 * Peak live heap while `run` runs: a full GC then heapUsed every `everyMs`, so what is
 * measured is memory still referenced, not garbage V8 has not collected yet. Slows `run`
 * down: use it on an untimed pass.
 */
export async function liveHeapPeak<T>(
  run: () => Promise<T>,
  everyMs = 250,
): Promise<{ result: T; before: number; peak: number }> {
  fullGc();
  const before = process.memoryUsage().heapUsed;
  let peak = before;
  const sample = () => {
    fullGc();
    peak = Math.max(peak, process.memoryUsage().heapUsed);
  };
  const timer = setInterval(sample, everyMs);
  try {
    const result = await run();
    return { result, before, peak };
  } finally {
    clearInterval(timer);
  }
}
