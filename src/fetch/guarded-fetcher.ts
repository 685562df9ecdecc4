// Outbound HTTP for URLs users typed (DESIGN.md, "Fetching untrusted URLs"). Modelled on
// outline's server/utils/fetch.ts: resolve the name ourselves, check every resolved address,
// connect to the checked IP literal (TLS still verifies the original hostname), and check
// the socket's real remote address once more. One undici Client per hop, so the address a
// response came from is known exactly; redirects are followed here, hop by hop, so each
// one goes through the same check before any byte is sent.
import { promises as dns } from 'node:dns';
import type { Socket } from 'node:net';
import net from 'node:net';
import { buildConnector, Client, type Dispatcher } from 'undici';
import { type Allowlist, checkTarget, parseAllowlist, sameAddress } from './address-policy.ts';

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
  | 'server_error';

/** Base of both fetch errors. `detail` names no secret and may be stored as the reason. */
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
 * `server_error` itself: 5xx responses are returned, and a caller that wants to retry them
 * throws `new FetchTransientError('server_error', ...)`.
 */
export class FetchTransientError extends FetchError<FetchTransientCode> {
  override readonly name = 'FetchTransientError';
  readonly permanent = false;
}

export interface GuardedFetcherOptions {
  /** Entries for parseAllowlist: `host:port`, `[v6]:port`, CIDR or bare IP. */
  allowlist: readonly string[];
  maxBytes: number;
  connectTimeoutMs: number;
  /** Everything: DNS, connects, redirects and reading the final body to its end. */
  totalTimeoutMs: number;
  /**
   * Wait for response headers, and longest pause between body chunks. Default totalTimeoutMs.
   * undici checks it on a coarse (~0.5 s) clock, so a 300 ms value fires within about 1 s.
   */
  headersTimeoutMs?: number;
  maxRedirects?: number;
  userAgent: string;
  /** Name resolution; default dns.lookup({ all: true }). Injectable to stage DNS answers. */
  resolve?: (hostname: string) => Promise<string[]>;
}

export interface FetchOptions {
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

export interface RedirectHop {
  /** The URL that answered with a redirect. */
  url: string;
  status: number;
}

/**
 * A response whose body is still to be read. The byte limit, the total timeout and the
 * Content-Length check apply while the caller iterates `body` (once); its errors are
 * FetchRefusedError / FetchTransientError. Any status is returned, 4xx and 5xx included.
 * A caller that does not read the body calls `discard()`.
 */
export interface GuardedResponse {
  finalUrl: string;
  status: number;
  /** Lower-case names; a repeated header is joined with ', '. */
  headers: Record<string, string>;
  redirects: RedirectHop[];
  /** The IP the final response came from, as the socket reports it. */
  remoteAddress: string;
  /** Declared Content-Length, if any (already known to be within maxBytes). */
  contentLength: number | undefined;
  body: AsyncIterable<Buffer>;
  discard(): Promise<void>;
}

export interface GuardedFetcher {
  fetch(url: string, opts?: FetchOptions): Promise<GuardedResponse>;
}

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
const CREDENTIAL_HEADERS = ['authorization', 'cookie', 'proxy-authorization'];
const TLS_CODE = /^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_|HOSTNAME_MISMATCH)/;
const noop = () => {};

interface Hop {
  client: Client;
  res: Dispatcher.ResponseData;
  remoteAddress: string;
  /** The connection spoke broken HTTP after (or while) delivering this response. */
  protocolError: boolean;
}

/** One fetch's deadline and cancellation; `end()` is idempotent. */
class FetchScope {
  readonly controller = new AbortController();
  timedOut = false;
  cancelled = false;
  ended = false;
  hop: Hop | undefined;
  private readonly timer: NodeJS.Timeout;
  private readonly onCallerAbort = () => {
    this.cancelled = true;
    this.abort(new FetchTransientError('aborted', 'fetch cancelled by the caller'));
  };

