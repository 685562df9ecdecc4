// The sequencer: integrates appended ledger events into the one global Merkle log in
// batches and signs a C2SP checkpoint after each. One active instance at a time.
import { performance } from 'node:perf_hooks';
import type pg from 'pg';
import type { Logger } from 'pino';
import { sleeper } from '../lib/sleeper.ts';
import { openCheckpoint, signCheckpoint } from './checkpoint.ts';
import { hashReader, latestCheckpoint, treeSize } from './log.repository.ts';
import { HASH_SIZE, type HashReader, type StoredHash, storedHashesForBatch, treeHash } from './merkle.ts';
import {
  type NoteSigner,
  type NoteVerifier,
  parseSignerKey,
  parseVerifierKey,
  verifierKeyFromSigner,
} from './note.ts';

/** Advisory-lock key (two-int form, a key space apart from the ledger's bigint subject
 * locks) that makes one sequencer the active one; the others wait for it. */
const LEASE = [0x636c6169, 0x6d6c6f67] as const; // "clai" "mlog"

export interface SequencerDeps {
  pool: pg.Pool;
  log: Logger;
  origin: string;
  signerKey: string;
  batchSize: number;
}

// The batch's ids are picked first (LIMIT in a subquery) and deleted by row address, then each is
// joined by an index probe (LATERAL … LIMIT 1, which the planner cannot turn into a join over
// whole tables): with log_pending's statistics still counting the rows integrated since the last
// autovacuum, a plan over the join as a whole once merge-joined the whole of ledger_events and
// log_entries, so a batch's cost grew with the ledger. Leaves are numbered from $1 in event-id
// order. A queued event already in the log (only a hand-made INSERT leaves one) would fail the
// batch on log_entries' unique event_id and stall the log: it leaves the queue without a leaf.
const INTEGRATE_SQL = `WITH batch AS (
    DELETE FROM log_pending
    WHERE ctid = ANY (ARRAY(SELECT ctid FROM log_pending ORDER BY event_id LIMIT $2))
    RETURNING event_id
  ), fresh AS (
    SELECT b.event_id, e.hash FROM batch b
    CROSS JOIN LATERAL (SELECT e.hash FROM ledger_events e WHERE e.id = b.event_id LIMIT 1) e
    LEFT JOIN LATERAL (SELECT true AS done FROM log_entries l WHERE l.event_id = b.event_id LIMIT 1) l ON true
    WHERE l.done IS NULL
  )
  INSERT INTO log_entries (log_index, event_id, event_hash)
  SELECT $1::bigint + row_number() OVER (ORDER BY fresh.event_id) - 1, fresh.event_id, fresh.hash FROM fresh
  RETURNING log_index::text AS log_index, event_hash`;

export interface BatchResult {
  integrated: number;
  size: number;
  rootHash: Buffer;
}

/**
 * Integrates up to batchSize pending events (in event-id order) as the next leaves, stores
 * their tlog hashes, and signs a checkpoint for the new size — all in one transaction, so a
 * crash at any point leaves the log exactly as the last committed batch left it (no gap, no
 * duplicate index), and the same prefix always yields the same root. Returns null when there
 * was nothing to do or another sequencer holds the batch lock.
 */
export async function integrateBatch(
  client: pg.PoolClient,
  deps: SequencerDeps,
): Promise<BatchResult | null> {
  await client.query('BEGIN');
  try {
    const lock = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_xact_lock($1, $2) AS ok', [
      ...LEASE,
    ]);
    if (!lock.rows[0]?.ok) {
      await client.query('ROLLBACK');
      return null;
    }
    const start = await treeSize(client);
    const read = hashReader(client);
    // The batch's leaves in ONE statement (INTEGRATE_SQL): the oldest pending ids leave the queue
    // and their events' hashes become the next leaves; undone with the batch if anything fails.
    const { rows } = await client.query<{ log_index: string; event_hash: Buffer }>(INTEGRATE_SQL, [
      start,
      deps.batchSize,
    ]);
    if (rows.length === 0) {
      await client.query('COMMIT');
      return null;
    }
    await assertExtendsSignedTree(client, start, read, deps);
    // RETURNING gives no order: each leaf goes to its place.
    const leaves: Buffer[] = new Array(rows.length);
    for (const r of rows) leaves[Number(r.log_index) - start] = r.event_hash;
    const stored = await storedHashesForBatch(start, leaves, read);
    await insertStoredHashes(client, stored);
    const size = start + leaves.length;
    const rootHash = await treeHash(size, read);
    const note = signCheckpoint({ origin: deps.origin, size, rootHash }, keysOf(deps.signerKey).signer);
    await client.query('INSERT INTO log_checkpoints (size, root_hash, note) VALUES ($1, $2, $3)', [
      size,
      rootHash,
      note,
    ]);
    await client.query('COMMIT');
    return { integrated: leaves.length, size, rootHash };
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/** The stored tree must be the one this log last signed: someone with owner powers who rewrote
 * log_entries and log_hashes must not get the forgery signed by the next checkpoint. One
 * signature check and one O(log n) read per batch. */
