// A loopback server nobody may reach: it listens on 127.0.0.1 and, where the machine has IPv6,
// on [::1] at the same port, answers anything with a small page, and counts every TCP
// connection it accepts. An SSRF test passes only when `connections()` stays 0.
import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';

export interface TrapServer {
  port: number;
  /** Whether [::1] is trapped too (false on a machine without IPv6 loopback). */
  ipv6: boolean;
  connections(): number;
  close(): Promise<void>;
}

function trap(onConnection: () => void, sockets: Set<Socket>): Server {
  return createServer((socket) => {
    onConnection();
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    socket.end(
      'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 7\r\nConnection: close\r\n\r\ntrapped',
    );
  });
}

export async function startTrapServer(): Promise<TrapServer> {
  let count = 0;
  const sockets = new Set<Socket>();
  const v4 = trap(() => count++, sockets);
  v4.listen(0, '127.0.0.1');
  await once(v4, 'listening');
  const port = (v4.address() as { port: number }).port;
  const v6 = trap(() => count++, sockets);
  const ipv6 = await new Promise<boolean>((resolve) => {
    v6.once('error', () => resolve(false));
    v6.listen(port, '::1', () => resolve(true));
  });
  return {
    port,
    ipv6,
    connections: () => count,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((r) => v4.close(r));
      if (ipv6) await new Promise((r) => v6.close(r));
    },
  };
}
