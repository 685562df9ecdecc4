// `npm run bench ledger`: the ledger's performance targets (issue 12), each a ratio to a
// baseline measured in the same run on the same (fresh, loopback) database — absolute times
// differ ~3× between machines of this kind, ratios much less:
//   1. appends/s through appendEvent as one autocommitted statement (32 clients, 1,000
//      subjects, real sequencer running) vs bare single-row INSERTs/s into a table — target
//      ≥ 0.5×; the same appends inside a unit of work (BEGIN, append, COMMIT) are reported too;
//   2. append → integrated-into-the-log latency under that load — target p99 ≤ 1,000 ms;
//   3. full verifyLedger over 1,000,000 events vs a read-only scan of the same rows — target
//      ≥ 0.75×, and a live heap that does not grow with the ledger (a 10× smaller ledger is
//      verified first for comparison);
//   4. GET /v1/log/proof/inclusion at tree size 1,000,000 vs GET /healthz, same server, same
//      run — target p99 ≤ 2× healthz's p99.
import { randomInt, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import pg from 'pg';
import type { Logger } from 'pino';
import { Pool as HttpPool } from 'undici';
import { parseConfig } from '../src/config/env.ts';
import { createContext } from '../src/context.ts';
import { streamRows } from '../src/db/cursor.ts';
import { createPgPool } from '../src/db/pg-pool.ts';
import { writeTransaction } from '../src/db/unit-of-work.ts';
import { createApp } from '../src/http/app.ts';
import { sealBody } from '../src/ledger/canonical.ts';
import type { Subject } from '../src/ledger/event-types.ts';
import { appendEvent } from '../src/ledger/ledger.repository.ts';
import { type LedgerReport, verifyLedger } from '../src/ledger/verify-ledger.ts';
import { logger } from '../src/lib/logger.ts';
import { latestCheckpoint } from '../src/log/log.repository.ts';
import { checkRecord, hashLeaf } from '../src/log/merkle.ts';
import { ensureInitialCheckpoint, integrateBatch } from '../src/log/sequencer.ts';
import { bulkInsertChains } from '../test/helpers/ledger-fixtures.ts';
import type { BenchResources } from './lib/bench-db.ts';
import { runBench } from './lib/bench-run.ts';
import { cpuMeter, describeCpu } from './lib/cpu.ts';
import { type ClosedLoopResult, closedLoop, fixedCount, sleep, until } from './lib/load.ts';
import { fullGc, liveHeapPeak, type MemoryPeak, sampleMemory } from './lib/memory.ts';
import { type NumberOption, usage } from './lib/options.ts';
import { startSequencerProcess } from './lib/sequencer-process.ts';
import {
  latencyLine,
  mib,
  ms,
  num,
  perSecond,
  type Result,
  ratio,
  signedMib,
  summarize,
  times,
  verdict,
} from './lib/stats.ts';

const spec = {
  duration: {
    name: 'duration',
    full: 15,
    quick: 3,
    fractional: true,
    help: 'measured seconds of appends and of bare INSERTs',
  },
  warmup: { name: 'warmup', full: 3, quick: 1, fractional: true, help: 'warm-up seconds before each' },
  rounds: {
    name: 'rounds',
    full: 2,
    quick: 1,
    help: 'interleaved rounds of bare INSERTs and appends (step 1)',
  },
  clients: { name: 'clients', full: 32, quick: 32, help: 'concurrent clients (and pool size) for step 1' },
  subjects: { name: 'subjects', full: 1000, quick: 1000, help: 'subjects the appends are spread over' },
  seqBatch: { name: 'seq-batch', full: 2000, quick: 2000, help: 'sequencer batch size during appends' },
  seqInterval: {
    name: 'seq-interval',
    full: 500,
    quick: 500,
    help: 'sequencer interval (ms) during appends',
  },
  poll: { name: 'poll', full: 20, quick: 20, help: 'ms between polls of the latest checkpoint (step 2)' },
  events: {
    name: 'events',
    full: 1_000_000,
    quick: 50_000,
    help: 'ledger size (events) for verify and proofs',
  },
  perSubject: {
    name: 'per-subject',
    full: 10,
    quick: 10,
    help: 'events per subject in the bulk-built ledger',
  },
  buildBatch: {
    name: 'build-batch',
    full: 20_000,
    quick: 20_000,
    help: 'sequencer batch size for the bulk build',
  },
  requests: { name: 'requests', full: 2000, quick: 300, help: 'HTTP requests per endpoint (step 4)' },
  concurrency: { name: 'concurrency', full: 8, quick: 8, help: 'concurrent HTTP requests (step 4)' },
} satisfies Record<string, NumberOption>;

type Sizes = { [K in keyof typeof spec]: number };

/** Appends/s over bare INSERTs/s, at least. */
const APPEND_TARGET = 0.5;
/** Append → integrated p99, at most (ms). */
const INTEGRATION_TARGET_MS = 1000;
/** Verify events/s over the read-only scan's, at least. */
const VERIFY_TARGET = 0.75;
/** Inclusion proof p99 over GET /healthz p99, at most. */
const PROOF_TARGET = 2;

const say = (line = '') => console.log(line);
const section = (title: string) => say(`\n=== ${title}`);
const seconds = (since: number) => (performance.now() - since) / 1000;
const secs = (s: number) => `${num(s, 1)} s`;

export const help = `npm run bench ledger [-- --quick] [options]\n${usage(Object.values(spec))}`;

export async function run(argv: readonly string[]): Promise<number> {
  return runBench(
    { argv, spec, title: 'ledger benchmark', where: 'load generators run in this process', help, secs },
    async ({ res, sizes, results, phases }) => {
      const log = logger().child({ component: 'bench' });
      let ok = true;

      let t = performance.now();
      results.push(...(await benchAppends(res, sizes)));
      phases.push(['1+2 appends, bare INSERTs, integration', seconds(t)]);

      t = performance.now();
      const verify = await benchVerify(res, sizes, log, phases);
      results.push(...verify.results);
      ok &&= verify.ok;
      phases.push(['3 build + verify (total)', seconds(t)]);

      t = performance.now();
      results.push(...(await benchProofs(res, sizes)));
      phases.push(['4 inclusion proofs over HTTP', seconds(t)]);
      return ok;
    },
  );
}

// ---------------------------------------------------------------------------------------
// 1 + 2: append throughput vs bare INSERTs, and append → integration latency

/** Polls the latest checkpoint size; records when each size was first seen. */
function checkpointWatcher(url: string, everyMs: number) {
  const seen: { size: number; at: number }[] = [];
  let stopped = false;
  const client = new pg.Client({ connectionString: url });
  const loop = (async () => {
    await client.connect();
    let last = -1;
    while (!stopped) {
      const { rows } = await client.query<{ size: string }>(
        'SELECT coalesce(max(size), 0)::text AS size FROM log_checkpoints',
      );
      const at = Date.now();
      const size = Number(rows[0]?.size ?? 0);
      if (size > last) {
        seen.push({ size, at });
        last = size;
      }
      await sleep(everyMs);
    }
    await client.end();
  })();
  return {
    seen,
    lastSize: () => seen[seen.length - 1]?.size ?? 0,
    async stop() {
      stopped = true;
      await loop;
    },
    /** When leaf `index` was first seen integrated (first observed size > index). */
    integratedAt(index: number): number | undefined {
      let lo = 0;
      let hi = seen.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (seen[mid]!.size > index) hi = mid;
        else lo = mid + 1;
      }
      return seen[lo]?.at;
    },
  };
}

