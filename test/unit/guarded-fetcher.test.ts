// Real HTTP servers on loopback, no mocks. `allowed` and `other` are opened by the
// allow-list (ip:port entries); `forbidden` is a loopback server nobody may reach, and
// its request counter must stay 0 whatever trick a URL or a redirect uses.
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGuardedFetcher, type GuardedFetcherOptions } from '../../src/fetch/guarded-fetcher.ts';
import { failure, readAll, refused, transient } from '../helpers/fetch-results.ts';

interface Fixture {
  port: number;
  hits: number;
  headers: http.IncomingHttpHeaders[];
  url(path: string): string;
  close(): Promise<void>;
}

async function startServer(handler: http.RequestListener): Promise<Fixture> {
  const server = http.createServer();
  const fixture: Fixture = {
    port: 0,
    hits: 0,
    headers: [],
    url: (path) => `http://127.0.0.1:${fixture.port}${path}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  server.on('request', (req, res) => {
    fixture.hits += 1;
    fixture.headers.push(req.headers);
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  fixture.port = (server.address() as AddressInfo).port;
  return fixture;
}

const MAX_BYTES = 64 * 1024;
let allowed: Fixture;
let other: Fixture;
let forbidden: Fixture;

function routes(req: http.IncomingMessage, res: http.ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://fixture');
  const q = url.searchParams;
  const path = url.pathname;
  const chain = /^\/chain\/(\d+)$/.exec(path);
  if (chain?.[1]) {
    const n = Number(chain[1]);
    if (n === 0) {
      res.end('end of chain');
      return;
    }
    const status = [301, 302, 303, 307, 308][n % 5] ?? 302;
    res.writeHead(status, { location: `/chain/${n - 1}` }).end();
    return;
  }
  switch (path) {
    case '/hello':
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '11' }).end('hello world');
      return;
    case '/exact':
      res.writeHead(200, { 'content-length': String(MAX_BYTES) }).end(Buffer.alloc(MAX_BYTES, 1));
      return;
    case '/redirect':
      res.writeHead(Number(q.get('status') ?? 302), { location: q.get('to') ?? '/' }).end();
      return;
    case '/echo-headers':
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(req.headers));
      return;
    case '/status':
      res.writeHead(Number(q.get('code') ?? 200)).end('status body');
      return;
    case '/big-chunked': {
      // Larger than MAX_BYTES, no Content-Length: the limit must trip while streaming.
      res.writeHead(200);
      const chunk = Buffer.alloc(16 * 1024, 2);
      for (let i = 0; i < 8; i++) res.write(chunk);
      res.end();
      return;
    }
    case '/big-declared':
      res.writeHead(200, { 'content-length': String(10 * MAX_BYTES) });
      res.write('a few bytes');
      return;
    case '/forever': {
      res.writeHead(200);
      const timer = setInterval(() => res.write(Buffer.alloc(1024, 3)), 2);
      res.on('close', () => clearInterval(timer));
      return;
    }
    case '/silent':
      return; // never answers
    case '/trickle': {
      // `bytes` bytes every 50 ms, `total` bytes in all: a body that never pauses long enough
      // for the idle timeout but may be slower than a rate floor.
      const bytes = Number(q.get('bytes') ?? 10);
      let left = Number(q.get('total') ?? 50_000);
      res.writeHead(200, { 'content-length': String(left) });
      const tick = setInterval(() => {
        const n = Math.min(bytes, left);
        left -= n;
        if (res.destroyed) clearInterval(tick);
        else if (left === 0) {
          clearInterval(tick);
          res.end('x'.repeat(n));
        } else res.write('x'.repeat(n));
      }, 50);
      res.on('close', () => clearInterval(tick));
      return;
    }
    case '/stalled-body':
      res.writeHead(200, { 'content-length': '100' });
      res.write('ten bytes!');
      return; // and no more
    case '/short':
      res.writeHead(200, { 'content-length': '100' });
      res.write('0123456789');
      setTimeout(() => res.socket?.destroy(), 20);
      return;
    case '/long':
      // Bypasses node's own Content-Length enforcement: 5 declared, 17 sent.
      req.socket.end('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello world extra');
      return;
    default:
      res.writeHead(404).end('no such fixture');
  }
}

beforeAll(async () => {
  allowed = await startServer(routes);
  other = await startServer(routes);
  forbidden = await startServer((_req, res) => res.end('you should never see this'));
});

afterAll(async () => {
  expect(forbidden.hits).toBe(0);
  await Promise.all([allowed.close(), other.close(), forbidden.close()]);
});

function makeFetcher(overrides: Partial<GuardedFetcherOptions> = {}) {
  return createGuardedFetcher({
    allowlist: [`127.0.0.1:${allowed.port}`, `127.0.0.1:${other.port}`],
    maxBytes: MAX_BYTES,
    connectTimeoutMs: 300,
    headersTimeoutMs: 300,
    totalTimeoutMs: 1500,
    userAgent: 'claimtrail-test/1',
    ...overrides,
  });
}

describe('guarded fetcher: allowed fetches', () => {
  it('fetches from an allow-listed loopback server', async () => {
    const res = await makeFetcher().fetch(allowed.url('/hello'));
    expect(res).toMatchObject({
      status: 200,
      finalUrl: allowed.url('/hello'),
      remoteAddress: '127.0.0.1',
      redirects: [],
      contentLength: 11,
    });
    expect(res.headers['content-type']).toBe('text/plain');
    expect((await readAll(res)).toString()).toBe('hello world');
    const sent = allowed.headers.at(-1);
    expect(sent?.['user-agent']).toBe('claimtrail-test/1');
    expect(sent?.['accept-encoding']).toBe('identity');
  });

  it('returns a body of exactly maxBytes', async () => {
    const res = await makeFetcher().fetch(allowed.url('/exact'));
    expect((await readAll(res)).length).toBe(MAX_BYTES);
  });

  it('returns 4xx and 5xx statuses instead of throwing', async () => {
    const gone = await makeFetcher().fetch(allowed.url('/status?code=410'));
    expect(gone.status).toBe(410);
    expect((await readAll(gone)).toString()).toBe('status body');
    const down = await makeFetcher().fetch(allowed.url('/status?code=503'));
    expect(down.status).toBe(503);
    await down.discard();
  });

  it('connects to the checked literal and keeps the hostname in Host', async () => {
    const fetcher = makeFetcher({ resolve: async () => ['127.0.0.1'] });
    const res = await fetcher.fetch(`http://named.test:${allowed.port}/echo-headers`);
    const echoed = JSON.parse((await readAll(res)).toString()) as Record<string, string>;
    expect(echoed.host).toBe(`named.test:${allowed.port}`);
    expect(res.remoteAddress).toBe('127.0.0.1');
  });

  it('connects TLS to the checked literal with the hostname as SNI', async () => {
    // No certificate at all: the handshake fails, but only after the server saw the SNI.
    const sni: string[] = [];
    const server = tls.createServer({
      SNICallback: (name, cb) => {
        sni.push(name);
        cb(new Error('no certificate'), undefined);
      },
    });
    server.on('tlsClientError', () => {});
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    try {
      const fetcher = makeFetcher({ allowlist: [`127.0.0.1:${port}`], resolve: async () => ['127.0.0.1'] });
      const err = await failure(fetcher.fetch(`https://named.test:${port}/`));
      expect(err).toMatchObject({ code: expect.stringMatching(/^(tls_error|connection_error)$/) });
      expect(sni).toEqual(['named.test']);
    } finally {
      server.close();
    }
  });

  it('tries the next checked address when one does not connect', async () => {
    const fetcher = makeFetcher({
      allowlist: [`multi.test:${allowed.port}`],
      resolve: async () => ['::1', '127.0.0.1'],
    });
    const res = await fetcher.fetch(`http://multi.test:${allowed.port}/hello`);
    expect(res.remoteAddress).toBe('127.0.0.1');
    expect((await readAll(res)).toString()).toBe('hello world');
  });

  it('a host:port entry opens that name only, not its address', async () => {
    const fetcher = makeFetcher({ allowlist: [`localhost:${allowed.port}`] });
    const res = await fetcher.fetch(`http://localhost:${allowed.port}/hello`);
    expect((await readAll(res)).toString()).toBe('hello world');
    await refused(fetcher.fetch(allowed.url('/hello')), 'forbidden_address');
  });
});

