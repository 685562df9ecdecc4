// The worker process: handlers bound to the job catalogue at startup, payloads checked
// before handlers run, and a shutdown that finishes the job in flight.
import { setTimeout as sleep } from 'node:timers/promises';
import { Job } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { handle, indexHandlers, type JobHandler } from '../../workers/handler.ts';
import { startWorkers } from '../../workers/worker-runner.ts';
import { useTestContext, waitFor } from '../helpers/context.ts';

// A key prefix of this file's own (inside the run's prefix, so the run's cleanup removes it):
// a worker started by another test file must not take these jobs.
const ctx = useTestContext({ REDIS_PREFIX: `${process.env.REDIS_PREFIX}:workers` });
const queue = () => ctx.queues.get('custody');

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

const noop = (name: string) => ({ name, run: async () => undefined }) as unknown as JobHandler;

/** Waits until the job is completed or failed; returns it and that state. */
async function settled(id: string) {
  let found: { job: Job; state: string } | undefined;
  await waitFor(async () => {
    // The state first: a job read before it settled would lack its failedReason.
    const state = await queue().getJobState(id);
    if (!['completed', 'failed'].includes(state)) return false;
    const job = await Job.fromId(queue(), id);
    if (job) found = { job, state };
    return found !== undefined;
  }, 15_000);
  return found!;
}

describe('indexHandlers', () => {
  const names = ['a.one', 'b.two'];

  it('binds every catalogued job to its handler', () => {
    const byName = indexHandlers(names, [noop('b.two'), noop('a.one')]);
    expect([...byName.keys()].sort()).toEqual(names);
  });

  it('refuses a catalogued job without a handler, naming it', () => {
    expect(() => indexHandlers(names, [noop('a.one')])).toThrow(/b\.two/);
  });

  it('refuses a job with two handlers', () => {
    expect(() => indexHandlers(names, [noop('a.one'), noop('b.two'), noop('a.one')])).toThrow(
      /"a\.one" has two handlers/,
    );
  });

  it('refuses a stray handler for a job not in the catalogue', () => {
    expect(() => indexHandlers(names, [noop('a.one'), noop('b.two'), noop('c.three')])).toThrow(
      /"c\.three".*not in the job catalogue/,
    );
  });

  it('the real handler list matches the real catalogue', async () => {
    const { handlers } = await import('../../workers/handlers.ts');
    const { jobNames } = await import('../../src/jobs/catalogue.ts');
    expect(() => indexHandlers(jobNames, handlers)).not.toThrow();
  });
});

describe('startWorkers', () => {
  it('refuses to start when a catalogued job has no handler, naming the job', async () => {
    await expect(startWorkers(ctx, { handlers: [] })).rejects.toThrow(/custody\.verify-subject/);
  });

  it('fails a job with an invalid payload or an unknown name at once, without running a handler', async () => {
    let calls = 0;
    const counting = handle('custody.verify-subject', async () => {
      calls++;
      return 'ran';
    });
    const component = await startWorkers(ctx, {
      handlers: [counting as JobHandler],
      catalogueNames: ['custody.verify-subject'],
    });
    try {
      // Straight to BullMQ, past the producer's validation, as an old or foreign producer might.
      const bad = await queue().add(
        'custody.verify-subject',
        { subject: { type: 'planet', id: 'x' } },
        { attempts: 3 },
      );
      const unknown = await queue().add('custody.no-such-job', {}, { attempts: 3 });
      const badDone = await settled(bad.id!);
      expect(badDone.state).toBe('failed');
      expect(badDone.job.failedReason).toMatch(/invalid payload/);
      expect(badDone.job.attemptsMade).toBe(1);
      const unknownDone = await settled(unknown.id!);
      expect(unknownDone.state).toBe('failed');
      expect(unknownDone.job.failedReason).toMatch(/no handler for job "custody\.no-such-job"/);
      expect(unknownDone.job.attemptsMade).toBe(1);
      expect(calls).toBe(0);
    } finally {
      await component.stop(Date.now() + 5_000);
    }
  });
});

describe('graceful shutdown', () => {
  it('finishes the job in flight before stop() resolves', async () => {
    const started = deferred();
    const slow = handle('custody.verify-subject', async () => {
      started.resolve();
      await sleep(1500);
      return 'done';
    });
    const component = await startWorkers(ctx, {
      handlers: [slow as JobHandler],
      catalogueNames: ['custody.verify-subject'],
    });
    const job = await ctx.queues.enqueue('custody.verify-subject', { subject: { type: 'user', id: 'x' } });
    await started.promise;
    await component.stop(Date.now() + 10_000);

    const after = await Job.fromId(queue(), job.id!);
    expect(await after?.getState()).toBe('completed');
    expect(after?.returnvalue).toBe('done');
  });

  // Not tested here: stop() at a deadline shorter than the job. stop() does return at the
  // deadline (pause, race, close(true)), and run alone a test showed a second worker retrying
  // the job after its lock expired; but inside this file the abandoned job stayed `active`
  // (its lock apparently still renewed in-process). In production the process exits after
  // stop(), which ends any renewal. To be investigated before relying on in-process restarts.
});
