// Forged content in a real bag (made by the real workers and the real export job): each kind
// of edit to data/export.json, with manifest-sha256.txt, tagmanifest-sha256.txt and
// Payload-Oxum recomputed as a careful forger would, makes `verify-export --key <the real key>`
// exit 1 naming the item and the field; the same bag re-zipped with recomputed manifests and
// no edit exits 0.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXPORT_JSON, EXPORT_VERSION_LABEL } from '../../../src/exports/bag/export-layout.ts';
import { EXPORT_VERSION } from '../../../src/exports/export-context.ts';
import { type BagContents, rewriteBag } from '../../helpers/bag-fixture.ts';
import { runVerifyCli } from '../../helpers/verify-cli.ts';
import { useRealCase } from '../real-case.ts';

const { env, claimIds, sourceIds, exportTo, withdrawn } = await useRealCase();
const dir = mkdtempSync(join(tmpdir(), 'claimtrail-forgery-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Doc {
  claims: { id: string; statement: string; status: string; citations: { relation: string }[] }[];
  sources: { id: string; url: string }[];
  evidence: {
    id: string;
    kind: string;
    metadata: Record<string, unknown>;
    checks: unknown[];
    capturedAt: string;
  }[];
}

let bag: string;
let json: string;
let key: string;
beforeAll(async () => {
  bag = await exportTo(dir, 'bagit', false);
  json = await exportTo(dir, 'json');
  key = (await request(env.app).get('/v1/log/key')).text.trim();
}, 120_000);

let n = 0;
/** The real bag with export.json edited and every manifest recomputed. */
function forged(edit: (doc: Doc) => void, more?: (c: BagContents) => void): Promise<string> {
  return rewriteBag(
    bag,
    join(dir, `forged-${++n}.zip`),
    (c) => {
      const doc = JSON.parse(c.files.get(EXPORT_JSON)!.toString()) as Doc;
      edit(doc);
      c.files.set(EXPORT_JSON, Buffer.from(`${JSON.stringify(doc, null, 2)}\n`));
      more?.(c);
    },
    { recomputeManifests: true },
  );
}

const claim = (doc: Doc, i = 0) => doc.claims.find((c) => c.id === claimIds[i])!;
const video = (doc: Doc) => doc.evidence.find((e) => e.kind === 'video')!;

async function expectRefused(path: string, ...patterns: RegExp[]) {
  const out = await runVerifyCli([path, '--key', key]);
  expect(out.code, out.stdout + out.stderr).toBe(1);
  for (const p of patterns) expect(out.stdout).toMatch(p);
  return out;
}

describe('verify-export on a real bag', () => {
  it('the control: re-zipped with recomputed manifests and no edit, it holds (exit 0)', async () => {
    const out = await runVerifyCli([await forged(() => {}), '--key', key]);
    expect(out.code, out.stdout).toBe(0);
    expect(out.stdout).not.toMatch(/NOT PROVEN/);
    expect(out.stdout.trimEnd().split('\n').at(-1)).toBe('OK');
  }, 60_000);

  it.each([
    [
      "a claim's statement",
      (d: Doc) => {
        claim(d).statement = 'Something nobody said';
      },
      /claim \S+\): statement is "Something nobody said" in export\.json, the ledger says "A claim citing /,
    ],
    [
      "a claim's status",
      (d: Doc) => {
        claim(d).status = 'verified';
      },
      /claim \S+\): status is "verified" in export\.json, the ledger says "unverified"/,
    ],
    [
      'a citation made refuting',
      (d: Doc) => {
        claim(d).citations[0]!.relation = 'refuting';
      },
      /claim \S+\): citations\[id=\S+\]\.relation is "refuting" in export\.json, the ledger says "origin"/,
    ],
    [
      'a source URL pointed elsewhere',
      (d: Doc) => {
        d.sources.find((s) => s.id === sourceIds[1])!.url = 'https://elsewhere.example/fake';
      },
      /source \S+\): url is "https:\/\/elsewhere\.example\/fake" in export\.json, the ledger says "http:\/\/127\.0\.0\.1:\d+\/article"/,
    ],
    [
      'a withdrawn citation still listed',
      (d: Doc) => {
        claim(d, 3).citations.push({
          id: withdrawn.citationId,
          sourceId: withdrawn.sourceId,
          relation: withdrawn.relation,
          expected: {},
          note: null,
          createdAt: '2024-12-17T00:00:00.000Z',
        } as { relation: string });
      },
      new RegExp(
        `claim ${claimIds[3]}\\): citations\\[id=${withdrawn.citationId}\\] is \\{.*\\} in export\\.json, the ledger says`,
      ),
    ],
    [
      'a claim dropped',
      (d: Doc) => {
        d.claims = d.claims.filter((c) => c.id !== claimIds[2]);
      },
      /claim \S+ is in the exported chains but dropped from export\.json/,
    ],
    [
      'a claim invented',
      (d: Doc) => {
        d.claims.push({ ...claim(d), id: '01900000-0000-7000-8000-000000000000', statement: 'Invented' });
      },
      /\(claim 01900000-0000-7000-8000-000000000000\): invented — no event in the exported chains records this claim/,
    ],
    [
      "an evidence item's metadata",
      (d: Doc) => {
        video(d).metadata.durationSeconds = 60;
      },
      /evidence \S+\): metadata\.durationSeconds is 60 in export\.json, the ledger says 3\d(\.\d+)?\n/,
    ],
    [
      "an evidence item's checks",
      (d: Doc) => {
        d.evidence.find((e) => e.checks.length > 0)!.checks = [
          { name: 'durationSeconds', expected: 31, observed: 31, passed: true },
        ];
      },
      /evidence \S+\): checks is \[.*\] in export\.json, the ledger says \[/,
    ],
    [
      "an evidence item's capturedAt",
      (d: Doc) => {
        video(d).capturedAt = '2020-01-01T00:00:00.000Z';
      },
      /evidence \S+\): capturedAt is "2020-01-01T00:00:00\.000Z" in export\.json, the ledger says "20\d\d-/,
    ],
    [
      "the export's own head: createdAt, scope, checkpointSize",
      (d: Doc) => {
        const head = d as unknown as Record<string, unknown>;
        head.createdAt = '2020-01-01T00:00:00.000Z';
        head.scope = { claimId: claimIds[0] };
        head.checkpointSize = 1;
      },
      [
        /export\.json createdAt is "2020-01-01T00:00:00\.000Z", export_requested \(its time\) says "20\d\d-/,
        /export\.json scope is \{"claimId":"\S+"\}, export_requested says \{"investigationId":"\S+"\}/,
        /export\.json checkpointSize is 1, the signed checkpoint says \d+/,
      ],
    ],
  ])(
    '%s: exit 1, naming it',
    async (_what, edit, pattern) => {
      const out = await expectRefused(await forged(edit), ...[pattern].flat());
      expect(out.stdout).toMatch(/^FAILED: /m);
    },
    60_000,
  );

  it('export.json that reads two ways (a key twice, a number spelled otherwise): exit 1, naming where', async () => {
    const path = await forged(
      () => {},
      (c) => {
        const text = c.files.get(EXPORT_JSON)!.toString();
        // JSON.parse keeps the last "statement"; a reader sees the first.
        const twoWays = text
          .replace('"statement": ', '"statement": "Something nobody said",\n      "statement": ')
          .replace(/"checkpointSize": (\d+)/, '"checkpointSize": $1.0000000000000000001');
        expect(twoWays).not.toBe(text);
        c.files.set(EXPORT_JSON, Buffer.from(twoWays));
      },
    );
    await expectRefused(
      path,
      /data\/export\.json at claims\[\d+\]\.statement: the key appears twice in one object/,
      /data\/export\.json at checkpointSize: the number \d+\.0000000000000000001 is not written as its value \d+\n/,
    );
  }, 60_000);

  it('a field export.json has no place for, in its head or a subject entry: exit 1, naming it', async () => {
    const path = await forged((d) => {
      const head = d as unknown as { verdict: string; subjects: Record<string, unknown>[] };
      head.verdict = 'confirmed by three agencies';
      head.subjects[0]!.note = 'checked';
    });
    await expectRefused(
      path,
      /export\.json verdict is "confirmed by three agencies": an export has no such field/,
      /export\.json subjects\[0\]\.note is "checked": a subject entry has no such field/,
    );
  }, 60_000);

  it('a payload file outside the layout, in the manifests (data/Export.json): exit 1, naming it', async () => {
    // Unzipped on a case-insensitive disk, data/Export.json would take export.json's place.
    const path = await forged(
      () => {},
      (c) => {
        const text = c.files.get(EXPORT_JSON)!.toString();
        c.files.set(
          'data/Export.json',
          Buffer.from(text.replace('"statement": "', '"statement": "Not said: ')),
        );
      },
    );
    await expectRefused(path, /data\/Export\.json: unexpected file/);
  }, 60_000);

  it('bag-info.txt restating the bag otherwise, or saying more (a label of its own): exit 1, naming each', async () => {
    const path = await forged(
      () => {},
      (c) => {
        const info = c.files.get('bag-info.txt')!.toString();
        const edited = info
          .replace(/^Checkpoint-Size: \d+$/m, 'Checkpoint-Size: 1')
          .replace(/^Log-Origin: .*$/m, 'Log-Origin: elsewhere.example/log')
          .replace(/^External-Description: /m, 'External-Description: All claims VERIFIED. ')
          .concat('Verdict: confirmed\n');
        c.files.set('bag-info.txt', Buffer.from(edited));
      },
    );
    await expectRefused(
      path,
      /bag-info\.txt Checkpoint-Size is "1", expected "\d+"/,
      /bag-info\.txt Log-Origin is "elsewhere\.example\/log", expected "/,
      /bag-info\.txt External-Description is "All claims VERIFIED\. claimtrail audit export of investigation [^"]+", expected "claimtrail audit export of investigation /,
      /bag-info\.txt Verdict: a claimtrail bag has no such label/,
    );
  }, 60_000);

  it('a ZIP that reads two ways — an entry the central directory does not list, a local header naming another file: exit 1', async () => {
    // A streaming extractor reads local headers in order; the verifier reads the central directory.
    const zip = readFileSync(await forged(() => {}));
    const eocd = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
    const central = zip.readUInt32LE(eocd + 16);
    const local = (at: number) => ({
      nameLength: zip.readUInt16LE(at + 26),
      name: (n: number) => zip.subarray(at + 30, at + 30 + n),
    });
    const first = local(0);
    const exportJson = `${first.name(first.nameLength).toString().split('/')[0]}/${EXPORT_JSON}`;
    const forgedJson = Buffer.from('{"claims": "forged"}\n');
    const header = Buffer.alloc(30);
    header.writeUInt32LE(0x04034b50, 0);
    header.writeUInt16LE(20, 4);
    header.writeUInt32LE(crc32(forgedJson), 14);
    header.writeUInt32LE(forgedJson.length, 18);
    header.writeUInt32LE(forgedJson.length, 22);
    header.writeUInt16LE(Buffer.byteLength(exportJson), 26);
    const hidden = Buffer.concat([header, Buffer.from(exportJson), forgedJson]);
    const withHidden = Buffer.concat([zip.subarray(0, central), hidden, zip.subarray(central)]);
    withHidden.writeUInt32LE(central + hidden.length, eocd + hidden.length + 16);
    writeFileSync(join(dir, 'hidden-entry.zip'), withHidden);
    await expectRefused(
      join(dir, 'hidden-entry.zip'),
      /ZIP: bytes before the central directory that no listed entry accounts for/,
    );

    const renamed = Buffer.from(zip);
    const at = renamed.indexOf(Buffer.from(exportJson));
    expect(at).toBeGreaterThan(0);
    renamed.write('Export', at + exportJson.length - 'export.json'.length);
    writeFileSync(join(dir, 'renamed-entry.zip'), renamed);
    await expectRefused(
      join(dir, 'renamed-entry.zip'),
      /ZIP: the local header of "\S+\/data\/export\.json" names another file/,
    );
  }, 60_000);

  it('its version line stripped from bag-info.txt: the signed export_scope record still says it', async () => {
    const path = await forged(
      () => {},
      (c) => {
        const info = c.files.get('bag-info.txt')!.toString();
        expect(info).toContain(`${EXPORT_VERSION_LABEL}: ${EXPORT_VERSION}\n`);
        c.files.set(
          'bag-info.txt',
          Buffer.from(info.replace(`${EXPORT_VERSION_LABEL}: ${EXPORT_VERSION}\n`, '')),
        );
      },
    );
    await expectRefused(
      path,
      new RegExp(
        `bag-info\\.txt Claimtrail-Export-Version is missing, but the signed export_scope record says version ${EXPORT_VERSION}`,
      ),
    );
  }, 60_000);
});

