// Where the machine's cores went during a benchmark phase, from /proc: the whole machine,
// this process, named child processes and Postgres. On a 2-core machine a phase is often
// bound by the cores, not by the code; this says so, and says when other work disturbed it.
import { readdirSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { constants, PerformanceObserver, performance } from 'node:perf_hooks';
import { num } from './stats.ts';

export interface CpuShare {
  available: boolean;
  seconds: number;
  /** In cores (1.0 = one core fully busy). */
  machineBusy: number;
  self: number;
  /** The part of `self` spent in the kernel (system time). */
  selfSystem: number;
  /** The part of `self` spent by the main thread (the event loop: what bounds a Node process). */
  mainThread: number;
  /** Per named process (alive at the end). */
  named: Record<string, number>;
  /** Postgres processes alive at the end (backends that exited meanwhile are missed). */
  postgres: number;
}

function machineTicks(): { busy: number; total: number } | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    const total = v.slice(0, 8).reduce((a, b) => a + b, 0); // user..steal (guest is in user)
    const idle = (v[3] ?? 0) + (v[4] ?? 0); // idle + iowait
    return { busy: total - idle, total };
  } catch {
    return undefined;
  }
}

/** Command name and user + system ticks of a process (or `task`: one of its threads), from
 * /proc/<pid>/stat. */
function procStat(pid: number, task?: number): { comm: string; ticks: number } | undefined {
  try {
    const stat = readFileSync(
      task === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${task}/stat`,
      'utf8',
    );
    const close = stat.lastIndexOf(')');
    const fields = stat.slice(close + 2).split(' ');
    return { comm: stat.slice(stat.indexOf('(') + 1, close), ticks: Number(fields[11]) + Number(fields[12]) };
  } catch {
    return undefined;
  }
}

function postgresTicks(): Map<number, number> {
  const ticks = new Map<number, number>();
  let pids: number[] = [];
  try {
    pids = readdirSync('/proc')
      .filter((e) => /^\d+$/.test(e))
      .map(Number);
  } catch {
    return ticks;
  }
  for (const pid of pids) {
    const s = procStat(pid);
    if (s?.comm === 'postgres') ticks.set(pid, s.ticks);
  }
  return ticks;
}

/** Starts measuring; `named` maps a label to a pid (e.g. a child server). */
export function cpuMeter(named: Record<string, number | undefined> = {}): { stop(): CpuShare } {
  const t0 = performance.now();
  const m0 = machineTicks();
  const n0 = Object.fromEntries(
    Object.entries(named).map(([k, pid]) => [k, pid === undefined ? undefined : procStat(pid)?.ticks]),
  );
  const pg0 = postgresTicks();
  const self0 = process.cpuUsage();
  const main0 = procStat(process.pid, process.pid)?.ticks; // the main thread's id is the pid
  return {
    stop() {
      const s = (performance.now() - t0) / 1000;
      const m1 = machineTicks();
      const self = process.cpuUsage(self0);
      const main1 = procStat(process.pid, process.pid)?.ticks;
      const pg1 = postgresTicks();
      const cores = cpus().length;
      if (!m0 || !m1 || m1.total <= m0.total) {
        return {
          available: false,
          seconds: s,
          machineBusy: 0,
          self: 0,
          selfSystem: 0,
          mainThread: 0,
          named: {},
          postgres: 0,
        };
      }
      // /proc/stat counts ticks of every core: total ticks / cores = elapsed ticks.
      const elapsed = (m1.total - m0.total) / cores;
      const share: Record<string, number> = {};
      for (const [k, pid] of Object.entries(named)) {
        const a = n0[k];
        const b = pid === undefined ? undefined : procStat(pid)?.ticks;
        if (a !== undefined && b !== undefined) share[k] = (b - a) / elapsed;
      }
      let postgres = 0;
      for (const [pid, t] of pg1) postgres += t - (pg0.get(pid) ?? 0);
      return {
        available: true,
        seconds: s,
        machineBusy: (m1.busy - m0.busy) / elapsed,
        self: (self.user + self.system) / 1e6 / s,
        selfSystem: self.system / 1e6 / s,
        mainThread: main0 === undefined || main1 === undefined ? 0 : (main1 - main0) / elapsed,
        named: share,
        postgres: postgres / elapsed,
      };
    },
  };
}

/** Measures the machine for `ms` before a bench starts and says whether other work is running
 * (on a shared 2-core machine that is the first thing a reader of the figures needs). */
export async function reportMachineBefore(say: (line: string) => void, ms = 1000): Promise<CpuShare> {
  const idle = cpuMeter();
  await new Promise((r) => setTimeout(r, ms));
  const before = idle.stop();
  if (before.available) {
    say(
      `machine before start: ${num(before.machineBusy, 2)} of ${cpus().length} cores busy${before.machineBusy > 0.25 ? ' — other work is running: these figures will be low and not comparable' : ''}`,
    );
  }
  return before;
}

/** "machine 1.93 of 2 cores busy: this process 1.02, server 0.55, Postgres 0.10, other 0.26". */
export function describeCpu(c: CpuShare, selfName = 'this process'): string {
  if (!c.available) return 'CPU: /proc not readable';
  const parts = [
    `${selfName} ${num(c.self, 2)} (main thread ${num(c.mainThread, 2)})`,
    ...Object.entries(c.named).map(([k, v]) => `${k} ${num(v, 2)}`),
    `Postgres ${num(c.postgres, 2)}`,
  ];
  const other = c.machineBusy - c.self - c.postgres - Object.values(c.named).reduce((a, b) => a + b, 0);
  return `CPU: machine ${num(c.machineBusy, 2)} of ${cpus().length} cores busy: ${parts.join(', ')}, other ${num(other, 2)}${other > 0.25 ? ' (other work on the machine: figures disturbed)' : ''}`;
}

/** Garbage-collection pauses of this process while a phase runs (PerformanceObserver 'gc'). */
export function gcMeter(): { stop(): { ms: number; count: number; major: number } } {
  const total = { ms: 0, count: 0, major: 0 };
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      total.ms += e.duration;
      total.count++;
      const kind = (e as unknown as { detail?: { kind?: number } }).detail?.kind;
      if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) total.major++;
    }
  });
  observer.observe({ entryTypes: ['gc'] });
  return {
    stop() {
      observer.disconnect();
      return total;
    },
  };
}
