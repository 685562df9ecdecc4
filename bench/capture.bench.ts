// `npm run bench capture`: the capture pipeline's throughput, each figure printed next to a
// baseline measured in the same run:
//   1. one big file (1 GiB of random-ish bytes) served on loopback by a child process and
//      captured end to end by runCapture() for a source row of the bench database (guarded
//      fetcher → SHA-256 → LocalBlobStore with fsync, ledger events) — MB/s vs the slower of
//      `openssl dgst -sha256` of the same file and `dd … conv=fsync` of it into the blob
//      directory's file system (a capture both hashes and durably writes: whichever is slower on
//      this machine bounds it), in alternating rounds — target ratio ≥ 0.8×; then a breakdown of
//      where the capture's time goes (hash in memory, the fetch alone, fetch + hash, the blob
//      store alone, fetchToStore; CPU of this process and of the origin);
//   2. 1,000 sources of 100 KB each requested (requestCapture, one statement, enqueued after it)
//      and captured through the real queue, the real workers (startWorkers + the real handlers)
//      and the real sequencer, each party in a context of its own — sources/s and p50/p99
//      requested → captured vs a bare BullMQ worker that does nothing, at the same concurrency
//      on the same Redis (1,000 no-op jobs: jobs/s and p50/p99 enqueue → completed), target ratio
//      ≥ 0.1×; and the SQL statements each party sent per source (lib/statement-count.ts),
//      target ≤ 15.
// The origin server (bench/lib/file-server.py, sendfile) runs as its own process; the capture,
// workers and producers run in this one.
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, open, readdir, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Queue, Worker } from 'bullmq';
import { actorOf, type Principal } from '../src/access/principal.ts';
import { captureDeps } from '../src/capture/capture-deps.ts';
import { requestCapture } from '../src/capture/capture-request.ts';
import { fetchToStore } from '../src/capture/fetch-to-store.ts';
import { type CaptureDeps, runCapture } from '../src/capture/run-capture.ts';
import { citeSource, createClaim } from '../src/claims/claims.service.ts';
import { type Config, parseConfig } from '../src/config/env.ts';
import { type AppContext, createContext } from '../src/context.ts';
import { writeStatement } from '../src/db/unit-of-work.ts';
import type { GuardedFetcher } from '../src/fetch/guarded-fetcher.ts';
import { createInvestigation } from '../src/investigations/investigations.service.ts';
import { startSequencer } from '../src/processes/sequencer.ts';
import { retention } from '../src/queue/queues.ts';
import { createRedis } from '../src/queue/redis.ts';
import type { BlobStore } from '../src/storage/blob-store.ts';
import { LocalBlobStore } from '../src/storage/local-blob-store.ts';
import { createUser } from '../src/users/users.service.ts';
import { handlers } from '../workers/handlers.ts';
import { startWorkers } from '../workers/worker-runner.ts';
import { help as browserHelp, runBrowserBench } from './capture-browser.bench.ts';
import { runBench } from './lib/bench-run.ts';
import { type CpuShare, cpuMeter, describeCpu, gcMeter } from './lib/cpu.ts';
import { fixedCount, sleep, until } from './lib/load.ts';
import { formatBytes, type NumberOption, usage } from './lib/options.ts';
import { statementCounts, statementsBetween, withParty } from './lib/statement-count.ts';
import {
  latencyLine,
  ms,
  num,
  perSecond,
  type Result,
  ratio,
  summarize,
  table,
  times,
  verdict,
} from './lib/stats.ts';

const spec = {
  size: {
    name: 'size',
    full: 2 ** 30,
    quick: 64 * 2 ** 20,
    bytes: true,
    help: 'bytes of the big file (step 1); units allowed: 64MiB, 1GiB',
  },
  rounds: {
    name: 'rounds',
    full: 5,
    quick: 1,
    help: 'alternating openssl / capture rounds of the big file (medians compared)',
  },
  sources: { name: 'sources', full: 1000, quick: 100, help: 'sources captured through the queue (step 2)' },
  sourceBytes: {
    name: 'source-bytes',
    full: 100_000,
    quick: 100_000,
    bytes: true,
    help: 'bytes of each source (step 2)',
  },
  concurrency: {
    name: 'concurrency',
    full: 8,
    quick: 8,
    help: 'WORKER_CONCURRENCY of the real workers and of the bare worker',
  },
  producers: {
    name: 'producers',
    full: 4,
    quick: 4,
    help: 'concurrent clients requesting captures (and adding no-op jobs)',
  },
} satisfies Record<string, NumberOption>;

type Sizes = { [K in keyof typeof spec]: number };

const serverScript = fileURLToPath(new URL('./lib/file-server.py', import.meta.url));
/** First bytes of every body served (binary, no known signature: stored as a document). */
const BENCH_MAGIC = Buffer.from([0x00, 0xc7, 0x1b, 0x0e, 0x4e, 0xc4, 0x00, 0x7f]);

const say = (line = '') => console.log(line);
const section = (title: string) => say(`\n=== ${title}`);
const seconds = (since: number) => (performance.now() - since) / 1000;
const secs = (s: number) => `${num(s, s < 10 ? 2 : 1)} s`;
/** Decimal megabytes per second, as openssl speed and dd print them. */
const mbps = (bytes: number, s: number) => bytes / 1e6 / s;
const mbText = (v: number) => `${num(v, v < 100 ? 1 : 0)} MB/s`;
const kib = (bytes: number) => `${num(bytes / 1024, bytes < 10_240 ? 1 : 0)} KiB`;
const median = (values: number[]) => summarize(values).p50;

