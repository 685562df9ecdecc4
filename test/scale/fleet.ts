// The scale run's service processes, each a real `node bin/claimtrail.mjs <role>` child as a
// deployment runs it: API processes on ports of their own, worker processes, and sequencers
// (one active on the advisory lock, the others standing by). Any member can be killed with
// SIGKILL (no chance to clean up) and started again with the same settings.
import { stopperOf } from '../../bench/lib/child-stop.ts';
import { spawnClaimtrail, waitForOutput } from '../helpers/cli.ts';
import { waitFor } from '../helpers/context.ts';
import { freePort } from '../helpers/net.ts';

export type Role = 'api' | 'worker' | 'sequencer';

type Proc = ReturnType<typeof spawnClaimtrail>;

export interface Member {
  role: Role;
  /** `api-1`, `worker-3`, `sequencer-2`… */
  name: string;
  /** The API's origin (api only). */
  origin?: string;
  proc: Proc;
  /** Processes of this member so far (a restart adds one). */
  starts: number;
}

const HOLDS_LEASE = 'sequencer holds the lease';

/** Last `n` lines of a process's output, for a failure report. */
const tail = (text: string, n: number) => text.trimEnd().split('\n').slice(-n).join('\n');

export class Fleet {
  readonly members: Member[] = [];
  /** Every process ever started, so stop() reaches a killed member's successor and nothing is left. */
  private readonly procs: Proc[] = [];

  constructor(
    /** The settings every process gets (database, Redis, S3, fetch allow-list…). */
    private readonly env: Record<string, string>,
    /** Told of every process started (the caller checks none outlives the run). */
    private readonly onSpawn: (pid: number, name: string) => void = () => {},
    private readonly startTimeoutMs = 120_000,
  ) {}

  /** Starts `apis` APIs, `workers` workers and `sequencers` sequencers; resolves once all are
   * ready and the first sequencer holds the lease (the others started after it: standbys). */
  async start(counts: { apis: number; workers: number; sequencers: number }): Promise<void> {
    const ready: Promise<void>[] = [];
    // Handled at once too: one that fails while the first sequencer is awaited is not "unhandled".
    const starting = (p: Promise<void>) => {
      p.catch(() => {});
      ready.push(p);
    };
    for (let i = 1; i <= counts.apis; i++) {
      const port = await freePort();
      // warn: a line per request would bury what a failure report needs.
      const own = { PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn' };
      starting(this.add('api', `api-${i}`, own, port));
    }
    for (let i = 1; i <= counts.workers; i++) starting(this.add('worker', `worker-${i}`));
    // The first sequencer takes the lease before the others start, so which one is active is
    // known; the rest wait on the lock.
    if (counts.sequencers > 0) {
      await this.add('sequencer', 'sequencer-1');
      await waitForOutput(this.member('sequencer-1').proc, HOLDS_LEASE, this.startTimeoutMs);
    }
    for (let i = 2; i <= counts.sequencers; i++) starting(this.add('sequencer', `sequencer-${i}`));
    await Promise.all(ready);
  }

  member(name: string): Member {
    const m = this.members.find((x) => x.name === name);
    if (!m) throw new Error(`no member ${name}`);
    return m;
  }

  ofRole(role: Role): Member[] {
    return this.members.filter((m) => m.role === role);
  }

  /** The sequencer whose current process holds the lease (said so in its log), if any. */
  activeSequencer(): Member | undefined {
    return this.ofRole('sequencer').find((m) => alive(m.proc) && m.proc.output().includes(HOLDS_LEASE));
  }

  /** SIGKILL, and the exit awaited. */
  async kill(m: Member): Promise<void> {
    if (!alive(m.proc)) return;
    m.proc.child.kill('SIGKILL');
    await m.proc.exited;
  }

  /** A new process for the member, with its settings; resolves once it is ready. */
  async restart(m: Member): Promise<void> {
    await this.kill(m);
    m.proc = this.spawn(m.name, m.role, this.envOf(m));
    m.starts++;
    await this.ready(m);
  }

  /** Members whose current process has exited. */
  dead(): string[] {
    return this.members.filter((m) => !alive(m.proc)).map((m) => m.name);
  }

  /** The last lines of each member's current process. */
  report(lines = 25): string {
    return this.members
      .map(
        (m) => `--- ${m.name} (pid ${m.proc.child.pid}, start ${m.starts}):\n${tail(m.proc.output(), lines)}`,
      )
      .join('\n');
  }

  /** SIGTERM to every process still running (graceful drain), SIGKILL after 15 s. */
  async stop(): Promise<void> {
    await Promise.all(this.procs.map((p) => stopperOf(p.child, p.exited)()));
  }

  private readonly memberEnv = new Map<string, Record<string, string>>();

  private envOf(m: Member): Record<string, string> {
    return this.memberEnv.get(m.name) ?? {};
  }

  private async add(role: Role, name: string, extra: Record<string, string> = {}, port?: number) {
    this.memberEnv.set(name, extra);
    const m: Member = {
      role,
      name,
      proc: this.spawn(name, role, extra),
      starts: 1,
      ...(port ? { origin: `http://127.0.0.1:${port}` } : {}),
    };
    this.members.push(m);
    await this.ready(m);
  }

  private spawn(name: string, role: Role, extra: Record<string, string>): Proc {
    const proc = spawnClaimtrail([role], { ...this.env, ...extra });
    this.procs.push(proc);
    if (proc.child.pid) this.onSpawn(proc.child.pid, name);
    return proc;
  }

  private async ready(m: Member): Promise<void> {
    if (m.role === 'worker') return waitForOutput(m.proc, '"workers started"', this.startTimeoutMs);
    if (m.role === 'sequencer') return waitForOutput(m.proc, '"sequencer started"', this.startTimeoutMs);
    await waitFor(
      async () => {
        if (!alive(m.proc)) throw new Error(`${m.name} exited early:\n${m.proc.output()}`);
        try {
          const r = await fetch(`${m.origin}/readyz`);
          await r.arrayBuffer();
          return r.status === 200;
        } catch {
          return false;
        }
      },
      this.startTimeoutMs,
      200,
    );
  }
}

const alive = (p: Proc) => p.child.exitCode === null && p.child.signalCode === null;
