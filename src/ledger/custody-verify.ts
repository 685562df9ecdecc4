// A subject's custody verified without trusting the stored tree: the chain recomputed
// (ChainChecker), and every integrated event proven included, by an inclusion proof built from
// the stored hashes, in the root of the latest checkpoint whose signature a published log key
// verifies. Someone with owner powers who rewrites an event and its log_entries and
// log_hashes consistently cannot re-sign the checkpoint, so the proof fails and names the event.
// Trust rests on the published key (log_keys): pinning it outside the database is the
// operator's next step (an owner could publish a key of their own).
import type pg from 'pg';
import { proveRecords } from '../exports/batch-proofs.ts';
import { openCheckpoint } from '../log/checkpoint.ts';
import { hashReader, latestCheckpoint } from '../log/log.repository.ts';
import { checkRecord, hashLeaf } from '../log/merkle.ts';
import { publishedVerifierKey } from '../log/published-key.ts';
import { ChainChecker, type ChainVerdict } from './chain-verify.ts';
import type { Subject } from './event-types.ts';
import { readSubjectEvents, type Tx } from './ledger.repository.ts';

export interface CustodyVerdict extends ChainVerdict {
  /** The signed checkpoint the events were proven against; null when there is none (yet). */
  checkpoint: { size: number } | null;
  /** How many of the chain's last events the signed log does not cover yet (the sequencer
   * integrates them within SEQUENCER_INTERVAL_MS). */
  pending: number;
}

type Tree = { size: number; rootHash: Buffer };
type SignedTree = Tree | { problem: string } | null;
type Integrated = { seq: number; hash: string; logIndex: number };

/** The tree a stored checkpoint note commits to, if a published log key signed it (its size
 * and root come from the signed text, never from the table's columns). */
async function openSigned(pool: pg.Pool, note: string, what: string): Promise<Tree | { problem: string }> {
  const key = await publishedVerifierKey(pool, note);
  if (!key) return { problem: `${what} is not signed by any published log key` };
  const { checkpoint } = openCheckpoint(note, key);
  return { size: checkpoint.size, rootHash: checkpoint.rootHash };
}

async function latestSignedTree(pool: pg.Pool): Promise<SignedTree> {
  const latest = await latestCheckpoint(pool);
  return latest ? openSigned(pool, latest.note, `the latest checkpoint (size ${latest.size})`) : null;
}

const PROOF_BATCH = 1_000;

/** The events whose inclusion proof, built from the stored hashes, does not lead to `tree`'s
 * signed root (or cannot be built: a stored hash is missing), with the reason. */
async function unproven(pool: pg.Pool, tree: Tree, events: readonly Integrated[]) {
  const failed: { event: Integrated; reason: string }[] = [];
  for (let i = 0; i < events.length; i += PROOF_BATCH) {
    const batch = events.slice(i, i + PROOF_BATCH);
    let proofs: Buffer[][];
    try {
      proofs = await proveRecords(
        tree.size,
        batch.map((e) => e.logIndex),
        hashReader(pool),
      );
    } catch (err) {
      // A database that does not answer is no evidence of tampering: only a missing hash is.
      if ((err as { code?: string }).code !== undefined) throw err;
      const reason = `its inclusion proof cannot be built: ${(err as Error).message}`;
      for (const event of batch) failed.push({ event, reason });
      continue;
    }
    for (const [k, event] of batch.entries()) {
      const leaf = hashLeaf(Buffer.from(event.hash, 'hex'));
      if (!checkRecord(proofs[k]!, tree.size, tree.rootHash, event.logIndex, leaf)) {
        failed.push({
          event,
          reason: `not included in the signed checkpoint (size ${tree.size}): the inclusion proof of log index ${event.logIndex} does not lead to its signed root`,
        });
      }
    }
  }
  return failed;
}

/**
 * Localizes a rewrite. A rewritten leaf breaks the proof of every leaf whose audit path crosses
 * it, so against the latest checkpoint the chain's first event may fail although only a later
 * one was forged. Each failed event is proven again against the first signed checkpoint that
 * covers it: one signed before the rewritten leaf was integrated vouches for the event (the
 * signer only ever extends its log), so only events that fail there too are named.
 */