interface JsonDoc extends Doc {
  exportVersion?: number;
  events: { body: { type: string; data: Record<string, unknown> } }[];
}

/** The real JSON export with an edit, re-serialized (the verifier tells a JSON export by content). */
function forgedJson(edit: (doc: JsonDoc) => void, text?: (serialized: string) => string): string {
  const doc = JSON.parse(readFileSync(json, 'utf8')) as JsonDoc;
  edit(doc);
  const path = join(dir, `forged-${++n}.json`);
  const serialized = JSON.stringify(doc);
  const edited = text?.(serialized);
  if (text) expect(edited).not.toBe(serialized);
  writeFileSync(path, edited ?? serialized);
  return path;
}

describe('verify-export on a real JSON export', () => {
  it('the control: re-serialized with no edit, it holds (exit 0) with the same checks as a bag', async () => {
    const out = await runVerifyCli([forgedJson(() => {}), '--key', key]);
    expect(out.code, out.stdout).toBe(0);
    expect(out.stdout).toMatch(/^JSON export \(/);
    expect(out.stdout).toMatch(/ ([1-9]\d*) ledger events in \d+ subjects, \1 inclusion proofs verified/);
    expect(out.stdout).toMatch(/pinned key /);
  }, 60_000);

  it.each([
    [
      "a claim's statement",
      (d: JsonDoc) => {
        claim(d).statement = 'Something nobody said';
      },
      /claim \S+\): statement is "Something nobody said" in export\.json, the ledger says "A claim citing /,
    ],
    [
      'a citation made refuting',
      (d: JsonDoc) => {
        claim(d).citations[0]!.relation = 'refuting';
      },
      /citations\[id=\S+\]\.relation is "refuting" in export\.json, the ledger says "origin"/,
    ],
    [
      "an evidence item's capturedAt",
      (d: JsonDoc) => {
        video(d).capturedAt = '2020-01-01T00:00:00.000Z';
      },
      /evidence \S+\): capturedAt is "2020-01-01T00:00:00\.000Z" in export\.json/,
    ],
    [
      'an event edited to match a forged view',
      (d: JsonDoc) => {
        const created = d.events.find((e) => e.body.type === 'claim_created')!;
        (created.body.data.claim as { statement: string }).statement = 'Rewritten';
      },
      /hash mismatch|does not verify|no inclusion proof/,
    ],
    [
      'a key twice in an event body (the hash covers the last, a reader sees the first)',
      (d: JsonDoc) => d,
      /the JSON export at events\[\d+\]\.body\.data\.claim\.statement: the key appears twice in one object/,
      // Events come before claims: the first "statement" is claim_created's.
      (text: string) => text.replace('"statement":', '"statement":"Rewritten","statement":'),
    ],
    [
      'a field a JSON export has no place for, on an event and in log, and log.origin changed',
      (d: JsonDoc) => {
        const doc = d as unknown as { log: Record<string, unknown>; events: Record<string, unknown>[] };
        doc.events[0]!.comment = 'verified';
        doc.log.note = 'trusted';
        doc.log.origin = 'elsewhere.example/log';
      },
      [
        /the JSON export's events\[0\]\.comment: a JSON export has no such field/,
        /the JSON export's log\.note: a JSON export has no such field/,
        /the JSON export's log\.origin is "elsewhere\.example\/log", its checkpoint's is "/,
      ],
    ],
    [
      'its exportVersion removed',
      (d: JsonDoc) => {
        delete d.exportVersion;
      },
      new RegExp(
        `the JSON export’s exportVersion is missing, but the signed export_scope record says version ${EXPORT_VERSION}`,
      ),
    ],
  ])(
    '%s: exit 1, naming it',
    async (_what, edit, pattern, text?: (t: string) => string) => {
      await expectRefused(forgedJson(edit, text), ...[pattern].flat());
    },
    60_000,
  );
});
