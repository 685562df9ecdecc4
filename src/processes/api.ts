// The API process: an HTTP server that drains in-flight requests on shutdown.
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AppContext } from '../context.ts';
import { createApp } from '../http/app.ts';
import type { Component } from './component.ts';

export async function startApi(ctx: AppContext): Promise<Component & { server: Server }> {
  const { app } = createApp(ctx);
  const server = app.listen(ctx.config.PORT, ctx.config.HOST);
  await once(server, 'listening');
  // Keep-alive sockets would hold shutdown open for their whole idle timeout.
  server.keepAliveTimeout = 5_000;
  const address = server.address();
  ctx.log.info({ address }, 'api listening');
  return {
    name: 'api',
    server,
    async stop(deadline: number) {
      await closeServer(server, deadline);
      // No request left to authenticate: the LISTEN connection goes with the server.
      await ctx.authCache.close();
    },
  };
}

/** Stops accepting, lets in-flight requests finish until `deadline`, then cuts the rest. */
export async function closeServer(server: Server, deadline: number): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  const timer = setTimeout(() => server.closeAllConnections(), Math.max(0, deadline - Date.now()));
  await closed;
  clearTimeout(timer);
}