const mean = (xs: readonly number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : Number.NaN);

/** What a measured window cost the server beyond CPU: WAL bytes written and checkpoints. */
function walMeter(pool: pg.Pool) {
  const read = async () => {
    const { rows } = await pool.query<{ lsn: string; checkpoints: string }>(
      `SELECT pg_current_wal_lsn()::text AS lsn,
              (checkpoints_timed + checkpoints_req)::text AS checkpoints FROM pg_stat_bgwriter`,
    );
    return rows[0]!;
  };
  let start: Promise<{ lsn: string; checkpoints: string }> | undefined;
  let end: Promise<{ lsn: string; checkpoints: string }> | undefined;
  return {
    /** For closedLoop's window hooks. */
    onWindowStart: () => {
      start = read();
    },
    onWindowEnd: () => {
      end = read();
    },
    async result(ops: number): Promise<string> {
      const [a, b] = await Promise.all([start, end]);
      if (!a || !b) return 'WAL: not measured';
      const { rows } = await pool.query<{ bytes: string }>('SELECT pg_wal_lsn_diff($1, $2)::text AS bytes', [
        b.lsn,
        a.lsn,
      ]);
      const checkpoints = Number(b.checkpoints) - Number(a.checkpoints);
      return `WAL ${num(Number(rows[0]?.bytes) / Math.max(1, ops))} bytes per operation; ${checkpoints} checkpoint(s) in the window (server-wide: each one makes the next change to every page log a full-page image)`;
    },
  };
}