  constructor(
    totalTimeoutMs: number,
    private readonly callerSignal: AbortSignal | undefined,
  ) {
    this.timer = setTimeout(() => {
      this.timedOut = true;
      this.abort(new FetchTransientError('timeout', `no complete response within ${totalTimeoutMs} ms`));
    }, totalTimeoutMs);
    this.timer.unref();
    if (callerSignal?.aborted) this.onCallerAbort();
    else callerSignal?.addEventListener('abort', this.onCallerAbort, { once: true });
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  private abort(reason: FetchTransientError): void {
    this.controller.abort(reason);
    // undici fails the request / body with the reason; then nothing of this fetch stays open.
    queueMicrotask(() => this.end());
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.timer);
    this.callerSignal?.removeEventListener('abort', this.onCallerAbort);
    if (this.hop) closeHop(this.hop);
  }
}

function closeHop(hop: Hop): void {
  hop.res.body.on('error', noop);
  if (!hop.res.body.destroyed) hop.res.body.destroy();
  hop.client.destroy().catch(noop);
}

function parseTarget(raw: string, base?: URL): URL {
  let url: URL;
  try {
    url = new URL(raw, base);
  } catch {
    throw new FetchRefusedError('bad_url', base ? 'redirect Location is not a valid URL' : 'not a valid URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    const what = base ? 'redirect to a' : 'only http: and https: are fetched, not';
    throw new FetchRefusedError('bad_scheme', `${what} ${url.protocol} URL`);
  }
  if (url.username || url.password) {
    throw new FetchRefusedError('bad_url', 'URLs with embedded credentials are not fetched');
  }
  url.hash = '';
  return url;
}

function flattenHeaders(headers: Dispatcher.ResponseData['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

function errorCode(err: unknown): string {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string')
    return err.code;
  return err instanceof Error ? err.name : 'unknown';
}

/** Maps whatever undici, net, tls or dns threw to one of the two typed errors. */
function toFetchError(err: unknown, scope: FetchScope, phase: 'request' | 'body'): FetchError {
  if (err instanceof FetchError) return err;
  if (scope.timedOut) return new FetchTransientError('timeout', 'total timeout reached', { cause: err });
  if (scope.cancelled)
    return new FetchTransientError('aborted', 'fetch cancelled by the caller', { cause: err });
  const code = errorCode(err);
  const options = { cause: err };
  switch (code) {
    case 'UND_ERR_CONNECT_TIMEOUT':
      return new FetchTransientError('connect_timeout', 'connect timed out', options);
    case 'UND_ERR_HEADERS_TIMEOUT':
      return new FetchTransientError('headers_timeout', 'no response headers in time', options);
    case 'UND_ERR_BODY_TIMEOUT':
      return new FetchTransientError('body_timeout', 'body stalled', options);
    case 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH':
      return new FetchTransientError('truncated', 'body length differs from its Content-Length', options);
    case 'UND_ERR_INVALID_ARG':
      return new FetchRefusedError('invalid_request', 'request rejected by the HTTP client', options);
    case 'UND_ERR_HEADERS_OVERFLOW':
      return new FetchRefusedError('bad_response', 'response headers too large', options);
    case 'ENOTFOUND':
    case 'ENODATA':
      return new FetchRefusedError('unresolvable', 'host name does not resolve', options);
    case 'EAI_AGAIN':
      return new FetchTransientError('dns_error', 'temporary DNS failure', options);
  }
  if (code.startsWith('HPE_')) {
    return new FetchRefusedError('bad_response', `malformed HTTP response (${code})`, options);
  }
  if (TLS_CODE.test(code)) return new FetchRefusedError('tls_error', `TLS failure (${code})`, options);
  if (phase === 'body') {
    return new FetchTransientError('truncated', `connection lost while reading the body (${code})`, options);
  }
  return new FetchTransientError('connection_error', `connection failed (${code})`, options);
}

/** Bytes the parser could not take as a response: surplus body, garbage, a second response. */
function isFramingError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = errorCode(err);
  return code.startsWith('HPE_') || (code === 'UND_ERR_SOCKET' && err.message === 'bad response');
}

function withDeadline<T>(work: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}

async function defaultResolve(hostname: string): Promise<string[]> {
  const answers = await dns.lookup(hostname, { all: true, verbatim: true });
  return answers.map((a) => a.address);
}

/** Builds the fetcher; throws AllowlistError on a bad allow-list entry (a startup error). */
export function createGuardedFetcher(options: GuardedFetcherOptions): GuardedFetcher {
  const allowlist: Allowlist = parseAllowlist(options.allowlist);
  const { maxBytes, connectTimeoutMs, totalTimeoutMs, userAgent } = options;
  const headersTimeoutMs = options.headersTimeoutMs ?? totalTimeoutMs;
  const maxRedirects = options.maxRedirects ?? 5;
  const resolve = options.resolve ?? defaultResolve;
  const baseConnector = buildConnector({ timeout: connectTimeoutMs });

  const connectRaw = (opts: buildConnector.Options): Promise<Socket> =>
    new Promise((ok, fail) => {
      baseConnector(opts, (err, socket) => (err ? fail(err) : ok(socket)));
    });

  /** Resolve, refuse if any address is not allowed, connect to a checked literal, re-check. */
  async function connectChecked(
    opts: buildConnector.Options,
    scope: FetchScope,
    onSocket: (address: string, socket: Socket) => void,
  ): Promise<Socket> {
    const hostname = opts.hostname;
    const port = opts.port ? Number(opts.port) : opts.protocol === 'https:' ? 443 : 80;
    const literal = net.isIP(hostname) !== 0;
    const addresses = literal
      ? [hostname]
      : await withDeadline(
          resolve(hostname),
          connectTimeoutMs,
          () => new FetchTransientError('dns_error', 'DNS lookup timed out'),
        );
    if (addresses.length === 0) throw new FetchRefusedError('unresolvable', 'host name has no addresses');
    for (const address of addresses) {
      const verdict = checkTarget(allowlist, { address, port, hostname });
      if (!verdict.allowed) {
        // A hostname's resolved address is left out of the detail: no internal-DNS oracle.
        const subject = literal ? `${hostname} is` : `${hostname} resolves to`;
        throw new FetchRefusedError(
          'forbidden_address',
          `${subject} a ${verdict.range} address; not fetched`,
        );
      }
    }
    let lastError: unknown;
    for (const address of addresses) {
      if (scope.signal.aborted) throw scope.signal.reason;
      let socket: Socket;
      try {
        socket = await connectRaw({ ...opts, hostname: address });
      } catch (err) {
        lastError = err;
        continue;
      }
      const remote = socket.remoteAddress;
      const verdict = remote ? checkTarget(allowlist, { address: remote, port, hostname }) : undefined;
      if (!remote || !verdict?.allowed || !sameAddress(remote, address)) {
        socket.destroy();
        throw new FetchRefusedError(
          'forbidden_address',
          `${hostname}: connected address failed the re-check`,
        );
      }
      onSocket(remote, socket);
      return socket;
    }
    throw lastError;
  }

  async function sendHop(url: URL, headers: Record<string, string>, scope: FetchScope): Promise<Hop> {
    const state: { remoteAddress: string; socket: Socket | undefined; protocolError: boolean } = {
      remoteAddress: '',
      socket: undefined,
      protocolError: false,
    };
    const client = new Client(url.origin, {
      connect: (opts, callback) => {
        connectChecked(opts, scope, (address, socket) => {
          state.remoteAddress = address;
          state.socket = socket;
        }).then(
          (socket) => callback(null, socket),
          (err: unknown) => callback(err instanceof Error ? err : new Error(String(err)), null),
        );
      },
      headersTimeout: headersTimeoutMs,
      bodyTimeout: headersTimeoutMs,
      pipelining: 1,
    });
    client.on('disconnect', (_origin, _targets, err) => {
      if (isFramingError(err)) state.protocolError = true;
    });
    try {
      const res = await client.request({
        path: `${url.pathname}${url.search}`,
        method: 'GET',
        headers,
        signal: scope.signal,
        // undici pauses the socket once 64 KiB are buffered (its default), stalling the
        // sender while the blob store writes; 1 MiB keeps big downloads streaming.
        highWaterMark: 1 << 20,
      });
      const hop: Hop = {
        client,
        res,
        get remoteAddress() {
          return state.remoteAddress;
        },
        get protocolError() {
          // undici destroys the socket synchronously when bytes follow the end of the body in
          // the same read; the 'disconnect' event would only come a tick later.
          return state.protocolError || isFramingError(state.socket?.errored);
        },
      };
      scope.hop = hop;
      return hop;
    } catch (err) {
      client.destroy().catch(noop);
      throw err;
    }
  }

  async function* readBody(
    hop: Hop,
    declared: number | undefined,
    scope: FetchScope,
  ): AsyncGenerator<Buffer> {
    let received = 0;
    try {
      if (scope.ended) {
        throw scope.signal.aborted
          ? toFetchError(scope.signal.reason, scope, 'body')
          : new FetchTransientError('aborted', 'response body was discarded');
      }
      const chunks: AsyncIterator<unknown> = hop.res.body[Symbol.asyncIterator]();
      for (;;) {
        let step: IteratorResult<unknown>;
        try {
          step = await chunks.next();
        } catch (err) {
          throw toFetchError(err, scope, 'body');
        }
        if (step.done) break;
        const chunk = Buffer.isBuffer(step.value) ? step.value : Buffer.from(step.value as Uint8Array);
        received += chunk.length;
        if (received > maxBytes) {
          throw new FetchRefusedError('too_large', `body exceeds the ${maxBytes}-byte limit`);
        }
        if (declared !== undefined && received > declared) {
          throw new FetchTransientError('length_mismatch', `body longer than its Content-Length ${declared}`);
        }
        yield chunk;
      }
      if (declared !== undefined && received !== declared) {
        throw new FetchTransientError(
          'truncated',
          `body of ${received} bytes, Content-Length said ${declared}`,
        );
      }
      if (hop.protocolError) {
        throw new FetchTransientError('length_mismatch', 'bytes after the declared end of the body');
      }
    } finally {
      scope.end();
    }
  }

  function toResponse(url: URL, hop: Hop, redirects: RedirectHop[], scope: FetchScope): GuardedResponse {
    const status = hop.res.statusCode;
    const headers = flattenHeaders(hop.res.headers);
    const lengthHeader = headers['content-length'];
    const bodyless = status === 204 || status === 304;
    const declared =
      !bodyless && lengthHeader && /^\d+$/.test(lengthHeader) ? Number(lengthHeader) : undefined;
    if (declared !== undefined && declared > maxBytes) {
      throw new FetchRefusedError(
        'too_large',
        `Content-Length ${declared} exceeds the ${maxBytes}-byte limit`,
      );
    }
    return {
      finalUrl: url.href,
      status,
      headers,
      redirects,
      remoteAddress: hop.remoteAddress,
      contentLength: declared,
      body: readBody(hop, declared, scope),
      discard: async () => scope.end(),
    };
  }

  async function fetch(rawUrl: string, opts: FetchOptions = {}): Promise<GuardedResponse> {
    const scope = new FetchScope(totalTimeoutMs, opts.signal);
    try {
      let url = parseTarget(rawUrl);
      let headers: Record<string, string> = {
        'user-agent': userAgent,
        accept: '*/*',
        'accept-encoding': 'identity',
      };
      for (const [name, value] of Object.entries(opts.headers ?? {})) {
        if (name.toLowerCase() !== 'host') headers[name.toLowerCase()] = value;
      }
      const redirects: RedirectHop[] = [];
      for (;;) {
        if (scope.signal.aborted) throw scope.signal.reason;
        const hop = await sendHop(url, headers, scope);
        const location = hop.res.headers.location;
        const target = Array.isArray(location) ? location[0] : location;
        if (!REDIRECT_STATUSES.has(hop.res.statusCode) || target === undefined) {
          return toResponse(url, hop, redirects, scope);
        }
        closeHop(hop);
        scope.hop = undefined;
        if (redirects.length >= maxRedirects) {
          throw new FetchRefusedError('too_many_redirects', `more than ${maxRedirects} redirects`);
        }
        redirects.push({ url: url.href, status: hop.res.statusCode });
        const next = parseTarget(target, url);
        if (next.origin !== url.origin) {
          headers = Object.fromEntries(
            Object.entries(headers).filter(([n]) => !CREDENTIAL_HEADERS.includes(n)),
          );
        }
        url = next;
      }
    } catch (err) {
      scope.end();
      throw toFetchError(err, scope, 'request');
    }
  }

  return { fetch };
}
