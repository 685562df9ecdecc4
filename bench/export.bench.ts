// `npm run bench export`: a BagIt export of a large investigation, printed next to a baseline
// measured in the same run on the same (fresh, loopback) database and blob store:
//   1. wall time of the export (the real job body, buildExport, in a process of its own as
//      the export worker runs it) vs `psql \copy` of the same ledger rows + `zip -q` of the
//      same content files — target ratio ≤ 3×;
//   2. peak RSS of the exporting process — target ≤ 256 MiB;
//   3. `claimtrail verify-export` of the produced bag: wall time and peak RSS (no target;
//      `unzip -tq` of the same file, which reads and CRC-checks every entry, for scale).
// The investigation: `--items` evidence items of `--item-size` random bytes (one per source),
// `--claims` claims citing them, and `--events` ledger events in the chains of the
// investigation, its claims and sources, bulk-inserted and integrated by the real sequencer.
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseConfig } from '../src/config/env.ts';
import { createPgPool } from '../src/db/pg-pool.ts';
import { createPrisma } from '../src/db/prisma.ts';
import { writeTransaction } from '../src/db/unit-of-work.ts';
import { insertExport } from '../src/exports/exports-store.ts';
import { appendEvent } from '../src/ledger/ledger.repository.ts';
import { logger } from '../src/lib/logger.ts';
import { runSequencerLoop } from '../src/log/sequencer.ts';
import { LocalBlobStore } from '../src/storage/local-blob-store.ts';
import type { BenchResources } from './lib/bench-db.ts';
import { runBench } from './lib/bench-run.ts';
import type { ExportChildResult } from './lib/export-child.ts';
import { buildExportFixture, type ExportFixture, integrateAll } from './lib/export-fixture.ts';
import { type MachineLoad, machineMeter, waitForQuiet } from './lib/machine-load.ts';
import { type MeasuredRun, runNodeMeasured, runTimed } from './lib/measure-child.ts';
import { type NumberOption, usage } from './lib/options.ts';
import { mib, ms, num, type Result, ratio, table, times, verdict } from './lib/stats.ts';

const spec = {
  events: { name: 'events', full: 200_000, quick: 5_000, help: 'ledger events in the exported subjects' },
  items: { name: 'items', full: 1000, quick: 20, help: 'evidence items (one source each)' },
  itemSize: { name: 'item-size', full: 1_048_576, quick: 262_144, help: 'bytes per evidence item' },
  claims: { name: 'claims', full: 10, quick: 2, help: 'claims citing the sources' },
  seqBatch: { name: 'seq-batch', full: 20_000, quick: 20_000, help: 'sequencer batch size for integration' },
  gcEvery: {
    name: 'gc-every',
    full: 0,
    quick: 0,
    help: 'diagnosis: full GC every N ms in the export process, so heap peaks are live memory (slows it)',
  },
  maxOldSpace: {
    name: 'max-old-space',
    // The service's own setting (scripts/start.sh, Dockerfile): V8 otherwise lets the export's
    // short-lived garbage grow RSS to ~340 MiB although its live heap stays near 35 MiB.
    full: 192,
    quick: 192,
    help: '--max-old-space-size (MB) of the export process; default 192, as the service runs (0: node default)',
  },
  maxSemiSpace: {
    name: 'max-semi-space',
    full: 0,
    quick: 0,
    help: 'diagnosis: --max-semi-space-size (MB) for the export process (0: node default)',
  },
  cpuProf: {
    name: 'cpu-prof',
    full: 0,
    quick: 0,
    help: '1: V8 CPU profile of the export process (kept in a temp directory)',
  },
} satisfies Record<string, NumberOption>;

type Sizes = { [K in keyof typeof spec]: number };

const RSS_TARGET = 256 * 2 ** 20;
const RATIO_TARGET = 3;
const PSQL = 'psql';
const ZIP = 'zip';
const UNZIP = 'unzip';
const projectRoot = fileURLToPath(new URL('../', import.meta.url));

const say = (line = '') => console.log(line);
const section = (title: string) => say(`\n=== ${title}`);
const seconds = (since: number) => (performance.now() - since) / 1000;
const secs = (s: number) => `${num(s, s < 10 ? 2 : 1)} s`;
const rate = (bytes: number, s: number) => `${mib(bytes / s)}/s`;

export const help = `npm run bench export [-- --quick] [options]\n${usage(Object.values(spec))}`;

