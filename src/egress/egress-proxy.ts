// The one way out for outside tools the workers run (the capture browser, later yt-dlp): an
// HTTP forward proxy on loopback that the worker process starts and owns (issue 14). Plain
// requests (absolute-form) and CONNECT tunnels are both connected through connectChecked, so
// every connection passes exactly the fetcher's address policy at connect time, whatever name
// the tool asked for and whatever DNS says by then.
//
// Only our processes may use it: each capture opens a session with a random secret, sent as
// `Proxy-Authorization: Basic` (user `claimtrail`, password = the secret). A request without a
// live session's secret gets 407 and no connection, so nothing on the machine — a page in
// another capture's browser included — can reach anything through it outside a capture's own
// accounting. A session records every connection it asked for (host, port, the address
// connected to, bytes each way, or why it was refused) for the capture's custody events, and
// is bounded in bytes received and in time; each connection also by the fetch timeouts
// (connect, response headers, idle).
import { createHash, randomBytes } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { parseAllowlist } from '../fetch/address-policy.ts';
import { FetchError } from '../fetch/fetch-errors.ts';
import type { FetchTimeouts } from '../fetch/fetch-timeouts.ts';
import { connectChecked, type Resolver } from './checked-connect.ts';

export const EGRESS_PROXY_USER = 'claimtrail';

/** Why a connection was refused or cut: a fetch error code, or one of the proxy's own. */
export type EgressRefusalCode =
  | FetchError['code']
  | 'too_large'
  | 'timeout'
  | 'idle_timeout'
  | 'headers_timeout'
  | 'session_closed'
  | 'bad_request';

export interface EgressConnection {
  kind: 'http' | 'tunnel';
  host: string;
  port: number;
  /** The checked address connected to; null when refused before connecting. */
  address: string | null;
  /** Bytes received from the destination / sent to it (payload, TLS included for tunnels). */
  bytesIn: number;
  bytesOut: number;
  startedAt: string;
  durationMs: number | null;
  /** Refused before connecting, or cut by a cap; null when it ran its course. */
  refused: { code: EgressRefusalCode; reason: string } | null;
}

export interface EgressSessionSummary {
  connections: EgressConnection[];
  /** Connections beyond maxRecords: counted, not itemized. */
  unrecorded: number;
  bytesIn: number;
  bytesOut: number;
  refused: number;
  /** Set when the session itself was ended by a cap (too_large, timeout). */
  ended: { code: EgressRefusalCode; reason: string } | null;
}

export interface EgressSession {
  /** `http://127.0.0.1:<port>`, for --proxy-server. */
  readonly server: string;
  readonly username: string;
  /** The session's secret (Proxy-Authorization password). */
  readonly password: string;
  /** The proxy URL with the credentials in it (`http://user:secret@127.0.0.1:port`), for tools
   * that take one (yt-dlp --proxy). */
  readonly url: string;
  summary(): EgressSessionSummary;
  /** Ends every connection of the session and forgets its secret; returns the final summary. */
  close(): EgressSessionSummary;
}

export interface SessionOptions {
  /** Bytes received from destinations, all connections together (default: the proxy's). */
  maxBytes?: number;
  /** How long the session may be used at all (default: the fetch total timeout). */
  totalTimeoutMs?: number;
}

export interface EgressProxyOptions {
  /** FETCH_ALLOWLIST entries. */
  allowlist: readonly string[];
  timeouts: Pick<FetchTimeouts, 'connectTimeoutMs' | 'headersTimeoutMs' | 'idleTimeoutMs' | 'totalTimeoutMs'>;
  /** Default byte cap of a session (FETCH_MAX_BYTES). */
  maxBytes: number;
  /** Connections itemized per session (default 2000); later ones are only counted. */
  maxRecords?: number;
  resolve?: Resolver;
  log?: Logger;
}

export interface EgressProxy {
  readonly port: number;
  openSession(opts?: SessionOptions): EgressSession;
  /** Requests refused for want of a live session's secret. */
  unauthenticated(): number;
  close(): Promise<void>;
}

