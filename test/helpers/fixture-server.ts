// Real HTTP servers on loopback for capture tests: routes with the behaviours a hostile or
// broken web server has (slow, endless, silent, lying about its length, redirecting), and a
// count of the requests each path received.
import { createReadStream, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll } from 'vitest';

export type Route = (req: IncomingMessage, res: ServerResponse) => void;

export interface FixtureServer {
  origin: string;
  host: string;
  port: number;
  hits: Map<string, number>;
  totalHits(): number;
  /** Connections open now, the most ever open at once, and how many have closed. */
  connections(): { open: number; maxOpen: number; closed: number };
  routes: Map<string, Route>;
  close(): Promise<void>;
}

/** Starts a server for this test file (closed after its tests); paths match without query. */
export async function useFixtureServer(routes: Record<string, Route> = {}): Promise<FixtureServer> {
  const server = await startFixtureServer(routes);
  afterAll(server.close);
  return server;
}

/** Starts a server the caller closes (code that runs outside vitest too: the scale run). */
export async function startFixtureServer(routes: Record<string, Route> = {}): Promise<FixtureServer> {
  const table = new Map(Object.entries(routes));
  const hits = new Map<string, number>();
  const sockets = new Set<import('node:net').Socket>();
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    hits.set(path, (hits.get(path) ?? 0) + 1);
    const route = table.get(path);
    if (!route) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    route(req, res);
  });
  let maxOpen = 0;
  let closed = 0;
  server.on('connection', (s) => {
    sockets.add(s);
    maxOpen = Math.max(maxOpen, sockets.size);
    s.on('close', () => {
      sockets.delete(s);
      closed++;
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const close = async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return {
    origin: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    port,
    hits,
    totalHits: () => [...hits.values()].reduce((a, b) => a + b, 0),
    connections: () => ({ open: sockets.size, maxOpen, closed }),
    routes: table,
    close,
  };
}

export const serveFile =
  (file: string, type: string, extra: Record<string, string> = {}): Route =>
  (_req, res) => {
    res.writeHead(200, { 'content-type': type, 'content-length': String(statSync(file).size), ...extra });
    createReadStream(file).pipe(res);
  };

export const serveText =
  (body: string | (() => string), type = 'text/html; charset=utf-8', status = 200): Route =>
  (_req, res) => {
    const text = typeof body === 'function' ? body() : body;
    res
      .writeHead(status, { 'content-type': type, 'content-length': String(Buffer.byteLength(text)) })
      .end(text);
  };

export const redirectTo =
  (location: string, status = 302): Route =>
  (_req, res) => {
    res.writeHead(status, { location }).end();
  };

export const status =
  (code: number): Route =>
  (_req, res) => {
    res.writeHead(code, { 'content-type': 'text/plain' }).end(`status ${code}`);
  };

/** Sends `bytes` in chunks of `chunk` every `everyMs` (a slow download). */
export const slowBytes =
  (bytes: number, chunk: number, everyMs: number, type = 'application/octet-stream'): Route =>
  (req, res) => {
    res.writeHead(200, { 'content-type': type, 'content-length': String(bytes) });
    let sent = 0;
    const timer = setInterval(() => {
      const n = Math.min(chunk, bytes - sent);
      res.write(Buffer.alloc(n, sent % 251));
      sent += n;
      if (sent >= bytes) {
        clearInterval(timer);
        res.end();
      }
    }, everyMs);
    req.on('close', () => clearInterval(timer));
  };

/** Streams zeros forever without a Content-Length. */
export const endless: Route = (req, res) => {
  res.writeHead(200, { 'content-type': 'application/octet-stream' });
  const chunk = Buffer.alloc(64 * 1024);
  const pump = () => {
    while (!res.destroyed && res.write(chunk)) {}
  };
  res.on('drain', pump);
  req.on('close', () => res.destroy());
  pump();
};

/** Accepts the request and never answers. */
export const silent: Route = () => {};

/** Declares more bytes than it sends, then closes the connection. */
export const shortBody =
  (declared: number, sent: number): Route =>
  (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(declared) });
    res.write(Buffer.alloc(sent, 7));
    setTimeout(() => res.socket?.destroy(), 20);
  };

/** Sends `body` with its Content-Length, all at once. */
export const serveBytes =
  (body: Buffer, type = 'application/octet-stream'): Route =>
  (_req, res) => {
    res.writeHead(200, { 'content-type': type, 'content-length': String(body.length) }).end(body);
  };

/** Sends `bytes` zeros in 64 KiB chunks without a Content-Length (chunked encoding), then ends. */
export const chunkedBytes =
  (bytes: number, type = 'application/octet-stream'): Route =>
  (_req, res) => {
    res.writeHead(200, { 'content-type': type });
    let left = bytes;
    const pump = () => {
      while (left > 0 && !res.destroyed) {
        const n = Math.min(64 * 1024, left);
        left -= n;
        if (!res.write(Buffer.alloc(n))) return;
      }
      if (left === 0 && !res.destroyed) res.end();
    };
    res.on('drain', pump);
    pump();
  };

/** Declares `declared` bytes in Content-Length and streams zeros until the client goes away. */
export const declaredTooLarge =
  (declared: number): Route =>
  (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(declared) });
    const chunk = Buffer.alloc(64 * 1024);
    let sent = 0;
    const pump = () => {
      while (!res.destroyed && sent < declared && res.write(chunk)) sent += chunk.length;
    };
    res.on('drain', pump);
    pump();
  };

/** The n-th request is answered by the n-th route; the last one answers every later request. */
export const inTurn = (...routes: Route[]): Route & { served(): number } => {
  let n = 0;
  const route = ((req, res) => {
    const next = routes[Math.min(n, routes.length - 1)]!;
    n++;
    next(req, res);
  }) as Route & { served(): number };
  route.served = () => n;
  return route;
};

/**
 * Sends `body` (with its Content-Length) `chunk` bytes every `everyMs`: a slow download whose
 * progress the test can watch (`sent()`: bytes written for the latest request).
 */
export const trickle = (
  body: Buffer,
  chunk: number,
  everyMs: number,
  type = 'application/octet-stream',
): Route & { sent(): number } => {
  let latest = 0;
  const route = ((_req, res) => {
    res.writeHead(200, { 'content-type': type, 'content-length': String(body.length) });
    let sent = 0;
    latest = 0;
    const timer = setInterval(() => {
      if (res.destroyed) return;
      const part = body.subarray(sent, sent + chunk);
      res.write(part);
      sent += part.length;
      latest = sent;
      if (sent >= body.length) {
        clearInterval(timer);
        res.end();
      }
    }, everyMs);
    res.on('close', () => clearInterval(timer));
  }) as Route & { sent(): number };
  route.sent = () => latest;
  return route;
};
