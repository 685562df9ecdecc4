// The egress proxy against real loopback servers: a fixture opened by the allow-list, and a
// trap that nobody may reach (its connection count must stay 0 whatever a request aims at).
// Clients speak raw HTTP/1.1 over sockets, as a browser would to its proxy.
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EgressProxy, type EgressSession, startEgressProxy } from '../../src/egress/egress-proxy.ts';
import {
  type FixtureServer,
  serveBytes,
  serveText,
  silent,
  useFixtureServer,
} from '../helpers/fixture-server.ts';
import { startTrapServer, type TrapServer } from '../helpers/trap-server.ts';

const BIG = Buffer.alloc(100_000, 7);
let fixture: FixtureServer;
let trap: TrapServer;
let proxy: EgressProxy;

const timeouts = {
  connectTimeoutMs: 2000,
  headersTimeoutMs: 1500,
  idleTimeoutMs: 1500,
  totalTimeoutMs: 20_000,
};

beforeAll(async () => {
  fixture = await useFixtureServer({
    '/hello': serveText('hello through the proxy', 'text/plain'),
    '/big': serveBytes(BIG),
    '/silent': silent,
  });
  trap = await startTrapServer();
  proxy = await startEgressProxy({
    allowlist: [`127.0.0.1:${fixture.port}`],
    timeouts,
    maxBytes: 10 * 1024 * 1024,
    // Staged DNS: names the tests use resolve as a hostile resolver would answer.
    resolve: async (host) => {
      if (host === 'fixture.test') return ['127.0.0.1'];
      if (host === 'mixed.test') return ['93.184.215.14', '127.0.0.1'];
      if (host === 'metadata.test') return ['169.254.169.254'];
      throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
    },
  });
});
afterAll(async () => {
  await proxy.close();
  await trap.close();
});

const basic = (s: Pick<EgressSession, 'username' | 'password'>) =>
  `Basic ${Buffer.from(`${s.username}:${s.password}`).toString('base64')}`;

interface Answer {
  status: number;
  head: string;
  body: Buffer;
  /** Every byte after the proxy's own answer head (a tunnel: what the destination sent). */
  raw: Buffer;
}

function parse(all: Buffer): Answer {
  const end = all.indexOf('\r\n\r\n');
  const head = end === -1 ? all.toString('latin1') : all.subarray(0, end).toString('latin1');
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
  const rest = end === -1 ? Buffer.alloc(0) : all.subarray(end + 4);
  return { status, head, body: rest, raw: rest };
}

/** Sends raw bytes to the proxy and reads until it closes the connection. */
function exchange(
  bytes: string,
  after?: (socket: import('node:net').Socket, first: Buffer) => void,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = connect(proxy.port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let sentAfter = false;
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(Buffer.concat(chunks));
    }, 10_000);
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      const all = Buffer.concat(chunks);
      if (after && !sentAfter && all.includes('\r\n\r\n')) {
        sentAfter = true;
        after(socket, all);
      }
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks));
    });
    socket.on('error', reject);
    socket.write(bytes);
  });
}

/** A plain proxied GET (absolute-form), Connection: close. */
async function plainGet(url: string, auth?: string): Promise<Answer> {
  const host = new URL(url).host;
  const lines = [`GET ${url} HTTP/1.1`, `Host: ${host}`, 'Connection: close'];
  if (auth) lines.push(`Proxy-Authorization: ${auth}`);
  return parse(await exchange(`${lines.join('\r\n')}\r\n\r\n`));
}

/** CONNECT to `authority`, then a GET of `path` inside the tunnel. */
async function tunnelGet(authority: string, auth: string | undefined, path = '/hello'): Promise<Answer> {
  const lines = [`CONNECT ${authority} HTTP/1.1`, `Host: ${authority}`];
  if (auth) lines.push(`Proxy-Authorization: ${auth}`);
  const all = await exchange(`${lines.join('\r\n')}\r\n\r\n`, (socket, first) => {
    if (parse(first).status === 200)
      socket.write(`GET ${path} HTTP/1.1\r\nHost: ${authority}\r\nConnection: close\r\n\r\n`);
  });
  return parse(all);
}

