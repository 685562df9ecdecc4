// The SQL of perceptual hashes (table media_hashes): writing an item's hashes inside the
// capture's transaction, reading them, and the Hamming-distance search. The search is a
// multi-index lookup (pdq-multi-index.ts) through the GIN index over `segments`, each
// candidate checked with bit_count(hash # query): `npm run bench pdq` measured it against
// an in-memory multi-index and a brute-force scan (see bench/pdq.bench.ts for the figures).
// Each row carries its item's investigation (its source's, copied when the hashes are stored:
// sources never move, the database refuses it), so the caller's-investigations filter is a
// test of each candidate row, not a join to evidence_items and sources.
import type pg from 'pg';
import { type SqlChange, single } from '../db/sql-change.ts';
import type { WriteTx } from '../db/unit-of-work.ts';
import { PDQ_HEX, PDQ_MATCH_DISTANCE } from './pdq.ts';
import { probeTokens, segmentTokens } from './pdq-multi-index.ts';

/** One hash of an item: second 0 for an image, one per second of a video. */
export interface FrameHash {
  second: number;
  hash: string;
  quality: number;
}

export interface SimilarHash extends FrameHash {
  evidenceId: string;
  /** Which of the query hashes (index into the array searched for) this one is near. */
  query: number;
  distance: number;
}

export interface SearchOptions {
  /** Largest Hamming distance (inclusive; default PDQ_MATCH_DISTANCE, at most 63). */
  distance?: number;
  /** Ignore stored hashes below this quality (vPDQ recommends 50; default 0). */
  minQuality?: number;
  /** Only items of sources in these investigations (the caller's); absent: everywhere. */
  investigationIds?: readonly string[];
  /** Leave out this item's own hashes (searching for an item's neighbours). */
  excludeEvidenceId?: string;
  /** Leave out every item of this source (with investigationIds: a capture's matches are in
   * other sources of its investigation). */
  excludeSourceId?: string;
  /** Rows returned at most, nearest first (default 1,000). */
  limit?: number;
}

/** Anything that runs a parameterized statement: a pool, a client, or a write transaction's client. */
export type Queryable = Pick<pg.ClientBase, 'query'> | pg.Pool;

/** A `bit(256)` as pg returns it ('0101…') → the PDQ hex form. */
export function bitsToHex(bits: string): string {
  let hex = '';
  for (let i = 0; i < 256; i += 4) hex += Number.parseInt(bits.slice(i, i + 4), 2).toString(16);
  return hex;
}

function checkedHash(hash: string): string {
  if (!PDQ_HEX.test(hash)) throw new RangeError('pdq: a hash is 64 lowercase hex digits');
  return hash;
}

/**
 * The row change storing an item's hashes, to ride in the statement that inserts the item and
 * appends the event reporting them (src/db/sql-change.ts): a hash never exists without its
 * custody record. Hashes are a function of the bytes, so storing them again changes nothing.
 * `sourceId` is the item's source: its investigation is copied into each row (read in the same
 * statement, so it is the source's own).
 */
export const mediaHashesChange =
  (evidenceId: string, sourceId: string, frames: readonly FrameHash[]): SqlChange =>
  (p) =>
    `INSERT INTO media_hashes (evidence_id, investigation_id, frame_second, hash, quality, segments)
     SELECT ${p(evidenceId)}::uuid, (SELECT s.investigation_id FROM sources s WHERE s.id = ${p(sourceId)}::uuid),
       f.second, ('x' || f.hash)::bit(256), f.quality, f.segments::int[]
     FROM unnest(${p(frames.map((f) => f.second))}::int[], ${p(frames.map((f) => checkedHash(f.hash)))}::text[],
       ${p(frames.map((f) => f.quality))}::int[], ${p(frames.map((f) => `{${segmentTokens(f.hash).join(',')}}`))}::text[])
       AS f(second, hash, quality, segments)
     ON CONFLICT (evidence_id, frame_second) DO NOTHING`;

