// Witness counters for /metrics. Cosignatures are requested in the sequencer process but
// /metrics is served by the API processes, so the counts live in one Redis hash (like the job
// counts BullMQ keeps there) and are read at scrape time.
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import type { CosignFailure } from './cosign-client.ts';

const statsKey = (prefix: string) => `${prefix}:witness:stats`;
const SEP = '\u001f'; // a witness name holds no control character

export interface WitnessStats {
  obtained(witness: string): void;
  failed(witness: string, reason: CosignFailure): void;
  fork(witness: string): void;
}

/** Counting never holds up or fails the cosigner: a Redis outage loses counts, not cosignatures. */
export function redisWitnessStats(redis: Redis, prefix: string, log: Logger): WitnessStats {
  const inc = (...field: string[]) => {
    redis.hincrby(statsKey(prefix), field.join(SEP), 1).catch((err: Error) => {
      log.debug({ err: err.message }, 'witness stats not counted');
    });
  };
  return {
    obtained: (w) => inc('obtained', w),
    failed: (w, reason) => inc('failed', w, reason),
    fork: (w) => inc('fork', w),
  };
}

/** Registers claimtrail_witness_cosignatures_total{witness,outcome,reason} and
 * claimtrail_witness_forks_total{witness}, read from Redis at scrape time. */
export function registerWitnessMetrics(registry: Registry, redis: Redis, prefix: string): void {
  let counts: Promise<Record<string, string> | undefined> | undefined;
  // One HGETALL per scrape, shared by both collectors.
  const read = () => {
    counts ??= redis
      .hgetall(statsKey(prefix))
      .catch(() => undefined)
      .finally(() => setImmediate(() => (counts = undefined)));
    return counts;
  };
  new Counter({
    name: 'claimtrail_witness_cosignatures_total',
    help: 'Cosignature requests to witnesses by outcome (obtained, failed) and failure reason',
    labelNames: ['witness', 'outcome', 'reason'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      for (const [field, n] of Object.entries((await read()) ?? {})) {
        const [kind, witness = '', reason = ''] = field.split(SEP);
        if (kind === 'obtained' || kind === 'failed') this.inc({ witness, outcome: kind, reason }, Number(n));
      }
    },
  });
  new Counter({
    name: 'claimtrail_witness_forks_total',
    help: 'Times a witness showed a view of this log that is not our tree (logged at error level)',
    labelNames: ['witness'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      for (const [field, n] of Object.entries((await read()) ?? {})) {
        const [kind, witness = ''] = field.split(SEP);
        if (kind === 'fork') this.inc({ witness }, Number(n));
      }
    },
  });
}