export const help = `npm run bench capture [-- --quick] [options]\n${usage(Object.values(spec))}\n\n${browserHelp}`;

export async function run(argv: readonly string[]): Promise<number> {
  // `-- --browser` (or `npm run bench capture --browser`, which npm exports): the browser step.
  if (argv.includes('--browser') || process.env.npm_config_browser === 'true')
    return runBrowserBench(argv.filter((a) => a !== '--browser'));
  return runBench(
    {
      argv,
      spec,
      title: 'capture benchmark',
      where: 'origin server in a child process; capture, workers and producers in this process',
      help,
      checkIdle: true,
      secs,
    },
    async ({ res, base, sizes, results, phases, onCleanup }) => {
      const dir = await mkdtemp(join(tmpdir(), `${res.redisPrefix}-`));
      onCleanup('remove files', () => rm(dir, { recursive: true, force: true }));
      onCleanup('clear Redis keys', () => clearRedisPrefix(base.REDIS_URL, res.redisPrefix));
      say(`files: ${dir} (big file, BLOB_DIR); Redis prefix ${res.redisPrefix}`);

      let t = performance.now();
      const file = join(dir, 'big.bin');
      await writeBigFile(file, sizes.size);
      const genS = seconds(t);
      say(`big file: ${formatBytes(sizes.size)} written and fsynced in ${secs(genS)}`);
      phases.push(['write big file', genS]);
      t = performance.now();
      const pages = new PageRecycler();
      await pageCacheDiagnostic(dir, sizes.size, pages);
      phases.push(['page cache diagnostic', seconds(t)]);

      t = performance.now();
      const server = await startFileServer(file, sizes.sourceBytes);
      onCleanup('stop server', () => server.stop());
      say(
        `origin server: pid ${server.pid} at ${server.origin} (python3 ${serverScript}: the big file by sendfile)`,
      );

      const config = parseConfig({
        ...process.env,
        ...res.env,
        // This process's own reads (polling, fixtures) are not any party's statements.
        DATABASE_URL: withParty(res.env.DATABASE_URL!, 'bench'),
        BLOB_DIR: join(dir, 'blobs'),
        FETCH_ALLOWLIST: server.host,
        FETCH_MAX_BYTES: String(Math.max(base.FETCH_MAX_BYTES, sizes.size)),
        WORKER_CONCURRENCY: String(sizes.concurrency),
        // Every bench source sits on one loopback origin, in one investigation: without these
        // the fair-capture limits would run two or three captures at a time, not `concurrency`.
        CAPTURE_PER_HOST_CONCURRENCY: String(sizes.concurrency),
        CAPTURE_PER_INVESTIGATION_CONCURRENCY: String(sizes.concurrency),
      });
      const ctx = createContext(config);
      try {
        const owner = await createUser(ctx, { name: 'Bench editor', role: 'editor' }, 'system:bench');
        const principal: Principal = { id: owner.id, name: owner.name, role: owner.role };
        const inv = await createInvestigation(ctx, principal, { title: 'Capture benchmark' });
        phases.push(['server, context, editor + investigation', seconds(t)]);

        t = performance.now();
        results.push(...(await benchBigFile(ctx, server, file, sizes, principal, inv.id, dir, pages)));
        await pages.release();
        phases.push(['1 big file', seconds(t)]);

        t = performance.now();
        const queued = await benchQueue(ctx, server, sizes, principal, inv.id);
        results.push(...queued.results);
        phases.push(['2 sources through the queue', seconds(t)]);
        return queued.ok;
      } finally {
        await ctx.close();
      }
    },
  );
}

// ---------------------------------------------------------------------------------------
// Fixtures: the big file, the origin server, Redis keys

/** `size` bytes: one random MiB repeated, each MiB stamped with BENCH_MAGIC and its index
 * (so no two MiB are equal and the bytes sniff as application/octet-stream); fsynced, so its
 * writeback does not land in a measurement. */
