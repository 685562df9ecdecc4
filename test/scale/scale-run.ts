// The multi-process scale run (issue 16, part 3), one piece of code for the CI test
// (test/scale/scale.test.ts, 200 sources) and the benchmark (`npm run bench scale`, 2,000):
//
//   two API processes, three worker processes, two sequencers (one active, one standby on the
//   advisory lock), each a real `claimtrail <role>` child; the run's own Postgres database; a
//   Redis of its own that keeps nothing on disk; the S3 store (s3rver on loopback); the
//   sources on a loopback fixture server (scale-sources.ts).
//
// Sources are cited through both APIs over HTTP by a few concurrent clients, with at most
// `backlog` captures requested and not yet ended (so the run's disruptions land while captures
// flow, not after a burst of requests). At 25 %, 50 % and 75 % of the requests sent, citing
// pauses for one disruption, each once the previous one has recovered:
//   1. SIGKILL the worker running the most captures, and start it again;
//   2. SIGKILL the active sequencer, and start it again (as the standby: the other takes over);
//   3. SIGKILL Redis and start it again on the same port, empty: every queued job, the sweep
//      schedules and the capture slot leases are gone; only the database-driven sweeps
//      (src/queue/lost-jobs.ts) can bring the captures back.
// Then every capture must end, and the run checks what scale-checks.ts says plus the CLIs
// (`ledger verify`, `verify-export` of a BagIt export made through the API, `blobs check`
// against S3). Nothing is asserted here: the report says what held; the test asserts it, the
// benchmark prints it.
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { type Api, apiClient, createEditor } from '../../bench/lib/api-client.ts';
import { type Summary, summarize } from '../../bench/lib/stats.ts';
import { parseConfig } from '../../src/config/env.ts';
import { generateSignerKey } from '../../src/log/note.ts';
import { runClaimtrail } from '../helpers/cli.ts';
import { waitFor } from '../helpers/context.ts';
import { startFixtureServer } from '../helpers/fixture-server.ts';
import { startRedisServer } from '../helpers/redis-server.ts';
import { startS3Server } from '../helpers/s3-server.ts';
import { runVerifyCli } from '../helpers/verify-cli.ts';
import { Fleet, type Member } from './fleet.ts';
import {
  duplicateStored,
  type LogTally,
  logProblems,
  type SourceTally,
  sourceProblems,
  tallyLog,
  tallySources,
} from './scale-checks.ts';
import { expectedStored, kindOf, type ScaleSource, scaleRoutes, scaleSources } from './scale-sources.ts';

export interface ScaleSettings {
  sources: number;
  /** Concurrent citing clients (each alternates between the two APIs). */
  clients: number;
  /** Captures requested and not yet ended before a client waits to cite more. */
  backlog: number;
  /** WORKER_CONCURRENCY of each worker process. */
  workerConcurrency: number;
  /** CAPTURE_SWEEP_INTERVAL_MS and EXPORT_SWEEP_INTERVAL_MS of the workers. */
  sweepMs: number;
}

/** Where the run keeps its state: a migrated database of its own, and a scratch directory. */
export interface ScaleTarget {
  /** The database as the runtime role (what the services use). */
  databaseUrl: string;
  /** The same database as its owner. */
  ownerUrl: string;
  scratch: string;
  /** Every process the run starts (pid → what), filled as they start: after the cleanup none
   * may be left (alivePids). */
  spawned: Map<number, string>;
}

export type OnCleanup = (label: string, step: () => unknown) => void;

export interface Recovery {
  what: string;
  /** Milliseconds from the disruption; undefined: it did not happen within the bound. */
  ms?: number;
  /** The design bound that makes it happen (printed beside the figure). */
  bound: string;
}

export interface Disruption {
  what: string;
  /** Requests sent when it happened. */
  atRequest: number;
  at: number;
  detail: string;
  recoveries: Recovery[];
}

export interface CliResult {
  code: number | null;
  output: string;
}

