// verify-export's check of the timestamps a bag carries (bag-timestamps.ts has the layout),
// offline: the timestamped checkpoint opens with the log's key and is the bag's checkpoint or
// consistent with it (RFC 6962 proof), and each token verifies in full (tsa-verify.ts) over
// that file's bytes, chained to the auditor's --tsa-ca anchors — or, without them, to the last
// certificate of the chain bundled in the bag, which proves only that the bag is consistent
// with itself (said as a warning). A bag without timestamp files (made before issue 15, or by
// a log without TSA_URLS) has nothing here to check.

import type { ExportFiles } from '../../exports/verify/bag-zip.ts';
import type { Problems } from '../../exports/verify/problems.ts';
import { type Checkpoint, openCheckpoint } from '../../log/checkpoint.ts';
import { checkTree } from '../../log/merkle.ts';
import type { NoteVerifier } from '../../log/note.ts';
import {
  chainFile,
  isTimestampPath,
  TIMESTAMP_CONSISTENCY_FILE,
  TIMESTAMPED_CHECKPOINT_FILE,
  TIMESTAMPS_DIR,
  tokenFile,
} from './bag-timestamps.ts';
import { certificatesFromPem, tokenOfResponse, verifyTimestampToken } from './tsa-verify.ts';

const MAX_FILE = 256 * 1024;

export interface TimestampFinding {
  /** Size of the checkpoint the token covers. */
  size: number;
  genTime: Date;
  tsaSubject: string;
}

export interface TimestampsReport {
  /** The timestamped checkpoint's size; null when the bag carries none. */
  size: number | null;
  /** Verified timestamps. */
  verified: TimestampFinding[];
  /** Tokens in the bag (verified or not). */
  count: number;
  /** How the TSA chains were trusted: the auditor's anchors, or the bag's own chain. */
  trust: 'tsa-ca' | 'bundled' | null;
}

async function readFile(files: ExportFiles, path: string, problems: Problems): Promise<Buffer | null> {
  if (!files.has(path)) {
    problems.add(`${path} is missing`);
    return null;
  }
  const bytes = await files.read(path, MAX_FILE);
  if (!bytes) problems.add(`${path} is larger than ${MAX_FILE} bytes`);
  return bytes;
}

/** The timestamped checkpoint, opened with the log's key and tied to the bag's checkpoint. */
async function timestampedCheckpoint(
  files: ExportFiles,
  log: { checkpoint: Checkpoint | null; verifier: NoteVerifier | null },
  problems: Problems,
): Promise<{ bytes: Buffer; checkpoint: Checkpoint } | null> {
  const bytes = await readFile(files, TIMESTAMPED_CHECKPOINT_FILE, problems);
  if (!bytes || !log.verifier || !log.checkpoint) return null;
  let checkpoint: Checkpoint;
  try {
    checkpoint = openCheckpoint(bytes, log.verifier).checkpoint;
  } catch (err) {
    problems.add(
      `${TIMESTAMPED_CHECKPOINT_FILE} is not a checkpoint signed by the log's key: ${(err as Error).message}`,
    );
    return null;
  }
  const own = log.checkpoint;
  if (checkpoint.size === own.size) {
    if (!checkpoint.rootHash.equals(own.rootHash))
      problems.add(
        `${TIMESTAMPED_CHECKPOINT_FILE} has the bag's tree size ${own.size} but another root hash: the log forked`,
      );
    return { bytes, checkpoint };
  }
  const raw = await readFile(files, TIMESTAMP_CONSISTENCY_FILE, problems);
  if (!raw) return null;
  const [small, large] = checkpoint.size < own.size ? [checkpoint, own] : [own, checkpoint];
  try {
    const p = JSON.parse(raw.toString('utf8')) as { from: unknown; to: unknown; proof: unknown };
    const proof = Array.isArray(p.proof) ? p.proof.map((h) => Buffer.from(String(h), 'base64')) : null;
    if (p.from !== small.size || p.to !== large.size || !proof)
      throw new Error(`it must prove ${small.size} → ${large.size}`);
    if (!checkTree(proof, large.size, large.rootHash, small.size, small.rootHash))
      throw new Error(`the proof does not show tree ${small.size} is a prefix of tree ${large.size}`);
  } catch (err) {
    problems.add(`${TIMESTAMP_CONSISTENCY_FILE}: ${(err as Error).message}`);
    return null;
  }
  return { bytes, checkpoint };
}