async function writeBigFile(file: string, size: number): Promise<void> {
  const mib = 2 ** 20;
  const random = randomBytes(mib);
  const batch = Buffer.allocUnsafe(8 * mib);
  const fh = await open(file, 'w');
  try {
    let block = 0;
    for (let at = 0; at < size; ) {
      const n = Math.min(batch.length, size - at);
      for (let o = 0; o < n; o += mib, block++) {
        random.copy(batch, o);
        BENCH_MAGIC.copy(batch, o);
        batch.writeBigUInt64BE(BigInt(block), o + 8);
      }
      await fh.write(batch, 0, n);
      at += n;
    }
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Milliseconds after a delete when freed pages count as cold (see pageCacheDiagnostic). */
const COLD_AFTER_MS = 8_000;

/**
 * Keeps the last big file written until just before the next big write, then deletes it: every
 * timed write of the benchmark then lands in pages that were just freed, as on a long-running
 * host whose page cache is full. (On a VM that hands free pages back to its host — Firecracker's
 * free-page reporting, after ~2 s — writing into memory not used lately costs several times
 * more kernel time; pageCacheDiagnostic measures both.)
 */
class PageRecycler {
  private held: string | undefined;
  hold(path: string): void {
    this.held = path;
  }
  async release(): Promise<void> {
    const path = this.held;
    this.held = undefined;
    if (path) await rm(path, { force: true });
  }
}

/** Writes (and fsyncs) a big file into cold memory, then one into just-freed pages; keeps the
 * second for the first timed write to recycle. Prints both with their system CPU. */
async function pageCacheDiagnostic(dir: string, size: number, pages: PageRecycler): Promise<void> {
  const write = async (file: string) => {
    const cpu0 = process.cpuUsage();
    const t = performance.now();
    await writeBigFile(file, size);
    return { s: seconds(t), sys: process.cpuUsage(cpu0).system / 1e6 };
  };
  await sleep(COLD_AFTER_MS);
  const a = join(dir, 'scratch-a.bin');
  const cold = await write(a);
  await rm(a);
  const b = join(dir, 'scratch-b.bin');
  const warm = await write(b);
  pages.hold(b);
  say(
    `page cache: writing + fsyncing ${formatBytes(size)} took ${secs(cold.s)} (${num(cold.sys, 2)} s system CPU) into cold memory, ${secs(warm.s)} (${num(warm.sys, 2)} s) into pages just freed by deleting another ${formatBytes(size)} file${cold.sys > 2 * warm.sys + 0.2 ? ' — this machine hands free memory back to its host: every timed write below starts right after a big file was deleted (as on a host with a full page cache); one cold capture is measured at the end' : ''}`,
  );
}

interface FileServer {
  origin: string;
  host: string;
  pid: number;
  stop(): void;
}

async function startFileServer(file: string, sourceBytes: number): Promise<FileServer> {
  const child: ChildProcess = spawn(
    'python3',
    [serverScript, file, String(sourceBytes), BENCH_MAGIC.toString('hex')],
    {
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  );
  const lines = createInterface({ input: child.stdout! });
  const exited = once(child, 'exit').then(([code]) => {
    throw new Error(`origin server exited with ${code} before listening`);
  });
  const first = (async () => {
    for await (const line of lines) return JSON.parse(line) as { port: number };
    throw new Error('origin server closed its output before listening');
  })();
  let port: number;
  try {
    ({ port } = await Promise.race([first, exited]));
  } catch (err) {
    child.kill();
    throw err;
  }
  exited.catch(() => undefined);
  return {
    origin: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    pid: child.pid!,
    stop() {
      lines.close();
      child.stdin?.end();
      if (child.exitCode === null) child.kill('SIGTERM');
    },
  };
}

/** Deletes every key under the benchmark's own (random) BullMQ prefix. */
async function clearRedisPrefix(url: string, prefix: string): Promise<void> {
  const redis = createRedis(url, 'worker'); // queues commands until connected
  try {
    const keys: string[] = [];
    for await (const batch of redis.scanStream({ match: `${prefix}:*`, count: 1000 })) {
      keys.push(...(batch as string[]));
    }
    for (let i = 0; i < keys.length; i += 500) await redis.unlink(...keys.slice(i, i + 500));
  } finally {
    redis.disconnect();
  }
}

// ---------------------------------------------------------------------------------------
// 1: one big file, runCapture() vs openssl dgst -sha256

/** CPU seconds (user + system) spent by each party during a stage. */
interface StageCpu {
  self: number;
  /** Of which system (kernel) time. */
  selfSystem: number;
  server: number;
  /** Whole machine, in core-seconds (includes other work on the machine). */
  machine: number;
}

const cpuSeconds = (c: CpuShare): StageCpu => ({
  self: c.self * c.seconds,
  selfSystem: c.selfSystem * c.seconds,
  server: (c.named.server ?? 0) * c.seconds,
  machine: c.machineBusy * c.seconds,
});
const gcText = (g: { ms: number; major: number }) => `${num(g.ms, 0)} (${g.major})`;
const cpuText = (c: StageCpu) => `${num(c.self, 2)} (${num(c.selfSystem, 2)}) / ${num(c.server, 2)}`;

/** openssl under `sh -c '…; times'`, so its own CPU time is known too. */
async function opensslDigest(file: string): Promise<{ seconds: number; sha256: string; cpu: number }> {
  const t = performance.now();
  const child = spawn('sh', ['-c', 'openssl dgst -sha256 -r "$0" && times', file], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (c: Buffer) => {
    out += c.toString();
  });
  const [code] = (await once(child, 'close')) as [number | null];
  const s = seconds(t);
  const lines = out.trim().split('\n');
  const sha256 = lines[0]?.split(/\s+/)[0] ?? '';
  if (code !== 0 || !/^[0-9a-f]{64}$/.test(sha256)) throw new Error(`openssl dgst failed (${code}): ${out}`);
  // `times`: the shell's user and system time, then its children's ("0m0.790s 0m0.221s").
  const asSeconds = (v: string) => {
    const m = /^(\d+)m([\d.]+)s$/.exec(v);
    return m ? Number(m[1]) * 60 + Number(m[2]) : Number.NaN;
  };
  const children = (lines[2] ?? '').trim().split(/\s+/).map(asSeconds);
  return { seconds: s, sha256, cpu: (children[0] ?? Number.NaN) + (children[1] ?? Number.NaN) };
}

/** `dd` copying the file into `out` with one fsync at the end (conv=fsync): a durable write
 * of the same bytes, as the blob store makes. Seconds. */
async function durableCopy(file: string, out: string): Promise<number> {
  const t = performance.now();
  const child = spawn('dd', [`if=${file}`, `of=${out}`, 'bs=1M', 'conv=fsync', 'status=none'], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const [code] = (await once(child, 'close')) as [number | null];
  if (code !== 0) throw new Error(`dd exited with ${code}`);
  return seconds(t);
}

interface CaptureTiming {
  /** fetch() until the response headers. */
  headers: number;
  /** blobs.put(): the body streamed, hashed, written, fsynced and renamed into place. */
  put: number;
}

/** Wraps the fetcher and store to time the two calls (no per-chunk cost). */
function timedDeps(deps: CaptureDeps, timing: CaptureTiming): CaptureDeps {
  const { fetcher, blobs } = deps;
  const timedFetcher: GuardedFetcher = {
    async fetch(url, opts) {
      const t = performance.now();
      try {
        return await fetcher.fetch(url, opts);
      } finally {
        timing.headers += seconds(t);
      }
    },
  };
  const timedBlobs: BlobStore = {
    async put(source, opts) {
      const t = performance.now();
      try {
        return await blobs.put(source, opts);
      } finally {
        timing.put += seconds(t);
      }
    },
    size: (sha) => blobs.size(sha),
    read: (sha, range) => blobs.read(sha, range),
    withLocalFile: (sha, fn) => blobs.withLocalFile(sha, fn),
    sweepTemporary: (ms) => blobs.sweepTemporary(ms),
  };
  return { ...deps, fetcher: timedFetcher, blobs: timedBlobs };
}

interface CaptureRound {
  gc: { ms: number; count: number; major: number };
  seconds: number;
  sha256: string;
  kind: string;
  timing: CaptureTiming;
  cpu: CpuShare;
}

/** A new source for `url`, a capture requested for it, and runCapture() run here, timed. */
async function captureOnce(
  ctx: AppContext,
  deps: CaptureDeps,
  url: string,
  principal: Principal,
  investigationId: string,
  serverPid: number,
): Promise<CaptureRound> {
  const source = await ctx.prisma.source.create({ data: { investigationId, url, normalizedUrl: url } });
  const captureId = await writeStatement(ctx.pool, (tx) =>
    requestCapture(tx, null, {
      sourceId: source.id,
      reason: 'manual',
      requestedBy: principal.id,
      actor: actorOf(principal),
    }),
  );
  const timing: CaptureTiming = { headers: 0, put: 0 };
  const meter = cpuMeter({ server: serverPid });
  const gcm = gcMeter();
  const t = performance.now();
  const outcome = await runCapture(timedDeps(deps, timing), captureId, { number: 1, max: 1 });
  const s = seconds(t);
  const cpu = meter.stop();
  const gc = gcm.stop();
  const item = await ctx.prisma.evidenceItem.findFirst({ where: { captureId } });
  if (outcome.status !== 'completed' || !item) {
    throw new Error(`capture of ${url} did not complete: ${JSON.stringify(outcome)}`);
  }
  return { seconds: s, sha256: item.sha256, kind: item.kind, timing, cpu, gc };
}

async function* memoryChunks(size: number, chunk: number): AsyncGenerator<Buffer> {
  const block = randomBytes(Math.max(chunk, 2 ** 20));
  for (let at = 0; at < size; at += chunk) {
    const n = Math.min(chunk, size - at);
    block.writeUInt32BE(at >>> 0, 0); // every chunk differs a little
    yield block.subarray(0, n);
  }
}

async function benchBigFile(
  ctx: AppContext,
  server: FileServer,
  file: string,
  sizes: Sizes,
  principal: Principal,
  investigationId: string,
  dir: string,
  pages: PageRecycler,
): Promise<Result[]> {
  const size = sizes.size;
  section(
    `1. one ${formatBytes(size)} file captured end to end (runCapture: guarded fetch → sha256 → LocalBlobStore + fsync → ledger) vs openssl dgst -sha256 of the same file, ${sizes.rounds} alternating round(s)`,
  );
  const deps = await captureDeps(ctx);
  const url = (tag: string) => `${server.origin}/big?${tag}`;
  const removeBlob = (sha256: string) => deps.blobs.withLocalFile(sha256, (p) => rm(p, { force: true }));
  const blobPath = (sha256: string) => deps.blobs.withLocalFile(sha256, async (p) => p);

  const rows: string[][] = [
    [
      'round',
      'openssl dgst',
      'openssl CPU s',
      'dd conv=fsync',
      'runCapture',
      'ratio to slower',
      'headers',
      'put',
      'DB + rest',
      'CPU s capture (sys) / origin',
      'GC ms (major)',
      'machine busy',
    ],
  ];
  // Untimed warm-up: the first capture of a process compiles Prisma's queries, loads the
  // sniffer and JITs the loops; none of that belongs in a round.
  const warm = await captureOnce(
    ctx,
    deps,
    `${server.origin}/src/0?warm-up`,
    principal,
    investigationId,
    server.pid,
  );
  await removeBlob(warm.sha256); // step 2 stores /src/0 anew
  say(`  warm-up capture of ${formatBytes(sizes.sourceBytes)} (untimed): ${ms(warm.seconds * 1000)}`);
  const ossl: number[] = [];
  const dds: number[] = [];
  const caps: number[] = [];
  const ddOut = join(ctx.config.BLOB_DIR, 'bench-dd.tmp');
  for (let r = 1; r <= sizes.rounds; r++) {
    const o = await opensslDigest(file);
    // dd writes, like the capture, into the pages the previous write's file held.
    await pages.release();
    const d = await durableCopy(file, ddOut);
    pages.hold(ddOut);
    await pages.release();
    const c = await captureOnce(ctx, deps, url(`round=${r}`), principal, investigationId, server.pid);
    if (c.sha256 !== o.sha256)
      throw new Error(`round ${r}: captured sha256 ${c.sha256} ≠ openssl ${o.sha256}`);
    if (c.kind !== 'document') throw new Error(`round ${r}: stored as ${c.kind}, expected document`);
    pages.hold(await blobPath(c.sha256)); // deleted just before the next write: the next round stores it anew
    ossl.push(mbps(size, o.seconds));
    dds.push(mbps(size, d));
    caps.push(mbps(size, c.seconds));
    rows.push([
      String(r),
      `${secs(o.seconds)} ${mbText(mbps(size, o.seconds))}`,
      num(o.cpu, 2),
      `${secs(d)} ${mbText(mbps(size, d))}`,
      `${secs(c.seconds)} ${mbText(mbps(size, c.seconds))}`,
      times(ratio(Math.max(o.seconds, d), c.seconds)),
      secs(c.timing.headers),
      secs(c.timing.put),
      secs(c.seconds - c.timing.headers - c.timing.put),
      cpuText(cpuSeconds(c.cpu)),
      gcText(c.gc),
      `${num(c.cpu.machineBusy, 2)} cores`,
    ]);
  }
  say(indent(table(rows)));
  say(
    `  sha256 of every capture = openssl's; stored as kind document (no ffprobe). CPU s: user + system seconds; machine busy: all processes on the machine during the capture (${cpus().length} cores)`,
  );
  // The limit a capture cannot beat: it must both hash the bytes and write them durably. On
  // a fast disk hashing bounds it, on a slow one the write; the slower of the two is the limit.
  const osslMb = median(ossl);
  const ddMb = median(dds);
  const limitMb = Math.min(osslMb, ddMb);
  const limitName =
    osslMb <= ddMb ? 'openssl dgst -sha256 (slower than dd)' : 'dd conv=fsync (slower than openssl)';
  const capMb = median(caps);
  const bigRatio = ratio(capMb, limitMb);
  say(
    `  median: runCapture ${mbText(capMb)}; openssl dgst -sha256 ${mbText(osslMb)}, dd bs=1M conv=fsync into the blob directory's file system ${mbText(ddMb)} → limit ${mbText(limitMb)}, ratio ${times(bigRatio)} (target ≥ 0.8×: ${verdict(bigRatio >= 0.8)})`,
  );

  const breakdown = await bigFileBreakdown(ctx, deps, server, sizes, dir, osslMb, capMb, pages);

  // Once more in cold memory: pages freed long enough ago to have been handed back (if this
  // machine does that), as the first big capture after a quiet spell finds them.
  await pages.release();
  await sleep(COLD_AFTER_MS);
  const cold = await captureOnce(ctx, deps, url('cold'), principal, investigationId, server.pid);
  await removeBlob(cold.sha256);
  const coldCpu = cpuSeconds(cold.cpu);
  say(
    `\n  runCapture in cold memory (${COLD_AFTER_MS / 1000} s after the last delete): ${secs(cold.seconds)} → ${mbText(mbps(size, cold.seconds))} (${times(ratio(mbps(size, cold.seconds), osslMb))} of openssl); CPU ${cpuText(coldCpu)} s; GC ${gcText(cold.gc)} ms`,
  );

  return [
    {
      name: `capture of one ${formatBytes(size)} file, MB/s (runCapture end to end)`,
      measured: mbText(capMb),
      baselineName: limitName,
      baseline: mbText(limitMb),
      ratio: times(bigRatio),
      target: 'ratio ≥ 0.80×',
      pass: bigRatio >= 0.8,
    },
    {
      name: '  the two baselines: openssl dgst -sha256 / dd conv=fsync',
      measured: `${mbText(osslMb)} / ${mbText(ddMb)}`,
      baselineName: '',
      baseline: '',
      ratio: '',
      target: 'information',
      pass: undefined,
    },
    {
      name: `  runCapture once in cold memory (${COLD_AFTER_MS / 1000} s after a delete)`,
      measured: mbText(mbps(size, cold.seconds)),
      baselineName: 'openssl dgst -sha256, same file',
      baseline: mbText(osslMb),
      ratio: times(ratio(mbps(size, cold.seconds), osslMb)),
      target: 'information',
      pass: undefined,
    },
    ...breakdown.info.map((w) => ({
      name: `  ${w.label}`,
      measured: mbText(w.mb),
      baselineName: 'openssl dgst -sha256, same file',
      baseline: mbText(osslMb),
      ratio: times(ratio(w.mb, osslMb)),
      target: 'information',
      pass: undefined,
    })),
  ];
}

const indent = (text: string) =>
  text
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n');

/** Where a big capture's time goes: each stage alone, once, with the wall time and the CPU
 * of this process and of the origin. */
async function bigFileBreakdown(
  ctx: AppContext,
  deps: CaptureDeps,
  server: FileServer,
  sizes: Sizes,
  dir: string,
  osslMb: number,
  capMb: number,
  pages: PageRecycler,
): Promise<{ info: { label: string; mb: number }[] }> {
  const size = sizes.size;
  say(`\n  breakdown (${formatBytes(size)} each; one pass each, after the rounds):`);
  const rows: string[][] = [
    ['stage', 'seconds', 'MB/s', 'vs openssl', 'CPU s this (sys) / origin', 'GC ms (major)'],
  ];
  const info: { label: string; mb: number }[] = [];
  const stage = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    const meter = cpuMeter({ server: server.pid });
    const gcm = gcMeter();
    const t = performance.now();
    const result = await fn();
    const s = seconds(t);
    const cpu = cpuSeconds(meter.stop());
    const gc = gcm.stop();
    rows.push([
      name,
      secs(s),
      mbText(mbps(size, s)),
      times(ratio(mbps(size, s), osslMb)),
      cpuText(cpu),
      gcText(gc),
    ]);
    info.push({ label: name, mb: mbps(size, s) });
    return result;
  };
  const url = `${server.origin}/big`;
  /** A sink that takes each chunk during the read callback, as the blob store does. */
  const sinkOf = (write: (chunk: Buffer) => void) => ({
    write(chunk: Buffer) {
      write(chunk);
      return true;
    },
    drained: async () => {},
  });

  // sha256 alone, in memory, 1 MiB updates: node's crypto is the same OpenSSL.
  const mib = randomBytes(2 ** 20);
  await stage('sha256 in memory (node crypto, 1 MiB updates)', async () => {
    const h = createHash('sha256');
    for (let at = 0; at < size; at += mib.length) h.update(mib.subarray(0, Math.min(mib.length, size - at)));
    return h.digest('hex');
  });

  // The network alone: the guarded fetch, each chunk dropped.
  let reads = 0;
  await stage('guarded fetch from the origin, body dropped', async () => {
    const res = await deps.fetcher.fetch(url);
    await res.pipeTo(sinkOf(() => reads++));
  });

  // Network + hash, nothing stored.
  await stage('guarded fetch + sha256 (nothing stored)', async () => {
    const res = await deps.fetcher.fetch(url);
    const h = createHash('sha256');
    await res.pipeTo(sinkOf((chunk) => h.update(chunk)));
    return h.digest('hex');
  });

  // The blob store alone (hash + write + fsync), fed from memory in 1 MiB chunks.
  const storeOnly = new LocalBlobStore(join(dir, 'store-only'));
  await pages.release();
  const stored = await stage('LocalBlobStore.put from memory, 1 MiB chunks (hash + write + fsync)', () =>
    storeOnly.put(memoryChunks(size, 2 ** 20)),
  );
  pages.hold(storeOnly.pathOf(stored.sha256));

  // fetchToStore as runCapture calls it, without the ledger.
  await pages.release();
  const fetched = await stage('fetchToStore (guarded fetch → LocalBlobStore.put)', () =>
    fetchToStore(deps.fetcher, deps.blobs, `${url}?breakdown`, {
      maxBytes: ctx.config.FETCH_MAX_BYTES,
      tmpKey: 'bench-breakdown',
    }),
  );
  pages.hold(await deps.blobs.withLocalFile(fetched.blob.sha256, async (p) => p));
  rows.push(['runCapture, median of the rounds', '', mbText(capMb), times(ratio(capMb, osslMb)), '', '']);
  say(indent(table(rows)));
  say(`  the network alone: ${num(reads)} socket reads (mean ${kib(size / Math.max(1, reads))})`);
  const tmpLeft = await readdir(join(ctx.config.BLOB_DIR, 'tmp')).catch(() => []);
  if (tmpLeft.length > 0) say(`  !! ${tmpLeft.length} temporary file(s) left in BLOB_DIR/tmp`);
  return { info: info.slice(1) };
}

// ---------------------------------------------------------------------------------------
// 2: many small sources through the real queue and workers vs a bare BullMQ worker

interface QueueRun {
  makespan: number;
  perSecond: number;
  latency: ReturnType<typeof summarize>;
  produce: { elapsedMs: number; errors: number; firstError?: string };
  cpu: CpuShare;
}

/** A bare BullMQ worker that does nothing, fed the same way (same producers, same Redis). */
async function bareQueueRun(config: Config, sizes: Sizes): Promise<QueueRun> {
  const name = 'bench-noop';
  const producer = createRedis(config.REDIS_URL, 'producer');
  const connection = createRedis(config.REDIS_URL, 'worker');
  const queue = new Queue(name, { connection: producer, prefix: config.REDIS_PREFIX });
  const done = new Map<string, number>();
  let allDone: () => void = () => {};
  const finished = new Promise<void>((resolve) => {
    allDone = resolve;
  });
  const worker = new Worker(name, async () => undefined, {
    connection,
    prefix: config.REDIS_PREFIX,
    concurrency: sizes.concurrency,
  });
  worker.on('completed', (job) => {
    done.set(job.id!, Date.now());
    if (done.size === sizes.sources) allDone();
  });
  try {
    await worker.waitUntilReady();
    await queue.waitUntilReady();
    const added: number[] = new Array(sizes.sources);
    const meter = cpuMeter();
    const t0 = Date.now();
    const produce = await fixedCount({
      total: sizes.sources,
      concurrency: sizes.producers,
      op: async (i) => {
        added[i] = Date.now();
        await queue.add('noop', { i }, { jobId: `noop-${i}`, ...retention });
      },
    });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      finished,
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`no-op jobs: ${done.size} of ${sizes.sources} done`)),
          120_000,
        );
      }),
    ]).finally(() => clearTimeout(timer));
    const cpu = meter.stop();
    const latencies = added.map((a, i) => done.get(`noop-${i}`)! - a);
    const makespan = (Math.max(...done.values()) - t0) / 1000;
    return {
      makespan,
      perSecond: sizes.sources / makespan,
      latency: summarize(latencies),
      produce,
      cpu,
    };
  } finally {
    await worker.close();
    await queue.obliterate({ force: true }).catch(() => undefined);
    await queue.close();
    producer.disconnect();
    connection.disconnect();
  }
}

