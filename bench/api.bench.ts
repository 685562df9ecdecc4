// `npm run bench api`: the HTTP API's throughput, each figure printed next to a baseline
// measured in the same run on the same (fresh, loopback) database:
//   1. POST /v1/investigations/:id/claims requests/s and p50/p99 at 32 connections vs
//      pgbench single-row INSERT transactions/s at 32 clients — target ratio ≥ 0.25×;
//   2. GET /v1/claims/:id of a claim with 50 citations, requests/s and p50/p99 at 32
//      connections vs GET /healthz measured the same way (no target: reported).
// The API runs as its own process (`node bin/claimtrail.mjs api`); the closed-loop load
// generator (undici, one connection per client) runs in this one.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { Pool as HttpPool, request } from 'undici';
import { freePort } from '../test/helpers/net.ts';
import type { BenchResources } from './lib/bench-db.ts';
import { runBench } from './lib/bench-run.ts';
import { type CpuShare, cpuMeter } from './lib/cpu.ts';
import { type ClosedLoopResult, closedLoop, until } from './lib/load.ts';
import { type NumberOption, usage } from './lib/options.ts';
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

const PGBENCH = '/usr/bin/pgbench';
const projectRoot = fileURLToPath(new URL('../', import.meta.url));

const say = (line = '') => console.log(line);
const section = (title: string) => say(`\n=== ${title}`);
const seconds = (since: number) => (performance.now() - since) / 1000;
const secs = (s: number) => `${num(s, 1)} s`;
/** times() with enough digits for small ratios (0.005× would print as 0.00×). */
const ratioText = (x: number) => (x > 0 && x < 0.1 ? `${num(x, 3)}×` : times(x));

export const help = `npm run bench api [-- --quick] [options]\n${usage(Object.values(spec))}`;

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
    async ({ res, sizes, results, phases, onCleanup, onFailure }) => {
      let t = performance.now();
      const server = await startApiServer(res);
      onCleanup('stop API', () => server.stop());
      onFailure(() => server.reportLog());
      say(`API: pid ${server.pid} at ${server.origin}, ready in ${secs(seconds(t))}`);
      phases.push(['start API', seconds(t)]);
      t = performance.now();
      const token = await createEditor(res);
      const api = apiClient(server.origin, token);
      const investigation = await api.call<{ id: string }>('POST', '/v1/investigations', {
        title: 'Benchmark investigation',
      });
      phases.push(['editor + investigation', seconds(t)]);

      t = performance.now();
      const write = await benchWrites(res, server, api, investigation.id, sizes);
      results.push(...write.results);
      phases.push(['1 pgbench + POST claims', seconds(t)]);

      t = performance.now();
      results.push(...(await benchReads(server, api, investigation.id, sizes)));
      phases.push(['2 GET /healthz + GET claim', seconds(t)]);

      server.reportLog();
      return write.ok;
    },
  );
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
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  };
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

