// The timestamper: beside the sequencer (same process, same lease), asks every configured TSA
// to timestamp the latest signed checkpoint when it has grown since that TSA's last timestamp,
// at most every TIMESTAMP_EVERY_SECONDS per TSA. It runs on its own timer, never inside a
// batch: a slow or failing TSA delays nothing in the log. A failure is logged, counted and
// retried with exponential backoff (capped at the interval).
import type pg from 'pg';
import type { Logger } from 'pino';
import type { GuardedFetcher } from '../../fetch/guarded-fetcher.ts';
import { sleeper } from '../../lib/sleeper.ts';
import { latestCheckpoint } from '../../log/log.repository.ts';
import type { TimestampCounters } from './timestamp-metrics.ts';
import { insertTimestamp, lastTimestampOf } from './timestamp-store.ts';
import { requestTimestamp, TimestampFailure } from './tsa-client.ts';

export interface TimestamperDeps {
  pool: pg.Pool;
  log: Logger;
  fetcher: GuardedFetcher;
  tsaUrls: readonly string[];
  /** TSA_CA_FILE's certificates, DER. */
  anchors: readonly Buffer[];
  everyMs: number;
  counters: TimestampCounters;
  /** How often to look whether the checkpoint grew (default 5 s, never above everyMs). */
  pollMs?: number;
  /** First retry delay after a failure (doubles per failure, capped at everyMs). Default 10 s. */
  retryMs?: number;
}

interface TsaState {
  failures: number;
  notBefore: number;
}

/** One pass for one TSA: request and store when due. Exported for tests. */
export async function timestampIfDue(deps: TimestamperDeps, tsaUrl: string, state: TsaState): Promise<void> {
  const now = Date.now();
  if (now < state.notBefore) return;
  const latest = await latestCheckpoint(deps.pool);
  const last = await lastTimestampOf(deps.pool, tsaUrl);
  // The empty tree anchors nothing; an unchanged checkpoint needs no second timestamp.
  if (!latest || latest.size === 0 || (last && latest.size <= last.size)) return;
  if (last && now < last.storedAt.getTime() + deps.everyMs) {
    state.notBefore = last.storedAt.getTime() + deps.everyMs;
    return;
  }
  try {
    const t = await requestTimestamp(deps.fetcher, tsaUrl, latest.note, deps.anchors);
    await insertTimestamp(deps.pool, {
      checkpointSize: latest.size,
      rootHash: latest.rootHash,
      tsaUrl,
      genTime: t.genTime,
      token: t.token,
      chain: t.chain,
      digest: t.digest,
    });
    state.failures = 0;
    state.notBefore = Date.now() + deps.everyMs;
    deps.log.info(
      { tsa: tsaUrl, size: latest.size, genTime: t.genTime, tsaSubject: t.tsaSubject },
      'checkpoint timestamped',
    );
    await deps.counters.count(tsaUrl, 'stored', '').catch(() => {});
  } catch (err) {
    const failure =
      err instanceof TimestampFailure ? err : new TimestampFailure('failed', 'error', (err as Error).message);
    state.failures++;
    const delay = Math.min(deps.everyMs, (deps.retryMs ?? 10_000) * 2 ** (state.failures - 1));
    state.notBefore = Date.now() + delay;
    deps.log.warn(
      {
        tsa: tsaUrl,
        size: latest.size,
        outcome: failure.outcome,
        reason: failure.reason,
        err: failure.message,
        retryInMs: delay,
      },
      'checkpoint timestamp failed; retrying later',
    );
    await deps.counters.count(tsaUrl, failure.outcome, failure.reason).catch(() => {});
  }
}

/** Starts the loop once `active` resolves (this process holds the sequencer lease). */
export function runTimestamper(deps: TimestamperDeps, active: Promise<void>): { stop(): Promise<void> } {
  let stopped = false;
  const { sleep, until, wakeAll } = sleeper();
  const pollMs = Math.min(deps.pollMs ?? 5_000, deps.everyMs);
  const states = new Map(deps.tsaUrls.map((u) => [u, { failures: 0, notBefore: 0 }]));
  const loop = (async () => {
    await until(active);
    while (!stopped) {
      // TSAs in parallel: one slow authority does not hold back the others.
      await Promise.all(
        [...states].map(([url, state]) =>
          timestampIfDue(deps, url, state).catch((err) =>
            deps.log.error({ tsa: url, err: (err as Error).message }, 'timestamper error'),
          ),
        ),
      );
      if (!stopped) await sleep(pollMs);
    }
  })();
  return {
    async stop() {
      stopped = true;
      wakeAll();
      await loop;
    },
  };
}