async function benchAppends(res: BenchResources, sizes: Sizes): Promise<Result[]> {
  section(
    `1. appends vs bare INSERTs: ${sizes.clients} clients, ${num(sizes.subjects)} subjects, ${sizes.rounds} interleaved round(s) of ${sizes.warmup} s warm-up + ${sizes.duration} s each`,
  );
  const subjects: Subject[] = Array.from({ length: sizes.subjects }, () => ({
    type: 'user',
    id: randomUUID(),
  }));
  const pick = () => subjects[randomInt(subjects.length)]!;
  const window = { warmupMs: sizes.warmup * 1000, durationMs: sizes.duration * 1000, clients: sizes.clients };

  // Baseline: what this server does with one autocommitted single-row INSERT per statement,
  // a payload the size of an event body, from the same number of clients.
  const payload = sealBody({
    subject: pick(),
    seq: 12,
    prev: 'ab'.repeat(32),
    type: 'user_tokens_revoked',
    actor: 'system:bench-31',
    at: new Date().toISOString(),
    data: { revoked: 123 },
  }).canonical;
  const bare = new pg.Pool({ connectionString: res.url, max: sizes.clients });
  bare.on('error', () => undefined); // an idle client dropped by the server: the pool replaces it
  await bare.query('CREATE TABLE bench_bare (id bigserial PRIMARY KEY, subject text, payload text)');

  // Appends through the real write path, with the real sequencer integrating meanwhile.
  const appendPool = createPgPool(res.url, sizes.clients);
  const seqPool = createPgPool(res.url, 3);
  // The sequencer in its own process, as the service runs it (bench/lib/sequencer-process.ts).
  const sequencer = await startSequencerProcess(res, {
    batchSize: sizes.seqBatch,
    intervalMs: sizes.seqInterval,
  });
  const commits: { hash: string; at: number }[] = [];
  let watcher: ReturnType<typeof checkpointWatcher> | undefined;
  const event = (client: number, i: number) => ({
    subject: pick(),
    type: 'user_tokens_revoked' as const,
    actor: `system:bench-${client}`,
    data: { revoked: i },
  });
  /** Until the sequencer has integrated every append and the watcher has seen its checkpoint. */
  const drained = async () => {
    const w = watcher!;
    let state = '';
    await until(
      async () => {
        const { rows } = await seqPool.query<{ n: string; size: string }>(
          `SELECT (SELECT count(*) FROM log_pending)::text AS n,
                  (SELECT coalesce(max(size), 0) FROM log_checkpoints)::text AS size`,
        );
        state = `${rows[0]?.n} pending, latest checkpoint ${rows[0]?.size}, last seen ${w.lastSize()}`;
        return rows[0]?.n === '0' && w.lastSize() >= Number(rows[0]?.size);
      },
      60_000,
      () => `the sequencer to integrate every append (${state})`,
    );
  };
  /** One measured closed loop, printed with its latency, cores and WAL. */
  const measure = async (
    label: string,
    latencyLabel: string,
    op: (client: number, i: number) => Promise<void>,
  ) => {
    const wal = walMeter(seqPool);
    let meter: ReturnType<typeof cpuMeter> | undefined;
    let cpu: ReturnType<ReturnType<typeof cpuMeter>['stop']> | undefined;
    const run = await closedLoop({
      ...window,
      op,
      onWindowStart: () => {
        meter = cpuMeter({ sequencer: sequencer.pid });
        wal.onWindowStart();
      },
      onWindowEnd: () => {
        cpu = meter?.stop();
        wal.onWindowEnd();
      },
    });
    say(
      `${label}: ${perSecond(run.opsPerSecond)} (${num(run.completed)} in ${sizes.duration} s, ${run.errors} errors${run.firstError ? `; first: ${run.firstError}` : ''})`,
    );
    say(`  ${latencyLine(latencyLabel, summarize(run.latencies))}`);
    if (cpu) say(`  ${describeCpu(cpu, 'load generator')}`);
    say(`  ${await wal.result(run.completed)}`);
    return run;
  };
  try {
    watcher = checkpointWatcher(res.url, sizes.poll);
    // Bare INSERTs and appends alternate, so that other work on a shared machine weighs on
    // both alike; the ratio is of the totals.
    const bareRuns: ClosedLoopResult[] = [];
    const appendRuns: ClosedLoopResult[] = [];
    const lags: ReturnType<typeof monitorEventLoopDelay>[] = [];
    for (let round = 1; round <= sizes.rounds; round++) {
      if (sizes.rounds > 1) say(`round ${round}:`);
      bareRuns.push(
        await measure('bare INSERT', 'latency', async () => {
          await bare.query('INSERT INTO bench_bare (subject, payload) VALUES ($1, $2)', [pick().id, payload]);
        }),
      );
      // The target: one append, one autocommitted statement (appendEvent on the pool; how
      // writeWithEvent commits a row and its event), against one autocommitted INSERT.
      const lag = monitorEventLoopDelay({ resolution: 10 });
      lags.push(lag);
      lag.enable();
      appendRuns.push(
        await measure('appendEvent, one autocommitted statement', 'statement latency', async (client, i) => {
          const appended = await appendEvent(appendPool, event(client, i));
          commits.push({ hash: appended.hash, at: Date.now() });
        }),
      );
      lag.disable();
      const t = performance.now();
      await drained();
      say(`  backlog drained ${secs(seconds(t))} after the load stopped`);
    }
    const total = (runs: ClosedLoopResult[]) => runs.reduce((n, r) => n + r.opsPerSecond, 0) / runs.length;
    const bareRate = total(bareRuns);
    const appendRate = total(appendRuns);
    const appendLatency = summarize(appendRuns.flatMap((r) => r.latencies));
    say(
      `  event-loop delay of this process during the appends (per round): ${lags.map((lag) => `p50 ${ms(lag.percentile(50) / 1e6)}, p99 ${ms(lag.percentile(99) / 1e6)}, max ${ms(lag.max / 1e6)}`).join('; ')}`,
    );
    const appendRatio = ratio(appendRate, bareRate);
    say(
      `ratio appends/bare = ${perSecond(appendRate)} / ${perSecond(bareRate)} = ${times(appendRatio)}${sizes.rounds > 1 ? ` (rounds: ${appendRuns.map((r, i) => times(ratio(r.opsPerSecond, bareRuns[i]!.opsPerSecond))).join(', ')})` : ''} (target ≥ ${APPEND_TARGET}×: ${verdict(appendRatio >= APPEND_TARGET)})`,
    );

    // For comparison: each append in a unit of work of its own (BEGIN, append, COMMIT), as a
    // write with more statements than its event runs; the same sequencer integrating.
    const txRun = await measure(
      'for comparison, appendEvent in writeTransaction (BEGIN, append, COMMIT)',
      'transaction latency',
      async (client, i) => {
        await writeTransaction(appendPool, (tx) => appendEvent(tx, event(client, i)));
      },
    );
    const txRatio = ratio(txRun.opsPerSecond, bareRate);
    say(`  ratio to bare INSERTs = ${times(txRatio)} (reported; 3 statements vs 1)`);

    // 2. Time from commit to integration, for every append committed in a measured window.
    const t = performance.now();
    await drained();
    say(`  backlog drained ${secs(seconds(t))} after the load stopped`);
    const w = watcher;
    await w.stop();
    await sequencer.stop();
    const { rows: entries } = await seqPool.query<{ h: string; i: string }>(
      `SELECT encode(event_hash, 'hex') AS h, log_index::text AS i FROM log_entries`,
    );
    const indexOf = new Map(entries.map((r) => [r.h, Number(r.i)]));
    const { rows: cps } = await seqPool.query<{ n: string; sizes: string }>(
      `SELECT count(*)::text AS n, coalesce(round(avg(size - prev_size)), 0)::text AS sizes
       FROM (SELECT size, lag(size) OVER (ORDER BY size) AS prev_size FROM log_checkpoints) c
       WHERE prev_size IS NOT NULL`,
    );
    const delays: number[] = [];
    let missing = 0;
    for (const c of commits) {
      if (!appendRuns.some((r) => c.at >= r.windowStart && c.at <= r.windowEnd)) continue;
      const index = indexOf.get(c.hash);
      const at = index === undefined ? undefined : w.integratedAt(index);
      if (at === undefined) missing++;
      else delays.push(at - c.at);
    }
    const integration = summarize(delays);
    section(
      `2. append → integrated (commit seen by the client → first poll, every ${sizes.poll} ms, that sees a checkpoint covering it)`,
    );
    say(`  ${latencyLine('integration delay', integration)}`);
    say(
      `  sequencer: batch ${sizes.seqBatch}, interval ${sizes.seqInterval} ms; ${cps[0]?.n ?? '?'} checkpoints signed, mean ${cps[0]?.sizes ?? '?'} events each${missing ? `; ${missing} commits never seen integrated` : ''}`,
    );
    const during = sequencer.batches.filter((x) =>
      appendRuns.some((r) => x.at >= r.windowStart && x.at <= r.windowEnd),
    );
    say(
      `  ${latencyLine('batch time (integrateBatch) during the appends', summarize(during.map((x) => x.ms)))}; mean ${num(mean(during.map((x) => x.integrated)))} events`,
    );
    const integrated = integration.p99 <= INTEGRATION_TARGET_MS && missing === 0;
    say(
      `  append commit p50 / p99 ${ms(appendLatency.p50)} / ${ms(appendLatency.p99)}; target p99 ≤ ${num(INTEGRATION_TARGET_MS)} ms: ${verdict(integrated)}`,
    );

    return [
      {
        name: `appends/s, one statement each (${sizes.clients} clients, ${num(sizes.subjects)} subjects, sequencer on)`,
        measured: perSecond(appendRate),
        baselineName: 'bare single-row INSERT/s',
        baseline: perSecond(bareRate),
        ratio: times(appendRatio),
        target: `ratio ≥ ${APPEND_TARGET}×`,
        pass: appendRatio >= APPEND_TARGET && appendRuns.every((r) => r.errors === 0),
      },
      {
        name: 'appends/s in writeTransaction (BEGIN, append, COMMIT)',
        measured: perSecond(txRun.opsPerSecond),
        baselineName: 'bare single-row INSERT/s',
        baseline: perSecond(bareRate),
        ratio: times(txRatio),
        target: 'reported',
        pass: txRun.errors === 0 ? undefined : false,
      },
      {
        name: 'append → integrated p50 / p99',
        measured: `${ms(integration.p50)} / ${ms(integration.p99)}`,
        baselineName: 'sequencer interval',
        baseline: ms(sizes.seqInterval),
        ratio: times(ratio(integration.p99, sizes.seqInterval)),
        target: `p99 ≤ ${num(INTEGRATION_TARGET_MS)} ms`,
        pass: integrated,
      },
    ];
  } finally {
    await watcher?.stop().catch(() => undefined);
    await sequencer.stop();
    await bare.end();
    await appendPool.end();
    await seqPool.end();
  }
}