describe('guarded fetcher: forbidden addresses get no request', () => {
  const spellings = (port: number) => [
    `http://127.1:${port}/`,
    `http://0x7f.1:${port}/`,
    `http://2130706433:${port}/`,
    `http://0177.0.0.1:${port}/`,
    `http://127.000.000.001:${port}/`,
    `http://[::ffff:127.0.0.1]:${port}/`,
    `http://[::ffff:7f00:1]:${port}/`,
    `http://[::1]:${port}/`,
    `http://[::]:${port}/`,
    `http://0.0.0.0:${port}/`,
    `http://0:${port}/`,
    `http://localhost:${port}/`,
    `http://127.0.0.1:${port}/`,
  ];

  it('refuses every spelling of loopback at a port not on the allow-list', async () => {
    const fetcher = makeFetcher();
    for (const url of spellings(forbidden.port)) {
      const err = await refused(fetcher.fetch(url), 'forbidden_address');
      expect(err.detail).toMatch(/not fetched/);
    }
    expect(forbidden.hits).toBe(0);
  });

  it.each([
    'http://169.254.169.254/latest/meta-data/',
    'http://[fd00:ec2::254]/',
    'http://10.0.0.1/',
    'http://172.16.5.4:8080/',
    'http://192.168.1.1/',
    'http://100.64.0.1/',
    'http://224.0.0.1/',
    'http://255.255.255.255/',
    'http://[fe80::1]/',
    'https://[fc00::1]/',
    'http://[64:ff9b::a9fe:a9fe]/',
    'http://[2002:a9fe:a9fe::]/',
    'http://192.0.2.10/',
  ])('refuses %s before connecting', async (url) => {
    await refused(makeFetcher().fetch(url), 'forbidden_address');
  });

  it('refuses a name whose answers include any forbidden address (rebinding)', async () => {
    const fetcher = makeFetcher({
      resolve: async (host) => (host === 'mixed.test' ? ['93.184.215.14', '127.0.0.1'] : ['127.0.0.1']),
    });
    const mixed = await refused(fetcher.fetch(`http://mixed.test:${forbidden.port}/`), 'forbidden_address');
    expect(mixed.detail).toBe('mixed.test resolves to a loopback (RFC 1122) address; not fetched');
    expect(mixed.detail).not.toContain('127.0.0.1');
    await refused(fetcher.fetch(`http://rebound.test:${forbidden.port}/`), 'forbidden_address');
    expect(forbidden.hits).toBe(0);
  });
});

