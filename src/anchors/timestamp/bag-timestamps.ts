// The timestamps an export bag carries (issue 15), written by the exporter and read by
// verify-export (verify-timestamps.ts). All under data/log/:
//
//   timestamped-checkpoint          the exact bytes every timestamp covers (timestamped-bytes.ts):
//                                   the signed note of the timestamped checkpoint, as the log
//                                   signed it — `openssl ts -verify -data` takes this file
//   timestamps/<n>.tsr              timestamp n (1, 2, …): an RFC 3161 TimeStampResp (status
//                                   granted) around the stored token — `openssl ts -verify -in`
//   timestamps/<n>.chain.pem        its certificate path, signer first, trust anchor last
//   timestamped-consistency.json    only when the timestamped checkpoint is not the bag's own:
//                                   {"from": smaller size, "to": larger size, "proof": [base64…]},
//                                   the RFC 6962 consistency proof between the two
//
// bag-info.txt says which checkpoint (Timestamped-Checkpoint-Size) and how many (Timestamps).
import type pg from 'pg';
import { hashReader } from '../../log/log.repository.ts';
import { proveTree } from '../../log/merkle.ts';
import { anchorFor } from './timestamp-store.ts';
import { pemOfCertificates, responseOfToken } from './tsa-verify.ts';

export const TIMESTAMPED_CHECKPOINT_FILE = 'data/log/timestamped-checkpoint';
export const TIMESTAMP_CONSISTENCY_FILE = 'data/log/timestamped-consistency.json';
export const TIMESTAMPS_DIR = 'data/log/timestamps/';
export const tokenFile = (n: number): string => `${TIMESTAMPS_DIR}${n}.tsr`;
export const chainFile = (n: number): string => `${TIMESTAMPS_DIR}${n}.chain.pem`;
export const TIMESTAMPED_SIZE_LABEL = 'Timestamped-Checkpoint-Size';
export const TIMESTAMPS_LABEL = 'Timestamps';

/** Whether a payload path is one of the timestamp files (their names are checked by the verifier). */
export const isTimestampPath = (path: string): boolean =>
  path === TIMESTAMPED_CHECKPOINT_FILE ||
  path === TIMESTAMP_CONSISTENCY_FILE ||
  path.startsWith(TIMESTAMPS_DIR);

/** What writeBag needs of the bag writer. */
interface PayloadSink {
  addPayload(path: string, data: string | Buffer): Promise<unknown>;
}

/**
 * Writes the timestamps of the bag's checkpoint (size `size`), or of the nearest timestamped one
 * with the consistency proof between the two (anchorFor says which); returns the bag-info labels
 * that say so, empty when the log has no timestamp at all.
 */
export async function addTimestampFiles(
  bag: PayloadSink,
  pool: pg.Pool,
  size: number,
): Promise<Record<string, string>> {
  const anchor = await anchorFor(pool, size);
  if (!anchor || anchor.timestamps.length === 0) return {};
  await bag.addPayload(TIMESTAMPED_CHECKPOINT_FILE, Buffer.from(anchor.note, 'utf8'));
  if (anchor.size !== size) {
    const [from, to] = anchor.size < size ? [anchor.size, size] : [size, anchor.size];
    const proof = await proveTree(to, from, hashReader(pool));
    const json = { from, to, proof: proof.map((h) => h.toString('base64')) };
    await bag.addPayload(TIMESTAMP_CONSISTENCY_FILE, `${JSON.stringify(json)}\n`);
  }
  let n = 0;
  for (const t of anchor.timestamps) {
    n++;
    await bag.addPayload(tokenFile(n), responseOfToken(t.token));
    await bag.addPayload(chainFile(n), pemOfCertificates(t.chain));
  }
  return { [TIMESTAMPED_SIZE_LABEL]: String(anchor.size), [TIMESTAMPS_LABEL]: String(n) };
}
