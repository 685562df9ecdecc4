// The export of `npm run bench export`, in a process of its own (as the export worker runs):
// `node --import tsx bench/lib/export-child.ts <exportId>` with the benchmark's DATABASE_URL,
// LOG_SIGNING_KEY_FILE and BLOB_DIR in the environment. It loads what a worker process loads
// at start-up (the process runner, the worker runner and every job handler), then builds the
// export with the real job body (buildExport) on a real AppContext and prints one
// `BENCH_RESULT {json}` line: wall time, RSS sampled every 100 ms, the process's peak RSS, and
// where the time went.
//
// Phases are read off the outside of buildExport, without touching it: pg queries are timed
// by their SQL (the two cursors it opens are the ledger files and the proofs, in that order),
// the first blob read starts the content, and the blob put resolving ends the write.
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { parseConfig } from '../../src/config/env.ts';
import { createContext } from '../../src/context.ts';
import { buildExport } from '../../src/exports/export-build.ts';
import { fullGc, sampleMemory } from './memory.ts';
// A worker's start-up module graph (`claimtrail worker`): its RSS counts as the worker's does.
import '../../src/processes/run.ts';
import '../../workers/handlers.ts';
import '../../workers/worker-runner.ts';

export interface ExportChildResult {
  wallMs: number;
  sha256: string;
  size: number;
  events: number;
  rssStart: number;
  rssBefore: number;
  rssPeak: number;
  heapPeak: number;
  maxRss: number;
  /** In order; their times add up to wallMs. Peaks are of the 100 ms samples taken in each. */
  phases: { name: string; ms: number; rssPeak: number; heapPeak: number; externalPeak: number }[];
  /** BENCH_EXPORT_GC_MS: a full GC ran every that many ms, so heap peaks are live memory. */
  gcEveryMs: number;
  /** Time waiting for pg queries by kind (ms, count). Overlaps phases; FETCHes are pipelined. */
  queries: Record<string, { ms: number; n: number }>;
}

const rssStart = process.memoryUsage().rss;
const exportId = process.argv[2];
if (!exportId) throw new Error('usage: export-child.ts <exportId>');

const marks: [string, number][] = [];
const peaks: { rss: number; heap: number; external: number }[] = [];
const mark = (name: string) => {
  marks.push([name, performance.now()]);
  peaks.push({ rss: 0, heap: 0, external: 0 });
};
/** Samples RSS and heap into the current phase's peaks. */
const samplePhase = () => {
  const peak = peaks[peaks.length - 1];
  if (!peak) return;
  const m = process.memoryUsage();
  peak.rss = Math.max(peak.rss, m.rss);
  peak.heap = Math.max(peak.heap, m.heapUsed);
  peak.external = Math.max(peak.external, m.external);
};
// Diagnosis: with BENCH_EXPORT_GC_MS set, a full GC before each sample makes the heap figures
// memory still referenced rather than garbage not collected yet (and slows the export down).
const gcEveryMs = Number(process.env.BENCH_EXPORT_GC_MS ?? 0);
const queries: Record<string, { ms: number; n: number }> = {};
let declares = 0;

function kindOf(sql: string): string {
  if (sql.startsWith('FETCH')) return declares <= 1 ? 'FETCH ledger-files cursor' : 'FETCH proofs cursor';
  if (sql.startsWith('DECLARE')) return 'DECLARE cursor';
  if (sql.includes('log_hashes')) return 'log_hashes (proof hashes)';
  if (sql.includes('NOT EXISTS (SELECT 1 FROM log_entries')) return 'unintegratedCount';
  return 'other (scope, BEGIN/COMMIT, checkpoint)';
}

// Time every pg query by kind (Prisma's adapter uses the same pg module).
type QueryFn = (this: pg.Client, ...args: unknown[]) => unknown;
const proto = pg.Client.prototype as unknown as { query: QueryFn };
const original = proto.query;
proto.query = function (this: pg.Client, ...args: unknown[]) {
  const first = args[0] as string | { text?: string } | undefined;
  const sql = (typeof first === 'string' ? first : (first?.text ?? '')).trimStart();
  if (sql.startsWith('DECLARE')) {
    declares++;
    mark(declares === 1 ? 'ledger files (cursor 1)' : 'proofs (cursor 2)');
  } else if (
    sql.includes('NOT EXISTS (SELECT 1 FROM log_entries') &&
    !marks.some(([n]) => n.startsWith('wait'))
  ) {
    mark('wait for integration + checkpoint + key');
  }
  const kind = kindOf(sql);
  const t = performance.now();
  const done = () => {
    const q = queries[kind] ?? { ms: 0, n: 0 };
    queries[kind] = q;
    q.ms += performance.now() - t;
    q.n++;
  };
  // pg.Pool#query calls client.query with a callback; everything else awaits the promise.
  const last = args.length - 1;
  const callback = args[last];
  if (typeof callback === 'function') {
    args[last] = (...cbArgs: unknown[]) => {
      done();
      return (callback as (...a: unknown[]) => unknown)(...cbArgs);
    };
  }
  const result = original.apply(this, args);
  if (typeof callback !== 'function' && result && typeof (result as Promise<unknown>).then === 'function') {
    (result as Promise<unknown>).then(done, done);
  }
  return result;
};

const config = parseConfig(process.env);
const ctx = createContext(config);
const blobs = ctx.blobs;
const read = blobs.read.bind(blobs);
let reads = 0;
blobs.read = (sha256, range) => {
  if (reads++ === 0) mark('content + finish + fsync');
  return read(sha256, range);
};
const put = blobs.put.bind(blobs);
blobs.put = (source, opts) => {
  const p = put(source, opts);
  p.then(
    () => mark('record completion (export row + export_completed event)'),
    () => undefined,
  );
  return p;
};

try {
  // A worker's pool is warm: connect it before the clock starts. (The build reads and writes
  // through the pg pool only; Prisma's engine loads in a worker whose other jobs use it.)
  await ctx.pool.query('SELECT 1');
  for (const k of Object.keys(queries)) delete queries[k];
  const sampler = sampleMemory(100);
  const phaseTimer = setInterval(
    () => {
      if (gcEveryMs > 0) fullGc();
      samplePhase();
    },
    gcEveryMs > 0 ? gcEveryMs : 100,
  );
  mark('gather scope');
  const started = marks[0]![1];
  const r = await buildExport(ctx, exportId, ctx.log.child({ component: 'export-bench' }));
  const ended = performance.now();
  samplePhase();
  clearInterval(phaseTimer);
  const memory = sampler.stop();
  if (!('sha256' in r) || r.sha256 === undefined) throw new Error('the export was skipped');
  const phases = marks.map(([name, at], i) => ({
    name,
    ms: (marks[i + 1]?.[1] ?? ended) - at,
    rssPeak: peaks[i]!.rss,
    heapPeak: peaks[i]!.heap,
    externalPeak: peaks[i]!.external,
  }));
  const result: ExportChildResult = {
    wallMs: ended - started,
    sha256: r.sha256,
    size: r.size,
    events: r.events,
    rssStart,
    rssBefore: memory.rssBefore,
    rssPeak: memory.rssPeak,
    heapPeak: memory.heapPeak,
    maxRss: process.resourceUsage().maxRSS * 1024,
    phases,
    gcEveryMs,
    queries,
  };
  console.log(`BENCH_RESULT ${JSON.stringify(result)}`);
} finally {
  await ctx.close();
}