export async function run(argv: readonly string[]): Promise<number> {
  return runBench(
    {
      argv,
      spec,
      title: 'export benchmark',
      where: 'export and verify-export each in a process of their own',
      help,
      secs,
    },
    async ({ res, sizes, phases, results, onCleanup }) => {
      const work = await mkdtemp(join(tmpdir(), 'claimtrail-bench-export-'));
      onCleanup('remove files', () => rm(work, { recursive: true, force: true }));
      say(`files: ${work}`);
      const out = await benchExport(res, work, sizes, phases);
      results.push(...out.results);
      return out.ok;
    },
  );
}

async function benchExport(
  res: BenchResources,
  work: string,
  sizes: Sizes,
  phases: [string, number][],
): Promise<{ results: Result[]; ok: boolean }> {
  const blobDir = join(work, 'blobs');
  const blobs = new LocalBlobStore(blobDir);
  const appEnv = { ...process.env, ...res.env, BLOB_DIR: blobDir };
  const config = parseConfig(appEnv);
  const pool = createPgPool(res.url, 4);
  const prisma = createPrisma(res.url, 2);
  try {
    // 0. The investigation, its content and its chains, integrated into the log.
    section(
      `0. setup: ${num(sizes.items)} evidence items × ${mib(sizes.itemSize)}, ${num(sizes.claims)} claims, ${num(sizes.events)} ledger events`,
    );
    let t = performance.now();
    const userId = randomUUID();
    await pool.query(`INSERT INTO users (id, name, role) VALUES ($1, 'bench', 'editor')`, [userId]);
    let blobSeconds = 0;
    const fixture = await buildExportFixture(pool, blobs, sizes, userId, (s) => {
      blobSeconds = s;
    });
    const buildS = seconds(t);
    say(
      `blobs: ${num(fixture.evidence.length)} × ${mib(sizes.itemSize)} put in ${secs(blobSeconds)}; rows + ${num(fixture.events)} events (${mib(fixture.bodyBytes)} of canonical bodies) inserted in ${secs(buildS - blobSeconds)}`,
    );
    phases.push(['put blobs', blobSeconds], ['insert rows + events', buildS - blobSeconds]);

    // The export row and its first event, as requestExport records them (nothing is queued:
    // the benchmark runs the job body itself).
    const exportRow = await writeTransaction(pool, async (tx) => {
      const created = await insertExport(tx, {
        requestedBy: userId,
        investigationId: fixture.investigationId,
        claimId: null,
        format: 'bagit',
        includeContent: true,
        at: new Date(),
      });
      await appendEvent(tx, {
        subject: { type: 'export', id: created.id },
        type: 'export_requested',
        actor: `user:${userId}`,
        data: { scope: { investigationId: fixture.investigationId }, format: 'bagit', includeContent: true },
      });
      return created;
    });

    t = performance.now();
    const batches = await integrateAll(pool, {
      log: logger().child({ component: 'sequencer' }),
      origin: config.LOG_ORIGIN,
      signerKey: res.signerKey,
      batchSize: sizes.seqBatch,
    });
    const integrateS = seconds(t);
    t = performance.now();
    await pool.query('VACUUM (ANALYZE) ledger_events, log_entries, log_hashes, log_pending, log_checkpoints');
    const vacuumS = seconds(t);
    const { rows: tree } = await pool.query<{ size: string }>(
      'SELECT max(size)::text AS size FROM log_checkpoints',
    );
    say(
      `integrated by the sequencer (integrateBatch, batch ${num(sizes.seqBatch)}) in ${batches} batches in ${secs(integrateS)}; tree size ${num(Number(tree[0]?.size))}; VACUUM ANALYZE ${secs(vacuumS)}`,
    );
    phases.push(['integrate', integrateS], ['vacuum analyze', vacuumS]);

    // 1a. Baseline: the same ledger rows out of Postgres, the same content files into a ZIP.
    section('1. baseline: psql \\copy of the same ledger rows + zip -q of the same content files');
    await quiet();
    t = performance.now();
    let meter = machineMeter();
    const baseline = await runBaseline(res, work, blobs, fixture);
    say(`  ${describeLoad(meter.stop())}`);
    phases.push(['baseline', seconds(t)]);

    // 1b + 2. The export, in a process of its own.
    section('2. export: buildExport(ctx, exportId) in its own process (node --import tsx)');
    if (sizes.gcEvery)
      say(`  !! --gc-every ${sizes.gcEvery}: a full GC runs that often; the timings are not comparable`);
    await quiet();
    t = performance.now();
    meter = machineMeter();
    // As in production, a sequencer runs beside the export: it integrates the export's own
    // export_scope event, which the build waits for before it takes the checkpoint.
    const sequencer = runSequencerLoop({
      pool,
      log: logger().child({ component: 'sequencer' }),
      origin: config.LOG_ORIGIN,
      signerKey: res.signerKey,
      batchSize: sizes.seqBatch,
      intervalMs: 100,
    });
    await sequencer.active;
    const exported = await runExport(appEnv, exportRow.id, sizes).finally(() => sequencer.stop());
    const exportLoad = meter.stop();
    phases.push(['export (child process)', seconds(t)]);
    const r = exported.result;
    const zipPath = blobs.pathOf(r.sha256);
    const { rows: status } = await pool.query<{ status: string; progress: number }>(
      'SELECT status::text, progress FROM exports WHERE id = $1',
      [exportRow.id],
    );
    const contentBytes = fixture.evidence.reduce((n, e) => n + e.size, 0);
    say(
      `export ${exportRow.id}: ${status[0]?.status}, progress ${status[0]?.progress}; ${num(r.events)} events; bag ${mib(r.size)} (content ${mib(contentBytes)}), sha256 ${r.sha256.slice(0, 16)}…`,
    );
    say(
      `  wall time ${secs(r.wallMs / 1000)} (${rate(r.size, r.wallMs / 1000)} of bag); child process ${secs(exported.run.wallMs / 1000)} including start-up`,
    );
    say(`  phases (read off buildExport's queries and blob calls; RSS and heap sampled every 100 ms):`);
    say(
      indent(
        table([
          [
            'phase',
            'time',
            'share',
            'peak RSS',
            r.gcEveryMs ? 'peak live heap' : 'peak heap used',
            'peak external',
          ],
          ...r.phases.map((p) => [
            p.name,
            ms(p.ms),
            pct(p.ms, r.wallMs),
            p.rssPeak ? mib(p.rssPeak) : '-',
            p.heapPeak ? mib(p.heapPeak) : '-',
            p.externalPeak ? mib(p.externalPeak) : '-',
          ]),
        ]),
      ),
    );
    say(`  time waiting for pg queries, by kind (overlaps the phases; cursor FETCHes are pipelined):`);
    say(
      indent(
        table([
          ['query', 'count', 'time'],
          ...Object.entries(r.queries)
            .sort((a, b) => b[1].ms - a[1].ms)
            .map(([kind, q]) => [kind, num(q.n), ms(q.ms)]),
        ]),
      ),
    );
    const maxRss = exported.run.maxRss ?? r.maxRss;
    say(
      `  RSS: ${mib(r.rssStart)} at start-up, ${mib(r.rssBefore)} before the export (context created, pools connected), peak sampled every 100 ms ${mib(r.rssPeak)}, heap used peak ${mib(r.heapPeak)}`,
    );
    say(
      `  peak RSS of the process: ${mib(maxRss)} (${exported.run.via}); target ≤ ${mib(RSS_TARGET)}: ${verdict(maxRss <= RSS_TARGET)}`,
    );
    const exportRatio = ratio(r.wallMs, baseline.totalMs);
    say(
      `  ratio export/baseline = ${secs(r.wallMs / 1000)} / ${secs(baseline.totalMs / 1000)} = ${times(exportRatio)} (target ≤ ${RATIO_TARGET}×: ${verdict(exportRatio <= RATIO_TARGET)})`,
    );
    say(
      `  for scale: export / (psql \\copy + zip -q -0, store only as the export stores media) = ${times(ratio(r.wallMs, baseline.copyMs + baseline.storeMs))}`,
    );
    say(`  ${describeLoad(exportLoad, exported.run)}`);
    if (exported.profileDir) say(`  CPU profile: ${exported.profileDir} (kept)`);
    // The fixture's chains, and the export's own up to its export_scope record (requested, scope).
    const expectedEvents = fixture.events + 2;
    const exportOk =
      exported.run.code === 0 && status[0]?.status === 'completed' && r.events === expectedEvents;
    if (r.events !== expectedEvents)
      say(
        `  !! the export holds ${r.events} events, expected ${expectedEvents} (the fixture's + 2 of its own)`,
      );

    // 3. Offline verification of the bag.
    section('3. claimtrail verify-export on the produced bag (its own process)');
    await quiet();
    t = performance.now();
    const verified = await runVerify(zipPath, appEnv);
    phases.push(['verify-export + unzip -t', seconds(t)]);
    const verifyOk = verified.run.code === 0 && /\nOK\n?$/.test(verified.run.stdout);

    return {
      ok: exportOk && verifyOk,
      results: [
        {
          name: `export wall time (${num(r.events)} events, ${num(fixture.evidence.length)} × ${mib(sizes.itemSize)})${exportOk ? '' : ' FAILED'}`,
          measured: secs(r.wallMs / 1000),
          baselineName: 'psql \\copy + zip -q',
          baseline: secs(baseline.totalMs / 1000),
          ratio: times(exportRatio),
          target: `ratio ≤ ${RATIO_TARGET}×`,
          pass: exportRatio <= RATIO_TARGET && exportOk,
        },
        {
          name: 'export peak RSS (exporting process)',
          measured: mib(maxRss),
          baselineName: 'same process before the export',
          baseline: mib(r.rssBefore),
          ratio: times(ratio(maxRss, r.rssBefore)),
          target: `≤ ${mib(RSS_TARGET)}`,
          pass: maxRss <= RSS_TARGET,
        },
        {
          name: `verify-export wall time / peak RSS${verifyOk ? '' : ' FAILED'}`,
          measured: `${secs(verified.run.wallMs / 1000)} / ${verified.run.maxRss === undefined ? '?' : mib(verified.run.maxRss)}`,
          baselineName: 'unzip -tq of the bag',
          baseline: secs(verified.unzipMs / 1000),
          ratio: times(ratio(verified.run.wallMs, verified.unzipMs)),
          target: 'reported',
          pass: verifyOk ? undefined : false,
        },
      ],
    };
  } finally {
    await prisma.$disconnect();
    await pool.end();
  }
}

