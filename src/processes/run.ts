// Runs one or more components in this process and shuts them down on SIGTERM/SIGINT:
// stop taking work, finish in-flight requests and jobs within SHUTDOWN_TIMEOUT_MS, close
// BullMQ, Prisma and Redis, exit 0.

import type { Config } from '../config/env.ts';
import { type AppContext, createContext } from '../context.ts';
import { warnIfLedgerWritable } from '../db/runtime-privileges.ts';
import type { Component } from './component.ts';

export type ComponentStarter = (ctx: AppContext) => Promise<Component>;

export async function runComponents(config: Config, starters: ComponentStarter[]): Promise<void> {
  const ctx = createContext(config);
  const components: Component[] = [];
  let stopping = false;

  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    const deadline = Date.now() + config.SHUTDOWN_TIMEOUT_MS;
    ctx.log.info({ signal, timeoutMs: config.SHUTDOWN_TIMEOUT_MS }, 'shutting down');
    // Reverse start order: the API stops taking requests before workers stop.
    for (const c of [...components].reverse()) {
      try {
        await c.stop(deadline);
        ctx.log.info({ component: c.name }, 'stopped');
      } catch (err) {
        ctx.log.error({ component: c.name, err }, 'error while stopping');
      }
    }
    await ctx.close();
    ctx.log.info('shutdown complete');
    // pino writes asynchronously: flush before exiting so no line is lost or reordered.
    ctx.log.flush(() => process.exit(0));
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));

  // Once per process, whichever components it runs.
  await warnIfLedgerWritable(ctx.pool, ctx.log);
  for (const start of starters) components.push(await start(ctx));
}
