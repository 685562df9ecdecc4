// `npm run bench scale`: issue 16's multi-process run at full size (test/scale/scale-run.ts,
// which test/scale/scale.test.ts runs at 200 sources in CI): 2,000 sources (100 KB items, pages
// that declare an image, the 31-second video) cited through two API processes, captured by
// three worker processes into S3 (s3rver), integrated by two sequencers, while a worker and the
// active sequencer are killed with SIGKILL and restarted and Redis is restarted empty, at 25,
// 50 and 75 % of the requests. It prints throughput next to the same run's undisturbed stretch
// (before the first kill), each recovery time next to the same run's median capture latency
// with the bound that makes it happen, and every correctness check as PASS/MISS. The issue sets
// no speed targets: only the checks decide the exit code.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { alivePids, runScale } from '../test/scale/scale-run.ts';
import { runBench } from './lib/bench-run.ts';
import { loadLine, machineMeter } from './lib/machine-load.ts';
import { type NumberOption, usage } from './lib/options.ts';
import { latencyLine, num, perSecond, type Result, ratio, times } from './lib/stats.ts';

const spec = {
  sources: {
    name: 'sources',
    full: 2000,
    quick: 200,
    help: 'sources cited (7 in 10 items, 2 pages, 1 video)',
  },
  clients: {
    name: 'clients',
    full: 8,
    quick: 4,
    help: 'concurrent citing clients (alternating the two APIs)',
  },
  backlog: {
    name: 'backlog',
    full: 64,
    quick: 40,
    help: 'captures requested and not yet ended before the clients wait',
  },
  concurrency: {
    name: 'concurrency',
    full: 4,
    quick: 4,
    help: 'WORKER_CONCURRENCY of each of the 3 workers',
  },
  sweepMs: {
    name: 'sweep-ms',
    full: 5000,
    quick: 5000,
    help: 'CAPTURE_SWEEP_INTERVAL_MS and EXPORT_SWEEP_INTERVAL_MS of the workers',
  },
} satisfies Record<string, NumberOption>;

export const help = `npm run bench scale [-- --quick] [options]\n${usage(Object.values(spec))}

Needs redis-server on PATH (the run starts its own, without persistence, on a free port).`;

const say = (line = '') => console.log(line);
const section = (title: string) => say(`\n=== ${title}`);
const secs = (s: number) => `${num(s, s < 10 ? 2 : 1)} s`;

