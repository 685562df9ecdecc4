// Asks every configured witness to cosign the log's latest checkpoint (C2SP tlog-witness).
//
// It runs in the sequencer process, beside the integration loop, and not as a BullMQ job:
// a witness needs only the newest checkpoint (each cosignature covers every smaller tree), so
// one loop per witness that always sends the latest one coalesces a burst of batches into one
// request, keeps one request in flight per witness (concurrent jobs would race each other into
// 409s), and never delays a batch — the batch transaction commits first, the witness is asked
// afterwards. It starts once this process holds the sequencer lease.
import type pg from 'pg';
import type { Logger } from 'pino';
import type { GuardedFetcher } from '../../fetch/guarded-fetcher.ts';
import { sleeper } from '../../lib/sleeper.ts';
import { openCheckpoint } from '../../log/checkpoint.ts';
import { type CheckpointRow, hashReader, latestCheckpoint } from '../../log/log.repository.ts';
import { proveTree, treeHash } from '../../log/merkle.ts';
import { type CosignOutcome, fetchWitnessedCheckpoint, requestCosignature } from './cosign-client.ts';
import { type CosignatureVerifier, parseCosignerKey } from './cosignature.ts';
import { insertCosignature, lastCosignedSize } from './cosignature-store.ts';
import { originHash } from './witness.ts';
import type { WitnessTarget } from './witness-config.ts';
import type { WitnessStats } from './witness-stats.ts';

export interface CosignerDeps {
  pool: pg.Pool;
  log: Logger;
  fetcher: GuardedFetcher;
  witnesses: readonly WitnessTarget[];
  /** The log's own verifier key: checks a witness's copy of our checkpoint when it disagrees. */
  logVerifierKey: string;
  stats: WitnessStats;
  /** How often to look for a new checkpoint (the sequencer's interval). */
  intervalMs: number;
  /** Longest wait after failures (doubling from intervalMs). Default 5 minutes. */
  maxBackoffMs?: number;
}

export interface CosignerLoop {
  stop(): Promise<void>;
}

/** A cosignature timestamp more than this far in the future is not believed. */
const MAX_CLOCK_SKEW_S = 600n;
/** 409 answers followed within one attempt (the witness moved between our requests). */
const MAX_CONFLICTS = 3;

export interface CosignerWitness extends WitnessTarget {
  verifier: CosignatureVerifier;
}

/** A configured witness with its key parsed. */
export const cosignerWitness = (w: WitnessTarget): CosignerWitness => ({
  ...w,
  verifier: parseCosignerKey(w.verifierKey),
});

/**
 * One attempt to get `cp` cosigned by `w`: old size = what it last cosigned for us (0: never),
 * then as its 409s say. Stores the cosignature once verified. Returns whether it was obtained.
 */
export async function cosignLatest(
  deps: CosignerDeps,
  w: CosignerWitness,
  cp: CheckpointRow,
): Promise<boolean> {
  const log = deps.log.child({ witness: w.name, size: cp.size });
  const read = hashReader(deps.pool);
  let oldSize = await lastCosignedSize(deps.pool, w.name, w.verifier.keyHash);
  if (oldSize === cp.size) return true; // already cosigned
  const origin = openCheckpoint(cp.note, deps.logVerifierKey).checkpoint.origin;
  for (let conflicts = 0; ; conflicts++) {
    if (oldSize > cp.size) {
      await reportFork(
        deps,
        w,
        cp,
        `the witness has cosigned size ${oldSize}, larger than our latest checkpoint ${cp.size}`,
        origin,
      );
      return false;
    }
    const proof = oldSize === 0 || oldSize === cp.size ? [] : await proveTree(cp.size, oldSize, read);
    const outcome: CosignOutcome = await requestCosignature(deps.fetcher, w.url, w.verifier, {
      oldSize,
      proof,
      note: cp.note,
    });
    if (outcome.kind === 'conflict') {
      if (conflicts + 1 >= MAX_CONFLICTS) {
        deps.stats.failed(w.name, 'conflict');
        log.warn({ witnessSize: outcome.witnessSize }, 'witness keeps answering 409; will retry');
        return false;
      }
      log.debug(
        { oldSize, witnessSize: outcome.witnessSize },
        'witness answered 409: retrying from its size',
      );
      oldSize = outcome.witnessSize;
      continue;
    }
    if (outcome.kind === 'failed') {
      deps.stats.failed(w.name, outcome.reason);
      if (outcome.reason === 'inconsistent' && oldSize > 0) {
        // Our own proof from the size it cosigned does not lead to our tree: it holds another root.
        await reportFork(
          deps,
          w,
          cp,
          `it refused our consistency proof from size ${oldSize} (${outcome.detail})`,
          origin,
        );
      } else
        log.warn({ reason: outcome.reason, detail: outcome.detail, oldSize }, 'no cosignature from witness');
      return false;
    }
    const c = outcome.cosignature;
    if (c.timestamp > BigInt(Math.floor(Date.now() / 1000)) + MAX_CLOCK_SKEW_S) {
      deps.stats.failed(w.name, 'bad_response');
      log.warn({ timestamp: String(c.timestamp) }, 'witness cosignature is dated in the future; not kept');
      return false;
    }
    await insertCosignature(deps.pool, { ...c, size: cp.size, rootHash: cp.rootHash });
    deps.stats.obtained(w.name);
    log.info({ cosignedAt: String(c.timestamp) }, 'checkpoint cosigned by witness');
    return true;
  }
}