export interface ScaleReport {
  sources: number;
  /** Citations sent through each API process. */
  citedPerApi: Record<string, number>;
  tallies: SourceTally[];
  sourceProblems: string[];
  duplicateStored: string[];
  log: LogTally;
  logProblems: string[];
  ledgerVerify: CliResult;
  exportBag: { status: string; bytes: number; error?: string; verify: CliResult };
  blobsCheck: CliResult;
  disruptions: Disruption[];
  /** Sequencers whose current process holds the lease at the end (exactly one). */
  activeSequencers: string[];
  /** Members whose process had died by the end (none). */
  deadMembers: string[];
  /** First capture requested → last completed. */
  seconds: number;
  sourcesPerSecond: number;
  /** Captures completed before the first disruption, over the time from the first request. */
  undisturbed: { captures: number; seconds: number; perSecond: number };
  /** Requested → completed, in ms. */
  latency: Summary;
  /** Requests the fixture server answered (retries fetch again), and as many as the items. */
  fetches: { answered: number; items: number };
  /** Every violation in one list (empty when all held), for the benchmark's verdict. */
  problems: string[];
}

const APIS = 2;
const WORKERS = 3;
const SEQUENCERS = 2;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runScale(
  settings: ScaleSettings,
  target: ScaleTarget,
  onCleanup: OnCleanup,
  say: (line: string) => void,
): Promise<ScaleReport> {
  const n = settings.sources;
  // Generous bounds (a loaded 2-core machine runs every process here at once), never endless.
  const settleMs = 10 * 60_000 + n * 500;
  const recoveryMs = 5 * 60_000;

  // --- the parts the services share
  const track = (pid: number | undefined, what: string) => {
    if (pid) target.spawned.set(pid, what);
  };
  const redis = await startRedisServer();
  onCleanup('stop Redis', () => redis.stop());
  track(redis.pid(), 'redis-server');
  const s3 = await startS3Server({ bucket: 'claimtrail-scale', prefix: 'scale' });
  onCleanup('stop s3rver', () => s3.stop());
  track(s3.pid(), 's3rver');
  const sources = scaleSources(n);
  const origin = await startFixtureServer(scaleRoutes(sources));
  onCleanup('close fixture server', () => origin.close());
  const keyFile = join(target.scratch, 'log-signing.key');
  const base = parseConfig(process.env);
  await writeFile(keyFile, `${generateSignerKey(base.LOG_ORIGIN).signerKey}\n`, { mode: 0o600, flag: 'wx' });
  say(
    `Redis pid ${redis.pid()} at ${redis.url} (no persistence); s3rver at ${s3.endpoint}; sources at ${origin.origin}`,
  );

  const env: Record<string, string> = {
    NODE_ENV: 'production',
    LOG_LEVEL: 'info',
    DATABASE_URL: target.databaseUrl,
    MIGRATION_DATABASE_URL: target.ownerUrl,
    REDIS_URL: redis.url,
    REDIS_PREFIX: 'claimtrail-scale',
    LOG_SIGNING_KEY_FILE: keyFile,
    // Seven processes × two pools: 56 connections at most, not 140 (Postgres's default
    // max_connections is 100, and other work shares this server).
    DATABASE_POOL_MAX: '4',
    ...s3.env,
    BLOB_DIR: join(target.scratch, 'blobs'), // scratch copies only, with S3
    FETCH_ALLOWLIST: origin.host,
    FETCH_CONNECT_TIMEOUT_MS: '2000',
    // Page captures without the browser and platform steps: a Chromium per page would make
    // the run a browser benchmark (see `npm run bench capture -- --browser`).
    BROWSER_PATH: 'off',
    YTDLP_PATH: 'off',
    WORKER_CONCURRENCY: String(settings.workerConcurrency),
    // One origin and one investigation: the fair-capture limits would otherwise allow two or
    // three captures at a time across all workers.
    CAPTURE_PER_HOST_CONCURRENCY: String(WORKERS * settings.workerConcurrency),
    CAPTURE_PER_INVESTIGATION_CONCURRENCY: String(WORKERS * settings.workerConcurrency),
    CAPTURE_SWEEP_INTERVAL_MS: String(settings.sweepMs),
    EXPORT_SWEEP_INTERVAL_MS: String(settings.sweepMs),
  };

  // --- the services
  const fleet = new Fleet(env, track);
  onCleanup('stop service processes', () => fleet.stop());
  const pool = new pg.Pool({ connectionString: target.databaseUrl, max: 3 });
  onCleanup('close pool', () => pool.end());
  // A failure says what each process printed last.
  try {
    let t = Date.now();
    await fleet.start({ apis: APIS, workers: WORKERS, sequencers: SEQUENCERS });
    say(
      `processes ready in ${((Date.now() - t) / 1000).toFixed(1)} s: ${fleet.members
        .map((m) => `${m.name} pid ${m.proc.child.pid}${m.origin ? ` ${m.origin}` : ''}`)
        .join(', ')}; active: ${fleet.activeSequencer()?.name}`,
    );

    const token = await createEditor(env, 'Scale editor');
    const apis = fleet.ofRole('api').map((m) => apiClient(m.origin!, token));
    const investigation = await apis[0]!.call<{ id: string }>('POST', '/v1/investigations', {
      title: 'Scale run',
    });

    // --- progress: captures ended so far (for the backlog), polled
    const progress = { ended: 0, failed: 0 };
    let polling = true;
    const poller = (async () => {
      while (polling) {
        try {
          const { rows } = await pool.query<{ ended: number; failed: number }>(
            `SELECT count(*) FILTER (WHERE status IN ('completed', 'failed'))::int AS ended,
                    count(*) FILTER (WHERE status = 'failed')::int AS failed FROM captures`,
          );
          Object.assign(progress, rows[0]);
        } catch {
          // The next poll tries again; a database that stays away fails the run's own waits.
        }
        await sleep(200);
      }
    })();
    onCleanup('stop polling', async () => {
      polling = false;
      await poller.catch(() => undefined);
    });

    // --- the disruptions, at fixed shares of the requests
    const disruptions: Disruption[] = [];
    const recoveries: Promise<void>[] = [];
    const unrecovered: string[] = [];
    const plan: { share: number; run: () => Promise<Disruption> }[] = [
      { share: 0.25, run: () => killWorker(fleet, pool, recoveryMs) },
      { share: 0.5, run: () => killActiveSequencer(fleet, pool, recoveryMs) },
      { share: 0.75, run: () => restartRedis(redis, pool, recoveryMs, track) },
    ];
    const fired = new Map<number, Promise<void>>();
    const fire = (k: number, atRequest: number) => {
      let p = fired.get(k);
      if (!p) {
        p = (async () => {
          await recoveries[k - 1];
          const d = await plan[k]!.run();
          d.atRequest = atRequest;
          disruptions.push(d);
          say(`${atRequest}/${n} requests: ${d.what} (${d.detail})`);
          // Recovery is measured while citing goes on; the next disruption waits for it.
          recoveries[k] = Promise.all(
            d.recoveries.map((r) =>
              (r as Measured).done.then(() => {
                if (r.ms === undefined) unrecovered.push(`${d.what}: ${r.what}`);
                say(
                  `  ${d.what}: ${r.what} ${r.ms === undefined ? `NOT within ${recoveryMs / 1000} s` : `after ${(r.ms / 1000).toFixed(1)} s`}`,
                );
              }),
            ),
          ).then(() => undefined);
        })();
        fired.set(k, p);
      }
      return p;
    };

    // --- citing: one claim per ten sources, claims and citations alternating between the APIs
    const citedPerApi: Record<string, number> = {};
    const claims = new Map<number, Promise<string>>();
    const claimOf = (group: number) => {
      let c = claims.get(group);
      if (!c) {
        c = apis[group % APIS]!.call<{ id: string }>(
          'POST',
          `/v1/investigations/${investigation.id}/claims`,
          {
            statement: `Scale run claim ${group}`,
            claimant: { name: 'Someone' },
          },
        ).then((r) => r.id);
        claims.set(group, c);
      }
      return c;
    };
    const cite = async (api: Api, s: ScaleSource) => {
      await api.call('POST', `/v1/claims/${await claimOf(Math.floor(s.index / 10))}/sources`, {
        url: `${origin.origin}${s.path}`,
        relation: 'origin',
      });
      citedPerApi[api.origin] = (citedPerApi[api.origin] ?? 0) + 1;
    };
    let next = 0;
    let sent = 0;
    const citeStarted = Date.now();
    const client = async () => {
      for (let i = next++; i < n; i = next++) {
        for (const [k, step] of plan.entries()) if (i >= Math.floor(step.share * n)) await fire(k, i);
        while (sent - progress.ended >= settings.backlog) await sleep(50);
        sent++;
        await cite(apis[i % APIS]!, sources[i]!);
      }
    };
    await Promise.all(Array.from({ length: settings.clients }, client));
    say(`all ${n} requests sent in ${((Date.now() - citeStarted) / 1000).toFixed(1)} s`);

    // --- every capture ends; the last disruption recovers
    t = Date.now();
    // A recovery that did not happen ends the wait: its captures would not end either.
    await waitFor(async () => progress.ended >= n || unrecovered.length > 0, settleMs, 250).catch(
      (err: Error) => {
        throw new Error(`${err.message}: ${progress.ended}/${n} captures ended`);
      },
    );
    if (progress.ended < n)
      throw new Error(`${progress.ended}/${n} captures ended; did not recover: ${unrecovered.join('; ')}`);
    await Promise.all(recoveries);
    say(`captures ended ${((Date.now() - t) / 1000).toFixed(1)} s after the last request`);

    // --- a BagIt export of the investigation through the (other) API, verified offline
    const exportBag = await exportAndVerify(apis[1]!, investigation.id, target.scratch);
    say(`export: ${exportBag.status}, ${exportBag.bytes} bytes, verify-export exit ${exportBag.verify.code}`);

    // --- the ledger and the log, once the sequencer has integrated everything
    await waitFor(async () => (await tallyLog(pool)).pending === 0, 120_000, 250).catch(() => undefined);
    const log = await tallyLog(pool);
    const ledgerVerify = await cli(['ledger', 'verify'], env, 600_000);
    const blobsCheck = await cli(['blobs', 'check'], env, 900_000);
    const tallies = await tallySources(pool, investigation.id, (url) => kindOf(indexOfUrl(url)));
    const duplicates = await duplicateStored(pool);
    const timing = await timings(pool, disruptions[0]?.at);

    const report: ScaleReport = {
      sources: n,
      citedPerApi,
      tallies,
      sourceProblems: sourceProblems(tallies),
      duplicateStored: duplicates,
      log,
      logProblems: logProblems(log),
      ledgerVerify,
      exportBag,
      blobsCheck,
      disruptions,
      activeSequencers: fleet
        .ofRole('sequencer')
        .filter((m) => m === fleet.activeSequencer())
        .map((m) => m.name),
      deadMembers: fleet.dead(),
      ...timing,
      fetches: {
        answered: origin.totalHits(),
        items: sources.reduce((k, x) => k + expectedStored[x.kind], 0),
      },
      problems: [],
    };
    report.problems = problemsOf(report);
    return report;
  } catch (err) {
    say(`processes at the failure:\n${fleet.report()}`);
    throw err;
  }
}

