// The export sweep (src/exports/export-sweep.ts, job export.sweep): an export whose enqueue
// was lost is enqueued again once it is 30 s old, one left running by a job that failed for
// good is recorded as failed (once), one whose running job vanished is enqueued again; the
// capture sweep leaves exports alone; the worker process schedules export.sweep on the export
// queue by itself.
//
// A database and Redis prefix of this file's own: the sweep looks at every export in the
// database and must not enqueue other files' exports (nor they this file's).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UnrecoverableError } from 'bullmq';
import { afterAll, describe, expect, it } from 'vitest';
import type { Principal } from '../../src/access/principal.ts';
import { sweepCaptures } from '../../src/capture/sweep.ts';
import { failExport } from '../../src/exports/export-build.ts';
import { sweepExports } from '../../src/exports/export-sweep.ts';
import { exportJobId, requestExport } from '../../src/exports/exports.service.ts';
import { createInvestigation } from '../../src/investigations/investigations.service.ts';
import { createUser } from '../../src/users/users.service.ts';
import { handle, type JobHandler } from '../../workers/handler.ts';
import { exportSweepJob } from '../../workers/jobs/export-sweep.job.ts';
import { startWorkers } from '../../workers/worker-runner.ts';
import { useTestContext, waitFor } from '../helpers/context.ts';
import { createIsolatedDatabase } from '../helpers/isolated-db.ts';

const blobDir = mkdtempSync(join(tmpdir(), 'claimtrail-export-sweep-'));
afterAll(() => rmSync(blobDir, { recursive: true, force: true }));
const ctx = useTestContext({
  DATABASE_URL: await createIsolatedDatabase('export_sweep'),
  REDIS_PREFIX: `${process.env.REDIS_PREFIX}:export-sweep`,
  BLOB_DIR: blobDir,
  // The scheduled sweep's first run is at once; a day keeps it to that one run.
  EXPORT_SWEEP_INTERVAL_MS: String(24 * 3600 * 1000),
});
const queue = ctx.queues.get('export');

const user = await createUser(ctx, { name: 'Sweep auditor', role: 'editor' }, 'system:test');
const p: Principal = { id: user.id, name: user.name, role: user.role };
const inv = await createInvestigation(ctx, p, { title: 'Exports to sweep' });

/** A requested export (its build job enqueued after the commit, as the API does). */
const newExport = async () => (await requestExport(ctx, p, { investigationId: inv.id, format: 'json' })).id;
const exportRow = async (id: string) =>
  (
    await ctx.pool.query<{ status: string; error: string | null }>(
      'SELECT status::text AS status, error FROM exports WHERE id = $1',
      [id],
    )
  ).rows[0]!;
const chain = async (id: string) =>
  (
    await ctx.pool.query<{ body: string }>(
      `SELECT body FROM ledger_events WHERE subject_type = 'export' AND subject_id = $1 ORDER BY seq`,
      [id],
    )
  ).rows.map((r) => JSON.parse(r.body) as { type: string; actor: string; data: unknown });
/** As if the process died after COMMIT, or Redis lost the job. */
const loseJob = async (id: string) => {
  await (await queue.getJob(exportJobId(id)))?.remove();
  expect(await queue.getJob(exportJobId(id))).toBeUndefined();
};
const age = (id: string, column: 'created_at' | 'started_at') =>
  ctx.pool.query(`UPDATE exports SET ${column} = ${column} - interval '1 minute' WHERE id = $1`, [id]);
const markRunning = (id: string) =>
  ctx.pool.query(
    `UPDATE exports SET status = 'running', started_at = now() - interval '1 minute' WHERE id = $1`,
    [id],
  );

