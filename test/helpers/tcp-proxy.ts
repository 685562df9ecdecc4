// A TCP relay on loopback whose link a test can cut, to stand between a client and Postgres:
// `refuse` closes new connections at once (a server that is down), `blackhole` stops relaying
// bytes without closing anything (a network partition: no FIN, no RST), `open` relays.
import { once } from 'node:events';
import { connect, createServer, type Socket } from 'node:net';

export type LinkMode = 'open' | 'refuse' | 'blackhole';

export interface TcpProxy {
  port: number;
  mode: LinkMode;
  /** `url` with its host and port replaced by this relay's. */
  via(url: string): string;
  close(): Promise<void>;
}

export async function tcpProxy(targetHost: string, targetPort: number): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  const proxy = { mode: 'open' as LinkMode };
  const server = createServer((client) => {
    if (proxy.mode === 'refuse') return void client.destroy();
    const upstream = connect(targetPort, targetHost);
    for (const [from, to] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      sockets.add(from);
      from.on('data', (chunk) => {
        if (proxy.mode !== 'blackhole') to.write(chunk);
      });
      from.on('error', () => to.destroy());
      from.on('close', () => {
        sockets.delete(from);
        to.destroy();
      });
    }
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  return Object.assign(proxy, {
    port,
    via(url: string) {
      const u = new URL(url);
      u.hostname = '127.0.0.1';
      u.port = String(port);
      return u.toString();
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  });
}
