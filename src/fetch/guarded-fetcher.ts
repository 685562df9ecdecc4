// Outbound HTTP for URLs users typed (DESIGN.md, "Fetching untrusted URLs"). Modelled on
// outline's server/utils/fetch.ts: resolve the name ourselves, check every resolved address,
// connect to the checked IP literal (TLS still verifies the original hostname), and check
// the socket's real remote address once more. One connection per hop, so the address a
// response came from is known exactly; redirects are followed here, hop by hop, so each
// one goes through the same check before any byte is sent. The HTTP/1.1 exchange itself is
// http1-exchange.ts.
import { promises as dns } from 'node:dns';
import net, { type Socket } from 'node:net';
import tls from 'node:tls';
import { type ByteSink, type PushSource, pulled } from '../lib/byte-sink.ts';
import { type Allowlist, checkTarget, parseAllowlist, sameAddress } from './address-policy.ts';
import { FetchError, FetchRefusedError, FetchTransientError, socketFetchError } from './fetch-errors.ts';
import { Http1Exchange, requestHead } from './http1-exchange.ts';

export {
  FetchError,
  type FetchRefusedCode,
  FetchRefusedError,
  type FetchTransientCode,
  FetchTransientError,
} from './fetch-errors.ts';

export interface GuardedFetcherOptions {
  /** Entries for parseAllowlist: `host:port`, `[v6]:port`, CIDR or bare IP. */
  allowlist: readonly string[];
  maxBytes: number;
  connectTimeoutMs: number;
  /** Everything: DNS, connects, redirects and reading the final body to its end. */
  totalTimeoutMs: number;
  /** Wait for response headers after sending the request. Default totalTimeoutMs. */
  headersTimeoutMs?: number;
  /** Longest pause between two body reads. Default headersTimeoutMs. */
  idleTimeoutMs?: number;
  /**
   * Least body rate: over every idle-timeout-long window, at least this many bytes per second
   * on average, or the fetch ends (`too_slow`). Without it a body trickling just faster than
   * the idle timeout holds its capture slot up to the total timeout. 0 (default): no floor.
   * Windows in which our own sink made the body wait (backpressure) are not judged.
   */
  minBytesPerSecond?: number;
  maxRedirects?: number;
  userAgent: string;
  /** Name resolution; default dns.lookup({ all: true }). Injectable to stage DNS answers. */
  resolve?: (hostname: string) => Promise<string[]>;
  /** Trusted CA certificates (PEM) instead of Node's bundle: tests, or a newsroom's own CA. */
  ca?: string[];
}

export interface FetchOptions {
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** A POST with this body (sent with its Content-Length); its redirects are not followed
   * (the 3xx is returned), since a POST cannot be replayed elsewhere safely. Default: GET. */
  post?: { body: Uint8Array | string; contentType: string };
}

export interface RedirectHop {
  /** The URL that answered with a redirect. */
  url: string;
  status: number;
}

/**
 * A response whose body is still to be read. The byte limit, the total timeout and the
 * Content-Length check apply while the body is read (once, by one of `body`, `pipeTo` or
 * `discard`); its errors are FetchRefusedError / FetchTransientError. Any status is returned,
 * 4xx and 5xx included.
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
  /** The body as chunks the reader owns. */
  body: AsyncIterable<Buffer>;
  /** The body pushed into a sink, each chunk valid only during its write (no copies). */
  pipeTo: PushSource;
  discard(): Promise<void>;
}

export interface GuardedFetcher {
  fetch(url: string, opts?: FetchOptions): Promise<GuardedResponse>;
}

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
const CREDENTIAL_HEADERS = ['authorization', 'cookie', 'proxy-authorization'];

/** One fetch's deadline and cancellation; `end()` is idempotent. */
class FetchScope {
  readonly controller = new AbortController();
  ended = false;
  exchange: Http1Exchange | undefined;
  private readonly timer: NodeJS.Timeout;
  private readonly onCallerAbort = () =>
    this.abort(new FetchTransientError('aborted', 'fetch cancelled by the caller'));

