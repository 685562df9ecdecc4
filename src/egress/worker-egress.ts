// The egress proxy a worker process starts for the outside tools it runs (the capture browser,
// yt-dlp): loopback, random port, FETCH_ALLOWLIST, the fetch timeouts and FETCH_MAX_BYTES per
// session — exactly the fetcher's policy.
import type { Logger } from 'pino';
import type { Config } from '../config/env.ts';
import { fetchTimeouts } from '../fetch/fetch-timeouts.ts';
import { type EgressProxy, startEgressProxy } from './egress-proxy.ts';

export function startWorkerEgress(
  config: Pick<
    Config,
    | 'FETCH_ALLOWLIST'
    | 'FETCH_MAX_BYTES'
    | 'FETCH_CONNECT_TIMEOUT_MS'
    | 'FETCH_HEADERS_TIMEOUT_MS'
    | 'FETCH_IDLE_TIMEOUT_MS'
    | 'FETCH_TIMEOUT_MS'
    | 'FETCH_MIN_BYTES_PER_SECOND'
  >,
  log: Logger,
): Promise<EgressProxy> {
  return startEgressProxy({
    allowlist: config.FETCH_ALLOWLIST,
    timeouts: fetchTimeouts(config),
    maxBytes: config.FETCH_MAX_BYTES,
    log,
  });
}
