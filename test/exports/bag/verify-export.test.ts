// verifyExport on real bags: a good one holds (with and without the pinned key), and each
// kind of tampering — with and without a forger recomputing the manifests — is caught with a
// problem naming what is wrong.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CHECKPOINT_FILE,
  contentPath,
  EXPORT_JSON,
  KEY_FILE,
  ledgerPath,
  PROOFS_FILE,
} from '../../../src/exports/bag/export-layout.ts';
import {
  ExportFileError,
  type ExportReport,
  PinnedKeyError,
  verifyExport,
} from '../../../src/exports/verify/verify-export.ts';
import { canonicalJson, sha256Hex } from '../../../src/ledger/canonical.ts';
import { openCheckpoint, signCheckpoint } from '../../../src/log/checkpoint.ts';
import { generateSignerKey } from '../../../src/log/note.ts';
import {
  type BagContents,
  buildFixtureBag,
  editLines,
  type FixtureBag,
  rewriteBag,
} from '../../helpers/bag-fixture.ts';

const dir = mkdtempSync(join(tmpdir(), 'claimtrail-verify-export-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let good: FixtureBag;
beforeAll(async () => {
  good = await buildFixtureBag(dir);
});

let n = 0;
async function tampered(
  mutate: (c: BagContents) => void | Promise<void>,
  recomputeManifests = true,
): Promise<string> {
  return rewriteBag(good.path, join(dir, `tampered-${++n}.zip`), mutate, { recomputeManifests });
}

function expectProblem(report: ExportReport, pattern: RegExp): void {
  expect(report.ok).toBe(false);
  expect(report.problems, report.problems.join('\n')).toContainEqual(expect.stringMatching(pattern));
}

/**
 * Drops the last event of `subject`'s chain, its proof line, and fixes export.json's length and
 * headHash to match: everything a forger can redo without the log's key.
 */
function cutChain(c: BagContents, subject: { type: string; id: string }): void {
  let dropped = '';
  let newHead = '';
  editLines(c, ledgerPath(subject), (lines) => {
    dropped = sha256Hex(lines.at(-1)!);
    newHead = sha256Hex(lines.at(-2)!);
    return lines.slice(0, -1);
  });
  editLines(c, PROOFS_FILE, (lines) => lines.filter((l) => !l.includes(dropped)));
  const doc = JSON.parse(c.files.get(EXPORT_JSON)!.toString());
  for (const s of doc.subjects)
    if (s.type === subject.type && s.id === subject.id)
      Object.assign(s, { length: s.length - 1, headHash: newHead });
  c.files.set(EXPORT_JSON, Buffer.from(JSON.stringify(doc)));
}

const claimSubject = () => good.events.find((e) => e.subject.type === 'claim')!.subject;
const lengthOf = (id: string) => good.subjects.find((s) => s.id === id)!.length;

describe('verifyExport on a good bag', () => {
  it('holds, and the summary counts what the bag carries', async () => {
    const report = await verifyExport(good.path);
    expect(report.problems).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.summary).toMatchObject({
      bagName: good.bagName,
      exportId: good.exportId,
      claims: 1,
      sources: 2,
      evidence: 4,
      contentFiles: 3,
      events: good.events.length,
      subjects: 5, // four chains and the export's own
      proofsVerified: good.events.length,
      treeSize: good.treeSize,
      origin: good.origin,
      keyName: good.origin,
      pinnedKey: null,
    });
  });

  it('holds with the right pinned key', async () => {
    const report = await verifyExport(good.path, { pinnedKey: good.verifierKey });
    expect(report.problems).toEqual([]);
    expect(report.summary.pinnedKey).toMatch(/^claimtrail\.test\/log\+[0-9a-f]{8}$/);
  });

  it('holds without content when includeContent is false', async () => {
    const bag = await buildFixtureBag(dir, { includeContent: false });
    const report = await verifyExport(bag.path, { pinnedKey: bag.verifierKey });
    expect(report.problems).toEqual([]);
    expect(report.summary.contentFiles).toBe(0);
  });

  it('refuses a pinned key that is not a key, and a file it cannot read', async () => {
    await expect(verifyExport(good.path, { pinnedKey: 'not-a-key' })).rejects.toBeInstanceOf(PinnedKeyError);
    await expect(verifyExport(join(dir, 'nope.zip'))).rejects.toBeInstanceOf(ExportFileError);
    await expect(verifyExport(dir)).rejects.toBeInstanceOf(ExportFileError);
  });

  it('fails, without throwing, on a file that is not a ZIP', async () => {
    const path = join(dir, 'not-a.zip');
    writeFileSync(path, 'PK? no');
    expectProblem(await verifyExport(path), /not a readable ZIP archive/);
  });
});

describe('verifyExport catches tampering', () => {
  it('one byte of a content file changed, manifests left alone', async () => {
    const sha = [...good.content.keys()][0]!;
    const path = await tampered(({ files }) => {
      const data = Buffer.from(files.get(contentPath(sha))!);
      data[10]! ^= 0x40;
      files.set(contentPath(sha), data);
    }, false);
    const report = await verifyExport(path);
    expectProblem(
      report,
      new RegExp(
        `data/content/${sha}: SHA-256 is [0-9a-f]{64} but manifest-sha256.txt line \\d+ says ${sha}`,
      ),
    );
    expectProblem(report, new RegExp(`data/content/${sha}: content hashes to [0-9a-f]{64}, not to its name`));
  });

  it('one byte of a content file changed, manifests recomputed', async () => {
    const sha = [...good.content.keys()][2]!;
    const path = await tampered(({ files }) => {
      const data = Buffer.from(files.get(contentPath(sha))!);
      data[data.length - 1]! ^= 1;
      files.set(contentPath(sha), data);
    });
    const report = await verifyExport(path);
    expect(report.problems).toEqual([
      expect.stringMatching(new RegExp(`data/content/${sha}: content hashes to .*, not to its name`)),
    ]);
  });

  it('a content file removed, manifests recomputed', async () => {
    const sha = [...good.content.keys()][1]!;
    const path = await tampered(({ files }) => {
      files.delete(contentPath(sha));
    });
    expectProblem(
      await verifyExport(path),
      new RegExp(`data/content/${sha} is missing: the content of evidence ev_`),
    );
  });

  it('one ledger line removed, manifests recomputed', async () => {
    const subject = claimSubject();
    const path = await tampered((c) =>
      editLines(c, ledgerPath(subject), (lines) => lines.filter((_, i) => i !== 1)),
    );
    const report = await verifyExport(path);
    const file = ledgerPath(subject);
    expectProblem(
      report,
      new RegExp(`^${file} line 2 \\(claim:${subject.id} seq 2\\): holds seq 3 where seq 2 belongs`),
    );
    const length = lengthOf(subject.id);
    expectProblem(
      report,
      new RegExp(
        `^${file} holds ${length - 1} events, but export.json says subject claim:${subject.id} has length ${length}`,
      ),
    );
    // Its proof is left without an event.
    expectProblem(report, /proofs\.jsonl line \d+: proof for hash [0-9a-f]{64} is out of place/);
  });

  it("a chain's last event, its proof and export.json all cut to match: the export_scope record in the log still tells", async () => {
    const subject = claimSubject();
    const path = await tampered((c) => cutChain(c, subject));
    const report = await verifyExport(path);
    const length = lengthOf(subject.id);
    // Everything else is consistent: this is the one problem.
    expect(report.problems).toEqual([
      expect.stringMatching(
        new RegExp(
          `^export\\.json says claim:${subject.id} has ${length - 1} events, head [0-9a-f]{64}; the export_scope record in the log says ${length} events, head `,
        ),
      ),
    ]);
  });

  it("the export's own chain removed with its export.json entry, or cut before its export_scope record", async () => {
    const own = { type: 'export', id: good.exportId };
    const removed = await tampered((c) => {
      const ownHashes = good.events.filter((e) => e.subject.type === 'export').map((e) => e.hash);
      c.files.delete(ledgerPath(own));
      editLines(c, PROOFS_FILE, (lines) => lines.filter((l) => !ownHashes.some((h) => l.includes(h))));
      const doc = JSON.parse(c.files.get(EXPORT_JSON)!.toString());
      doc.subjects = doc.subjects.filter((s: { type: string }) => s.type !== 'export');
      c.files.set(EXPORT_JSON, Buffer.from(JSON.stringify(doc)));
    });
    expect((await verifyExport(removed)).problems).toEqual([
      expect.stringMatching(/^export\.json does not list the export's own chain \(export:exp_/),
    ]);
    const cut = await tampered((c) => cutChain(c, own));
    expect((await verifyExport(cut)).problems).toEqual([
      expect.stringMatching(/^the last event of export:exp_\S+ is not its export_scope record$/),
    ]);
  });

  it("export.json's evidence edited or made up: the stored events in the chains disagree", async () => {
    const path = await tampered((c) => {
      const doc = JSON.parse(c.files.get(EXPORT_JSON)!.toString());
      const video = doc.evidence.find((e: { kind: string }) => e.kind === 'video');
      video.mediaType = 'video/quicktime';
      doc.evidence.push({ ...video, id: 'ev_made_up', mediaType: 'video/mp4' });
      c.files.set(EXPORT_JSON, Buffer.from(JSON.stringify(doc)));
    });
    const report = await verifyExport(path);
    expectProblem(
      report,
      /^export\.json evidence\[\d+\] \(evidence ev_\S+\): mediaType is "video\/quicktime" in export\.json, the ledger says "video\/mp4"$/,
    );
    expectProblem(
      report,
      /^export\.json evidence\[\d+\] \(evidence ev_made_up\): invented — no event in the exported chains records this evidence$/,
    );
    // The content files are untouched and still match their names, sizes and the manifest.
    expect(report.problems, report.problems.join('\n')).toHaveLength(2);
  });

  it('two ledger lines swapped, manifests recomputed', async () => {
    const subject = claimSubject();
    const path = await tampered((c) =>
      editLines(c, ledgerPath(subject), ([a, b, ...rest]) => [b!, a!, ...rest]),
    );
    const report = await verifyExport(path);
    expectProblem(
      report,
      new RegExp(
        `${ledgerPath(subject)} line 1 \\(claim:${subject.id} seq 1\\): holds seq 2 where seq 1 belongs`,
      ),
    );
  });

  it("an event's data edited and re-canonicalized, manifests recomputed", async () => {
    const subject = claimSubject();
    let newHash = '';
    const path = await tampered((c) =>
      editLines(c, ledgerPath(subject), (lines) => {
        const body = JSON.parse(lines[1]!);
        body.data.relation = 'refuting';
        lines[1] = canonicalJson(body);
        newHash = sha256Hex(lines[1]);
        return lines;
      }),
    );
    const report = await verifyExport(path);
    const file = ledgerPath(subject);
    // The next event's prev no longer links to it…
    expectProblem(
      report,
      new RegExp(
        `^${file} line 3 \\(claim:${subject.id} seq 3\\): prev is [0-9a-f]{64}, expected ${newHash}`,
      ),
    );
    // …its new hash has no inclusion proof, and the head no longer matches export.json? (it does: seq 5 unchanged)
    expectProblem(
      report,
      new RegExp(
        `^${file} line 2 \\(claim:${subject.id} seq 2\\): no inclusion proof for event hash ${newHash}`,
      ),
    );
  });

  it('an edited event with a forged proof line: the proof does not verify', async () => {
    const subject = claimSubject();
    const path = await tampered((c) => {
      let oldHash = '';
      let newHash = '';
      editLines(c, ledgerPath(subject), (lines) => {
        // The head event: no later prev to break, so only the proof can tell.
        const last = lines.length - 1;
        oldHash = sha256Hex(lines[last]!);
        const body = JSON.parse(lines[last]!);
        body.data.after.status = 'false';
        lines[last] = canonicalJson(body);
        newHash = sha256Hex(lines[last]);
        return lines;
      });
      editLines(c, PROOFS_FILE, (lines) => lines.map((l) => l.replace(oldHash, newHash)));
      const doc = JSON.parse(c.files.get(EXPORT_JSON)!.toString());
      for (const s of doc.subjects) if (s.id === subject.id) s.headHash = newHash;
      c.files.set(EXPORT_JSON, Buffer.from(JSON.stringify(doc)));
    });
    const report = await verifyExport(path);
    expect(report.problems).toEqual([
      expect.stringMatching(
        new RegExp(
          `proofs\\.jsonl line \\d+ \\(claim:${subject.id} seq ${lengthOf(subject.id)}\\): the inclusion proof of hash [0-9a-f]{64} at index \\d+ does not verify against the checkpoint \\(size ${good.treeSize}, root `,
        ),
      ),
      // export.json's new headHash is not the one the export_scope record in the log holds.
      expect.stringMatching(
        new RegExp(
          `^export\\.json says claim:${subject.id} has \\d+ events, head [0-9a-f]{64}; the export_scope record in the log says`,
        ),
      ),
    ]);
  });

  it('an event line re-serialized in a non-canonical form', async () => {
    const subject = claimSubject();
    const path = await tampered((c) =>
      editLines(c, ledgerPath(subject), (lines) => {
        lines[0] = JSON.stringify(JSON.parse(lines[0]!), null, 1).replace(/\n/g, '');
        return lines;
      }),
    );
    expectProblem(
      await verifyExport(path),
      new RegExp(
        `^${ledgerPath(subject)} line 1 \\(claim:${subject.id} seq 1\\): stored body is not in RFC 8785 canonical form`,
      ),
    );
  });

  it('a run of proof lines dropped: each event without a proof is named once', async () => {
    const path = await tampered((c) =>
      editLines(c, PROOFS_FILE, (lines) => [...lines.slice(0, 3), ...lines.slice(6)]),
    );
    const report = await verifyExport(path);
    expect(report.problems).toEqual(
      good.events
        .slice(3, 6)
        .map((e) =>
          expect.stringMatching(
            new RegExp(
              `\\(${e.subject.type}:${e.subject.id} seq ${e.seq}\\): no inclusion proof for event hash ${e.hash}`,
            ),
          ),
        ),
    );
  });

  it('a proof pointing at another leaf index', async () => {
    const path = await tampered((c) =>
      editLines(c, PROOFS_FILE, (lines) =>
        lines.map((l, i) =>
          i === 0 ? JSON.stringify({ ...JSON.parse(l), index: JSON.parse(l).index + 1 }) : l,
        ),
      ),
    );
    expectProblem(
      await verifyExport(path),
      /^data\/log\/proofs\.jsonl line 1 \(.*seq 1\): the inclusion proof .* does not verify/,
    );
  });

  it('export.json unusable: named field by field, proofs not paired', async () => {
    const path = await tampered(({ files }) => {
      const doc = JSON.parse(files.get(EXPORT_JSON)!.toString());
      delete doc.subjects;
      doc.includeContent = 'yes';
      files.set(EXPORT_JSON, Buffer.from(JSON.stringify(doc)));
    });
    const report = await verifyExport(path);
    expectProblem(report, /^data\/export\.json at includeContent: .*expected boolean/);
    expectProblem(report, /^data\/export\.json at subjects: .*expected array/);
    expectProblem(
      report,
      /^inclusion proofs not checked: they follow the order of export\.json, which is unusable$/,
    );
    // The chains themselves were still checked.
    expect(report.summary.events).toBe(good.events.length);
  });

  it('the checkpoint size edited', async () => {
    const path = await tampered((c) =>
      editLines(c, CHECKPOINT_FILE, (lines) =>
        lines.map((l, i) => (i === 1 ? String(good.treeSize + 1) : l)),
      ),
    );
    const report = await verifyExport(path);
    expectProblem(
      report,
      /data\/log\/checkpoint does not verify with the bundled key claimtrail\.test\/log\+[0-9a-f]{8}: invalid signature/,
    );
    expectProblem(report, /inclusion proofs not checked: no checkpoint could be verified/);
  });

  it('the checkpoint root edited', async () => {
    const path = await tampered((c) =>
      editLines(c, CHECKPOINT_FILE, (lines) =>
        lines.map((l, i) => (i === 2 ? Buffer.alloc(32, 1).toString('base64') : l)),
      ),
    );
    expectProblem(
      await verifyExport(path),
      /data\/log\/checkpoint does not verify with the bundled key .*invalid signature/,
    );
  });

  it('the bundled key replaced by another that re-signs the checkpoint: only the pinned key catches it', async () => {
    const forger = generateSignerKey(good.origin);
    const path = await tampered(({ files }) => {
      const { checkpoint } = openCheckpoint(files.get(CHECKPOINT_FILE)!, good.verifierKey);
      files.set(CHECKPOINT_FILE, Buffer.from(signCheckpoint(checkpoint, forger.signerKey)));
      files.set(KEY_FILE, Buffer.from(`${forger.verifierKey}\n`));
    });
    // Self-consistent: without a key from elsewhere nothing is wrong.
    expect((await verifyExport(path)).problems).toEqual([]);
    const report = await verifyExport(path, { pinnedKey: good.verifierKey });
    expectProblem(
      report,
      /data\/log\/checkpoint is not signed by the pinned key claimtrail\.test\/log\+[0-9a-f]{8}/,
    );
    expectProblem(report, /data\/log\/key holds claimtrail\.test\/log\+[0-9a-f]{8}, not the pinned key/);
  });

  it('an extra file in data/ not in the manifest', async () => {
    const path = await tampered(({ files }) => {
      files.set('data/notes.txt', Buffer.from('added later\n'));
    }, false);
    const report = await verifyExport(path);
    expectProblem(report, /^data\/notes\.txt is in the payload but not in manifest-sha256\.txt$/);
    expectProblem(report, /Payload-Oxum is \d+\.12 but the payload holds \d+ octets in 13 files/);
  });

  it('a ledger file of a subject export.json does not list, and a listed one missing', async () => {
    const subject = claimSubject();
    const path = await tampered(({ files }) => {
      const file = ledgerPath(subject);
      files.set(file.replace(subject.id, `${subject.id}x`), files.get(file)!);
      files.delete(file);
    });
    const report = await verifyExport(path);
    expectProblem(
      report,
      new RegExp(
        `${ledgerPath(subject)} is missing: export.json lists subject claim:${subject.id} with ${lengthOf(subject.id)} events`,
      ),
    );
    expectProblem(report, /is a ledger file of a subject export\.json does not list/);
    // The missing chain's proofs are skipped, not blamed on the events that follow.
    expect(report.problems.filter((p) => p.includes('inclusion proof'))).toEqual([]);
  });

  it('bagit.txt altered', async () => {
    const path = await tampered(({ files }) => {
      files.set('bagit.txt', Buffer.from('BagIt-Version: 0.97\nTag-File-Character-Encoding: UTF-8\n'));
    });
    expectProblem(await verifyExport(path), /^bagit\.txt must read exactly "BagIt-Version: 1\.0"/);
  });

  it('bagit.txt altered without fixing the tag manifest', async () => {
    const path = await tampered(({ files }) => {
      files.set('bagit.txt', Buffer.from('BagIt-Version: 1.0\nTag-File-Character-Encoding: ISO-8859-1\n'));
    }, false);
    const report = await verifyExport(path);
    expectProblem(report, /^bagit\.txt must read exactly/);
    expectProblem(report, /^bagit\.txt: SHA-256 is [0-9a-f]{64} but tagmanifest-sha256\.txt line 1 says/);
  });

  it('Payload-Oxum wrong', async () => {
    const path = await tampered(({ files }) => {
      const info = files
        .get('bag-info.txt')!
        .toString()
        .replace(/Payload-Oxum: (\d+)\.(\d+)/, 'Payload-Oxum: $1.99');
      files.set('bag-info.txt', Buffer.from(info));
    }, false);
    const report = await verifyExport(path);
    expectProblem(
      report,
      /^bag-info\.txt Payload-Oxum is \d+\.99 but the payload holds \d+ octets in 12 files$/,
    );
    expectProblem(report, /^bag-info\.txt: SHA-256 is .* but tagmanifest-sha256\.txt line 2 says/);
  });

  it('a manifest line for a file that is not there, and a second top-level directory', async () => {
    const path = await tampered(({ files }) => {
      const m = files.get('manifest-sha256.txt')!.toString();
      files.set('manifest-sha256.txt', Buffer.from(`${m}${'0'.repeat(64)} data/ghost.bin\n`));
    }, false);
    expectProblem(
      await verifyExport(path),
      /manifest-sha256\.txt line 13 lists data\/ghost\.bin, which is not in the bag/,
    );
    const two = await tampered(({ files }) => {
      files.set('../other/readme.txt', Buffer.from('x'));
    }, false);
    expectProblem(await verifyExport(two), /ZIP: a bag has exactly one top-level directory; this one has 2/);
  });
});