  constructor(
    totalTimeoutMs: number,
    private readonly callerSignal: AbortSignal | undefined,
  ) {
    this.timer = setTimeout(() => {
      this.abort(new FetchTransientError('timeout', `no complete response within ${totalTimeoutMs} ms`));
    }, totalTimeoutMs);
    this.timer.unref();
    if (callerSignal?.aborted) this.onCallerAbort();
    else callerSignal?.addEventListener('abort', this.onCallerAbort, { once: true });
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  abort(reason: FetchTransientError): void {
    this.controller.abort(reason);
    this.exchange?.destroy(reason);
    this.end();
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.timer);
    this.callerSignal?.removeEventListener('abort', this.onCallerAbort);
    // Only an exchange still under way: an error (and its stack) per completed fetch cost ~26 µs.
    if (this.exchange && !this.exchange.settled)
      this.exchange.destroy(new FetchTransientError('aborted', 'response body was discarded'));
  }
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
  if (!url.hostname) throw new FetchRefusedError('bad_url', 'not a valid URL');
  url.hash = '';
  return url;
}

function withDeadline<T>(work: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}

/** Ends the fetch when a window of `windowMs` brought fewer than `floor` bytes (see
 * minBytesPerSecond). The caller counts bytes and marks windows where the sink made it wait. */