async function localize(pool: pg.Pool, failed: { event: Integrated; reason: string }[]) {
  const { rows } = await pool.query<{ i: string; note: string; size: string }>(
    `SELECT w.i::text AS i, c.size::text AS size, c.note FROM unnest($1::bigint[]) AS w(i)
     CROSS JOIN LATERAL (SELECT size, note FROM log_checkpoints WHERE size > w.i ORDER BY size LIMIT 1) c`,
    [failed.map((f) => f.event.logIndex)],
  );
  const trees = new Map<string, Promise<Tree | { problem: string }>>();
  const byIndex = new Map(
    rows.map((r) => {
      if (!trees.has(r.size)) trees.set(r.size, openSigned(pool, r.note, `checkpoint size ${r.size}`));
      return [Number(r.i), r.size];
    }),
  );
  const still = new Map<number, string>();
  for (const f of failed) if (!byIndex.has(f.event.logIndex)) still.set(f.event.seq, f.reason);
  for (const [size, opened] of trees) {
    const tree = await opened;
    const group = failed.filter((f) => byIndex.get(f.event.logIndex) === size);
    if ('problem' in tree) {
      for (const f of group) still.set(f.event.seq, `${f.reason}, and ${tree.problem}`);
      continue;
    }
    for (const f of await unproven(
      pool,
      tree,
      group.map((g) => g.event),
    ))
      still.set(f.event.seq, f.reason);
  }
  return still;
}

/** Why the signed log does not vouch for each event (by seq), and how many are pending. */
async function logProblems(
  pool: pg.Pool,
  events: readonly { seq: number; hash: string; logIndex: number | null }[],
  tree: SignedTree,
): Promise<{ problems: Map<number, string>; pending: number }> {
  const problems = new Map<number, string>();
  const integrated: Integrated[] = [];
  let pending = 0;
  // The sequencer integrates a subject's events in append order: an event missing from the log
  // before one that is in it had its entry removed. laterIntegrated[i]: the next such seq.
  const laterIntegrated: (number | undefined)[] = [];
  for (let i = events.length - 1, next: number | undefined; i >= 0; i--) {
    laterIntegrated[i] = next;
    if (events[i]!.logIndex !== null) next = events[i]!.seq;
  }
  for (const [i, e] of events.entries()) {
    if (e.logIndex === null) {
      pending++;
      const later = laterIntegrated[i];
      if (later !== undefined)
        problems.set(e.seq, `not in the Merkle log although the later seq ${later} is`);
    } else if (tree === null) {
      problems.set(e.seq, `recorded at log index ${e.logIndex} but the log has no signed checkpoint`);
    } else if ('problem' in tree) {
      problems.set(e.seq, `cannot be proven: ${tree.problem}`);
    } else if (e.logIndex >= tree.size) {
      problems.set(
        e.seq,
        `recorded at log index ${e.logIndex}, beyond the signed checkpoint (size ${tree.size})`,
      );
    } else integrated.push({ seq: e.seq, hash: e.hash, logIndex: e.logIndex });
  }
  if (tree && !('problem' in tree)) {
    const failed = await unproven(pool, tree, integrated);
    if (failed.length > 0)
      for (const [seq, reason] of await localize(pool, failed)) problems.set(seq, reason);
  }
  return { problems, pending };
}

/**
 * Verifies one subject's chain of custody against the signed log. The events are read before
 * the checkpoint, so every event integrated by then is covered by it (the sequencer signs in
 * the transaction that integrates). Names the first bad seq, whether the chain or the log
 * says so.
 */
export async function verifyCustody(
  db: { prisma: Tx; pool: pg.Pool },
  subject: Subject,
): Promise<CustodyVerdict> {
  const events = await readSubjectEvents(db.prisma, subject);
  const tree = await latestSignedTree(db.pool);
  const { problems, pending } = await logProblems(db.pool, events, tree);
  const checker = new ChainChecker(subject);
  for (const e of events) if (!checker.push({ ...e, logProblem: problems.get(e.seq) })) break;
  return {
    ...checker.verdict(events.length),
    checkpoint: tree && 'size' in tree ? { size: tree.size } : null,
    pending,
  };
}