/** Stores an item's hashes in the caller's transaction, on their own (see mediaHashesChange). */
export async function insertMediaHashes(
  tx: WriteTx,
  item: { evidenceId: string; sourceId: string },
  frames: readonly FrameHash[],
): Promise<number> {
  if (frames.length === 0) return 0;
  const { text, params } = single(mediaHashesChange(item.evidenceId, item.sourceId, frames));
  return tx.exec(text, params);
}

/** An item's hashes in second order (empty when it has none). */
export async function mediaHashesOf(db: Queryable, evidenceId: string): Promise<FrameHash[]> {
  const { rows } = await db.query<{ second: number; bits: string; quality: number }>(
    `SELECT frame_second AS second, hash::text AS bits, quality
     FROM media_hashes WHERE evidence_id = $1 ORDER BY frame_second`,
    [evidenceId],
  );
  return rows.map((r) => ({ second: r.second, hash: bitsToHex(r.bits), quality: r.quality }));
}

/**
 * Every stored hash within `distance` of any of `hashes` (one statement for all of a video's
 * seconds), nearest first. Exact: the multi-index finds each hash within the distance, and
 * bit_count keeps only those.
 */
export async function findSimilarHashes(
  db: Queryable,
  hashes: readonly string[],
  options: SearchOptions = {},
): Promise<SimilarHash[]> {
  if (hashes.length === 0) return [];
  const { text, params } = similarHashesQuery(hashes, options);
  const { rows } = await db.query<{
    query: string;
    evidenceId: string;
    second: number;
    bits: string;
    quality: number;
    distance: number;
  }>(text, params);
  return rows.map((r) => ({
    query: Number(r.query),
    evidenceId: r.evidenceId,
    second: r.second,
    hash: bitsToHex(r.bits),
    quality: r.quality,
    distance: r.distance,
  }));
}

/**
 * The statement findSimilarHashes runs (`npm run bench pdq -- --plans N` shows its plans).
 * Every filter is a test of the candidate row the GIN index found, in the one scan: the
 * investigations by the row's own column, the excluded source by its few items (read once).
 */
export function similarHashesQuery(
  hashes: readonly string[],
  options: SearchOptions = {},
): { text: string; params: unknown[] } {
  const distance = options.distance ?? PDQ_MATCH_DISTANCE;
  if (!Number.isInteger(distance) || distance < 0 || distance > 63) {
    throw new RangeError('pdq: search distance is an integer from 0 to 63');
  }
  const probes = hashes.map((h) => `{${probeTokens(checkedHash(h), distance).join(',')}}`);
  const params: unknown[] = [hashes, probes, distance, options.minQuality ?? 0, options.limit ?? 1000];
  let filter = '';
  if (options.excludeEvidenceId) {
    params.push(options.excludeEvidenceId);
    filter += ` AND h.evidence_id <> $${params.length}::uuid`;
  }
  if (options.investigationIds) {
    params.push(options.investigationIds);
    filter += ` AND h.investigation_id = ANY($${params.length}::uuid[])`;
  }
  if (options.excludeSourceId) {
    params.push(options.excludeSourceId);
    filter += ` AND h.evidence_id <> ALL (ARRAY(SELECT e.id FROM evidence_items e WHERE e.source_id = $${params.length}::uuid))`;
  }
  const text = `SELECT u.n - 1 AS query, h.evidence_id AS "evidenceId", h.frame_second AS second,
       h.hash::text AS bits, h.quality, bit_count(h.hash # u.bits)::int AS distance
     FROM (SELECT x.n, ('x' || x.hash)::bit(256) AS bits, x.probes::int[] AS probes
           FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS x(hash, probes, n)) u
     JOIN media_hashes h ON h.segments && u.probes AND bit_count(h.hash # u.bits) <= $3
     WHERE h.quality >= $4${filter}
     ORDER BY distance, "evidenceId", second, query
     LIMIT $5`;
  return { text, params };
}