describe('egress proxy: allowed destinations', () => {
  it('proxies a plain request and records the connection with its bytes', async () => {
    const session = proxy.openSession();
    const answer = await plainGet(`${fixture.origin}/hello`, basic(session));
    expect(answer.status).toBe(200);
    expect(answer.body.toString()).toContain('hello through the proxy');
    const summary = session.close();
    expect(summary.connections).toHaveLength(1);
    const [c] = summary.connections;
    expect(c).toMatchObject({
      kind: 'http',
      host: '127.0.0.1',
      port: fixture.port,
      address: '127.0.0.1',
      refused: null,
    });
    // What the destination sent: its head and the 23-byte body, no more.
    expect(c?.bytesIn).toBeGreaterThan(23);
    expect(c?.bytesIn).toBeLessThan(400);
    expect(c?.bytesOut).toBe(0); // a GET has no body to send
    expect(summary.refused).toBe(0);
  });

  it('tunnels a CONNECT and counts exactly the bytes that crossed it', async () => {
    const session = proxy.openSession();
    const answer = await tunnelGet(`127.0.0.1:${fixture.port}`, basic(session), '/big');
    expect(answer.status).toBe(200);
    expect(answer.raw.toString('latin1')).toMatch(/^HTTP\/1\.1 200 OK/);
    expect(answer.raw.subarray(answer.raw.indexOf('\r\n\r\n') + 4)).toEqual(BIG);
    const [c] = session.close().connections;
    expect(c).toMatchObject({ kind: 'tunnel', host: '127.0.0.1', port: fixture.port, address: '127.0.0.1' });
    expect(c?.bytesIn).toBe(answer.raw.length);
    expect(c?.bytesOut).toBe(
      Buffer.byteLength(`GET /big HTTP/1.1\r\nHost: 127.0.0.1:${fixture.port}\r\nConnection: close\r\n\r\n`),
    );
    expect(c?.durationMs).toBeGreaterThanOrEqual(0);
  });
});

describe('egress proxy: the fetcher policy at connect time', () => {
  const cases: [string, (t: TrapServer) => string, RegExp][] = [
    ['another loopback port', (t) => `127.0.0.1:${t.port}`, /^127\.0\.0\.1 is a loopback/],
    ['IPv6 loopback', (t) => `[::1]:${t.port}`, /^::1 is a loopback/],
    ['cloud metadata', () => '169.254.169.254:80', /link-local/],
    ['a private address', () => '10.1.2.3:80', /private-use/],
    [
      'a name resolving to loopback',
      (t) => `fixture.test:${t.port}`,
      /^fixture\.test resolves to a loopback/,
    ],
    [
      'a name with one private answer among public ones',
      (t) => `mixed.test:${t.port}`,
      /resolves to a loopback/,
    ],
    ['a name resolving to metadata', () => 'metadata.test:80', /resolves to a link-local/],
  ];

  for (const [name, target, reason] of cases) {
    it(`refuses ${name}, plain and CONNECT, without touching the trap`, async () => {
      const session = proxy.openSession();
      const authority = target(trap);
      const plain = await plainGet(`http://${authority}/x`, basic(session));
      const tunnel = await tunnelGet(authority, basic(session));
      expect(plain.status).toBe(403);
      expect(plain.head).toMatch(/x-egress-refused: forbidden_address/i);
      expect(tunnel.status).toBe(403);
      expect(tunnel.head).toMatch(/X-Egress-Refused: forbidden_address/);
      const summary = session.close();
      expect(summary.refused).toBe(2);
      for (const c of summary.connections) {
        expect(c.address).toBeNull();
        expect(c.bytesIn + c.bytesOut).toBe(0);
        expect(c.refused?.code).toBe('forbidden_address');
        expect(c.refused?.reason).toMatch(reason);
      }
      expect(trap.connections()).toBe(0);
    });
  }

  it('refuses the proxy itself as a destination', async () => {
    const session = proxy.openSession();
    const answer = await tunnelGet(`127.0.0.1:${proxy.port}`, basic(session));
    expect(answer.status).toBe(403);
    expect(session.close().connections[0]?.refused?.code).toBe('forbidden_address');
  });

  it('an unresolvable name is refused as such', async () => {
    const session = proxy.openSession();
    const answer = await tunnelGet('nowhere.test:443', basic(session));
    expect(answer.status).toBe(403);
    expect(session.close().connections[0]?.refused).toEqual({
      code: 'unresolvable',
      reason: 'host name does not resolve',
    });
  });
});