// ---------------------------------------------------------------------------------------
// 3: full ledger verification vs a read-only scan

/** Bulk-builds valid chains (all pending) until the ledger holds `total` events. */
async function buildTo(pool: pg.Pool, total: number, perSubject: number): Promise<number> {
  const { rows } = await pool.query<{ n: string }>('SELECT count(*)::text AS n FROM ledger_events');
  let need = total - Number(rows[0]?.n ?? 0);
  let built = 0;
  const chunkSubjects = Math.max(1, Math.floor(50_000 / perSubject));
  while (need >= perSubject) {
    const subjects = Math.min(chunkSubjects, Math.floor(need / perSubject));
    const n = await bulkInsertChains(pool, subjects, perSubject);
    need -= n;
    built += n;
  }
  if (need > 0) built += await bulkInsertChains(pool, 1, need);
  return built;
}

/** Integrates every pending event with the real batch code, as fast as it goes. */
async function integrateAll(pool: pg.Pool, res: BenchResources, batchSize: number, log: Logger) {
  const deps = {
    pool,
    log,
    origin: parseConfig({ ...process.env, ...res.env }).LOG_ORIGIN,
    signerKey: res.signerKey,
    batchSize,
  };
  const client = await pool.connect();
  let batches = 0;
  try {
    await ensureInitialCheckpoint(client, deps);
    while (await integrateBatch(client, deps)) batches++;
  } finally {
    client.release();
  }
  const { rows } = await pool.query<{ n: string }>('SELECT count(*)::text AS n FROM log_pending');
  if (rows[0]?.n !== '0') throw new Error(`${rows[0]?.n} events still pending after integration`);
  return batches;
}