describe('guarded fetcher: redirects', () => {
  it('follows redirects and records the chain', async () => {
    const res = await makeFetcher().fetch(allowed.url('/chain/3'));
    expect(res.finalUrl).toBe(allowed.url('/chain/0'));
    expect(res.redirects).toEqual([
      { url: allowed.url('/chain/3'), status: 307 },
      { url: allowed.url('/chain/2'), status: 303 },
      { url: allowed.url('/chain/1'), status: 302 },
    ]);
    expect((await readAll(res)).toString()).toBe('end of chain');
  });

  it('follows 5 redirects but not 6', async () => {
    const five = await makeFetcher().fetch(allowed.url('/chain/5'));
    expect(five.redirects).toHaveLength(5);
    await five.discard();
    await refused(makeFetcher().fetch(allowed.url('/chain/6')), 'too_many_redirects');
    await refused(makeFetcher({ maxRedirects: 2 }).fetch(allowed.url('/chain/3')), 'too_many_redirects');
  });

  it('refuses a redirect to a forbidden server, which receives nothing', async () => {
    const fetcher = makeFetcher({ resolve: async () => ['127.0.0.1'] });
    for (const to of [
      `http://127.0.0.1:${forbidden.port}/`,
      `http://localhost:${forbidden.port}/`,
      `http://[::ffff:127.0.0.1]:${forbidden.port}/`,
      `http://rebound.test:${forbidden.port}/`,
      'http://169.254.169.254/',
    ]) {
      const url = allowed.url(`/redirect?status=307&to=${encodeURIComponent(to)}`);
      await refused(fetcher.fetch(url), 'forbidden_address');
    }
    expect(forbidden.hits).toBe(0);
  });

  it('refuses redirects to other schemes', async () => {
    for (const to of ['file:///etc/passwd', 'ftp://example.com/x', 'javascript:alert(1)', 'gopher://x/']) {
      const url = allowed.url(`/redirect?to=${encodeURIComponent(to)}`);
      await refused(makeFetcher().fetch(url), 'bad_scheme');
    }
  });

  it('drops credentials on a cross-origin redirect only', async () => {
    const headers = { authorization: 'Bearer secret', 'x-trace': 'kept' };
    const same = await makeFetcher().fetch(allowed.url('/redirect?to=/echo-headers'), { headers });
    const sameEcho = JSON.parse((await readAll(same)).toString()) as Record<string, string>;
    expect(sameEcho.authorization).toBe('Bearer secret');

    const to = encodeURIComponent(other.url('/echo-headers'));
    const cross = await makeFetcher().fetch(allowed.url(`/redirect?to=${to}`), { headers });
    const crossEcho = JSON.parse((await readAll(cross)).toString()) as Record<string, string>;
    expect(crossEcho.authorization).toBeUndefined();
    expect(crossEcho['x-trace']).toBe('kept');
    expect(cross.redirects).toEqual([{ url: allowed.url(`/redirect?to=${to}`), status: 302 }]);
  });
});

