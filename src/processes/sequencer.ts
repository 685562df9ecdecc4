// The sequencer process component.
import { startTimestamper } from '../anchors/timestamp/start-timestamper.ts';
import { cosignWhenActive } from '../anchors/witness/cosigner-component.ts';
import type { AppContext } from '../context.ts';
import { openCheckpoint } from '../log/checkpoint.ts';
import { latestCheckpoint } from '../log/log.repository.ts';
import { runSequencerLoop } from '../log/sequencer.ts';
import { loadOrCreateSigningKey } from '../log/signing-key.ts';
import type { Component } from './component.ts';

/** A lost or swapped key file would otherwise be replaced by a fresh key, silently forking
 * the log's identity: checkpoints already published could no longer be verified together
 * with new ones. Refuse to sign unless our key verifies the latest checkpoint. */
async function assertKeySignedTheLog(ctx: AppContext, verifierKey: string): Promise<void> {
  const latest = await latestCheckpoint(ctx.pool);
  if (!latest) return;
  try {
    openCheckpoint(latest.note, verifierKey);
  } catch (err) {
    throw new Error(
      `the key in LOG_SIGNING_KEY_FILE (${ctx.config.LOG_SIGNING_KEY_FILE}) did not sign this log's latest checkpoint ` +
        `(size ${latest.size}): ${(err as Error).message}. Restore the log's key file; do not start the sequencer with another key.`,
    );
  }
}

export async function startSequencer(ctx: AppContext): Promise<Component> {
  const { signerKey, verifierKey } = await loadOrCreateSigningKey(
    ctx.config.LOG_SIGNING_KEY_FILE,
    ctx.config.LOG_ORIGIN,
    ctx.log,
  );
  await assertKeySignedTheLog(ctx, verifierKey);
  const loop = runSequencerLoop({
    pool: ctx.pool,
    log: ctx.log.child({ component: 'sequencer' }),
    origin: ctx.config.LOG_ORIGIN,
    signerKey,
    batchSize: ctx.config.SEQUENCER_BATCH_SIZE,
    intervalMs: ctx.config.SEQUENCER_INTERVAL_MS,
  });
  // Anchors (issue 15): beside the loop, on the same lease, never inside a batch.
  const timestamper = startTimestamper(ctx, loop.active);
  // Witness cosignatures (issue 15): asked for by the active sequencer only.
  const cosigner = cosignWhenActive(ctx, verifierKey, loop.active);
  ctx.log.info('sequencer started');
  return {
    name: 'sequencer',
    // The current batch is one transaction: stopping waits for it to commit, never tears it.
    stop: async () => {
      await timestamper?.stop();
      await cosigner.stop();
      await loop.stop();
    },
  };
}
