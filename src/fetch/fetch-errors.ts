// The two ways an outbound fetch fails: refused for good (retrying cannot help) or transient
// (may work later). Every error of src/fetch is one of them; `detail` names no secret and no
// resolved internal address, so it may be stored as a capture's reason.

export type FetchRefusedCode =
  | 'bad_url'
  | 'bad_scheme'
  | 'forbidden_address'
  | 'too_many_redirects'
  | 'too_large'
  | 'unresolvable'
  | 'tls_error'
  | 'bad_response'
  | 'invalid_request';

export type FetchTransientCode =
  | 'timeout'
  | 'connect_timeout'
  | 'headers_timeout'
  | 'body_timeout'
  | 'connection_error'
  | 'truncated'
  | 'length_mismatch'
  | 'dns_error'
  | 'aborted'
  | 'server_error'
  | 'host_busy'
  | 'too_slow';

/** Base of both fetch errors. */
export abstract class FetchError<C extends string = string> extends Error {
  abstract readonly permanent: boolean;
  constructor(
    readonly code: C,
    readonly detail: string,
    options?: ErrorOptions,
  ) {
    super(detail, options);
  }
}

/** Permanent: retrying cannot help (forbidden address, bad scheme, too large...). */
export class FetchRefusedError extends FetchError<FetchRefusedCode> {
  override readonly name = 'FetchRefusedError';
  readonly permanent = true;
}

/**
 * May succeed later (timeouts, resets, truncated bodies). The fetcher never throws
 * `host_busy` (thrown by a capture whose host's share of slots is taken) nor
 * `server_error` itself: 5xx responses are returned, and a caller that wants to retry them
 * throws `new FetchTransientError('server_error', ...)`.
 */
export class FetchTransientError extends FetchError<FetchTransientCode> {
  override readonly name = 'FetchTransientError';
  readonly permanent = false;
}

const TLS_CODE = /^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_|HOSTNAME_MISMATCH)/;

function errorCode(err: unknown): string {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string')
    return err.code;
  return err instanceof Error ? err.name : 'unknown';
}

/**
 * Maps what net, tls or dns threw to a fetch error: before the response head (`connect`)
 * a connection failure, while reading the body a truncated one.
 */
export function socketFetchError(err: unknown, phase: 'connect' | 'body'): FetchError {
  if (err instanceof FetchError) return err;
  const code = errorCode(err);
  const options = { cause: err };
  switch (code) {
    case 'ENOTFOUND':
    case 'ENODATA':
      return new FetchRefusedError('unresolvable', 'host name does not resolve', options);
    case 'EAI_AGAIN':
      return new FetchTransientError('dns_error', 'temporary DNS failure', options);
  }
  if (TLS_CODE.test(code)) return new FetchRefusedError('tls_error', `TLS failure (${code})`, options);
  if (phase === 'body')
    return new FetchTransientError('truncated', `connection lost while reading the body (${code})`, options);
  return new FetchTransientError('connection_error', `connection failed (${code})`, options);
}