/** The checkpoint with the largest size, read independently of log.repository.ts (whose
 * latestCheckpoint() once sorted `size::text` as text and returned a stale checkpoint). */
async function newestCheckpoint(pool: pg.Pool): Promise<{ size: number; rootHash: Buffer } | undefined> {
  const { rows } = await pool.query<{ size: string; root_hash: Buffer }>(
    'SELECT size::text AS size, root_hash FROM log_checkpoints ORDER BY log_checkpoints.size DESC LIMIT 1',
  );
  const r = rows[0];
  return r && { size: Number(r.size), rootHash: r.root_hash };
}

/** Says so when src's latestCheckpoint() disagrees with the newest checkpoint. */
async function checkLatestCheckpoint(pool: pg.Pool): Promise<void> {
  const [src, newest] = await Promise.all([latestCheckpoint(pool), newestCheckpoint(pool)]);
  if (src?.size !== newest?.size) {
    say(
      `  !! src/log/log.repository.ts latestCheckpoint() returns the checkpoint of size ${src?.size}, but the newest is ${newest?.size} (verifyLedger and /v1/log/checkpoint use a stale checkpoint)`,
    );
  }
}

// The two reads verifyLedger streams (src/ledger/verify-ledger.ts), without any check.
const CHAIN_SQL = `SELECT e.subject_type, e.subject_id, e.seq, e.type, encode(e.hash, 'hex') AS hash,
        encode(e.prev, 'hex') AS prev, e.body, encode(l.event_hash, 'hex') AS logged_hash
 FROM ledger_events e LEFT JOIN log_entries l ON l.event_id = e.id
 ORDER BY e.subject_type, e.subject_id, e.seq`;