// Hop-by-hop headers (RFC 9110 §7.6.1) and the proxy's own: never forwarded either way.
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authorization',
  'proxy-authenticate',
  'proxy-connection',
  'te',
  'trailer',
  'upgrade',
]);

function forwardable(raw: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] as string;
    if (!HOP_BY_HOP.has(name.toLowerCase())) out.push(name, raw[i + 1] as string);
  }
  return out;
}

const hashSecret = (secret: string) => createHash('sha256').update(secret).digest('hex');

class Session {
  readonly records: EgressConnection[] = [];
  unrecorded = 0;
  bytesIn = 0;
  bytesOut = 0;
  refusedCount = 0;
  ended: EgressSessionSummary['ended'] = null;
  private readonly sockets = new Set<Duplex>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    readonly maxBytes: number,
    totalTimeoutMs: number,
    private readonly maxRecords: number,
    private readonly onEnd: () => void,
  ) {
    this.timer = setTimeout(
      () => this.end('timeout', `egress session exceeded ${totalTimeoutMs} ms`),
      totalTimeoutMs,
    );
    this.timer.unref();
  }

  open(kind: EgressConnection['kind'], host: string, port: number): EgressConnection {
    const record: EgressConnection = {
      kind,
      host,
      port,
      address: null,
      bytesIn: 0,
      bytesOut: 0,
      startedAt: new Date().toISOString(),
      durationMs: null,
      refused: null,
    };
    if (this.records.length < this.maxRecords) this.records.push(record);
    else this.unrecorded++;
    return record;
  }

  refuse(record: EgressConnection, code: EgressRefusalCode, reason: string): void {
    if (record.refused) return;
    record.refused = { code, reason };
    this.refusedCount++;
  }

  /** Refuses the connection when the session has ended; true if it did. */
  refuseIfEnded(record: EgressConnection): boolean {
    if (!this.ended) return false;
    this.refuse(record, this.ended.code, this.ended.reason);
    return true;
  }

  track(socket: Duplex): void {
    if (this.ended) {
      socket.destroy();
      return;
    }
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
  }

  /** Counts received bytes; past the cap the whole session ends. */
  received(record: EgressConnection, n: number): void {
    record.bytesIn += n;
    this.bytesIn += n;
    if (this.bytesIn > this.maxBytes && !this.ended) {
      this.refuse(record, 'too_large', `egress session received more than ${this.maxBytes} bytes`);
      this.end('too_large', `egress session received more than ${this.maxBytes} bytes`);
    }
  }

  sent(record: EgressConnection, n: number): void {
    record.bytesOut += n;
    this.bytesOut += n;
  }

  end(code: EgressRefusalCode, reason: string): void {
    if (this.ended) return;
    this.ended = { code, reason };
    clearTimeout(this.timer);
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    this.onEnd();
  }

  summary(): EgressSessionSummary {
    return {
      connections: this.records.map((r) => ({ ...r, refused: r.refused ? { ...r.refused } : null })),
      unrecorded: this.unrecorded,
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
      refused: this.refusedCount,
      ended: this.ended && this.ended.code !== 'session_closed' ? { ...this.ended } : null,
    };
  }
}

function refusalOf(err: unknown): { code: EgressRefusalCode; reason: string } {
  if (err instanceof FetchError) return { code: err.code as EgressRefusalCode, reason: err.detail };
  return { code: 'connection_error', reason: 'connection failed' };
}

/** 403 for a refusal (the policy said no), 502/504 for a destination that failed. */
function statusOf(code: EgressRefusalCode): number {
  if (code === 'bad_request' || code === 'bad_scheme' || code === 'bad_url') return 400;
  if (code.endsWith('timeout')) return 504;
  if (code === 'connection_error' || code === 'dns_error') return 502;
  return 403;
}

/** Parses the `host:port` of a CONNECT (port required), host normalized as URLs normalize it. */
function parseAuthority(authority: string): { host: string; port: number } | undefined {
  const m = /^(\[[^\]]+\]|[^:[\]/@\s]+):(\d{1,5})$/.exec(authority);
  if (!m?.[1] || !m[2]) return undefined;
  const port = Number(m[2]);
  if (port < 1 || port > 65535) return undefined;
  try {
    return { host: new URL(`http://${m[1]}/`).hostname, port };
  } catch {
    return undefined;
  }
}

