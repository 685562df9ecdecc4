// Timestamp outcomes counted across processes: the sequencer process has no HTTP server, so it
// counts in Redis (one hash) and the API's /metrics reads the hash at scrape time — as the
// claimtrail_jobs gauge reads BullMQ's counts from Redis.
import type { Redis } from 'ioredis';
import { Counter, type Registry } from 'prom-client';

const key = (prefix: string) => `${prefix}:metrics:timestamps`;
const SEP = '\t';

export interface TimestampCounters {
  /** outcome: stored | refused | failed; reason: why (empty when stored). */
  count(tsa: string, outcome: string, reason: string): Promise<void>;
}

export function redisTimestampCounters(redis: Redis, prefix: string): TimestampCounters {
  return {
    async count(tsa, outcome, reason) {
      await redis.hincrby(key(prefix), [tsa, outcome, reason].join(SEP), 1);
    },
  };
}

/** Registers claimtrail_timestamp_requests_total{tsa,outcome,reason} on the API's registry. */
export function registerTimestampMetrics(registry: Registry, redis: Redis, prefix: string): void {
  new Counter({
    name: 'claimtrail_timestamp_requests_total',
    help: 'RFC 3161 timestamp requests by TSA and outcome (stored, refused: the reply failed a check, failed: no usable reply), with the reason',
    labelNames: ['tsa', 'outcome', 'reason'] as const,
    registers: [registry],
    async collect() {
      // Redis being down must not fail the whole scrape: the counter is simply absent.
      const all = await redis.hgetall(key(prefix)).catch(() => undefined);
      this.reset();
      for (const [field, value] of Object.entries(all ?? {})) {
        const [tsa = '', outcome = '', reason = ''] = field.split(SEP);
        this.inc({ tsa, outcome, reason }, Number(value));
      }
    },
  });
}