function bodyRateFloor(scope: FetchScope, floor: number, windowMs: number) {
  const state = { bytes: 0, waited: false, waiting: false, stop: () => clearInterval(timer) };
  const timer = setInterval(() => {
    if (state.bytes < floor && !state.waited && !state.waiting) {
      const bps = Math.round((state.bytes * 1000) / windowMs);
      scope.abort(
        new FetchTransientError(
          'too_slow',
          `body arrived at ${bps} bytes/s over ${windowMs} ms, below the ${Math.round((floor * 1000) / windowMs)} bytes/s minimum`,
        ),
      );
    }
    state.bytes = 0;
    state.waited = state.waiting; // a wait that spans the boundary touches the next window too
  }, windowMs);
  timer.unref();
  return state;
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
  const idleTimeoutMs = options.idleTimeoutMs ?? headersTimeoutMs;
  const minBytesPerWindow = Math.ceil(((options.minBytesPerSecond ?? 0) * idleTimeoutMs) / 1000);
  const maxRedirects = options.maxRedirects ?? 5;
  const resolve = options.resolve ?? defaultResolve;

  /** A TCP (or TLS) connection to one checked address; TLS verifies `hostname`. */
  function connect(
    url: URL,
    hostname: string,
    address: string,
    port: number,
    exchange: Http1Exchange,
    scope: FetchScope,
  ): Promise<Socket> {
    return new Promise((ok, fail) => {
      const common = { host: address, port, onread: exchange.onread, noDelay: true };
      const socket =
        url.protocol === 'https:'
          ? tls.connect({
              ...common,
              servername: net.isIP(hostname) === 0 ? hostname : undefined,
              ALPNProtocols: ['http/1.1'],
              ...(options.ca ? { ca: options.ca } : {}),
            })
          : net.connect(common);
      const settle = (err?: unknown) => {
        clearTimeout(timer);
        scope.signal.removeEventListener('abort', onAbort);
        socket.removeListener('error', settle);
        if (err === undefined) {
          exchange.attach(socket);
          return ok(socket);
        }
        socket.destroy();
        fail(err);
      };
      const onAbort = () => settle(scope.signal.reason);
      const timer = setTimeout(
        () => settle(new FetchTransientError('connect_timeout', 'connect timed out')),
        connectTimeoutMs,
      );
      scope.signal.addEventListener('abort', onAbort, { once: true });
      socket.once(url.protocol === 'https:' ? 'secureConnect' : 'connect', () => settle());
      socket.once('error', settle);
    });
  }

  /** Resolve, refuse if any address is not allowed, connect to a checked literal, re-check. */
  async function connectChecked(
    url: URL,
    exchange: Http1Exchange,
    scope: FetchScope,
  ): Promise<{ socket: Socket; remoteAddress: string }> {
    const hostname = url.hostname.replace(/^\[(.*)\]$/, '$1');
    const port = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
    const literal = net.isIP(hostname) !== 0;
    const addresses = literal
      ? [hostname]
      : await withDeadline(
          resolve(hostname),
          connectTimeoutMs,
          () => new FetchTransientError('dns_error', 'DNS lookup timed out'),
        ).catch((err: unknown) => {
          throw socketFetchError(err, 'connect');
        });
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
        socket = await connect(url, hostname, address, port, exchange, scope);
      } catch (err) {
        if (err instanceof FetchError && (err.code === 'aborted' || err.code === 'timeout')) throw err;
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
      return { socket, remoteAddress: remote };
    }
    throw socketFetchError(lastError, 'connect');
  }

  /** One request: connect, send, read the head. The body waits in the exchange. */
  async function sendHop(url: URL, headers: Record<string, string>, scope: FetchScope, post?: Buffer) {
    const start = requestHead(`${url.pathname}${url.search}`, url.host, headers, post ? 'POST' : 'GET');
    const request = post ? Buffer.concat([Buffer.from(start, 'latin1'), post]) : start;
    const exchange = new Http1Exchange({ headersTimeoutMs, bodyIdleTimeoutMs: idleTimeoutMs });
    scope.exchange = exchange;
    const { remoteAddress } = await connectChecked(url, exchange, scope);
    return { exchange, head: await exchange.send(request), remoteAddress };
  }

  function toResponse(
    url: URL,
    hop: Awaited<ReturnType<typeof sendHop>>,
    redirects: RedirectHop[],
    scope: FetchScope,
  ): GuardedResponse {
    const { status, headers } = hop.head;
    const declared = hop.exchange.declaredLength;
    if (declared !== undefined && declared > maxBytes) {
      throw new FetchRefusedError(
        'too_large',
        `Content-Length ${declared} exceeds the ${maxBytes}-byte limit`,
      );
    }
    let read = false;
    const pipeTo: PushSource = async (sink: ByteSink) => {
      if (read || scope.ended) {
        throw scope.signal.aborted
          ? (scope.signal.reason as Error)
          : new FetchTransientError('aborted', 'response body was already read or discarded');
      }
      read = true;
      let received = 0;
      const rate = minBytesPerWindow > 0 ? bodyRateFloor(scope, minBytesPerWindow, idleTimeoutMs) : undefined;
      try {
        await hop.exchange.pipeTo({
          write(chunk) {
            received += chunk.length;
            if (rate) rate.bytes += chunk.length;
            if (received > maxBytes)
              throw new FetchRefusedError('too_large', `body exceeds the ${maxBytes}-byte limit`);
            return sink.write(chunk);
          },
          drained: rate
            ? async () => {
                rate.waited = rate.waiting = true;
                try {
                  await sink.drained();
                } finally {
                  rate.waiting = false;
                }
              }
            : () => sink.drained(),
        });
      } finally {
        rate?.stop();
        scope.end();
      }
    };
    return {
      finalUrl: url.href,
      status,
      headers,
      redirects,
      remoteAddress: hop.remoteAddress,
      contentLength: declared,
      body: { [Symbol.asyncIterator]: () => pulled(pipeTo, () => scope.end()) },
      pipeTo,
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
        const lower = name.toLowerCase();
        if (lower !== 'host' && lower !== 'connection') headers[lower] = value;
      }
      const post = opts.post && Buffer.from(opts.post.body);
      if (post && opts.post) {
        headers['content-type'] = opts.post.contentType;
        headers['content-length'] = String(post.length);
      }
      const redirects: RedirectHop[] = [];
      for (;;) {
        if (scope.signal.aborted) throw scope.signal.reason;
        const hop = await sendHop(url, headers, scope, post);
        const target = hop.head.headers.location;
        if (post || !REDIRECT_STATUSES.has(hop.head.status) || target === undefined) {
          return toResponse(url, hop, redirects, scope);
        }
        hop.exchange.destroy(new FetchTransientError('aborted', 'redirect followed'));
        scope.exchange = undefined;
        if (redirects.length >= maxRedirects) {
          throw new FetchRefusedError('too_many_redirects', `more than ${maxRedirects} redirects`);
        }
        redirects.push({ url: url.href, status: hop.head.status });
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
      throw err instanceof FetchError ? err : socketFetchError(err, 'connect');
    }
  }

  return { fetch };
}
