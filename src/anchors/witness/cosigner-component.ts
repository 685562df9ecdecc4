// The cosigner's part of the sequencer process (hooked in src/processes/sequencer.ts): asks
// the WITNESSES for cosignatures once this process holds the sequencer lease.
import type { Config } from '../../config/env.ts';
import type { AppContext } from '../../context.ts';
import { createGuardedFetcher } from '../../fetch/guarded-fetcher.ts';
import { MAX_ANSWER_BYTES } from './cosign-client.ts';
import { type CosignerLoop, startCosigner } from './cosigner.ts';
import { redisWitnessStats } from './witness-stats.ts';

/** The fetcher for witness requests: the same address policy as every outbound request
 * (FETCH_ALLOWLIST opens loopback witnesses for tests), witness-sized limits. */
export function witnessFetcher(config: Config) {
  return createGuardedFetcher({
    allowlist: config.FETCH_ALLOWLIST,
    maxBytes: MAX_ANSWER_BYTES,
    connectTimeoutMs: Math.min(config.FETCH_CONNECT_TIMEOUT_MS, config.WITNESS_TIMEOUT_MS),
    totalTimeoutMs: config.WITNESS_TIMEOUT_MS,
    maxRedirects: 0,
    userAgent: 'claimtrail-cosigner',
  });
}

/** Starts cosigning when `active` resolves (never, if WITNESSES is empty); stop() ends it. */
export function cosignWhenActive(ctx: AppContext, verifierKey: string, active: Promise<void>) {
  const { config } = ctx;
  if (config.WITNESSES.length === 0) return { stop: async () => {} };
  const log = ctx.log.child({ component: 'cosigner' });
  let loop: CosignerLoop | undefined;
  let stopped = false;
  void active.then(() => {
    if (stopped) return;
    loop = startCosigner({
      pool: ctx.pool,
      log,
      fetcher: witnessFetcher(config),
      witnesses: config.WITNESSES,
      logVerifierKey: verifierKey,
      stats: redisWitnessStats(ctx.redis, config.REDIS_PREFIX, log),
      intervalMs: config.SEQUENCER_INTERVAL_MS,
    });
    log.info({ witnesses: config.WITNESSES.map((w) => w.name) }, 'asking witnesses to cosign checkpoints');
  });
  return {
    async stop() {
      stopped = true;
      await loop?.stop();
    },
  };
}
