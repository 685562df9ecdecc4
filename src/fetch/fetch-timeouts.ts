// The one place where the fetch timeout policy is read from the configuration. Each phase of a
// fetch has its own small bound, so a server that accepts and never answers (or stops sending)
// frees its worker in seconds, while the total bound stays large enough for big files.
import type { Config } from '../config/env.ts';

export interface FetchTimeouts {
  /** One TCP/TLS connect, and one DNS lookup. */
  connectTimeoutMs: number;
  /** From sending the request to the end of the response head. */
  headersTimeoutMs: number;
  /** Longest pause between two reads of the body. */
  idleTimeoutMs: number;
  /** Everything: DNS, connects, redirects and the body to its last byte. */
  totalTimeoutMs: number;
  /** Least average body rate over each idle-timeout-long window (0: none). */
  minBytesPerSecond: number;
}

export function fetchTimeouts(
  config: Pick<
    Config,
    | 'FETCH_CONNECT_TIMEOUT_MS'
    | 'FETCH_HEADERS_TIMEOUT_MS'
    | 'FETCH_IDLE_TIMEOUT_MS'
    | 'FETCH_TIMEOUT_MS'
    | 'FETCH_MIN_BYTES_PER_SECOND'
  >,
): FetchTimeouts {
  return {
    connectTimeoutMs: config.FETCH_CONNECT_TIMEOUT_MS,
    headersTimeoutMs: config.FETCH_HEADERS_TIMEOUT_MS,
    idleTimeoutMs: config.FETCH_IDLE_TIMEOUT_MS,
    totalTimeoutMs: config.FETCH_TIMEOUT_MS,
    minBytesPerSecond: config.FETCH_MIN_BYTES_PER_SECOND,
  };
}