async function benchQueue(
  ctx: AppContext,
  server: FileServer,
  sizes: Sizes,
  principal: Principal,
  investigationId: string,
): Promise<{ results: Result[]; ok: boolean }> {
  const n = sizes.sources;
  section(
    `2. ${num(n)} sources of ${formatBytes(sizes.sourceBytes)} requested by ${sizes.producers} producers and captured by the real workers (concurrency ${sizes.concurrency}, sequencer running) vs a bare BullMQ worker doing nothing`,
  );
  // Untimed: the sources exist (as if cited); their captures are requested in the timed part.
  const urls = Array.from({ length: n }, (_, i) => `${server.origin}/src/${i}`);
  await ctx.prisma.source.createMany({
    data: urls.map((url) => ({ investigationId, url, normalizedUrl: url })),
  });
  const sources = await ctx.prisma.source.findMany({
    where: { investigationId, url: { in: urls } },
    select: { id: true, url: true },
  });
  const idOf = new Map(sources.map((s) => [s.url, s.id]));

  // Baseline first, on a quiet machine: the same producers adding no-op jobs.
  const bare = await bareQueueRun(ctx.config, sizes);
  say(
    `bare BullMQ worker (no-op, concurrency ${sizes.concurrency}): ${perSecond(bare.perSecond)} jobs (${num(n)} in ${secs(bare.makespan)}; adds took ${secs(bare.produce.elapsedMs / 1000)}, ${bare.produce.errors} errors)`,
  );
  say(`  ${latencyLine('enqueue → completed', bare.latency)}`);

  // The real thing: an "API" context (its own Prisma pool and producer connection, as the API
  // process has) requests captures while the workers and the sequencer run, each in a context
  // of its own (as separate processes would be) whose connections name their party, so the
  // statements each sends are counted apart (lib/statement-count.ts).
  const partyContext = (party: string) =>
    createContext({ ...ctx.config, DATABASE_URL: withParty(ctx.config.DATABASE_URL, party) });
  const api = partyContext('api');
  const workerCtx = partyContext('worker');
  const sequencerCtx = partyContext('sequencer');
  const sequencer = await startSequencer(sequencerCtx);
  const workers = await startWorkers(workerCtx, { handlers, concurrency: sizes.concurrency });
  let stopped = false;
  const stopAll = async () => {
    if (stopped) return;
    stopped = true;
    await workers.stop(Date.now() + 15_000);
    await sequencer.stop(Date.now() + 15_000);
    await Promise.all([api.close(), workerCtx.close(), sequencerCtx.close()]);
  };
  try {
    await Promise.all(workers.workers.map((w) => w.waitUntilReady()));
    const enqueuedAt = new Map<string, number>();
    const lag = monitorEventLoopDelay({ resolution: 10 });
    lag.enable();
    const meter = cpuMeter({ server: server.pid });
    const countedBefore = statementCounts();
    const t0 = Date.now();
    const produce = await fixedCount({
      total: n,
      concurrency: sizes.producers,
      op: async (i) => {
        const sourceId = idOf.get(urls[i]!)!;
        // As the API requests it: one statement, the job enqueued once it commits.
        const captureId = await writeStatement(api.pool, (tx) =>
          requestCapture(tx, api.queues, {
            sourceId,
            reason: 'cited',
            requestedBy: principal.id,
            actor: actorOf(principal),
          }),
        );
        enqueuedAt.set(captureId, Date.now());
      },
    });
    const producedS = (Date.now() - t0) / 1000;
    let state = '';
    await until(
      async () => {
        const { rows } = await ctx.pool.query<{ ended: string; running: string; queued: string }>(
          `SELECT count(*) FILTER (WHERE status IN ('completed', 'failed'))::text AS ended,
                  count(*) FILTER (WHERE status = 'running')::text AS running,
                  count(*) FILTER (WHERE status = 'queued')::text AS queued
           FROM captures WHERE reason = 'cited'`,
        );
        state = `${rows[0]?.ended} ended, ${rows[0]?.running} running, ${rows[0]?.queued} queued`;
        return Number(rows[0]?.ended) >= n - produce.errors;
      },
      30 * 60_000,
      () => `the captures to end (${state})`,
      100,
    );
    const cpu = meter.stop();
    lag.disable();

    const { rows } = await ctx.pool.query<{
      id: string;
      status: string;
      attempts: number;
      requested: string;
      started: string | null;
      finished: string | null;
      failure: unknown;
    }>(
      `SELECT id, status::text AS status, attempts,
              (extract(epoch FROM requested_at) * 1000)::text AS requested,
              (extract(epoch FROM started_at) * 1000)::text AS started,
              (extract(epoch FROM finished_at) * 1000)::text AS finished, failure
       FROM captures WHERE reason = 'cited'`,
    );
    const completed = rows.filter((r) => r.status === 'completed');
    const failed = rows.filter((r) => r.status !== 'completed');
    const lastFinished = Math.max(...completed.map((r) => Number(r.finished)));
    const makespan = (lastFinished - t0) / 1000;
    const rate = completed.length / makespan;
    const toCaptured = summarize(completed.map((r) => Number(r.finished) - Number(r.requested)));
    const toEnqueued = summarize(
      completed.map((r) => (enqueuedAt.get(r.id) ?? Number.NaN) - Number(r.requested)),
    );
    const queueWait = summarize(
      completed.map((r) => Number(r.started) - (enqueuedAt.get(r.id) ?? Number.NaN)),
    );
    const work = summarize(completed.map((r) => Number(r.finished) - Number(r.started)));
    const retried = rows.filter((r) => r.attempts > 1).length;

    say(
      `real capture: ${perSecond(rate)} sources (${num(completed.length)} captured in ${secs(makespan)}, ${failed.length} failed${failed[0] ? ` — first: ${JSON.stringify(failed[0].failure)}` : ''}, ${retried} retried; requests took ${secs(producedS)}, ${produce.errors} errors${produce.firstError ? ` — first: ${produce.firstError}` : ''})`,
    );
    say(`  ${latencyLine('requested → captured', toCaptured)}`);
    say(`    ${latencyLine('requested → enqueued (request tx + add)', toEnqueued)}`);
    say(`    ${latencyLine('enqueued → started (queue wait)', queueWait)}`);
    say(`    ${latencyLine('started → finished (the capture itself)', work)}`);
    say(
      `  ${describeCpu(cpu, 'this process (producers, workers, sequencer)')}; event-loop delay p50 ${ms(lag.percentile(50) / 1e6)}, p99 ${ms(lag.percentile(99) / 1e6)}`,
    );
    // CPU time per source rather than per second: less disturbed by other work on the machine.
    const perItem = (cores: number, seconds: number, items: number) => ms((cores * seconds * 1000) / items);
    say(
      `  CPU per source: this process ${perItem(cpu.self, cpu.seconds, completed.length)} (main thread ${perItem(cpu.mainThread, cpu.seconds, completed.length)}), Postgres ${perItem(cpu.postgres, cpu.seconds, completed.length)}; per no-op job: this process ${perItem(bare.cpu.self, bare.cpu.seconds, n)} (main thread ${perItem(bare.cpu.mainThread, bare.cpu.seconds, n)})`,
    );
    say(
      `  ${num(ctx.config.WORKER_CONCURRENCY)} captures at a time each hold ~${ms(work.mean)}: at most ${perSecond((sizes.concurrency * 1000) / work.mean)} by Little's law`,
    );

    // Every capture stored its bytes as one document; the chain is integrated by the sequencer.
    const { rows: ev } = await ctx.pool.query<{ n: string; kinds: string; bytes: string }>(
      `SELECT count(*)::text AS n, string_agg(DISTINCT kind::text, ',') AS kinds, sum(size)::text AS bytes
       FROM evidence_items e JOIN captures c ON c.id = e.capture_id WHERE c.reason = 'cited'`,
    );
    const t = performance.now();
    await until(
      async () => {
        const { rows: p } = await ctx.pool.query<{ n: string }>(
          'SELECT count(*)::text AS n FROM log_pending',
        );
        return p[0]?.n === '0';
      },
      120_000,
      'the sequencer to integrate every event',
    );
    const { rows: le } = await ctx.pool.query<{ n: string }>('SELECT count(*)::text AS n FROM log_entries');
    const sent = statementsBetween(countedBefore, statementCounts());
    say(
      `  ${ev[0]?.n} evidence items (${ev[0]?.kinds}), ${num(Number(ev[0]?.bytes) / 1e6, 1)} MB; log integrated ${secs(seconds(t))} after the last capture (${num(Number(le[0]?.n))} log entries)`,
    );
    const per = (party: string) => (sent.get(party) ?? 0) / Math.max(1, completed.length);
    const perSource = per('api') + per('worker') + per('sequencer');
    say(
      `  SQL statements per source (BEGIN and COMMIT included; counted per connection in this process): ${num(perSource, 1)} = request ${num(per('api'), 1)} + worker ${num(per('worker'), 1)} + sequencer ${num(per('sequencer'), 2)}${[...sent.keys()].some((k) => !['api', 'worker', 'sequencer', 'bench'].includes(k)) ? ` (unattributed: ${JSON.stringify(Object.fromEntries(sent))})` : ''}`,
    );
    const cite = await citeStatements(api, principal, investigationId, server);
    say(
      `  for comparison, citing a new URL through citeSource (the API's path, without HTTP and authentication): ${num(cite, 1)} statements`,
    );

    await stopAll();
    const ok = failed.length === 0 && produce.errors === 0 && completed.length === n;
    const rateRatio = ratio(rate, bare.perSecond);
    say(
      `  ratio sources/s ÷ no-op jobs/s = ${times(rateRatio)}; p99 requested → captured ÷ p99 enqueue → completed = ${times(ratio(toCaptured.p99, bare.latency.p99))}`,
    );
    return {
      ok,
      results: [
        {
          name: `sources captured/s (${num(n)} × ${formatBytes(sizes.sourceBytes)}, concurrency ${sizes.concurrency})${ok ? '' : ' FAILURES'}`,
          measured: perSecond(rate),
          baselineName: 'no-op BullMQ jobs/s',
          baseline: perSecond(bare.perSecond),
          ratio: times(rateRatio),
          target: 'ratio ≥ 0.10×',
          pass: ok && rateRatio >= 0.1,
        },
        {
          name: 'requested → captured p50 / p99',
          measured: `${ms(toCaptured.p50)} / ${ms(toCaptured.p99)}`,
          baselineName: 'no-op enqueue → completed p50 / p99',
          baseline: `${ms(bare.latency.p50)} / ${ms(bare.latency.p99)}`,
          ratio: times(ratio(toCaptured.p99, bare.latency.p99)),
          target: 'reported',
          pass: undefined,
        },
        {
          name: 'SQL statements per source (request + worker + sequencer)',
          measured: num(perSource, 1),
          baselineName: 'request / worker / sequencer',
          baseline: `${num(per('api'), 1)} / ${num(per('worker'), 1)} / ${num(per('sequencer'), 2)}`,
          ratio: '',
          target: '≤ 15',
          pass: perSource <= 15,
        },
      ],
    };
  } finally {
    await stopAll();
  }
}

/** Statements the API's citeSource sends to cite a new URL (mean of a few, untimed): what a
 * capture's request costs when it comes with its citation. */
async function citeStatements(
  api: AppContext,
  principal: Principal,
  investigationId: string,
  server: FileServer,
): Promise<number> {
  const claim = await createClaim(api, principal, investigationId, {
    statement: 'A claim the benchmark cites sources for',
    claimant: { name: 'Bench' },
  });
  const n = 10;
  const before = statementCounts();
  for (let i = 0; i < n; i++) {
    await citeSource(api, principal, claim.id, {
      url: `${server.origin}/src/${1_000_000 + i}`,
      relation: 'origin',
    });
  }
  return (statementsBetween(before, statementCounts()).get('api') ?? 0) / n;
}