/** Checks every timestamp file of the bag; `tsaCa`: the auditor's anchors (DER), if given. */
export async function checkTimestamps(
  files: ExportFiles,
  log: { checkpoint: Checkpoint | null; verifier: NoteVerifier | null },
  tsaCa: readonly Buffer[] | undefined,
  problems: Problems,
): Promise<TimestampsReport> {
  const report: TimestampsReport = { size: null, verified: [], count: 0, trust: null };
  const paths = [...files.files.keys()].filter(isTimestampPath);
  if (paths.length === 0) return report;
  report.trust = tsaCa ? 'tsa-ca' : 'bundled';
  const tokens: number[] = [];
  for (const path of paths) {
    if (!path.startsWith(TIMESTAMPS_DIR)) continue;
    const m = /^([1-9][0-9]{0,3})\.(tsr|chain\.pem)$/.exec(path.slice(TIMESTAMPS_DIR.length));
    if (!m) problems.add(`${path}: unexpected file (timestamps are <n>.tsr with <n>.chain.pem)`);
    else if (m[2] === 'tsr') tokens.push(Number(m[1]));
    else if (!files.has(tokenFile(Number(m[1]))))
      problems.add(`${path}: no ${tokenFile(Number(m[1]))} beside it`);
  }
  report.count = tokens.length;
  const stamped = await timestampedCheckpoint(files, log, problems);
  if (!stamped) return report;
  report.size = stamped.checkpoint.size;
  for (const n of tokens.sort((a, b) => a - b)) {
    const reply = await readFile(files, tokenFile(n), problems);
    const pem = await readFile(files, chainFile(n), problems);
    if (!reply || !pem) continue;
    const chain = certificatesFromPem(pem.toString('utf8'));
    const anchors = tsaCa ?? chain.slice(-1);
    try {
      const t = await verifyTimestampToken(tokenOfResponse(reply), {
        data: stamped.bytes,
        anchors,
        intermediates: chain,
      });
      report.verified.push({ size: stamped.checkpoint.size, genTime: t.genTime, tsaSubject: t.tsaSubject });
    } catch (err) {
      problems.add(`${tokenFile(n)}: ${(err as Error).message}`);
    }
  }
  return report;
}

/** "checkpoint 1,234 existed by 2026-12-02T15:04:05Z per CN=…": one line per verified timestamp. */
export function describeTimestamps(report: TimestampsReport, bagSize: number | null): string[] {
  if (report.size === null && report.count === 0) return ['timestamps: none in this bag'];
  const lines: string[] = [];
  const n = (x: number) => x.toLocaleString('en-US');
  for (const t of report.verified) {
    const when = t.genTime.toISOString().replace('.000Z', 'Z');
    if (bagSize === null || t.size === bagSize)
      lines.push(`checkpoint ${n(t.size)} existed by ${when} per ${t.tsaSubject}`);
    else if (t.size > bagSize)
      lines.push(
        `checkpoint ${n(bagSize)} existed by ${when} per ${t.tsaSubject} (timestamped as checkpoint ${n(t.size)}, which extends it)`,
      );
    else
      lines.push(
        `checkpoint ${n(t.size)} existed by ${when} per ${t.tsaSubject} (an earlier checkpoint the bag's ${n(bagSize)} extends: events at log index below ${n(t.size)} existed by then)`,
      );
  }
  if (report.trust === 'bundled' && report.count > 0)
    lines.push(
      'WARNING: TSA chains trusted as bundled in the bag; pass --tsa-ca FILE with the TSA CA you trust',
    );
  return lines;
}