/** Every violation of the report, one line each (empty: everything held). */
function problemsOf(r: ScaleReport): string[] {
  const problems = [...r.sourceProblems, ...r.duplicateStored, ...r.logProblems];
  if (r.tallies.length !== r.sources) problems.push(`${r.tallies.length} sources for ${r.sources} cited`);
  if (r.ledgerVerify.code !== 0) problems.push(`ledger verify exit ${r.ledgerVerify.code}`);
  if (r.exportBag.status !== 'completed') problems.push(`export ${r.exportBag.status}: ${r.exportBag.error}`);
  if (r.exportBag.verify.code !== 0) problems.push(`verify-export exit ${r.exportBag.verify.code}`);
  // 3: intact, with orphans (bytes stored by a run killed before its row committed).
  if (r.blobsCheck.code !== 0 && r.blobsCheck.code !== 3)
    problems.push(`blobs check exit ${r.blobsCheck.code}`);
  if (r.activeSequencers.length !== 1)
    problems.push(`active sequencers: ${r.activeSequencers.join(', ') || 'none'}`);
  if (r.deadMembers.length > 0) problems.push(`processes dead at the end: ${r.deadMembers.join(', ')}`);
  for (const d of r.disruptions)
    for (const rec of d.recoveries)
      if (rec.ms === undefined) problems.push(`${d.what}: ${rec.what} did not happen`);
  return problems;
}

