// The one typed job catalogue: job name → queue, payload schema and retry policy. The API
// enqueues through it; the worker process refuses to start unless every name here has
// exactly one handler (workers/handlers.ts).
import { z } from 'zod';
import type { Config } from '../config/env.ts';

interface JobSpec<S extends z.ZodType> {
  queue: QueueName;
  schema: S;
  attempts: number;
  /** Exponential backoff base delay (ms); BullMQ doubles it on every retry. */
  backoffMs: number;
  /** A repeating job (payload `{}`): every worker process installs its scheduler entry, one
   * per name however many processes start (workers/worker-runner.ts), repeating this often. */
  everyMs?: (config: Config) => number;
}

export const queueNames = ['custody', 'capture', 'export'] as const;
export type QueueName = (typeof queueNames)[number];

const defineJob = <S extends z.ZodType>(spec: JobSpec<S>) => spec;

const subjectRef = z.strictObject({
  type: z.enum(['investigation', 'claim', 'source', 'export', 'user']),
  id: z.string().min(1).max(64),
});

export const jobCatalogue = {
  /** Recomputes one subject's hash chain and logs the verdict (used after imports and by
   * periodic audits); a broken chain fails the job with the first bad event as reason. */
  'custody.verify-subject': defineJob({
    queue: 'custody',
    schema: z.strictObject({ subject: subjectRef }),
    attempts: 3,
    backoffMs: 1_000,
  }),
  /** Fetches, preserves, describes and checks one source for one capture row. Idempotent:
   * the capture's recorded progress makes a second run add no second `fetched`/`stored`.
   * Refused fetches fail at once; transient errors (timeouts included) are retried with
   * exponential backoff. Every attempt first takes a slot of its host (src/queue/host-slots.ts),
   * so a host that always times out holds at most CAPTURE_PER_HOST_CONCURRENCY workers, each for
   * at most FETCH_HEADERS_TIMEOUT_MS per attempt; waiting for a slot uses no attempt. */
  'capture.source': defineJob({
    queue: 'capture',
    schema: z.strictObject({ captureId: z.uuid() }),
    attempts: 5,
    backoffMs: 2_000,
  }),
  /** Periodic (job scheduler): requests recaptures that are due and re-enqueues captures
   * whose enqueue was lost (the API commits the row first, then enqueues). */
  'capture.sweep': defineJob({
    queue: 'capture',
    schema: z.strictObject({}),
    attempts: 1,
    backoffMs: 1_000,
    everyMs: (c) => c.CAPTURE_SWEEP_INTERVAL_MS,
  }),
  /** Builds an export file (BagIt zip, JSON or CSV) and records it in the export's chain. */
  'export.build': defineJob({
    queue: 'export',
    schema: z.strictObject({ exportId: z.uuid() }),
    attempts: 3,
    backoffMs: 5_000,
  }),
  /** Periodic (job scheduler): re-enqueues exports whose enqueue was lost and records the
   * failure of builds BullMQ gave up on (src/exports/export-sweep.ts). A job of its own, on the
   * export queue: it runs whatever the capture queue's state, and fails or retries alone. */
  'export.sweep': defineJob({
    queue: 'export',
    schema: z.strictObject({}),
    attempts: 1,
    backoffMs: 1_000,
    everyMs: (c) => c.EXPORT_SWEEP_INTERVAL_MS,
  }),
};

export type JobName = keyof typeof jobCatalogue;
export type JobPayload<N extends JobName> = z.infer<(typeof jobCatalogue)[N]['schema']>;
export const jobNames = Object.keys(jobCatalogue) as JobName[];

/** The spec for a job name read back from Redis (untyped until its payload is parsed). */
export function findJobSpec(name: string): JobSpec<z.ZodType> | undefined {
  return Object.hasOwn(jobCatalogue, name)
    ? (jobCatalogue as Record<string, JobSpec<z.ZodType>>)[name]
    : undefined;
}