describe('egress proxy: only a live session may use it', () => {
  it('no secret, a wrong secret, another user, or a closed session: 407 and no connection', async () => {
    const before = proxy.unauthenticated();
    const hitsBefore = fixture.totalHits();
    const closed = proxy.openSession();
    const stale = basic(closed);
    closed.close();
    const attempts = [
      undefined,
      basic({ username: 'claimtrail', password: 'guess' }),
      basic({ username: 'someone', password: proxy.openSession().password }),
      stale,
      'Bearer abc',
    ];
    for (const auth of attempts) {
      const plain = await plainGet(`${fixture.origin}/hello`, auth);
      const tunnel = await tunnelGet(`127.0.0.1:${fixture.port}`, auth);
      expect(plain.status).toBe(407);
      expect(plain.head).toMatch(/proxy-authenticate: Basic realm="claimtrail-egress"/i);
      expect(tunnel.status).toBe(407);
    }
    expect(proxy.unauthenticated() - before).toBe(attempts.length * 2);
    expect(fixture.totalHits()).toBe(hitsBefore);
  });

  it('one session does not see another session’s connections', async () => {
    const a = proxy.openSession();
    const b = proxy.openSession();
    await plainGet(`${fixture.origin}/hello`, basic(a));
    expect(b.close().connections).toHaveLength(0);
    expect(a.close().connections).toHaveLength(1);
  });
});

describe('egress proxy: caps', () => {
  it('a session past its byte cap is cut and refuses further connections', async () => {
    const session = proxy.openSession({ maxBytes: 10_000 });
    const answer = await tunnelGet(`127.0.0.1:${fixture.port}`, basic(session), '/big');
    expect(answer.status).toBe(200);
    expect(answer.raw.length).toBeLessThan(BIG.length);
    const again = await plainGet(`${fixture.origin}/hello`, basic(session));
    // The session ended: its secret is forgotten.
    expect(again.status).toBe(407);
    const summary = session.close();
    expect(summary.ended?.code).toBe('too_large');
    expect(summary.connections[0]?.refused?.code).toBe('too_large');
    expect(summary.bytesIn).toBeGreaterThan(10_000);
    // At most one socket read past the cap.
    expect(summary.bytesIn).toBeLessThan(10_000 + 70_000);
  });

  it('a destination that never answers is cut at the headers timeout (plain) or idle timeout (tunnel)', async () => {
    const session = proxy.openSession();
    const plain = await plainGet(`${fixture.origin}/silent`, basic(session));
    expect(plain.status).toBe(504);
    expect(plain.head).toMatch(/x-egress-refused: headers_timeout/i);
    const tunnel = await tunnelGet(`127.0.0.1:${fixture.port}`, basic(session), '/silent');
    expect(tunnel.status).toBe(200);
    expect(tunnel.raw.length).toBe(0);
    const [p, t] = session.close().connections;
    expect(p?.refused?.code).toBe('headers_timeout');
    expect(t?.refused?.code).toBe('idle_timeout');
  });

  it('a session past its time cap ends its connections', async () => {
    const session = proxy.openSession({ totalTimeoutMs: 300 });
    const tunnel = await tunnelGet(`127.0.0.1:${fixture.port}`, basic(session), '/silent');
    expect(tunnel.raw.length).toBe(0);
    const summary = session.close();
    expect(summary.ended?.code).toBe('timeout');
  });
});