const LOG_SQL = `SELECT l.log_index::text, l.event_hash, e.hash, e.subject_type || ':' || e.subject_id AS subject, e.seq
 FROM log_entries l JOIN ledger_events e ON e.id = l.event_id ORDER BY l.log_index`;

interface VerifyRun {
  report: LedgerReport;
  seconds: number;
  eventsPerSecond: number;
  memory: MemoryPeak;
}

async function timeVerify(pool: pg.Pool, verifierKey: string): Promise<VerifyRun> {
  fullGc();
  const sampler = sampleMemory(50);
  const t = performance.now();
  let report: LedgerReport;
  let memory: MemoryPeak;
  try {
    report = await verifyLedger(pool, verifierKey);
  } finally {
    memory = sampler.stop();
  }
  const s = seconds(t);
  return { report, seconds: s, eventsPerSecond: report.events / s, memory };
}

/** Streams the same rows as verifyLedger and only touches them; events/s over both reads. */
async function timeScan(pool: pg.Pool): Promise<{ events: number; seconds: number; perSecond: number }> {
  const t = performance.now();
  let events = 0;
  let touched = 0;
  for await (const batch of streamRows<{ body: string }>(pool, CHAIN_SQL)) {
    events += batch.length;
    for (const r of batch) touched += r.body.length;
  }
  for await (const batch of streamRows<{ event_hash: Buffer }>(pool, LOG_SQL)) {
    for (const r of batch) touched += r.event_hash.length;
  }
  const s = seconds(t);
  if (touched === 0 && events > 0) throw new Error('the scan read nothing');
  return { events, seconds: s, perSecond: events / s };
}

function describeVerify(label: string, v: VerifyRun): void {
  const r = v.report;
  say(
    `${label}: ${r.ok ? 'OK' : `INVALID (${r.problem})`} — ${num(r.events)} events, ${num(r.subjects)} subjects, tree ${num(r.treeSize)}, checkpoint ${num(r.checkpointSize)}, pending ${r.pending}`,
  );
  say(`  ${secs(v.seconds)} → ${perSecond(v.eventsPerSecond)} events`);
  const m = v.memory;
  say(
    `  RSS before ${mib(m.rssBefore)}, peak ${mib(m.rssPeak)} (${signedMib(m.rssPeak - m.rssBefore)}); heap used before ${mib(m.heapBefore)}, peak ${mib(m.heapPeak)} (${signedMib(m.heapPeak - m.heapBefore)}); ${m.samples} samples`,
  );
}