export async function run(argv: readonly string[]): Promise<number> {
  return runBench(
    {
      argv,
      spec,
      title: 'scale run (issue 16)',
      where:
        '2 API, 3 worker and 2 sequencer processes, redis-server, s3rver; citing clients and the fixture server in this one',
      help,
      checkIdle: true,
      secs,
    },
    async ({ res, sizes, results, phases, onCleanup }) => {
      const spawned = new Map<number, string>();
      // Registered first, so it runs last: after every process of the run was stopped.
      onCleanup('leave no process behind', () => {
        const left = alivePids(spawned);
        if (left.length > 0) throw new Error(`still running: ${left.join('; ')}`);
        say(`cleanup: all ${spawned.size} processes the run started are gone`);
      });
      const scratch = await mkdtemp(join(tmpdir(), `${res.redisPrefix}-scale-`));
      onCleanup('remove files', () => rm(scratch, { recursive: true, force: true }));
      say(loadLine('at start'));
      const meter = machineMeter();
      const started = Date.now();
      const report = await runScale(
        {
          sources: sizes.sources,
          clients: sizes.clients,
          backlog: sizes.backlog,
          workerConcurrency: sizes.concurrency,
          sweepMs: sizes.sweepMs,
        },
        { databaseUrl: res.env.DATABASE_URL!, ownerUrl: res.url, scratch, spawned },
        onCleanup,
        say,
      );
      const load = meter.stop();
      phases.push(['scale run', (Date.now() - started) / 1000]);
      say(loadLine('at the end'));
      if (load.available) say(`machine busy: ${num(load.busyCores, 2)} cores on average over the run`);

      section('throughput');
      say(
        `${num(report.sources)} sources, first request → last capture ${secs(report.seconds)}: ` +
          `${perSecond(report.sourcesPerSecond)}; the sources' server answered ${num(report.fetches.answered)} ` +
          `requests for ${num(report.fetches.items)} items (the rest: fetches again after a kill)`,
      );
      say(
        `undisturbed (before the first kill): ${num(report.undisturbed.captures)} captures in ` +
          `${secs(report.undisturbed.seconds)}, ${perSecond(report.undisturbed.perSecond)}`,
      );
      say(latencyLine('requested → completed', report.latency));
      results.push({
        name: 'throughput, with the kills',
        measured: perSecond(report.sourcesPerSecond),
        baselineName: 'before the first kill',
        baseline: perSecond(report.undisturbed.perSecond),
        ratio: times(ratio(report.sourcesPerSecond, report.undisturbed.perSecond)),
        target: 'none (reported)',
        pass: undefined,
      });

      section('disruptions and recoveries');
      const p50 = report.latency.p50;
      for (const d of report.disruptions) {
        say(`at ${num(d.atRequest)} requests: ${d.what} — ${d.detail}`);
        for (const r of d.recoveries) {
          say(`  ${r.what}: ${r.ms === undefined ? 'NOT within the bound' : secs(r.ms / 1000)} (${r.bound})`);
          results.push(recoveryResult(`${d.what}: ${r.what}`, r.ms, p50, r.bound));
        }
      }

      section('checks');
      const checks: [string, boolean, string][] = [
        [
          'every source captured once, items stored once',
          report.sourceProblems.length === 0 && report.tallies.length === report.sources,
          `${report.tallies.length - report.sourceProblems.length}/${report.sources} sources`,
        ],
        [
          'no duplicate stored event',
          report.duplicateStored.length === 0,
          `${report.duplicateStored.length} duplicates`,
        ],
        [
          'log 0..n-1, nothing pending, signed at n',
          report.logProblems.length === 0,
          `${num(report.log.entries)} entries, ${num(report.log.events)} events`,
        ],
        ['claimtrail ledger verify', report.ledgerVerify.code === 0, `exit ${report.ledgerVerify.code}`],
        [
          'BagIt export via the API, verify-export',
          report.exportBag.status === 'completed' && report.exportBag.verify.code === 0,
          `${report.exportBag.status}, ${num(report.exportBag.bytes / 2 ** 20, 1)} MiB, exit ${report.exportBag.verify.code}`,
        ],
        [
          'claimtrail blobs check (S3)',
          report.blobsCheck.code === 0 || report.blobsCheck.code === 3,
          report.blobsCheck.output.trim().split('\n').at(-1) ?? '',
        ],
        [
          'one active sequencer, no process died',
          report.activeSequencers.length === 1 && report.deadMembers.length === 0,
          `active ${report.activeSequencers.join(', ') || 'none'}`,
        ],
      ];
      for (const [name, pass, measured] of checks) {
        say(`${pass ? 'PASS' : 'MISS'} ${name}: ${measured}`);
        results.push({ name, measured, baselineName: '-', baseline: '-', ratio: '-', target: 'holds', pass });
      }
      for (const p of report.problems.slice(0, 20)) say(`  problem: ${p}`);
      if (report.problems.length > 20) say(`  … ${report.problems.length - 20} more`);
      return report.problems.length === 0;
    },
  );
}

function recoveryResult(name: string, ms: number | undefined, p50: number, bound: string): Result {
  return {
    name,
    measured: ms === undefined ? 'never' : secs(ms / 1000),
    baselineName: 'capture p50, same run',
    baseline: secs(p50 / 1000),
    ratio: ms === undefined ? '-' : times(ratio(ms, p50)),
    target: bound,
    pass: ms === undefined ? false : undefined,
  };
}