/** Starts the proxy on 127.0.0.1 at a random port. Throws AllowlistError on a bad allow-list. */
export async function startEgressProxy(options: EgressProxyOptions): Promise<EgressProxy> {
  const allowlist = parseAllowlist(options.allowlist);
  const { connectTimeoutMs, headersTimeoutMs, idleTimeoutMs, totalTimeoutMs } = options.timeouts;
  const maxRecords = options.maxRecords ?? 2000;
  const sessions = new Map<string, Session>();
  let unauthenticated = 0;
  let port = 0;

  function authenticate(req: IncomingMessage): Session | undefined {
    const header = req.headers['proxy-authorization'];
    const m = typeof header === 'string' ? /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header) : null;
    if (!m?.[1]) return undefined;
    const decoded = Buffer.from(m[1], 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon === -1 || decoded.slice(0, colon) !== EGRESS_PROXY_USER) return undefined;
    // Looked up by the secret's hash: the map's string comparison never sees the secret itself.
    return sessions.get(hashSecret(decoded.slice(colon + 1)));
  }

  const challenge = 'Basic realm="claimtrail-egress", charset="UTF-8"';

  async function connectFor(session: Session, record: EgressConnection): Promise<Socket | undefined> {
    if (session.refuseIfEnded(record)) return undefined;
    if (record.port === port && /^(127\.|::1$|localhost$|\[::1\]$)/.test(record.host)) {
      session.refuse(record, 'forbidden_address', 'the egress proxy itself is not a destination');
      return undefined;
    }
    try {
      const { socket, address } = await connectChecked(record.host, record.port, {
        allowlist,
        connectTimeoutMs,
        resolve: options.resolve,
      });
      record.address = address;
      // The session may have ended while this connect was under way.
      if (session.refuseIfEnded(record)) {
        socket.destroy();
        return undefined;
      }
      session.track(socket);
      const started = Date.now();
      socket.on('data', (chunk: Buffer) => session.received(record, chunk.length));
      socket.once('close', () => {
        record.durationMs = Date.now() - started;
      });
      return socket;
    } catch (err) {
      const { code, reason } = refusalOf(err);
      session.refuse(record, code, reason);
      return undefined;
    }
  }

  async function onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const session = authenticate(req);
    if (!session) {
      unauthenticated++;
      req.resume();
      res.writeHead(407, { 'proxy-authenticate': challenge, 'content-length': '0' }).end();
      return;
    }
    session.track(req.socket);
    let target: URL | undefined;
    try {
      target = new URL(req.url ?? '');
    } catch {}
    const authority = target ? { host: target.hostname, port: Number(target.port || 80) } : undefined;
    const record = session.open('http', authority?.host ?? '', authority?.port ?? 0);
    const refuse = (code: EgressRefusalCode, reason: string) => {
      session.refuse(record, code, reason);
      req.resume();
      if (!res.headersSent) {
        res
          .writeHead(statusOf(code), { 'content-type': 'text/plain', 'x-egress-refused': code })
          .end(`${reason}\n`);
      } else res.destroy();
    };
    if (!target || !authority) return refuse('bad_request', 'not an absolute-form http: request');
    if (target.protocol !== 'http:')
      return refuse('bad_scheme', `only http: is proxied plain, not ${target.protocol}`);
    const socket = await connectFor(session, record);
    if (!socket)
      return refuse(record.refused?.code ?? 'connection_error', record.refused?.reason ?? 'refused');
    const headers = forwardable(req.rawHeaders);
    headers.push('Connection', 'close');
    const upstream = http.request({
      createConnection: () => socket,
      method: req.method,
      path: `${target.pathname}${target.search}`,
      headers,
      setHost: false,
    });
    socket.setTimeout(headersTimeoutMs, () => {
      session.refuse(record, 'headers_timeout', `no response head within ${headersTimeoutMs} ms`);
      socket.destroy();
    });
    req.on('data', (chunk: Buffer) => session.sent(record, chunk.length));
    req.pipe(upstream);
    res.once('close', () => {
      if (!res.writableFinished) socket.destroy();
    });
    upstream.once('response', (answer) => {
      socket.setTimeout(idleTimeoutMs, () => {
        session.refuse(record, 'idle_timeout', `no byte for ${idleTimeoutMs} ms`);
        socket.destroy();
      });
      res.writeHead(answer.statusCode ?? 502, answer.statusMessage, forwardable(answer.rawHeaders));
      answer.pipe(res);
      answer.once('aborted', () => res.destroy());
    });
    upstream.once('error', () => {
      if (!record.refused) session.refuse(record, 'connection_error', 'destination connection failed');
      if (res.headersSent) res.destroy();
      else refuse(record.refused?.code ?? 'connection_error', record.refused?.reason ?? 'failed');
    });
  }

  async function onConnect(req: IncomingMessage, client: Duplex, head: Buffer): Promise<void> {
    client.on('error', () => client.destroy());
    const session = authenticate(req);
    if (!session) {
      unauthenticated++;
      client.end(
        `HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: ${challenge}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`,
      );
      return;
    }
    session.track(client);
    const authority = parseAuthority(req.url ?? '');
    const record = session.open('tunnel', authority?.host ?? '', authority?.port ?? 0);
    const refuse = (code: EgressRefusalCode, reason: string) => {
      session.refuse(record, code, reason);
      client.end(
        `HTTP/1.1 ${statusOf(code)} Refused\r\nX-Egress-Refused: ${code}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`,
      );
    };
    if (!authority) return refuse('bad_request', 'CONNECT needs host:port');
    const upstream = await connectFor(session, record);
    if (!upstream)
      return refuse(record.refused?.code ?? 'connection_error', record.refused?.reason ?? 'refused');
    if (client.destroyed) {
      upstream.destroy();
      return;
    }
    upstream.setTimeout(idleTimeoutMs, () => {
      session.refuse(record, 'idle_timeout', `no byte for ${idleTimeoutMs} ms`);
      upstream.destroy();
    });
    client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    if (head.length > 0) {
      session.sent(record, head.length);
      upstream.write(head);
    }
    client.on('data', (chunk: Buffer) => session.sent(record, chunk.length));
    client.pipe(upstream);
    upstream.pipe(client);
    upstream.once('close', () => client.destroy());
    client.once('close', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  }

  const server = http.createServer({ requestTimeout: 0, headersTimeout: headersTimeoutMs }, (req, res) => {
    onRequest(req, res).catch((err: unknown) => {
      options.log?.warn({ err: (err as Error).message }, 'egress proxy request failed');
      res.destroy();
    });
  });
  server.on('connect', (req, client, head) => {
    onConnect(req, client, head).catch((err: unknown) => {
      options.log?.warn({ err: (err as Error).message }, 'egress proxy tunnel failed');
      client.destroy();
    });
  });
  // A proxy-side WebSocket upgrade (ws:// as a plain request) is not proxied: browsers tunnel
  // WebSockets with CONNECT, which is checked above.
  server.on('upgrade', (_req, socket) => socket.destroy());
  server.on('clientError', (_err, socket) => socket.destroy());
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => ok());
  });
  port = (server.address() as AddressInfo).port;
  const base = `http://127.0.0.1:${port}`;

  return {
    port,
    unauthenticated: () => unauthenticated,
    openSession(opts: SessionOptions = {}): EgressSession {
      const secret = randomBytes(32).toString('base64url');
      const key = hashSecret(secret);
      const session = new Session(
        opts.maxBytes ?? options.maxBytes,
        opts.totalTimeoutMs ?? totalTimeoutMs,
        maxRecords,
        () => sessions.delete(key),
      );
      sessions.set(key, session);
      return {
        server: base,
        username: EGRESS_PROXY_USER,
        password: secret,
        url: `http://${EGRESS_PROXY_USER}:${secret}@127.0.0.1:${port}`,
        summary: () => session.summary(),
        close: () => {
          session.end('session_closed', 'egress session closed');
          return session.summary();
        },
      };
    },
    async close() {
      for (const session of [...sessions.values()]) session.end('session_closed', 'egress proxy closed');
      server.closeAllConnections();
      await new Promise<void>((ok) => server.close(() => ok()));
    },
  };
}
