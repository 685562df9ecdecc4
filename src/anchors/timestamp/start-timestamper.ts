// Wires the timestamper into the sequencer process from the configuration: nothing runs when
// TSA_URLS is empty; an unreadable or empty TSA_CA_FILE stops the process at startup.
import { readFileSync } from 'node:fs';
import type { AppContext } from '../../context.ts';
import { fetchTimeouts } from '../../fetch/fetch-timeouts.ts';
import { createGuardedFetcher } from '../../fetch/guarded-fetcher.ts';
import { redisTimestampCounters } from './timestamp-metrics.ts';
import { runTimestamper } from './timestamper.ts';
import { certificatesFromPem } from './tsa-verify.ts';

/** The trust anchors of TSA_CA_FILE, DER; throws naming the file when it holds none. */
export function loadTsaAnchors(file: string): Buffer[] {
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`TSA_CA_FILE ${file}: ${(err as Error).message}`);
  }
  const anchors = certificatesFromPem(pem);
  if (anchors.length === 0) throw new Error(`TSA_CA_FILE ${file} holds no PEM certificate`);
  return anchors;
}

/** Starts timestamping once `active` (the sequencer lease) resolves; undefined when off. */
export function startTimestamper(ctx: AppContext, active: Promise<void>) {
  const { config } = ctx;
  if (config.TSA_URLS.length === 0) return undefined;
  const anchors = loadTsaAnchors(config.TSA_CA_FILE);
  const timestamper = runTimestamper(
    {
      pool: ctx.pool,
      log: ctx.log.child({ component: 'timestamper' }),
      fetcher: createGuardedFetcher({
        allowlist: config.FETCH_ALLOWLIST,
        maxBytes: 1024 * 1024,
        ...fetchTimeouts(config),
        // A TSA answers in seconds or not at all: no capture-sized total budget.
        totalTimeoutMs: Math.min(config.FETCH_TIMEOUT_MS, 60_000),
        maxRedirects: 0,
        userAgent: 'claimtrail-timestamper/0.1 (+https://github.com/claimtrail)',
      }),
      tsaUrls: config.TSA_URLS,
      anchors,
      everyMs: config.TIMESTAMP_EVERY_SECONDS * 1000,
      counters: redisTimestampCounters(ctx.redis, config.REDIS_PREFIX),
    },
    active,
  );
  ctx.log.info(
    { tsas: config.TSA_URLS, everySeconds: config.TIMESTAMP_EVERY_SECONDS },
    'timestamper started',
  );
  return timestamper;
}
