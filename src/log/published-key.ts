// The verifier keys the sequencer published (log_keys): what an API or worker process on a
// host without LOG_SIGNING_KEY_FILE uses to serve and check checkpoints. Before, such a process
// read the key file — and on a host without one, generated a new private key of its own.
import type pg from 'pg';
import { openCheckpoint } from './checkpoint.ts';

/** The published key that verifies `note` (a signed checkpoint), newest first; undefined if none. */
export async function publishedVerifierKey(
  db: pg.Pool | pg.PoolClient,
  note: string,
): Promise<string | undefined> {
  const { rows } = await db.query<{ verifier_key: string }>(
    'SELECT verifier_key FROM log_keys ORDER BY created_at DESC, verifier_key',
  );
  for (const { verifier_key: key } of rows) {
    try {
      openCheckpoint(note, key);
      return key;
    } catch {
      // signed with another key (one rotated out): try the next
    }
  }
  return undefined;
}
