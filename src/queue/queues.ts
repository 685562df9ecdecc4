// Producer side of the job catalogue: one BullMQ Queue per queue name, payloads validated
// before they reach Redis, bounded retention of finished jobs.
import { type JobsOptions, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import {
  type JobName,
  type JobPayload,
  jobCatalogue,
  type QueueName,
  queueNames,
} from '../jobs/catalogue.ts';

export const retention = {
  removeOnComplete: { count: 1_000, age: 24 * 3600 },
  removeOnFail: { count: 10_000, age: 14 * 24 * 3600 },
} as const;

export class Queues {
  private readonly queues: Map<QueueName, Queue>;

  constructor(connection: Redis, prefix: string) {
    this.queues = new Map(queueNames.map((name) => [name, new Queue(name, { connection, prefix })]));
  }

  get(name: QueueName): Queue {
    const q = this.queues.get(name);
    if (!q) throw new Error(`unknown queue ${name}`);
    return q;
  }

  all(): Queue[] {
    return [...this.queues.values()];
  }

  /** Validates the payload against the catalogue and adds the job. `jobId` makes the add
   * idempotent (BullMQ ignores a second add with the same id while the first is kept). */
  async enqueue<N extends JobName>(name: N, payload: JobPayload<N>, opts: JobsOptions = {}) {
    const spec = jobCatalogue[name];
    const data = spec.schema.parse(payload);
    return this.get(spec.queue).add(name, data, {
      attempts: spec.attempts,
      backoff: { type: 'exponential', delay: spec.backoffMs },
      ...retention,
      ...opts,
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.all().map((q) => q.close()));
  }
}