const indexOfUrl = (url: string) => Number(/\/(\d+)\.\w+$/.exec(url)?.[1] ?? Number.NaN);

async function cli(args: string[], env: Record<string, string>, timeoutMs: number): Promise<CliResult> {
  const r = await runClaimtrail(args, { ...env, LOG_LEVEL: 'warn' }, timeoutMs);
  return { code: r.code, output: `${r.stdout}${r.stderr}` };
}

async function exportAndVerify(api: Api, investigationId: string, scratch: string) {
  const requested = await api.call<{ id: string }>('POST', '/v1/exports', {
    investigationId,
    format: 'bagit',
  });
  const view = (await waitFor(
    async () => {
      const v = await api.call<{ status: string; error?: string }>('GET', `/v1/exports/${requested.id}`);
      return v.status === 'completed' || v.status === 'failed' ? v : undefined;
    },
    10 * 60_000,
    500,
  ))!;
  if (view.status !== 'completed')
    return { status: view.status, bytes: 0, error: view.error, verify: { code: null, output: '' } };
  const file = join(scratch, 'investigation-bag.zip');
  const bytes = await api.download(`/v1/exports/${requested.id}/download`, file);
  const r = await runVerifyCli([file], 10 * 60_000);
  return { status: view.status, bytes, verify: { code: r.code, output: `${r.stdout}${r.stderr}` } };
}

