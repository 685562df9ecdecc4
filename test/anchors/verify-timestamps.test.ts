// verify-export's timestamp check on bags held in memory, for each relation between the
// timestamped checkpoint and the bag's own: the same checkpoint, a later one that extends it,
// an earlier one it extends — with real tokens from the local TSA over the exact note bytes —
// and a consistency proof that does not hold, a token over other bytes, an unexpected file.
import { createHash } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import {
  chainFile,
  TIMESTAMP_CONSISTENCY_FILE,
  TIMESTAMPED_CHECKPOINT_FILE,
  TIMESTAMPS_DIR,
  tokenFile,
} from '../../src/anchors/timestamp/bag-timestamps.ts';
import { loadTsaAnchors } from '../../src/anchors/timestamp/start-timestamper.ts';
import { requestTimestamp } from '../../src/anchors/timestamp/tsa-client.ts';
import { pemOfCertificates, responseOfToken } from '../../src/anchors/timestamp/tsa-verify.ts';
import {
  checkTimestamps,
  describeTimestamps,
  type TimestampsReport,
} from '../../src/anchors/timestamp/verify-timestamps.ts';
import type { ExportFiles } from '../../src/exports/verify/bag-zip.ts';
import { Problems } from '../../src/exports/verify/problems.ts';
import { type Checkpoint, signCheckpoint } from '../../src/log/checkpoint.ts';
import { type HashReader, proveTree, storedHashesForBatch, treeHash } from '../../src/log/merkle.ts';
import { generateSignerKey, parseVerifierKey } from '../../src/log/note.ts';
import { startLocalTsa, tsaFetcher } from './local-tsa.ts';

const tsa = await startLocalTsa();
afterAll(() => tsa.close());
const anchors = loadTsaAnchors(tsa.caFile);
const fetcher = tsaFetcher(tsa);

// A log of 10 leaves in memory, signed at every size.
const origin = 'claimtrail.test/log';
const keys = generateSignerKey(origin);
const verifier = parseVerifierKey(keys.verifierKey);
const stored = new Map<number, Buffer>();
const read: HashReader = async (indexes) => indexes.map((i) => stored.get(i)!);
const leaves = Array.from({ length: 10 }, (_, i) => createHash('sha256').update(`event ${i}`).digest());
for (const { index, hash } of await storedHashesForBatch(0, leaves, read)) stored.set(index, hash);
const checkpointAt = async (size: number): Promise<{ checkpoint: Checkpoint; note: string }> => {
  const checkpoint = { origin, size, rootHash: await treeHash(size, read) };
  return { checkpoint, note: signCheckpoint(checkpoint, keys.signerKey) };
};

function memoryFiles(entries: Record<string, string | Buffer>): ExportFiles {
  const files = new Map(Object.entries(entries).map(([k, v]) => [k, Buffer.from(v)]));
  return {
    files,
    has: (p) => files.has(p),
    read: async (p, max) => {
      const b = files.get(p)!;
      return b.length > max ? null : b;
    },
    async *lines() {},
  };
}

/** The bag's timestamp files for a timestamp of checkpoint `stampedSize`, in a bag of `bagSize`. */
async function bagFiles(stampedSize: number, bagSize: number, options: { proofOf?: number } = {}) {
  const stamped = await checkpointAt(stampedSize);
  const t = await requestTimestamp(fetcher, tsa.url, stamped.note, anchors);
  const files: Record<string, string | Buffer> = {
    [TIMESTAMPED_CHECKPOINT_FILE]: stamped.note,
    [tokenFile(1)]: responseOfToken(t.token),
    [chainFile(1)]: pemOfCertificates(t.chain),
  };
  if (stampedSize !== bagSize) {
    const [from, to] = [Math.min(stampedSize, bagSize), Math.max(stampedSize, bagSize)];
    const proof = await proveTree(to, options.proofOf ?? from, read);
    files[TIMESTAMP_CONSISTENCY_FILE] = JSON.stringify({
      from,
      to,
      proof: proof.map((h) => h.toString('base64')),
    });
  }
  return { files, bag: (await checkpointAt(bagSize)).checkpoint };
}