async function benchVerify(
  res: BenchResources,
  sizes: Sizes,
  log: Logger,
  phases: [string, number][],
): Promise<{ results: Result[]; ok: boolean }> {
  const small = Math.max(1, Math.round(sizes.events / 10));
  section(
    `3. full ledger verify: ${num(small)} events, then ${num(sizes.events)} (${sizes.perSubject} events per subject)`,
  );
  const pool = createPgPool(res.url, 2);
  try {
    const prepare = async (total: number) => {
      let t = performance.now();
      const built = await buildTo(pool, total, sizes.perSubject);
      const buildS = seconds(t);
      t = performance.now();
      const batches = await integrateAll(pool, res, sizes.buildBatch, log.child({ component: 'sequencer' }));
      const integrateS = seconds(t);
      t = performance.now();
      // A steady-state ledger: autovacuum would have analyzed the tables and set hint bits
      // and the visibility map long before anyone verifies a million events.
      await pool.query(
        'VACUUM (ANALYZE) ledger_events, log_entries, log_hashes, log_pending, log_checkpoints',
      );
      const vacuumS = seconds(t);
      say(
        `built ${num(built)} events in ${secs(buildS)} (${perSecond(built / buildS)}), integrated in ${batches} batches in ${secs(integrateS)} (${perSecond(built / integrateS)}), VACUUM ANALYZE ${secs(vacuumS)}`,
      );
      phases.push([`build to ${num(total)}`, buildS], [`integrate to ${num(total)}`, integrateS]);
      await checkLatestCheckpoint(pool);
    };

    // Untimed pass with a full GC every 100 ms: the peak of memory still referenced.
    const liveHeap = async () => {
      const { result, before, peak } = await liveHeapPeak(() => verifyLedger(pool, res.verifierKey), 100);
      say(
        `  live heap (untimed pass, full GC every 100 ms): before ${mib(before)}, peak ${mib(peak)} (${signedMib(peak - before)}) at ${num(result.events)} events`,
      );
      return peak - before;
    };

    await prepare(small);
    const smallRun = await timeVerify(pool, res.verifierKey);
    describeVerify(`verify at ${num(smallRun.report.events)}`, smallRun);
    const liveSmall = await liveHeap();

    await prepare(sizes.events);
    const { rows: agg } = await pool.query<{ n: string; bytes: string }>(
      'SELECT count(*)::text AS n, sum(length(body))::text AS bytes FROM ledger_events',
    );
    let t = performance.now();
    await pool.query('SELECT count(*), sum(length(body)) FROM ledger_events');
    const aggS = seconds(t);
    say(
      `ledger: ${num(Number(agg[0]?.n))} events, ${mib(Number(agg[0]?.bytes))} of bodies; SELECT count(*), sum(length(body)) in ${ms(aggS * 1000)} (${perSecond(Number(agg[0]?.n) / aggS)})`,
    );
    t = performance.now();
    const scan = await timeScan(pool);
    say(
      `read-only scan (verify's two queries streamed through the same cursor, no checks): ${num(scan.events)} events in ${secs(scan.seconds)} → ${perSecond(scan.perSecond)} events`,
    );
    const full = await timeVerify(pool, res.verifierKey);
    describeVerify(`verify at ${num(full.report.events)}`, full);
    const liveFull = await liveHeap();

    const eps = full.eventsPerSecond;
    const growthSmall = smallRun.memory.rssPeak - smallRun.memory.rssBefore;
    const growthFull = full.memory.rssPeak - full.memory.rssBefore;
    // Flat: the live heap at 10× the events grows by at most 16 MiB more (a per-event or
    // per-subject leak would add tens of MiB per million events).
    const flat = liveFull <= Math.max(liveSmall, 0) + 16 * 2 ** 20;
    say(
      `  ratio verify/scan ${times(ratio(eps, scan.perSecond))} (target ≥ ${VERIFY_TARGET}×: ${verdict(ratio(eps, scan.perSecond) >= VERIFY_TARGET)})`,
    );
    say(
      `  peak RSS growth ${signedMib(growthFull)} at ${num(full.report.events)} vs ${signedMib(growthSmall)} at ${num(smallRun.report.events)} (${num(full.report.events / smallRun.report.events, 1)}× the events); live heap growth ${signedMib(liveFull)} vs ${signedMib(liveSmall)}: ${flat ? 'flat' : 'GROWS with the ledger'}`,
    );
    const valid = smallRun.report.ok && full.report.ok;
    return {
      ok: valid,
      results: [
        {
          name: `full verify events/s (${num(full.report.events)} events)${valid ? '' : ' INVALID'}`,
          measured: perSecond(eps),
          baselineName: 'read-only scan events/s',
          baseline: perSecond(scan.perSecond),
          ratio: times(ratio(eps, scan.perSecond)),
          target: `ratio ≥ ${VERIFY_TARGET}×`,
          pass: ratio(eps, scan.perSecond) >= VERIFY_TARGET && valid,
        },
        {
          name: `verify memory growth, RSS peak / live heap (${num(full.report.events)} events)`,
          measured: `${signedMib(growthFull)} / ${signedMib(liveFull)}`,
          baselineName: `same at ${num(smallRun.report.events)} events`,
          baseline: `${signedMib(growthSmall)} / ${signedMib(liveSmall)}`,
          ratio: growthSmall > 0 ? times(growthFull / growthSmall) : 'n/a',
          target: 'flat: live ≤ smaller + 16 MiB',
          pass: flat,
        },
      ],
    };
  } finally {
    await pool.end();
  }
}