// ---------------------------------------------------------------------------------------
// Disruptions: each returns at once with its recoveries still being measured (`done`).

type Measured = Recovery & { done: Promise<void> };

/** Polls `when` (an epoch ms, or undefined while it has not happened) until it has, within `boundMs`. */
function recovery(
  what: string,
  bound: string,
  since: number,
  boundMs: number,
  when: () => Promise<number | undefined>,
): Measured {
  const r: Measured = { what, bound, done: Promise.resolve() };
  r.done = waitFor(when, boundMs, 200).then(
    (at) => {
      r.ms = Math.max(0, at! - since);
    },
    () => undefined, // ms stays undefined: reported as not recovered
  );
  return r;
}

/** When the first capture completed at or after `since` (epoch ms). */
const nextCompleted = (pool: pg.Pool, since: number) => async () => {
  const { rows } = await pool.query<{ at: Date | null }>(
    `SELECT min(finished_at) AS at FROM captures WHERE status = 'completed' AND finished_at >= $1`,
    [new Date(since)],
  );
  return rows[0]?.at?.getTime();
};

/** When the last of `ids` ended, once all have. */
const allEnded = (pool: pg.Pool, ids: string[]) => async () => {
  if (ids.length === 0) return Date.now();
  const { rows } = await pool.query<{ ended: number; at: Date | null }>(
    `SELECT count(*) FILTER (WHERE status IN ('completed', 'failed'))::int AS ended, max(finished_at) AS at
     FROM captures WHERE id = ANY($1::uuid[])`,
    [ids],
  );
  return rows[0]!.ended === ids.length ? rows[0]!.at!.getTime() : undefined;
};

const actorOf = (m: Member) => `worker:${hostname()}:${m.proc.child.pid}`;

async function killWorker(fleet: Fleet, pool: pg.Pool, boundMs: number): Promise<Disruption> {
  const { rows } = await pool.query<{ worker: string; ids: string[] }>(
    `SELECT worker, array_agg(id::text) AS ids FROM captures WHERE status = 'running' GROUP BY worker`,
  );
  const held = (m: Member) => rows.find((r) => r.worker === actorOf(m))?.ids ?? [];
  const victim = fleet.ofRole('worker').reduce((a, b) => (held(b).length > held(a).length ? b : a));
  const ids = held(victim);
  const pid = victim.proc.child.pid;
  const at = Date.now();
  await fleet.kill(victim);
  const recoveries = [
    recovery('next capture completed', 'other workers go on', at, boundMs, nextCompleted(pool, at)),
    recovery(
      `its ${ids.length} running capture(s) completed elsewhere`,
      "≤ BullMQ's lock (30 s) + stalled check (30 s) + the capture",
      at,
      boundMs,
      allEnded(pool, ids),
    ),
  ];
  await fleet.restart(victim);
  return {
    what: `SIGKILL ${victim.name}`,
    atRequest: 0,
    at,
    detail: `pid ${pid} running ${ids.length} capture(s); restarted as pid ${victim.proc.child.pid}`,
    recoveries,
  };
}

