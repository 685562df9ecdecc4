// `npm run bench api`: the HTTP API, each figure printed next to a baseline measured in the
// same run on the same (fresh, loopback) database:
//   1. POST /v1/investigations/:id/claims requests/s at 32 connections vs `pgbench` at 32
//      clients running the statements that request issues, recorded from the handler's own
//      code (bench/lib/recorded-sql.ts, pgbench-script.ts) and checked against the API's load
//      to do the same work per request (bench/lib/pg-activity.ts) — target ratio ≥ 0.25×;
//      authentication is recorded with the API's token cache (AUTH_CACHE_SECONDS, from the
//      environment like the API's): once the token is cached it issues nothing, and the API's
//      cache counters over the load are printed next to the pg_stat check;
//   2. the API process's CPU per POST claim vs per GET /healthz (each under the same
//      32-connection load, from /proc) — target ≤ 4×;
//   3. GET /v1/claims/:id of a claim with 50 citations vs GET /healthz (no target: reported).
// The API runs as its own process (`node bin/claimtrail.mjs api`); the closed-loop load
// generator (undici, one connection per client) runs in this one.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type { Request, Response } from 'express';
import { pino } from 'pino';
import { Pool as HttpPool, request } from 'undici';
import type { ClaimInput } from '../src/claims/claims.schema.ts';
import { createClaim } from '../src/claims/claims.service.ts';
import type { Config } from '../src/config/env.ts';
import { authenticate, principalOf } from '../src/http/authenticate.ts';
import { createAuthCache } from '../src/users/auth-cache.ts';
import { freePort } from '../test/helpers/net.ts';
import { type Api, apiClient, createEditor } from './lib/api-client.ts';
import type { BenchResources } from './lib/bench-db.ts';
import { runBench } from './lib/bench-run.ts';
import { stopperOf } from './lib/child-stop.ts';
import { type CpuShare, cpuMeter } from './lib/cpu.ts';
import { type ClosedLoopResult, closedLoop, until } from './lib/load.ts';
import { type NumberOption, usage } from './lib/options.ts';
import {
  describeWork,
  IDLE_PUBLISH_MS,
  openActivityMonitor,
  workDifferences,
  workPerOp,
} from './lib/pg-activity.ts';
import { pgbenchScript, type ScriptPart } from './lib/pgbench-script.ts';
import { type RecordedStatement, recordingPool } from './lib/recorded-sql.ts';
import {
  latencyLine,
  ms,
  num,
  perSecond,
  type Result,
  ratio,
  type Summary,
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
    help: 'measured seconds of each load (pgbench, POST claims, GET /healthz, GET claim)',
  },
  warmup: { name: 'warmup', full: 3, quick: 1, fractional: true, help: 'warm-up seconds before each' },
  connections: {
    name: 'connections',
    full: 32,
    quick: 32,
    help: 'concurrent HTTP connections (and pgbench clients)',
  },
  pgbenchJobs: { name: 'pgbench-jobs', full: 2, quick: 2, help: 'pgbench worker threads (-j)' },
  citations: {
    name: 'citations',
    full: 50,
    quick: 50,
    help: 'citations of the claim read by GET /v1/claims/:id',
  },
} satisfies Record<string, NumberOption>;

type Sizes = { [K in keyof typeof spec]: number };

const projectRoot = fileURLToPath(new URL('../', import.meta.url));
/** CPU per POST claim over CPU per GET /healthz, at most (issue 12). */
const CPU_TARGET = 4;
/** POST claims/s over pgbench tps of the same statements, at least. */
const TPS_TARGET = 0.25;

const say = (line = '') => console.log(line);
const section = (title: string) => say(`\n=== ${title}`);
const seconds = (since: number) => (performance.now() - since) / 1000;
const secs = (s: number) => `${num(s, 1)} s`;
/** times() with enough digits for small ratios (0.005× would print as 0.00×). */
const ratioText = (x: number) => (x > 0 && x < 0.1 ? `${num(x, 3)}×` : times(x));

export const help = `npm run bench api [-- --quick] [options]\n${usage(Object.values(spec))}

Needs pgbench (Debian: package postgresql-15, or the postgresql-contrib of your server's version).`;

