// Runs the real sequencer component for a test file and stops it afterwards.
import { afterAll } from 'vitest';
import type { AppContext } from '../../src/context.ts';
import { startSequencer } from '../../src/processes/sequencer.ts';
import { waitFor } from './context.ts';

export async function useSequencer(ctx: AppContext) {
  const component = await startSequencer(ctx);
  afterAll(() => component.stop(Date.now() + 10_000));
  return component;
}

/** Waits until every pending event has been integrated. */
export async function waitForIntegration(ctx: AppContext, timeoutMs = 30_000) {
  await waitFor(async () => {
    const { rows } = await ctx.pool.query<{ n: string }>('SELECT count(*)::text AS n FROM log_pending');
    return rows[0]?.n === '0';
  }, timeoutMs);
}
