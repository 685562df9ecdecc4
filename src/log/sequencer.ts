// The sequencer: integrates appended ledger events into the one global Merkle log in
// batches and signs a C2SP checkpoint after each. One active instance at a time.
import { performance } from 'node:perf_hooks';
import type pg from 'pg';
import type { Logger } from 'pino';
import { sleeper } from '../lib/sleeper.ts';
import { openCheckpoint, signCheckpoint } from './checkpoint.ts';
import { hashReader, latestCheckpoint, treeSize } from './log.repository.ts';
import { type HashReader, storedHashesForBatch, treeHash } from './merkle.ts';
import { verifierKeyFromSigner } from './note.ts';

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
    // The batch's ids first, then one index probe per id: with the LIMIT outside the joins, a
    // log_pending whose statistics still count the rows integrated since the last autovacuum
    // (hundreds of thousands) made the planner merge-join it with the whole of ledger_events and
    // log_entries — a batch cost grew with the ledger (138 ms at 275k events, 7.6 ms this way).
    const queued = await client.query<{ event_id: string; hash: Buffer; done: boolean }>(
      `SELECT p.event_id, e.hash, l.event_id IS NOT NULL AS done
       FROM (SELECT event_id FROM log_pending ORDER BY event_id LIMIT $1) p
       JOIN ledger_events e ON e.id = p.event_id
       LEFT JOIN log_entries l ON l.event_id = p.event_id
       ORDER BY p.event_id`,
      [deps.batchSize],
    );
    // A queue row for an event already in the log (only a hand-made INSERT leaves one: a batch
    // deletes its rows with their leaves) would fail every batch on log_entries' unique
    // event_id and stall the log. It is done: it goes.
    const done = queued.rows.filter((r) => r.done).map((r) => r.event_id);
    if (done.length > 0)
      await client.query('DELETE FROM log_pending WHERE event_id = ANY($1::bigint[])', [done]);
    const pending = queued.rows.filter((r) => !r.done);
    if (pending.length === 0) {
      await client.query(done.length > 0 ? 'COMMIT' : 'ROLLBACK');
      return null;
    }
    const start = await treeSize(client);
    const read = hashReader(client);
    await assertExtendsSignedTree(client, start, read, deps);
    const leaves = pending.map((r) => r.hash);
    const stored = await storedHashesForBatch(start, leaves, read);
    const eventIds = pending.map((r) => r.event_id);
    await client.query(
      `INSERT INTO log_entries (log_index, event_id, event_hash)
       SELECT $1::bigint + i - 1, id, h FROM unnest($2::bigint[], $3::bytea[]) WITH ORDINALITY AS t(id, h, i)`,
      [start, eventIds, leaves],
    );
    await client.query('INSERT INTO log_hashes (idx, hash) SELECT * FROM unnest($1::bigint[], $2::bytea[])', [
      stored.map((s) => s.index),
      stored.map((s) => s.hash),
    ]);
    await client.query('DELETE FROM log_pending WHERE event_id = ANY($1::bigint[])', [eventIds]);
    const size = start + leaves.length;
    const rootHash = await treeHash(size, read);
    const note = signCheckpoint({ origin: deps.origin, size, rootHash }, deps.signerKey);
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
  const { checkpoint } = openCheckpoint(latest.note, verifierKeyFromSigner(deps.signerKey));
  if (checkpoint.size !== size || !(await treeHash(size, read)).equals(checkpoint.rootHash)) {
    throw new Error(
      `the stored Merkle tree (size ${size}) is not the tree this log last signed (checkpoint size ${checkpoint.size}): ` +
        'log_entries or log_hashes were rewritten; refusing to sign over them (run `claimtrail ledger verify`)',
    );
  }
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