describe('guarded fetcher: size, time and framing limits', () => {
  it('stops a streamed body at maxBytes', async () => {
    const res = await makeFetcher().fetch(allowed.url('/big-chunked'));
    let seen = 0;
    const err = await refused(
      (async () => {
        for await (const chunk of res.body) seen += chunk.length;
      })(),
      'too_large',
    );
    expect(seen).toBeLessThanOrEqual(MAX_BYTES);
    expect(err.detail).toBe(`body exceeds the ${MAX_BYTES}-byte limit`);
  });

  it('refuses a declared Content-Length above maxBytes before the body', async () => {
    await refused(makeFetcher().fetch(allowed.url('/big-declared')), 'too_large');
  });

  it('ends a body that never ends at maxBytes', async () => {
    const res = await makeFetcher().fetch(allowed.url('/forever'));
    await refused(readAll(res), 'too_large');
  });

  it('ends a body that never ends at the total timeout', async () => {
    const fetcher = makeFetcher({ maxBytes: 1024 ** 3, totalTimeoutMs: 400 });
    const started = Date.now();
    const res = await fetcher.fetch(allowed.url('/forever'));
    await transient(readAll(res), 'timeout');
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it('times out waiting for headers', async () => {
    await transient(makeFetcher().fetch(allowed.url('/silent')), 'headers_timeout');
  });

  it('a body that stops is ended by the idle timeout, which is its own setting', async () => {
    const fetcher = makeFetcher({ headersTimeoutMs: 8_000, idleTimeoutMs: 200, totalTimeoutMs: 5_000 });
    const res = await fetcher.fetch(allowed.url('/stalled-body'));
    await transient(readAll(res), 'body_timeout');
  });

  it('a body trickling under the rate floor is ended (too_slow), though it never goes idle', async () => {
    // 10 bytes per 50 ms = 200 bytes/s, floor 1,000 bytes/s over each 300 ms window.
    const opts = { idleTimeoutMs: 300, totalTimeoutMs: 5_000 };
    const slow = await makeFetcher({ ...opts, minBytesPerSecond: 1_000 }).fetch(allowed.url('/trickle'));
    await transient(
      readAll(slow),
      'too_slow',
      /^body arrived at \d+ bytes\/s over 300 ms, below the 1000 bytes\/s minimum$/,
    );
    // Without the floor the same body runs into the total timeout instead.
    const noFloor = await makeFetcher({ ...opts, totalTimeoutMs: 1_000 }).fetch(allowed.url('/trickle'));
    await transient(readAll(noFloor), 'timeout');
    // Faster than the floor: read to its end (100 bytes per 50 ms = 2,000 bytes/s).
    const fast = await makeFetcher({ ...opts, minBytesPerSecond: 1_000 }).fetch(
      allowed.url('/trickle?bytes=100&total=3000'),
    );
    expect((await readAll(fast)).length).toBe(3000);
  });

  it('a slow reader (our own backpressure) is not taken for a slow server', async () => {
    const fetcher = makeFetcher({ idleTimeoutMs: 200, totalTimeoutMs: 5_000, minBytesPerSecond: 1_000 });
    const res = await fetcher.fetch(allowed.url('/trickle?bytes=1000&total=8000'));
    let got = 0;
    await res.pipeTo({
      write(chunk) {
        got += chunk.length;
        return false; // ask to wait after every chunk
      },
      drained: () => new Promise((r) => setTimeout(r, 300)),
    });
    expect(got).toBe(8000);
  });

  it('the headers timeout does not wait for the idle one', async () => {
    const fetcher = makeFetcher({ headersTimeoutMs: 200, idleTimeoutMs: 8_000, totalTimeoutMs: 5_000 });
    await transient(fetcher.fetch(allowed.url('/silent')), 'headers_timeout');
  });

  it('the total timeout also bounds waiting for headers', async () => {
    const fetcher = makeFetcher({ headersTimeoutMs: 10_000, totalTimeoutMs: 300 });
    await transient(fetcher.fetch(allowed.url('/silent')), 'timeout');
  });

  it('a body shorter than its Content-Length is a transient error', async () => {
    const res = await makeFetcher().fetch(allowed.url('/short'));
    await transient(readAll(res), 'truncated');
  });

  it('a body longer than its Content-Length is a transient error', async () => {
    const res = await makeFetcher().fetch(allowed.url('/long'));
    await transient(readAll(res), 'length_mismatch');
  });

  it('a cancelled caller signal is a transient error', async () => {
    const controller = new AbortController();
    const res = await makeFetcher().fetch(allowed.url('/forever'), { signal: controller.signal });
    setTimeout(() => controller.abort(), 20);
    await transient(
      (async () => {
        for await (const _ of res.body) {
          // keep reading until cancelled
        }
      })(),
      'aborted',
    );
    await transient(makeFetcher().fetch(allowed.url('/hello'), { signal: AbortSignal.abort() }), 'aborted');
  });

  it('connection refused is transient', async () => {
    const closed = await startServer(routes);
    await closed.close();
    const fetcher = makeFetcher({ allowlist: [`127.0.0.1:${closed.port}`] });
    await transient(fetcher.fetch(closed.url('/')), 'connection_error');
  });
});

describe('guarded fetcher: URLs', () => {
  it.each([
    ['javascript:alert(1)', 'bad_scheme'],
    ['file:///etc/passwd', 'bad_scheme'],
    ['ftp://example.com/file', 'bad_scheme'],
    ['data:text/plain,hi', 'bad_scheme'],
    ['not a url', 'bad_url'],
    ['http://', 'bad_url'],
    ['http://user:pw@example.com/', 'bad_url'],
  ] as const)('refuses %s (%s)', async (url, code) => {
    await refused(makeFetcher().fetch(url), code);
  });
});

describe('guarded fetcher: TLS', () => {
  // A certificate for named.test made by openssl for this run; the fetcher trusts it only when
  // given it as `ca`, so Node's own bundle is what refuses it otherwise.
  const dir = mkdtempSync(join(tmpdir(), 'claimtrail-tls-'));
  let cert = '';
  let key = '';
  let server: https.Server;
  let port = 0;
  let requests = 0;
  const big = randomBytes(5 * 1024 * 1024 + 17);

  beforeAll(async () => {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=named.test',
        '-addext',
        'subjectAltName=DNS:named.test',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    cert = readFileSync(join(dir, 'cert.pem'), 'utf8');
    key = readFileSync(join(dir, 'key.pem'), 'utf8');
    server = https.createServer({ cert, key }, (req, res) => {
      requests += 1;
      if (req.url === '/big') res.writeHead(200, { 'content-length': String(big.length) }).end(big);
      else res.writeHead(200, { 'content-type': 'text/plain' }).end('hello over tls');
    });
    server.on('tlsClientError', () => {});
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  });

  const tlsFetcher = (ca?: string[]) =>
    makeFetcher({
      allowlist: [`127.0.0.1:${port}`],
      resolve: async () => ['127.0.0.1'],
      maxBytes: 16 * 1024 * 1024,
      ...(ca ? { ca } : {}),
    });

  it('refuses a certificate nobody vouches for, before any request', async () => {
    const before = requests;
    await refused(tlsFetcher().fetch(`https://named.test:${port}/`), 'tls_error');
    expect(requests).toBe(before);
  });

  it('refuses a trusted certificate for another name', async () => {
    const before = requests;
    await refused(tlsFetcher([cert]).fetch(`https://other.test:${port}/`), 'tls_error');
    expect(requests).toBe(before);
  });

  it('fetches over TLS from a trusted certificate for the name', async () => {
    const res = await tlsFetcher([cert]).fetch(`https://named.test:${port}/`);
    expect(res.status).toBe(200);
    expect((await readAll(res)).toString()).toBe('hello over tls');
  });

  it('streams a large body over TLS into a sink that pauses it', async () => {
    const res = await tlsFetcher([cert]).fetch(`https://named.test:${port}/big`);
    const hash = createHash('sha256');
    let writes = 0;
    await res.pipeTo({
      write(chunk) {
        hash.update(chunk);
        writes += 1;
        return writes % 4 !== 0; // every fourth chunk: wait
      },
      drained: () => new Promise((resolve) => setTimeout(resolve, 2)),
    });
    expect(hash.digest('hex')).toBe(createHash('sha256').update(big).digest('hex'));
  });
});