async function killActiveSequencer(fleet: Fleet, pool: pg.Pool, boundMs: number): Promise<Disruption> {
  const active = fleet.activeSequencer();
  if (!active) throw new Error('no sequencer holds the lease');
  const size = await checkpointSize(pool);
  const pid = active.proc.child.pid;
  const at = Date.now();
  await fleet.kill(active);
  const takeover = recovery(
    "standby's first checkpoint",
    '≤ 2 × SEQUENCER_INTERVAL_MS (the standby retries the lock) + a batch',
    at,
    boundMs,
    async () => {
      const { rows } = await pool.query<{ at: Date | null }>(
        'SELECT min(created_at) AS at FROM log_checkpoints WHERE size > $1',
        [size],
      );
      return rows[0]?.at?.getTime();
    },
  );
  await fleet.restart(active);
  return {
    what: `SIGKILL the active sequencer (${active.name})`,
    atRequest: 0,
    at,
    detail: `pid ${pid} at checkpoint size ${size}; restarted as pid ${active.proc.child.pid} (standby)`,
    recoveries: [takeover],
  };
}

async function restartRedis(
  redis: Awaited<ReturnType<typeof startRedisServer>>,
  pool: pg.Pool,
  boundMs: number,
  track: (pid: number | undefined, what: string) => void,
): Promise<Disruption> {
  const { rows } = await pool.query<{ id: string }>(
    `SELECT id::text FROM captures WHERE status IN ('queued', 'running')`,
  );
  const ids = rows.map((r) => r.id);
  const pid = redis.pid();
  const at = Date.now();
  await redis.kill();
  await redis.start();
  track(redis.pid(), 'redis-server (restarted)');
  return {
    what: 'Redis killed and started again, empty',
    atRequest: 0,
    at,
    detail: `pid ${pid} → ${redis.pid()}, ${ids.length} capture(s) queued or running lost their jobs`,
    recoveries: [
      recovery(
        'next capture completed',
        'running captures finish; the queue refills',
        at,
        boundMs,
        nextCompleted(pool, at),
      ),
      recovery(
        `the ${ids.length} open capture(s) completed (queue drained)`,
        '≤ 30 s (a row counts as lost) + CAPTURE_SWEEP_INTERVAL_MS + the captures',
        at,
        boundMs,
        allEnded(pool, ids),
      ),
    ],
  };
}

async function checkpointSize(pool: pg.Pool): Promise<number> {
  const { rows } = await pool.query<{ size: string | null }>('SELECT max(size) AS size FROM log_checkpoints');
  return Number(rows[0]?.size ?? 0);
}

async function timings(pool: pg.Pool, firstDisruption: number | undefined) {
  const { rows } = await pool.query<{ requested: Date; finished: Date | null }>(
    'SELECT requested_at AS requested, finished_at AS finished FROM captures',
  );
  const first = Math.min(...rows.map((r) => r.requested.getTime()));
  const done = rows.filter((r) => r.finished).map((r) => r.finished!.getTime());
  const last = Math.max(...done);
  const seconds = (last - first) / 1000;
  const until = firstDisruption ?? last;
  const before = done.filter((d) => d < until).length;
  const undisturbedSeconds = (until - first) / 1000;
  return {
    seconds,
    sourcesPerSecond: rows.length / seconds,
    undisturbed: { captures: before, seconds: undisturbedSeconds, perSecond: before / undisturbedSeconds },
    latency: summarize(
      rows.filter((r) => r.finished).map((r) => r.finished!.getTime() - r.requested.getTime()),
    ),
  };
}

/** Processes of `spawned` still running (not merely a zombie), as `pid what` lines. */
export function alivePids(spawned: ReadonlyMap<number, string>): string[] {
  const alive: string[] = [];
  for (const [pid, what] of spawned) {
    try {
      // /proc/<pid>/stat: "pid (comm) state …"; Z is a zombie (dead, not yet reaped).
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z') alive.push(`${pid} ${what}`);
    } catch {
      // Gone.
    }
  }
  return alive;
}