describe('the export sweep', () => {
  const ids = { lost: '', vanished: '' };

  it('re-enqueues an export whose enqueue was lost, once it is 30 s old, and only once; the capture sweep leaves it alone', async () => {
    ids.lost = await newExport();
    expect(await queue.getJob(exportJobId(ids.lost))).toBeDefined();
    await loseJob(ids.lost);
    // Younger than 30 s: its enqueue may still be on its way.
    expect(await sweepExports(ctx)).toEqual({ requeued: 0, repaired: 0 });
    await age(ids.lost, 'created_at');
    // The capture sweep is the capture part's: it no longer repairs exports.
    await sweepCaptures(ctx);
    expect(await queue.getJob(exportJobId(ids.lost))).toBeUndefined();

    expect(await sweepExports(ctx)).toEqual({ requeued: 1, repaired: 0 });
    const job = await queue.getJob(exportJobId(ids.lost));
    expect(job?.name).toBe('export.build');
    expect(job?.data).toEqual({ exportId: ids.lost });
    expect(await job?.getState()).toBe('waiting');
    // Its job exists now: another sweep adds no second one.
    expect(await sweepExports(ctx)).toEqual({ requeued: 0, repaired: 0 });
    expect(await exportRow(ids.lost)).toMatchObject({ status: 'queued' });
  });

  it('records the failure of an export left running by a job that failed for good, once', async () => {
    const id = await newExport();
    // A build that BullMQ gave up on without our handler recording it (as when a worker is
    // killed more often than maxStalledCount): the job fails, the row stays running.
    const failing = handle('export.build', async () => {
      throw new UnrecoverableError('worker killed while building');
    });
    const workers = await startWorkers(ctx, {
      handlers: [failing as JobHandler],
      catalogueNames: ['export.build'],
      schedules: false,
    });
    try {
      await waitFor(async () =>
        (await queue.getJob(exportJobId(id)))?.getState().then((s) => s === 'failed'),
      );
    } finally {
      await workers.stop(Date.now() + 5_000);
    }
    await markRunning(id);

    // The first test's export, queued, had its waiting job failed by the same worker: a queued
    // row with a job is not this sweep's to touch.
    expect(await sweepExports(ctx)).toEqual({ requeued: 0, repaired: 1 });
    expect(await exportRow(id)).toEqual({ status: 'failed', error: 'worker killed while building' });
    const events = await chain(id);
    expect(events.map((e) => e.type)).toEqual(['export_requested', 'export_failed']);
    expect(events[1]).toMatchObject({
      actor: 'worker:export',
      data: { reason: 'worker killed while building' },
    });

    // Ended: neither another sweep nor another failure writes anything more.
    expect(await sweepExports(ctx)).toEqual({ requeued: 0, repaired: 0 });
    await failExport(ctx, id, 'a second failure');
    expect(await exportRow(id)).toEqual({ status: 'failed', error: 'worker killed while building' });
    expect((await chain(id)).map((e) => e.type)).toEqual(['export_requested', 'export_failed']);
  });

  it('re-enqueues an export left running whose job vanished', async () => {
    const id = await newExport();
    ids.vanished = id;
    await loseJob(id);
    await markRunning(id);
    expect(await sweepExports(ctx)).toEqual({ requeued: 0, repaired: 1 });
    expect(await queue.getJob(exportJobId(id))).toBeDefined();
    expect(await exportRow(id)).toMatchObject({ status: 'running' });
    expect((await chain(id)).map((e) => e.type)).toEqual(['export_requested']);
    expect(await sweepExports(ctx)).toEqual({ requeued: 0, repaired: 0 });
  });

  it('is scheduled by the worker process on the export queue, and its first run repairs a lost export', async () => {
    const id = await newExport();
    await loseJob(id);
    await age(id, 'created_at');
    const built: string[] = [];
    const build = handle('export.build', async ({ exportId }) => {
      built.push(exportId);
    });
    // The export part alone: no capture.sweep handler, so no capture sweep is scheduled.
    const workers = await startWorkers(ctx, {
      handlers: [exportSweepJob as JobHandler, build as JobHandler],
      catalogueNames: ['export.sweep', 'export.build'],
    });
    try {
      await waitFor(async () => built.includes(id), 15_000);
      expect(await queue.getJobScheduler('export-sweep')).toMatchObject({
        name: 'export.sweep',
        every: 24 * 3600 * 1000,
      });
      expect(await ctx.queues.get('capture').getJobScheduler('capture-sweep')).toBeUndefined();
    } finally {
      await workers.stop(Date.now() + 5_000);
      await queue.removeJobScheduler('export-sweep');
    }
    // The one other export with a waiting job was built too; those whose job failed were not.
    expect(built.sort()).toEqual([id, ids.vanished].sort());
  });
});