/** Waits up to 60 s for a quiet second before a timed step, and says so when it had to. */
async function quiet(): Promise<void> {
  const q = await waitForQuiet(60_000);
  if (q.waitedMs > 1500 || q.busyCores > 0.3) {
    say(
      `  (waited ${secs(q.waitedMs / 1000)} for the machine to quieten; ${num(q.busyCores, 2)} cores busy in the last second${q.busyCores > 0.3 ? ' — other work is running: figures will be slow and noisy' : ''})`,
    );
  }
}

function describeLoad(load: MachineLoad, child?: MeasuredRun): string {
  if (!load.available) return 'machine load: not available';
  const cores = cpus().length;
  const own =
    child?.cpuSeconds === undefined
      ? ''
      : `; the measured process used ${num(child.cpuSeconds / load.seconds, 2)} (${secs(child.cpuSeconds)} CPU)`;
  return `machine meanwhile: ${num(load.busyCores, 2)} of ${cores} cores busy on average (all processes, Postgres included)${own}`;
}

const indent = (text: string) =>
  text
    .split('\n')
    .map((l) => `    ${l}`)
    .join('\n');
const pct = (part: number, whole: number) => `${num((100 * part) / whole, 1)}%`;

/** SQL of the rows the export streams (export-ledger.ts streamLedger), for the investigation. */
function ledgerRowsSql(investigationId: string): string {
  const inv = `'${investigationId.replaceAll("'", "''")}'`;
  return `SELECT e.subject_type, e.subject_id, e.seq, e.body, encode(e.hash, 'hex') AS hash, le.log_index
    FROM ledger_events e LEFT JOIN log_entries le ON le.event_id = e.id
    WHERE (e.subject_type = 'investigation' AND e.subject_id = ${inv})
       OR (e.subject_type = 'claim' AND e.subject_id IN (SELECT id::text FROM claims WHERE investigation_id = ${inv}))
       OR (e.subject_type = 'source' AND e.subject_id IN (SELECT id::text FROM sources WHERE investigation_id = ${inv}))
    ORDER BY e.subject_type, e.subject_id, e.seq`.replace(/\s+/g, ' ');
}

