// Full verification: every subject's chain, the whole Merkle tree recomputed from the
// events, and the latest signed checkpoint. Streams everything: memory does not grow with
// the ledger. Stops at the first problem and names it.
import type pg from 'pg';
import { streamRows } from '../db/cursor.ts';
import { openCheckpoint } from '../log/checkpoint.ts';
import { hashReader, latestCheckpoint } from '../log/log.repository.ts';
import { treeHash } from '../log/merkle.ts';
import { RootBuilder } from '../log/root-builder.ts';
import { ChainChecker } from './chain-verify.ts';
import type { SubjectType } from './event-types.ts';

export interface LedgerReport {
  ok: boolean;
  events: number;
  subjects: number;
  treeSize: number;
  checkpointSize: number;
  pending: number;
  problem?: string;
}

interface ChainRow {
  subject_type: SubjectType;
  subject_id: string;
  seq: number;
  type: string;
  hash: string;
  prev: string | null;
  body: string;
  logged_hash: string | null;
}

export async function verifyLedger(pool: pg.Pool, verifierKey: string): Promise<LedgerReport> {
  const report: LedgerReport = {
    ok: true,
    events: 0,
    subjects: 0,
    treeSize: 0,
    checkpointSize: 0,
    pending: 0,
  };
  const fail = (problem: string) => ({ ...report, ok: false, problem });

  // 1. Chains, subject by subject, in seq order.
  let checker: ChainChecker | undefined;
  let integrated = 0;
  const finishSubject = () => {
    if (checker?.failure) {
      const { seq, reason } = checker.failure;
      return `subject ${checker.subject.type}:${checker.subject.id} seq ${seq}: ${reason}`;
    }
    return undefined;
  };
  for await (const rows of streamRows<ChainRow>(
    pool,
    `SELECT e.subject_type, e.subject_id, e.seq, e.type, encode(e.hash, 'hex') AS hash,
            encode(e.prev, 'hex') AS prev, e.body, encode(l.event_hash, 'hex') AS logged_hash
     FROM ledger_events e LEFT JOIN log_entries l ON l.event_id = e.id
     ORDER BY e.subject_type, e.subject_id, e.seq`,
  )) {
    for (const r of rows) {
      if (!checker || checker.subject.type !== r.subject_type || checker.subject.id !== r.subject_id) {
        const problem = finishSubject();
        if (problem) return fail(problem);
        checker = new ChainChecker({ type: r.subject_type, id: r.subject_id });
        report.subjects++;
      }
      checker.push({
        seq: r.seq,
        type: r.type,
        hash: r.hash,
        prev: r.prev,
        body: r.body,
        loggedHash: r.logged_hash,
      });
      report.events++;
      if (r.logged_hash !== null) integrated++;
    }
  }
  const last = finishSubject();
  if (last) return fail(last);

  // Pending is counted after the events and before the leaves: an event leaves log_pending in
  // the transaction that makes it a leaf, so each event counted above is pending now or a leaf
  // by the time the leaves are read — concurrent integration cannot make one look lost.
  const { rows: pendingRows } = await pool.query<{ n: string }>(
    'SELECT count(*)::text AS n FROM log_pending',
  );
  report.pending = Number(pendingRows[0]?.n ?? 0);

  // 2. The log: contiguous indexes, each leaf the hash of an existing event, and the root
  // recomputed from the leaves at the latest checkpoint's size (read first: a checkpoint is
  // committed together with the entries it covers).
  const cp = await latestCheckpoint(pool);
  if (!cp) return fail('no checkpoint has been signed');
  report.checkpointSize = cp.size;
  const builder = new RootBuilder();
  let rootAtCheckpoint = cp.size === 0 ? builder.root() : undefined;
  // Pass 1 already compared every integrated event with its leaf; here only the leaves.
  for await (const rows of streamRows<{ log_index: string; event_hash: Buffer }>(
    pool,
    // Not log_index::text: ORDER BY would then sort the text column ('10' before '2').
    'SELECT log_index, event_hash FROM log_entries ORDER BY log_index',
  )) {
    for (const r of rows) {
      if (Number(r.log_index) !== builder.size) return fail(`log index ${builder.size} is missing`);
      builder.push(r.event_hash);
      if (builder.size === cp.size) rootAtCheckpoint = builder.root();
    }
  }
  report.treeSize = builder.size;
  if (integrated > builder.size) {
    return fail(`${integrated} events have a log entry but the log has only ${builder.size} leaves`);
  }
  if (report.treeSize + report.pending < report.events) {
    return fail(
      `${report.events} events but only ${report.treeSize} integrated and ${report.pending} pending`,
    );
  }

  // 3. The latest checkpoint is validly signed and agrees with the recomputation and with
  // the stored hashes that proofs are served from.
  let opened: ReturnType<typeof openCheckpoint>;
  try {
    opened = openCheckpoint(cp.note, verifierKey);
  } catch (err) {
    return fail(`latest checkpoint does not verify: ${(err as Error).message}`);
  }
  if (opened.checkpoint.size !== cp.size || !opened.checkpoint.rootHash.equals(cp.rootHash)) {
    return fail('the signed checkpoint text differs from its stored size/root');
  }
  if (!rootAtCheckpoint)
    return fail(`checkpoint size ${cp.size} exceeds the ${builder.size} integrated events`);
  if (!rootAtCheckpoint.equals(cp.rootHash)) {
    return fail(
      `checkpoint at size ${cp.size}: root ${cp.rootHash.toString('base64')} differs from the recomputed ${rootAtCheckpoint.toString('base64')}`,
    );
  }
  const stored = await treeHash(cp.size, hashReader(pool));
  if (!stored.equals(cp.rootHash)) return fail(`stored tree hashes give a different root at size ${cp.size}`);
  return report;
}