export async function run(argv: readonly string[]): Promise<number> {
  return runBench(
    {
      argv,
      spec,
      title: 'api benchmark',
      where: 'API in its own process, load generator in this one',
      help,
      checkIdle: true,
      secs,
    },
    async ({ base, res, sizes, results, phases, onCleanup, onFailure }) => {
      const pgbenchPath = findPgbench();
      let t = performance.now();
      const server = await startApiServer(res);
      onCleanup('stop API', () => server.stop());
      onFailure(() => server.reportLog());
      say(`API: pid ${server.pid} at ${server.origin}, ready in ${secs(seconds(t))}`);
      phases.push(['start API', seconds(t)]);
      t = performance.now();
      const token = await createEditor(res.env);
      const api = apiClient(server.origin, token);
      const investigation = await api.call<{ id: string }>('POST', '/v1/investigations', {
        title: 'Benchmark investigation',
      });
      phases.push(['editor + investigation', seconds(t)]);

      t = performance.now();
      const write = await benchWrites(base, res, server, api, token, investigation.id, sizes, pgbenchPath);
      results.push(...write.results);
      phases.push(['1 pgbench + POST claims', seconds(t)]);

      t = performance.now();
      const health = await httpLoad(
        server.origin,
        sizes,
        server.pid,
        () => ({ method: 'GET', path: '/healthz' }),
        {},
      );
      results.push(cpuResult(write.post, health, sizes));
      phases.push(['2 GET /healthz', seconds(t)]);

      t = performance.now();
      results.push(...(await benchReads(server, api, investigation.id, health, sizes)));
      phases.push(['3 GET claim', seconds(t)]);

      server.reportLog();
      return write.ok;
    },
  );
}

/** pgbench on PATH (Debian's wrapper picks the server's version) or in a Debian server directory. */
function findPgbench(): string {
  const candidates = [
    ...(process.env.PATH ?? '').split(':').map((dir) => join(dir, 'pgbench')),
    ...['17', '16', '15', '14', '13'].map((v) => `/usr/lib/postgresql/${v}/bin/pgbench`),
  ];
  const found = candidates.find((path) => path.startsWith('/') && existsSync(path));
  if (!found) {
    throw new Error(
      'pgbench not found (the baseline of this benchmark). Install it: on Debian/Ubuntu `apt-get install postgresql-15` (the server package ships it; use your server version) or `postgresql-contrib`; elsewhere the PostgreSQL client tools.',
    );
  }
  return found;
}

// ---------------------------------------------------------------------------------------
// The API process

interface ApiServer {
  origin: string;
  pid: number;
  /** Prints how many lines the API logged (at LOG_LEVEL=warn) and the first few. */
  reportLog(): void;
  /** SIGTERM, then SIGKILL if it has not exited within 15 s. */
  stop(): Promise<void>;
}