async function runBaseline(res: BenchResources, work: string, blobs: LocalBlobStore, fixture: ExportFixture) {
  const copyFile = join(work, 'baseline-ledger.copy');
  const zipFile = join(work, 'baseline-content.zip');
  const storeFile = join(work, 'baseline-content-stored.zip');
  const paths = `${fixture.evidence.map((e) => relative(blobs.root, blobs.pathOf(e.sha256))).join('\n')}\n`;
  try {
    const copy = await runTimed(PSQL, [
      '-X',
      '-q',
      '-v',
      'ON_ERROR_STOP=1',
      '-d',
      res.url,
      '-c',
      `\\copy (${ledgerRowsSql(fixture.investigationId)}) TO '${copyFile}'`,
    ]);
    const copied = await stat(copyFile);
    const { stdout: lines } = await runTimed('wc', ['-l', copyFile]);
    const copiedRows = Number(lines.trim().split(/\s+/)[0]);
    say(
      `psql \\copy: ${num(copiedRows)} rows, ${mib(copied.size)} in ${secs(copy.wallMs / 1000)}${copiedRows === fixture.events ? '' : ` (!! expected ${num(fixture.events)} rows)`}`,
    );
    const zip = await runTimed(ZIP, ['-q', zipFile, '-@'], { cwd: blobs.root, input: paths });
    const zipped = await stat(zipFile);
    say(
      `zip -q (default compression): ${num(fixture.evidence.length)} files, ${mib(zipped.size)} in ${secs(zip.wallMs / 1000)} (${rate(zipped.size, zip.wallMs / 1000)})`,
    );
    await rm(zipFile, { force: true });
    // For scale only (not the baseline): the same ZIP without attempting compression.
    const store = await runTimed(ZIP, ['-q', '-0', storeFile, '-@'], { cwd: blobs.root, input: paths });
    const stored = await stat(storeFile);
    say(
      `  for scale: zip -q -0 (store only) ${mib(stored.size)} in ${secs(store.wallMs / 1000)} (${rate(stored.size, store.wallMs / 1000)}) — the export stores media uncompressed too`,
    );
    const totalMs = copy.wallMs + zip.wallMs;
    say(`baseline total (psql \\copy + zip -q): ${secs(totalMs / 1000)}`);
    return { totalMs, copyMs: copy.wallMs, zipMs: zip.wallMs, storeMs: store.wallMs };
  } finally {
    await rm(copyFile, { force: true });
    await rm(zipFile, { force: true });
    await rm(storeFile, { force: true });
  }
}