async function assertExtendsSignedTree(
  client: pg.PoolClient,
  size: number,
  read: HashReader,
  deps: SequencerDeps,
): Promise<void> {
  const latest = await latestCheckpoint(client);
  if (!latest) return;
  const { checkpoint } = openCheckpoint(latest.note, keysOf(deps.signerKey).verifier);
  if (checkpoint.size !== size || !(await treeHash(size, read)).equals(checkpoint.rootHash)) {
    throw new Error(
      `the stored Merkle tree (size ${size}) is not the tree this log last signed (checkpoint size ${checkpoint.size}): ` +
        'log_entries or log_hashes were rewritten; refusing to sign over them (run `claimtrail ledger verify`)',
    );
  }
}

/**
 * A batch's stored hashes in one statement. storedHashesForBatch numbers them consecutively, so
 * they travel as the first index and ONE bytea of 32-byte hashes end to end, which pg sends in
 * binary: no array of hex texts to build here and to parse in the server (~3 per leaf).
 */
async function insertStoredHashes(client: pg.PoolClient, stored: readonly StoredHash[]): Promise<void> {
  if (stored.length === 0) return;
  const first = stored[0]!.index;
  const hashes = Buffer.allocUnsafe(stored.length * HASH_SIZE);
  for (const [i, s] of stored.entries()) {
    if (s.index !== first + i || s.hash.length !== HASH_SIZE)
      throw new Error('sequencer: stored hashes of a batch must be consecutive 32-byte hashes');
    s.hash.copy(hashes, i * HASH_SIZE);
  }
  await client.query(
    `INSERT INTO log_hashes (idx, hash)
     SELECT $1::bigint + i, substring($2::bytea FROM i * ${HASH_SIZE} + 1 FOR ${HASH_SIZE})
     FROM generate_series(0, $3::int - 1) AS i`,
    [first, hashes, stored.length],
  );
}

// The signing key parsed once per key, not per batch (createPrivateKey and the verifier's
// createPublicKey were ~15 % of the sequencer's CPU under load).
let parsedKeys: { signerKey: string; signer: NoteSigner; verifier: NoteVerifier } | undefined;
function keysOf(signerKey: string) {
  if (parsedKeys?.signerKey !== signerKey) {
    parsedKeys = {
      signerKey,
      signer: parseSignerKey(signerKey),
      verifier: parseVerifierKey(verifierKeyFromSigner(signerKey)),
    };
  }
  return parsedKeys;
}

/**
 * Publishes the verifier key (log_keys), then signs the empty tree once, so /v1/log/checkpoint
 * answers from the very first start. Run by whoever starts integrating.
 */
export async function ensureInitialCheckpoint(client: pg.PoolClient, deps: SequencerDeps): Promise<void> {
  await client.query('INSERT INTO log_keys (verifier_key) VALUES ($1) ON CONFLICT DO NOTHING', [
    verifierKeyFromSigner(deps.signerKey),
  ]);
  const { rows } = await client.query('SELECT 1 FROM log_checkpoints LIMIT 1');
  if (rows.length > 0) return;
  const rootHash = await treeHash(0, hashReader(client));
  const note = signCheckpoint({ origin: deps.origin, size: 0, rootHash }, deps.signerKey);
  await client.query(
    'INSERT INTO log_checkpoints (size, root_hash, note) VALUES (0, $1, $2) ON CONFLICT DO NOTHING',
    [rootHash, note],
  );
}

export interface SequencerLoop {
  stop(): Promise<void>;
  /** Resolves once this instance holds the lease (tests and benchmarks use it). */
  active: Promise<void>;
}

/**
 * Runs the sequencer: waits for the session-level lease (a standby instance keeps trying),
 * then integrates a batch whenever events are pending — a batch starts every intervalMs
 * (counted from the start of the previous one, so an event waits at most one interval plus
 * one batch), and back-to-back while batches come out full or take longer than the interval.
 */
export function runSequencerLoop(deps: SequencerDeps & { intervalMs: number }): SequencerLoop {
  let stopped = false;
  const { sleep, wakeAll } = sleeper();
  let markActive: () => void = () => {};
  const active = new Promise<void>((resolve) => {
    markActive = resolve;
  });

  const loop = (async () => {
    while (!stopped) {
      let client: pg.PoolClient | undefined;
      try {
        client = await deps.pool.connect();
        const got = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, $2) AS ok', [
          ...LEASE,
        ]);
        if (!got.rows[0]?.ok) {
          client.release();
          client = undefined;
          await sleep(deps.intervalMs * 2);
          continue;
        }
        deps.log.info('sequencer holds the lease: integrating');
        markActive();
        await ensureInitialCheckpoint(client, deps);
        while (!stopped) {
          const started = performance.now();
          const batch = await integrateBatch(client, deps);
          const ms = performance.now() - started;
          if (batch)
            deps.log.debug({ integrated: batch.integrated, size: batch.size, ms }, 'batch integrated');
          if (!batch || batch.integrated < deps.batchSize) await sleep(Math.max(0, deps.intervalMs - ms));
        }
        await client.query('SELECT pg_advisory_unlock($1, $2)', [...LEASE]);
        client.release();
        client = undefined;
      } catch (err) {
        deps.log.error({ err: (err as Error).message }, 'sequencer error; retrying');
        // A broken connection also drops the session lease; discard the client.
        client?.release(true);
        client = undefined;
        if (!stopped) await sleep(deps.intervalMs * 2);
      }
    }
  })();

  return {
    active,
    async stop() {
      stopped = true;
      wakeAll();
      await loop;
    },
  };
}