async function startApiServer(res: BenchResources): Promise<ApiServer> {
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const child = spawn(process.execPath, ['bin/claimtrail.mjs', 'api'], {
    cwd: projectRoot,
    env: {
      ...process.env,
      ...res.env, // DATABASE_URL, LOG_SIGNING_KEY_FILE (temp dir), REDIS_PREFIX (unique)
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let lineCount = 0;
  const collect = (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n')) {
      if (!line.trim()) continue;
      lineCount++;
      if (lines.length < 5) lines.push(line.length > 400 ? `${line.slice(0, 400)}…` : line);
    }
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = once(child, 'exit');
  const stop = stopperOf(child, exited);
  try {
    await until(
      async () => {
        if (child.exitCode !== null) {
          throw new Error(`the API exited with ${child.exitCode} before it was ready:\n${lines.join('\n')}`);
        }
        try {
          const r = await request(`${origin}/readyz`);
          await r.body.arrayBuffer();
          return r.statusCode === 200;
        } catch {
          return false;
        }
      },
      60_000,
      `GET ${origin}/readyz to answer 200`,
      100,
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    origin,
    pid: child.pid ?? -1,
    reportLog() {
      say(
        `\nAPI process log (LOG_LEVEL=warn): ${lineCount} line(s)${lines.length ? `; first ${lines.length}:` : ''}`,
      );
      for (const line of lines) say(`  ${line}`);
    },
    stop,
  };
}

function runProcess(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(command, args, {
      cwd: projectRoot,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

// ---------------------------------------------------------------------------------------
// Load: closedLoop (bench/lib/load.ts) over an undici pool with one connection per client

interface HttpRun {
  run: ClosedLoopResult;
  latency: Summary;
  /** Responses (and network errors) completed inside the measured window, by status. */
  statuses: Map<string, number>;
  /** 2xx responses over the whole run, warm-up included. */
  okTotal: number;
  /** Where the cores went over the measured window (warm-up excluded: JIT and caches). */
  cpu: CpuShare;
  /** Responses completed inside the measured window, whatever their status. */
  inWindow: number;
}

async function httpLoad(
  origin: string,
  sizes: Sizes,
  apiPid: number,
  makeRequest: (client: number, i: number) => { method: 'GET' | 'POST'; path: string; body?: string },
  headers: Record<string, string>,
): Promise<HttpRun> {
  const http = new HttpPool(origin, { connections: sizes.connections, pipelining: 1 });
  const seen: { at: number; status: string }[] = [];
  let okTotal = 0;
  let meter: ReturnType<typeof cpuMeter> | undefined;
  let cpu: CpuShare | undefined;
  try {
    const run = await closedLoop({
      clients: sizes.connections,
      warmupMs: sizes.warmup * 1000,
      durationMs: sizes.duration * 1000,
      onWindowStart: () => {
        meter = cpuMeter({ api: apiPid });
      },
      onWindowEnd: () => {
        cpu = meter?.stop();
      },
      op: async (client, i) => {
        const req = makeRequest(client, i);
        let r: Awaited<ReturnType<typeof http.request>>;
        try {
          r = await http.request({ ...req, headers });
        } catch (err) {
          seen.push({ at: Date.now(), status: `network: ${(err as Error).message}` });
          throw err;
        }
        if (r.statusCode < 200 || r.statusCode >= 300) {
          const text = await r.body.text();
          seen.push({ at: Date.now(), status: String(r.statusCode) });
          throw new Error(`${req.method} ${req.path}: HTTP ${r.statusCode} ${text.slice(0, 300)}`);
        }
        await r.body.arrayBuffer();
        okTotal++;
        seen.push({ at: Date.now(), status: String(r.statusCode) });
      },
    });
    const statuses = new Map<string, number>();
    let inWindow = 0;
    for (const s of seen) {
      if (s.at < run.windowStart || s.at > run.windowEnd) continue;
      statuses.set(s.status, (statuses.get(s.status) ?? 0) + 1);
      inWindow++;
    }
    cpu ??= meter?.stop() ?? cpuMeter().stop();
    return { run, latency: summarize(run.latencies), statuses, okTotal, cpu, inWindow };
  } finally {
    await http.close();
  }
}

function describeRun(label: string, r: HttpRun, duration: number): void {
  const statuses = [...r.statuses.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([s, n]) => `${s}×${num(n)}`)
    .join(', ');
  say(
    `${label}: ${perSecond(r.run.opsPerSecond)} (${num(r.run.completed)} in ${duration} s; ${r.run.errors} errors${r.run.errors ? ` — first: ${r.run.firstError}` : ''})`,
  );
  say(`  ${latencyLine('latency', r.latency)}`);
  say(`  responses in the window by status: ${statuses || 'none'}`);
  say(`  ${describeCpu(r.cpu, 'the measured window')}`);
  const per = cpuPerResponse(r);
  if (Number.isFinite(per)) say(`  API process CPU per response: ${ms(per * 1000)}`);
}

/** API process CPU seconds per response completed in the measured window. */
const cpuPerResponse = (r: HttpRun) =>
  r.cpu.available && r.inWindow > 0 ? ((r.cpu.named.api ?? 0) * r.cpu.seconds) / r.inWindow : Number.NaN;

// ---------------------------------------------------------------------------------------
// CPU shares (Linux /proc): where the machine's cores went during a load

/** Where the cores went over `span`; `other` is what no known process accounts for (other
 * work on the machine, processes that exited meanwhile, interrupts). */
function describeCpu(c: CpuShare, span: string, api = true): string {
  if (!c.available) return 'CPU: /proc not readable';
  const cores = cpus().length;
  const head = `CPU over ${secs(c.seconds)} (${span}): machine busy ${num(c.machineBusy, 2)} of ${cores} cores`;
  if (!api) {
    // pgbench and its backends exit before the meter stops: no split.
    return `${head}, load generator ${num(c.self, 2)}, pgbench + Postgres + the rest ${num(c.machineBusy - c.self, 2)}`;
  }
  const apiShare = c.named.api ?? 0;
  const other = c.machineBusy - c.self - apiShare - c.postgres;
  return `${head}: load generator ${num(c.self, 2)}, API process ${num(apiShare, 2)}, Postgres ${num(c.postgres, 2)}, other ${num(other, 2)}${other > 0.2 ? ' (other work on the machine: figures disturbed)' : ''}`;
}

// ---------------------------------------------------------------------------------------
// 1: POST claims vs pgbench running the same statements

interface PgbenchRun {
  tps: number;
  latencyAvgMs: number;
  processed: number;
  failed: number;
  output: string;
}

async function pgbench(
  path: string,
  res: BenchResources,
  script: string,
  defines: Record<string, string>,
  sizes: Sizes,
  secondsToRun: number,
): Promise<PgbenchRun> {
  const args = [
    '-n',
    '-c',
    String(sizes.connections),
    '-j',
    String(sizes.pgbenchJobs),
    '-T',
    String(Math.max(1, Math.round(secondsToRun))),
    // Parameters sent with each statement, unnamed (Parse, Bind, Execute every time): what
    // node-postgres does with a parameterized query.
    '-M',
    'extended',
    ...Object.entries(defines).flatMap(([name, value]) => ['-D', `${name}=${value}`]),
    '-f',
    script,
    res.url,
  ];
  const out = await runProcess(path, args, process.env);
  const output = `${out.stdout}${out.stderr}`.trim();
  if (out.code !== 0) throw new Error(`pgbench failed (exit ${out.code}):\n${output}`);
  const field = (re: RegExp) => Number(re.exec(out.stdout)?.[1] ?? Number.NaN);
  const run: PgbenchRun = {
    tps: field(/^tps = ([\d.]+)/m),
    latencyAvgMs: field(/^latency average = ([\d.]+) ms/m),
    processed: field(/^number of transactions actually processed: (\d+)/m),
    failed: field(/^number of failed transactions: (\d+)/m),
    output,
  };
  if (!Number.isFinite(run.tps)) throw new Error(`no "tps = …" in pgbench's output:\n${output}`);
  if (run.failed > 0) throw new Error(`pgbench: ${run.failed} failed transactions:\n${output}`);
  return run;
}

/**
 * The statements of one POST claim, recorded from the handler's own code run in this process
 * on the bench database as the runtime role (authenticate(), then createClaim()), and the id of
 * the claim it created (new in every pass of the script). authenticate() runs with a token cache
 * set up as the API process's (AUTH_CACHE_SECONDS, in use once its listener LISTENs): the
 * token's first request, a lookup the API makes once per token per AUTH_CACHE_SECONDS, is
 * returned apart (`firstRequest`); the script holds what each later request issues.
 */
async function recordPostClaim(
  res: BenchResources,
  cacheSeconds: number,
  token: string,
  investigationId: string,
  body: ClaimInput,
): Promise<{ parts: ScriptPart[]; claimId: string; firstRequest: RecordedStatement[] }> {
  const url = res.env.DATABASE_URL!;
  const auth = recordingPool(url);
  const write = recordingPool(url);
  const cache = createAuthCache(
    { AUTH_CACHE_SECONDS: cacheSeconds, DATABASE_URL: url },
    pino({ level: 'warn' }),
  );
  cache.start();
  try {
    if (cacheSeconds > 0) await until(async () => cache.inUse, 10_000, 'the token cache to LISTEN', 20);
    const authn = authenticate(auth.pool, cache);
    const req = { headers: { authorization: `Bearer ${token}` } } as Request;
    await authn(req, {} as Response, () => undefined);
    const firstRequest = auth.statements.splice(0);
    await authn(req, {} as Response, () => undefined);
    const claim = await createClaim({ pool: write.pool }, principalOf(req), investigationId, body);
    return {
      claimId: claim.id,
      firstRequest,
      parts: [
        {
          label: `src/http/authenticate.ts authenticate()${auth.statements.length === 0 ? ': no statement, the token is cached' : ''}`,
          statements: auth.statements,
        },
        { label: 'src/claims/claims.service.ts createClaim()', statements: write.statements },
      ],
    };
  } finally {
    await Promise.all([cache.close(), auth.pool.end(), write.pool.end()]);
  }
}

/** The API process's token cache counters, from its /metrics. */
async function authCacheCounters(origin: string) {
  const r = await request(`${origin}/metrics`);
  const text = await r.body.text();
  const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? Number.NaN);
  return {
    hits: value('claimtrail_auth_cache_hits_total'),
    misses: value('claimtrail_auth_cache_misses_total'),
    bypasses: value('claimtrail_auth_cache_bypasses_total'),
    inUse: value('claimtrail_auth_cache_in_use') === 1,
  };
}

async function benchWrites(
  base: Config,
  res: BenchResources,
  server: ApiServer,
  api: Api,
  token: string,
  investigationId: string,
  sizes: Sizes,
  pgbenchPath: string,
): Promise<{ results: Result[]; ok: boolean; post: HttpRun }> {
  section(
    `1. POST /v1/investigations/:id/claims vs pgbench running its statements: ${sizes.connections} connections/clients, ${sizes.warmup} s warm-up + ${sizes.duration} s each`,
  );
  // Correctness first (untimed): one claim through the API, as the load will send it.
  const claimBody = (client: number, i: number) =>
    JSON.stringify({
      statement: `Bench statement ${client}-${i}: the bridge at kilometre ${i % 997} was destroyed on ${1 + (i % 28)} March.`,
      claimant: { name: `Claimant ${client}`, role: 'regional governor' },
      language: 'en',
      tags: ['bench'],
    });
  const first = await api.call<{ id: string; status: string }>(
    'POST',
    `/v1/investigations/${investigationId}/claims`,
    JSON.parse(claimBody(10, 100)),
  );
  if (first.status !== 'unverified') throw new Error(`a new claim has status ${first.status}`);

  const cacheSeconds = base.AUTH_CACHE_SECONDS;
  if (cacheSeconds > 0) {
    // The load must meet the cache as it is in service: listening (it starts when the API does).
    await until(async () => (await authCacheCounters(server.origin)).inUse, 10_000, 'the API’s token cache');
  }
  const recorded = await recordPostClaim(
    res,
    cacheSeconds,
    token,
    investigationId,
    JSON.parse(claimBody(11, 101)),
  );
  const script = pgbenchScript(recorded.parts, recorded.claimId);
  say(
    cacheSeconds > 0
      ? `token cache: AUTH_CACHE_SECONDS=${cacheSeconds} (the API's and the recording's); a token's first request looked it up (${recorded.firstRequest.length} statement${recorded.firstRequest.length === 1 ? '' : 's'}, once per token per ${cacheSeconds} s: not in the script), later ones issue ${recorded.parts[0]?.statements.length ?? 0}`
      : 'token cache: off (AUTH_CACHE_SECONDS=0): every request looks its token up',
  );
  const scriptPath = join(dirname(res.keyFile), 'post-claim.sql');
  await writeFile(scriptPath, script.text);
  say(
    `pgbench: ${pgbenchPath} -n -c ${sizes.connections} -j ${sizes.pgbenchJobs} -T <secs> -M extended -D … -f post-claim.sql (a ${sizes.warmup} s run first, discarded); the script, ${script.statements} statements per pass, recorded from the handler's code:`,
  );
  for (const line of script.text.trimEnd().split('\n')) say(`  > ${line}`);

  const monitor = await openActivityMonitor(res.url);
  try {
    // Baseline: pgbench, its work per transaction read off the statistics around both runs.
    const db = monitor.client;
    const claimsCount = async () =>
      Number((await db.query<{ n: string }>('SELECT count(*)::text AS n FROM claims')).rows[0]?.n);
    let before = await monitor.snapshot();
    const warm = await pgbench(pgbenchPath, res, scriptPath, script.defines, sizes, sizes.warmup);
    const cpu = cpuMeter();
    const bench = await pgbench(pgbenchPath, res, scriptPath, script.defines, sizes, sizes.duration);
    const benchCpu = cpu.stop();
    const pgbenchWork = workPerOp(before, await monitor.snapshot(), warm.processed + bench.processed);
    for (const line of bench.output.split('\n')) say(`  | ${line}`);
    say(`  ${describeCpu(benchCpu, 'the measured run', false)}`);
    say(`  work per transaction (pg_stat): ${describeWork(pgbenchWork)}`);

    // The API under the same number of connections.
    const claimsBefore = await claimsCount();
    const cacheBefore = await authCacheCounters(server.origin);
    before = await monitor.snapshot();
    const path = `/v1/investigations/${investigationId}/claims`;
    const post = await httpLoad(
      server.origin,
      sizes,
      server.pid,
      (client, i) => ({ method: 'POST', path, body: claimBody(client, i) }),
      { ...api.headers, 'content-type': 'application/json' },
    );
    const apiWork = workPerOp(before, await monitor.snapshot(IDLE_PUBLISH_MS), post.okTotal);
    describeRun('POST claims', post, sizes.duration);
    const cacheAfter = await authCacheCounters(server.origin);
    const lookups = cacheAfter.misses + cacheAfter.bypasses - cacheBefore.misses - cacheBefore.bypasses;
    say(
      `  API token cache over the load (warm-up included): ${num(cacheAfter.hits - cacheBefore.hits)} hits, ${num(cacheAfter.misses - cacheBefore.misses)} misses, ${num(cacheAfter.bypasses - cacheBefore.bypasses)} bypasses: ${num((lookups / Math.max(1, post.okTotal + post.run.errors)) * 1000, 2)} token lookups in Postgres per 1,000 requests`,
    );
    say(`  work per request (pg_stat): ${describeWork(apiWork)}`);
    const differences = workDifferences(apiWork, pgbenchWork);
    const same = differences.length === 0;
    say(
      same
        ? '  same work per request as per pgbench transaction: the script is the handler’s SQL'
        : `  !! the pgbench script does not do what the handler does (per request vs per transaction): ${differences.join('; ')} — the recording (recordPostClaim) misses part of the request`,
    );
    // Every 201 must be a row: nothing acknowledged and lost, nothing written twice.
    const written = (await claimsCount()) - claimsBefore;
    const consistent = written === post.okTotal;
    say(
      `  claims rows written ${num(written)} vs 201 responses ${num(post.okTotal)} (warm-up included): ${consistent ? 'consistent' : 'MISMATCH'}`,
    );

    // pgbench again after the API's load: the baseline is the mean of the runs before and
    // after, so work that other processes did meanwhile on a shared machine weighs on both.
    const again = await pgbench(pgbenchPath, res, scriptPath, script.defines, sizes, sizes.duration);
    const baseline = (bench.tps + again.tps) / 2;
    say(
      `pgbench again after the API's load: ${perSecond(again.tps)} (latency average ${ms(again.latencyAvgMs)}); baseline = mean of ${perSecond(bench.tps)} and ${perSecond(again.tps)} = ${perSecond(baseline)}`,
    );
    const r = ratio(post.run.opsPerSecond, baseline);
    say(`  ratio POST/pgbench = ${ratioText(r)} (target ≥ ${TPS_TARGET}×: ${verdict(r >= TPS_TARGET)})`);
    return {
      ok: consistent && same,
      post,
      results: [
        {
          name: `POST claims req/s (${sizes.connections} connections)${same ? '' : ' SCRIPT DIFFERS'}`,
          measured: perSecond(post.run.opsPerSecond),
          baselineName: `pgbench of its ${script.statements} statements, tps (before/after mean)`,
          baseline: perSecond(baseline),
          ratio: ratioText(r),
          target: `ratio ≥ ${TPS_TARGET}×`,
          pass: r >= TPS_TARGET && post.run.errors === 0 && same,
        },
        {
          name: 'POST claims p50 / p99',
          measured: `${ms(post.latency.p50)} / ${ms(post.latency.p99)}`,
          baselineName: 'pgbench latency average',
          baseline: ms(bench.latencyAvgMs),
          ratio: ratioText(ratio(post.latency.p50, bench.latencyAvgMs)),
          target: 'n/a',
          pass: undefined,
        },
      ],
    };
  } finally {
    await monitor.close();
  }
}

// ---------------------------------------------------------------------------------------
// 2: the API's CPU per POST claim vs per GET /healthz

function cpuResult(post: HttpRun, health: HttpRun, sizes: Sizes): Result {
  section(
    `2. API process CPU per request: POST claim vs GET /healthz, ${sizes.connections} connections each`,
  );
  describeRun('GET /healthz (baseline)', health, sizes.duration);
  const p = cpuPerResponse(post) * 1000;
  const h = cpuPerResponse(health) * 1000;
  const r = ratio(p, h);
  say(
    `  API CPU per POST claim ${ms(p)} (${num(post.inWindow)} responses in the window), per GET /healthz ${ms(h)} (${num(health.inWindow)}): ${times(r)} (target ≤ ${CPU_TARGET}×: ${verdict(r <= CPU_TARGET)})`,
  );
  return {
    name: 'API CPU per POST claim',
    measured: ms(p),
    baselineName: 'API CPU per GET /healthz',
    baseline: ms(h),
    ratio: times(r),
    target: `ratio ≤ ${CPU_TARGET}×`,
    pass: Number.isFinite(r) ? r <= CPU_TARGET : undefined,
  };
}

// ---------------------------------------------------------------------------------------
// 3: GET a claim with its citations vs GET /healthz (the run of step 2)

interface ClaimView {
  id: string;
  citations: { id: string; source: { id: string; custody: { length: number } } }[];
}

async function benchReads(
  server: ApiServer,
  api: Api,
  investigationId: string,
  health: HttpRun,
  sizes: Sizes,
): Promise<Result[]> {
  section(
    `3. GET /v1/claims/:id (${sizes.citations} citations) vs GET /healthz (step 2): ${sizes.connections} connections, ${sizes.warmup} s warm-up + ${sizes.duration} s`,
  );
  const claim = await api.call<{ id: string }>('POST', `/v1/investigations/${investigationId}/claims`, {
    statement: 'The claim read back by the benchmark, cited by many sources.',
    claimant: { name: 'Bench Claimant', role: 'spokesperson' },
  });
  const t = performance.now();
  for (let i = 0; i < sizes.citations; i++) {
    await api.call('POST', `/v1/claims/${claim.id}/sources`, {
      url: `https://news.example.org/2026/03/bench-article-${i}?ref=${i % 7}`,
      relation: i % 5 === 0 ? 'refuting' : 'supporting',
      note: `citation ${i}`,
    });
  }
  say(`created ${sizes.citations} citations through POST /v1/claims/:id/sources in ${secs(seconds(t))}`);
  // Correctness first (untimed): the response carries every citation and its source.
  const view = await api.call<ClaimView>('GET', `/v1/claims/${claim.id}`);
  const sources = new Set(view.citations.map((c) => c.source.id));
  if (view.citations.length !== sizes.citations || sources.size !== sizes.citations) {
    throw new Error(
      `GET /v1/claims/${claim.id} returned ${view.citations.length} citations of ${sources.size} sources, expected ${sizes.citations}`,
    );
  }
  if (view.citations.some((c) => c.source.custody.length < 1))
    throw new Error('a cited source has no custody');

  const path = `/v1/claims/${claim.id}`;
  const read = await httpLoad(server.origin, sizes, server.pid, () => ({ method: 'GET', path }), api.headers);
  describeRun(`GET /v1/claims/:id (${sizes.citations} citations)`, read, sizes.duration);
  const r = ratio(read.run.opsPerSecond, health.run.opsPerSecond);
  say(`  ratio GET claim/healthz = ${ratioText(r)} (no target)`);
  return [
    {
      name: `GET claim (${sizes.citations} citations) req/s`,
      measured: `${perSecond(read.run.opsPerSecond)}${read.run.errors ? ` (${read.run.errors} errors)` : ''}`,
      baselineName: 'GET /healthz req/s',
      baseline: perSecond(health.run.opsPerSecond),
      ratio: ratioText(r),
      target: 'n/a',
      pass: undefined,
    },
    {
      name: `GET claim (${sizes.citations} citations) p50 / p99`,
      measured: `${ms(read.latency.p50)} / ${ms(read.latency.p99)}`,
      baselineName: 'GET /healthz p50 / p99',
      baseline: `${ms(health.latency.p50)} / ${ms(health.latency.p99)}`,
      ratio: ratioText(ratio(read.latency.p99, health.latency.p99)),
      target: 'n/a',
      pass: undefined,
    },
  ];
}