// ---------------------------------------------------------------------------------------
// 4: inclusion proofs through the real HTTP app vs /healthz

async function benchProofs(res: BenchResources, sizes: Sizes): Promise<Result[]> {
  const ctx = createContext(parseConfig({ ...process.env, ...res.env }));
  const server = createApp(ctx).app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const http = new HttpPool(origin, { connections: sizes.concurrency });
  try {
    const cp = await newestCheckpoint(ctx.pool);
    if (!cp || cp.size === 0) throw new Error('no checkpoint to prove against');
    const size = cp.size;
    section(
      `4. GET /v1/log/proof/inclusion at tree size ${num(size)}: ${num(sizes.requests)} random indexes, concurrency ${sizes.concurrency} (server in this process)`,
    );
    const get = async (path: string) => {
      const r = await http.request({ method: 'GET', path });
      const body = await r.body.text();
      if (r.statusCode !== 200) throw new Error(`GET ${path}: HTTP ${r.statusCode} ${body.slice(0, 200)}`);
      return body;
    };
    const proofPath = () => `/v1/log/proof/inclusion?index=${randomInt(size)}&size=${size}`;

    // Correctness first (untimed): a few proofs must check against the signed root.
    for (let k = 0; k < 5; k++) {
      const index = randomInt(size);
      const body = JSON.parse(await get(`/v1/log/proof/inclusion?index=${index}&size=${size}`)) as {
        proof: string[];
      };
      const { rows } = await ctx.pool.query<{ event_hash: Buffer }>(
        'SELECT event_hash FROM log_entries WHERE log_index = $1',
        [index],
      );
      const proof = body.proof.map((h) => Buffer.from(h, 'base64'));
      if (!rows[0] || !checkRecord(proof, size, cp.rootHash, index, hashLeaf(rows[0].event_hash))) {
        throw new Error(`inclusion proof for index ${index} at size ${size} does not verify`);
      }
    }
    // Warm-up: connections, JIT, caches.
    const warm = Math.min(200, sizes.requests);
    await fixedCount({
      total: warm,
      concurrency: sizes.concurrency,
      op: () => get('/healthz').then(() => {}),
    });
    await fixedCount({
      total: warm,
      concurrency: sizes.concurrency,
      op: () => get(proofPath()).then(() => {}),
    });

    const health = await fixedCount({
      total: sizes.requests,
      concurrency: sizes.concurrency,
      op: () => get('/healthz').then(() => {}),
    });
    const proofs = await fixedCount({
      total: sizes.requests,
      concurrency: sizes.concurrency,
      op: () => get(proofPath()).then(() => {}),
    });
    const h = summarize(health.latencies);
    const p = summarize(proofs.latencies);
    say(
      `  ${latencyLine('GET /healthz (baseline)', h)}; ${perSecond((health.latencies.length / health.elapsedMs) * 1000)} req, ${health.errors} errors`,
    );
    say(
      `  ${latencyLine('GET /v1/log/proof/inclusion', p)}; ${perSecond((proofs.latencies.length / proofs.elapsedMs) * 1000)} req, ${proofs.errors} errors${proofs.firstError ? ` (first: ${proofs.firstError})` : ''}`,
    );
    const proofRatio = ratio(p.p99, h.p99);
    say(
      `  5 proofs checked against the signed checkpoint root; p99 ratio proof/healthz ${times(proofRatio)} (target ≤ ${PROOF_TARGET}×: ${verdict(proofRatio <= PROOF_TARGET)})`,
    );
    return [
      {
        name: `inclusion proof p50 / p99 (tree size ${num(size)})`,
        measured: `${ms(p.p50)} / ${ms(p.p99)}`,
        baselineName: 'GET /healthz p50 / p99',
        baseline: `${ms(h.p50)} / ${ms(h.p99)}`,
        ratio: times(proofRatio),
        target: `p99 ratio ≤ ${PROOF_TARGET}×`,
        pass: proofRatio <= PROOF_TARGET && proofs.errors === 0,
      },
    ];
  } finally {
    await http.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await ctx.close();
  }
}