async function check(files: Record<string, string | Buffer>, bag: Checkpoint, tsaCa = anchors) {
  const problems = new Problems();
  const report: TimestampsReport = await checkTimestamps(
    memoryFiles(files),
    { checkpoint: bag, verifier },
    tsaCa,
    problems,
  );
  return { report, problems: problems.list(), lines: describeTimestamps(report, bag.size) };
}

describe('checkTimestamps', () => {
  it('the bag’s own checkpoint: "checkpoint 7 existed by … per …"', async () => {
    const { files, bag } = await bagFiles(7, 7);
    const r = await check(files, bag);
    expect(r.problems).toEqual([]);
    expect(r.report).toMatchObject({ size: 7, count: 1, trust: 'tsa-ca' });
    expect(r.lines).toEqual([
      expect.stringMatching(/^checkpoint 7 existed by \S+Z per CN=tsa, O=claimtrail tests$/),
    ]);
  });

  it('a later checkpoint that extends the bag’s: the bag’s checkpoint existed by then', async () => {
    const { files, bag } = await bagFiles(9, 4);
    const r = await check(files, bag);
    expect(r.problems).toEqual([]);
    expect(r.lines[0]).toMatch(
      /^checkpoint 4 existed by \S+Z per CN=tsa, O=claimtrail tests \(timestamped as checkpoint 9, which extends it\)$/,
    );
  });

  it('an earlier checkpoint the bag’s extends: said with what it covers', async () => {
    const { files, bag } = await bagFiles(3, 10);
    const r = await check(files, bag);
    expect(r.problems).toEqual([]);
    expect(r.lines[0]).toMatch(/^checkpoint 3 existed by .* events at log index below 3 existed by then\)$/);
  });

  it('a consistency proof for other sizes, or missing, fails', async () => {
    const { files, bag } = await bagFiles(3, 10, { proofOf: 5 });
    expect((await check(files, bag)).problems).toEqual([
      expect.stringContaining(
        `${TIMESTAMP_CONSISTENCY_FILE}: the proof does not show tree 3 is a prefix of tree 10`,
      ),
    ]);
    delete files[TIMESTAMP_CONSISTENCY_FILE];
    expect((await check(files, bag)).problems).toEqual([`${TIMESTAMP_CONSISTENCY_FILE} is missing`]);
  });

  it('a checkpoint of the same size with another root is a fork', async () => {
    const { files } = await bagFiles(6, 6);
    const forked = { origin, size: 6, rootHash: await treeHash(5, read) };
    expect((await check(files, forked)).problems).toEqual([expect.stringContaining('the log forked')]);
  });

  it('a token of another checkpoint, and an unexpected file, fail', async () => {
    const { files, bag } = await bagFiles(8, 8);
    const other = await bagFiles(5, 5);
    files[tokenFile(1)] = other.files[tokenFile(1)]!;
    files[`${TIMESTAMPS_DIR}notes.txt`] = 'hello';
    const r = await check(files, bag);
    expect(r.problems).toEqual([
      expect.stringContaining('notes.txt: unexpected file'),
      expect.stringMatching(/timestamps\/1\.tsr: the token covers SHA-256 [0-9a-f]{64}, not/),
    ]);
    expect(r.report.verified).toEqual([]);
  });

  it('without the auditor’s anchors, trusts the bundled chain and says so', async () => {
    const { files, bag } = await bagFiles(2, 2);
    const problems = new Problems();
    const report = await checkTimestamps(
      memoryFiles(files),
      { checkpoint: bag, verifier },
      undefined,
      problems,
    );
    expect(problems.list()).toEqual([]);
    expect(describeTimestamps(report, 2).at(-1)).toMatch(/^WARNING: TSA chains trusted as bundled/);
  });

  it('a bag without timestamp files has nothing to check', async () => {
    const { bag } = await bagFiles(2, 2);
    const r = await check({}, bag);
    expect(r.problems).toEqual([]);
    expect(r.lines).toEqual(['timestamps: none in this bag']);
  });
});