async function runExport(
  env: NodeJS.ProcessEnv,
  exportId: string,
  sizes: Sizes,
): Promise<{ run: MeasuredRun; result: ExportChildResult; profileDir?: string }> {
  const profileDir = sizes.cpuProf ? await mkdtemp(join(tmpdir(), 'claimtrail-export-profile-')) : undefined;
  const run = await runNodeMeasured(
    [
      '--import',
      'tsx',
      ...(profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : []),
      ...(sizes.maxOldSpace ? [`--max-old-space-size=${sizes.maxOldSpace}`] : []),
      ...(sizes.maxSemiSpace ? [`--max-semi-space-size=${sizes.maxSemiSpace}`] : []),
      'bench/lib/export-child.ts',
      exportId,
    ],
    {
      cwd: projectRoot,
      env: { ...env, ...(sizes.gcEvery ? { BENCH_EXPORT_GC_MS: String(sizes.gcEvery) } : {}) },
      echoStderr: true,
    },
  );
  const line = run.stdout.split('\n').find((l) => l.startsWith('BENCH_RESULT '));
  if (run.code !== 0 || !line) {
    throw new Error(
      `the export process exited ${run.code ?? run.signal}:\n${run.stdout.slice(-4000)}${run.stderr.slice(-4000)}`,
    );
  }
  return { run, result: JSON.parse(line.slice('BENCH_RESULT '.length)) as ExportChildResult, profileDir };
}

async function runVerify(zipPath: string, env: NodeJS.ProcessEnv) {
  const unzip = await runTimed(UNZIP, ['-tq', zipPath]);
  say(`unzip -tq (for scale): ${secs(unzip.wallMs / 1000)} — ${unzip.stdout.trim()}`);
  const meter = machineMeter();
  const run = await runNodeMeasured(['bin/claimtrail.mjs', 'verify-export', zipPath], {
    cwd: projectRoot,
    env,
  });
  const load = meter.stop();
  const lines = `${run.stdout}${run.stderr}`.trimEnd().split('\n');
  const shown = 16;
  for (const line of lines.slice(0, shown)) say(`  | ${line.length > 300 ? `${line.slice(0, 300)}…` : line}`);
  if (lines.length > shown) say(`  | … ${num(lines.length - shown)} more line(s)`);
  say(
    `verify-export: exit ${run.code ?? run.signal}, ${secs(run.wallMs / 1000)} including start-up; peak RSS ${run.maxRss === undefined ? '?' : mib(run.maxRss)} (${run.via})`,
  );
  say(`  ${describeLoad(load, run)}`);
  return { run, unzipMs: unzip.wallMs };
}
