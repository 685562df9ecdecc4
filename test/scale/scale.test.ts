// The multi-process scale run (test/scale/scale-run.ts) at CI size: 200 sources cited through
// two API processes, captured by three worker processes into S3, integrated by two sequencers,
// while a worker and the active sequencer are killed with SIGKILL and restarted and Redis is
// restarted empty. It asserts correctness only (every capture exactly once, no duplicate
// `stored`, a gapless log, the CLIs' verdicts), never speed; `npm run bench scale` prints the
// figures at full size. Its own database, Redis (redis-server, as scripts/ensure-env.sh installs
// it), s3rver and fixture server; every process is stopped in afterAll, failed or not.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ownerUrlFor } from '../helpers/databases.ts';
import { createIsolatedDatabase } from '../helpers/isolated-db.ts';
import { alivePids, runScale, type ScaleReport } from './scale-run.ts';
import { expectedStored } from './scale-sources.ts';

const SOURCES = 200;

const steps: { label: string; step: () => unknown }[] = [];
const spawned = new Map<number, string>();
const scratch = await mkdtemp(join(tmpdir(), 'claimtrail-scale-'));
// Dropped after the processes below are stopped (afterAll hooks run last-registered first).
const databaseUrl = await createIsolatedDatabase('scale');
let report: ScaleReport;

// Every step is tried, in reverse order of start, even when one before it failed.
afterAll(async () => {
  for (const { label, step } of steps.reverse()) {
    await Promise.resolve()
      .then(step)
      .catch((err: Error) => console.error(`scale cleanup: could not ${label}: ${err.message}`));
  }
  await rm(scratch, { recursive: true, force: true });
  // Nothing of the run outlives it: no claimtrail child, redis-server or s3rver is left.
  expect(spawned.size).toBeGreaterThanOrEqual(9);
  expect(alivePids(spawned)).toEqual([]);
}, 120_000);

describe('the scale run (200 sources; a worker, the active sequencer and Redis killed)', () => {
  beforeAll(async () => {
    try {
      report = await runScale(
        { sources: SOURCES, clients: 4, backlog: 40, workerConcurrency: 4, sweepMs: 5_000 },
        { databaseUrl, ownerUrl: ownerUrlFor(databaseUrl), scratch, spawned },
        (label, step) => steps.push({ label, step }),
        (line) => console.log(`scale: ${line}`),
      );
    } catch (err) {
      console.error(`scale run failed: ${(err as Error).stack}`);
      throw err;
    }
  }, 30 * 60_000);

  it('captures every cited source exactly once, each item stored once', () => {
    expect(report.tallies).toHaveLength(SOURCES);
    expect(report.sourceProblems).toEqual([]);
    expect(report.duplicateStored).toEqual([]);
    const stored = report.tallies.reduce((sum, t) => sum + t.storedEvents, 0);
    expect(stored).toBe(report.tallies.reduce((sum, t) => sum + expectedStored[t.kind], 0));
    // Both APIs took requests.
    expect(Object.values(report.citedPerApi)).toEqual([SOURCES / 2, SOURCES / 2]);
  });

  it('went through every disruption and recovered from each', () => {
    expect(report.disruptions.map((d) => d.what)).toEqual([
      expect.stringMatching(/^SIGKILL worker-\d$/),
      expect.stringMatching(/^SIGKILL the active sequencer \(sequencer-\d\)$/),
      'Redis killed and started again, empty',
    ]);
    for (const d of report.disruptions)
      for (const r of d.recoveries) expect(r.ms, `${d.what}: ${r.what}`).toBeTypeOf('number');
    expect(report.activeSequencers).toHaveLength(1);
    // The sequencer killed is not the one active at the end: the standby took over.
    expect(report.disruptions[1]!.what).not.toContain(report.activeSequencers[0]);
    expect(report.deadMembers).toEqual([]);
  });

  it('leaves a log with no gap: every event integrated once at 0..n-1, signed at n', () => {
    expect(report.logProblems).toEqual([]);
    expect(report.log).toMatchObject({
      pending: 0,
      missing: 0,
      firstIndex: 0,
      lastIndex: report.log.events - 1,
      entries: report.log.events,
      checkpointSize: report.log.events,
    });
  });

  it('passes `claimtrail ledger verify`', () => {
    expect(report.ledgerVerify.code, report.ledgerVerify.output).toBe(0);
  });

  it('exports the investigation as a BagIt bag through the API that verifies offline', () => {
    expect(report.exportBag.status, report.exportBag.error).toBe('completed');
    expect(report.exportBag.verify.code, report.exportBag.verify.output).toBe(0);
  });

  it('finds every blob in S3 with its hash (`claimtrail blobs check`)', () => {
    // 3 would mean intact with orphans (bytes of a run killed before its row committed).
    expect([0, 3], report.blobsCheck.output).toContain(report.blobsCheck.code);
    expect(report.blobsCheck.output).toMatch(/^blobs OK/m);
    expect(report.blobsCheck.output).toMatch(/ 0 missing or wrong/);
  });
});