/** `claimtrail user add --role editor` against the bench database; returns the token. */
async function createEditor(res: BenchResources): Promise<string> {
  const out = await runProcess(
    process.execPath,
    ['bin/claimtrail.mjs', 'user', 'add', '--name', 'bench', '--role', 'editor'],
    { ...process.env, ...res.env, LOG_LEVEL: 'warn' },
  );
  if (out.code !== 0) throw new Error(`user add failed (exit ${out.code}):\n${out.stdout}${out.stderr}`);
  const created = JSON.parse(out.stdout.trim().split('\n').at(-1) ?? '') as { token?: string };
  if (!created.token) throw new Error(`user add printed no token: ${out.stdout}`);
  return created.token;
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

interface Api {
  /** Authorization header of the benchmark's editor. */
  headers: Record<string, string>;
  /** One-off JSON request for setup and correctness checks (untimed); throws unless 2xx. */
  call<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T>;
}

function apiClient(origin: string, token: string): Api {
  const headers = { authorization: `Bearer ${token}` };
  return {
    headers,
    async call<T>(method: 'GET' | 'POST', path: string, body?: unknown) {
      const r = await request(`${origin}${path}`, {
        method,
        headers: body === undefined ? headers : { ...headers, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await r.body.text();
      if (r.statusCode >= 300)
        throw new Error(`${method} ${path}: HTTP ${r.statusCode} ${text.slice(0, 300)}`);
      return JSON.parse(text) as T;
    },
  };
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
  cpu: CpuShare;
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
  const cpu = cpuMeter({ api: apiPid });
  try {
    const run = await closedLoop({
      clients: sizes.connections,
      warmupMs: sizes.warmup * 1000,
      durationMs: sizes.duration * 1000,
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
    for (const s of seen) {
      if (s.at < run.windowStart || s.at > run.windowEnd) continue;
      statuses.set(s.status, (statuses.get(s.status) ?? 0) + 1);
    }
    return { run, latency: summarize(run.latencies), statuses, okTotal, cpu: cpu.stop() };
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
  say(`  ${describeCpu(r.cpu)}`);
  if (r.cpu.available && r.okTotal > 0) {
    say(
      `  API process CPU per 2xx response (warm-up included): ${ms(((r.cpu.named.api ?? 0) * r.cpu.seconds * 1000) / r.okTotal)}`,
    );
  }
}

// ---------------------------------------------------------------------------------------
// CPU shares (Linux /proc): where the machine's cores went during a load, warm-up included

/** Where the cores went; `other` is what no known process accounts for (other work on the
 * machine, processes that exited meanwhile, interrupts). */
function describeCpu(c: CpuShare, api = true): string {
  if (!c.available) return 'CPU: /proc not readable';
  const cores = cpus().length;
  const head = `CPU over ${secs(c.seconds)} (warm-up included): machine busy ${num(c.machineBusy, 2)} of ${cores} cores`;
  if (!api) {
    // pgbench and its backends exit before the meter stops: no split.
    return `${head}, load generator ${num(c.self, 2)}, pgbench + Postgres + the rest ${num(c.machineBusy - c.self, 2)}`;
  }
  const apiShare = c.named.api ?? 0;
  const other = c.machineBusy - c.self - apiShare - c.postgres;
  return `${head}: load generator ${num(c.self, 2)}, API process ${num(apiShare, 2)}, Postgres ${num(c.postgres, 2)}, other ${num(other, 2)}${other > 0.2 ? ' (other work on the machine: figures disturbed)' : ''}`;
}

// ---------------------------------------------------------------------------------------
// 1: POST claims vs pgbench single-row INSERTs

interface PgbenchRun {
  tps: number;
  latencyAvgMs: number;
  processed: number;
  failed: number;
  output: string;
}

async function pgbench(res: BenchResources, script: string, sizes: Sizes, secondsToRun: number) {
  const args = [
    '-n',
    '-c',
    String(sizes.connections),
    '-j',
    String(sizes.pgbenchJobs),
    '-T',
    String(Math.max(1, Math.round(secondsToRun))),
    '-M',
    'prepared',
    '-f',
    script,
    res.url,
  ];
  const out = await runProcess(PGBENCH, args, process.env);
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
  return run;
}

async function benchWrites(
  res: BenchResources,
  server: ApiServer,
  api: Api,
  investigationId: string,
  sizes: Sizes,
): Promise<{ results: Result[]; ok: boolean }> {
  section(
    `1. POST /v1/investigations/:id/claims vs pgbench single-row INSERT: ${sizes.connections} connections/clients, ${sizes.warmup} s warm-up + ${sizes.duration} s each`,
  );
  // Baseline: the same server and database, one prepared single-row INSERT per transaction.
  const db = new pg.Client({ connectionString: res.url });
  await db.connect();
  let claimsBefore: number;
  try {
    await db.query('CREATE TABLE bench_bare (id bigserial PRIMARY KEY, payload text)');
    claimsBefore = Number(
      (await db.query<{ n: string }>('SELECT count(*)::text AS n FROM claims')).rows[0]?.n,
    );
  } finally {
    await db.end();
  }
  const script = join(dirname(res.keyFile), 'bench_bare.sql');
  await writeFile(script, "INSERT INTO bench_bare(payload) VALUES ('x');\n");
  say(
    `pgbench: ${PGBENCH} -n -c ${sizes.connections} -j ${sizes.pgbenchJobs} -T <secs> -M prepared -f bench_bare.sql (a ${sizes.warmup} s run first, discarded)`,
  );
  await pgbench(res, script, sizes, sizes.warmup);
  const cpu = cpuMeter();
  const bare = await pgbench(res, script, sizes, sizes.duration);
  const bareCpu = cpu.stop();
  for (const line of bare.output.split('\n')) say(`  | ${line}`);
  say(`  ${describeCpu(bareCpu, false)}`);

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
    JSON.parse(claimBody(-1, 0)),
  );
  if (first.status !== 'unverified') throw new Error(`a new claim has status ${first.status}`);

  const path = `/v1/investigations/${investigationId}/claims`;
  const post = await httpLoad(
    server.origin,
    sizes,
    server.pid,
    (client, i) => ({ method: 'POST', path, body: claimBody(client, i) }),
    { ...api.headers, 'content-type': 'application/json' },
  );
  describeRun('POST claims', post, sizes.duration);
  // Every 201 must be a row: nothing acknowledged and lost, nothing written twice.
  const check = new pg.Client({ connectionString: res.url });
  await check.connect();
  let rows: number;
  try {
    rows = Number((await check.query<{ n: string }>('SELECT count(*)::text AS n FROM claims')).rows[0]?.n);
  } finally {
    await check.end();
  }
  const consistent = rows - claimsBefore - 1 === post.okTotal;
  say(
    `  claims rows written ${num(rows - claimsBefore - 1)} vs 201 responses ${num(post.okTotal)} (warm-up included): ${consistent ? 'consistent' : 'MISMATCH'}`,
  );

  const r = ratio(post.run.opsPerSecond, bare.tps);
  say(`  ratio POST/pgbench = ${ratioText(r)} (target ≥ 0.25×: ${verdict(r >= 0.25)})`);
  return {
    ok: consistent,
    results: [
      {
        name: `POST claims req/s (${sizes.connections} connections)`,
        measured: perSecond(post.run.opsPerSecond),
        baselineName: `pgbench INSERT tps (${sizes.connections} clients)`,
        baseline: perSecond(bare.tps),
        ratio: ratioText(r),
        target: 'ratio ≥ 0.25×',
        pass: r >= 0.25 && post.run.errors === 0,
      },
      {
        name: 'POST claims p50 / p99',
        measured: `${ms(post.latency.p50)} / ${ms(post.latency.p99)}`,
        baselineName: 'pgbench latency average',
        baseline: ms(bare.latencyAvgMs),
        ratio: ratioText(ratio(post.latency.p50, bare.latencyAvgMs)),
        target: 'n/a',
        pass: undefined,
      },
    ],
  };
}

// ---------------------------------------------------------------------------------------
// 2: GET a claim with its citations vs GET /healthz

interface ClaimView {
  id: string;
  citations: { id: string; source: { id: string; custody: { length: number } } }[];
}

async function benchReads(
  server: ApiServer,
  api: Api,
  investigationId: string,
  sizes: Sizes,
): Promise<Result[]> {
  section(
    `2. GET /v1/claims/:id (${sizes.citations} citations) vs GET /healthz: ${sizes.connections} connections, ${sizes.warmup} s warm-up + ${sizes.duration} s each`,
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

  const health = await httpLoad(
    server.origin,
    sizes,
    server.pid,
    () => ({ method: 'GET', path: '/healthz' }),
    {},
  );
  describeRun('GET /healthz (baseline)', health, sizes.duration);
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
