// The sequencer process component.
import type { AppContext } from '../context.ts';
import { runSequencerLoop } from '../log/sequencer.ts';
import { loadOrCreateSigningKey } from '../log/signing-key.ts';
import type { Component } from './component.ts';

export async function startSequencer(ctx: AppContext): Promise<Component> {
  const { signerKey } = await loadOrCreateSigningKey(
    ctx.config.LOG_SIGNING_KEY_FILE,
    ctx.config.LOG_ORIGIN,
    ctx.log,
  );
  const loop = runSequencerLoop({
    pool: ctx.pool,
    log: ctx.log.child({ component: 'sequencer' }),
    origin: ctx.config.LOG_ORIGIN,
    signerKey,
    batchSize: ctx.config.SEQUENCER_BATCH_SIZE,
    intervalMs: ctx.config.SEQUENCER_INTERVAL_MS,
  });
  ctx.log.info('sequencer started');
  return {
    name: 'sequencer',
    // The current batch is one transaction: stopping waits for it to commit, never tears it.
    stop: () => loop.stop(),
  };
}