/**
 * A witness's view of this log is not our tree: either the log was forked (someone with our
 * key signed another tree) or our history was rewritten. Logged at error level and counted;
 * the witness's own copy of our checkpoint (its monitoring endpoint), when it serves one that
 * our key signed, names the size and root it holds.
 */
async function reportFork(
  deps: CosignerDeps,
  w: CosignerWitness,
  cp: CheckpointRow,
  why: string,
  origin: string,
) {
  deps.stats.fork(w.name);
  const evidence: Record<string, unknown> = {};
  const note = await fetchWitnessedCheckpoint(deps.fetcher, w.url, originHash(origin));
  if (note) {
    try {
      const theirs = openCheckpoint(note, deps.logVerifierKey).checkpoint;
      evidence.witnessSize = theirs.size;
      evidence.witnessRoot = theirs.rootHash.toString('base64');
      if (theirs.size <= cp.size) {
        evidence.ourRoot = (await treeHash(theirs.size, hashReader(deps.pool))).toString('base64');
      }
    } catch (err) {
      evidence.witnessCheckpoint = `not signed by our key: ${(err as Error).message}`;
    }
  }
  deps.log.error(
    { witness: w.name, size: cp.size, ourLatestRoot: cp.rootHash.toString('base64'), ...evidence },
    `LOG FORK: witness ${w.name} holds a view of this log that is not our tree: ${why}. Not cosigned. ` +
      'Either our signing key signed another tree or this log was rewritten: investigate (claimtrail ledger verify).',
  );
}

/** Starts one loop per witness, each looking for a new checkpoint every intervalMs (one
 * primary-key read) and waiting longer, doubling, after failures; they stop together. */
export function startCosigner(deps: CosignerDeps): CosignerLoop {
  const witnesses = deps.witnesses.map(cosignerWitness);
  const maxBackoff = deps.maxBackoffMs ?? 5 * 60_000;
  let stopped = false;
  const { sleep, wakeAll } = sleeper();

  const loops = witnesses.map(async (w) => {
    let backoff = 0;
    let done: { size: number; root: Buffer } | undefined;
    while (!stopped) {
      try {
        const cp = await latestCheckpoint(deps.pool);
        if (cp && !(done && done.size === cp.size && done.root.equals(cp.rootHash))) {
          if (await cosignLatest(deps, w, cp)) {
            done = { size: cp.size, root: cp.rootHash };
            backoff = 0;
          } else backoff = Math.min(maxBackoff, backoff === 0 ? deps.intervalMs * 2 : backoff * 2);
        }
      } catch (err) {
        deps.log.error({ witness: w.name, err: (err as Error).message }, 'cosigner error; retrying');
        backoff = Math.min(maxBackoff, backoff === 0 ? deps.intervalMs * 2 : backoff * 2);
      }
      if (!stopped) await sleep(backoff || deps.intervalMs);
    }
  });

  return {
    async stop() {
      stopped = true;
      wakeAll();
      await Promise.all(loops);
    },
  };
}
