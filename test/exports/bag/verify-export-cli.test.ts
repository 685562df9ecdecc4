// `claimtrail verify-export FILE [--key KEY]` as an auditor runs it: a separate process with
// no reachable database or Redis (bogus URLs), exit 0 / 1 / 2.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contentPath } from '../../../src/exports/bag/export-layout.ts';
import { generateSignerKey } from '../../../src/log/note.ts';
import { buildFixtureBag, type FixtureBag, rewriteBag } from '../../helpers/bag-fixture.ts';
import { runVerifyCli } from '../../helpers/verify-cli.ts';

const dir = mkdtempSync(join(tmpdir(), 'claimtrail-verify-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const runCli = runVerifyCli;

let good: FixtureBag;
let bad: string;
beforeAll(async () => {
  good = await buildFixtureBag(dir);
  bad = await rewriteBag(good.path, join(dir, 'bad.zip'), ({ files }) => {
    const name = contentPath([...good.content.keys()][0]!);
    const data = Buffer.from(files.get(name)!);
    data[0]! ^= 1;
    files.set(name, data);
  });
});

describe('claimtrail verify-export', () => {
  it('exits 0 and prints what it checked on a good bag, with and without --key', async () => {
    const [plain, pinned] = await Promise.all([
      runCli([good.path]),
      runCli([good.path, '--key', good.verifierKey]),
    ]);
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stdout).toContain(`export bag ${good.bagName}`);
    expect(plain.stdout).toContain(`${good.events.length} ledger events in 5 subjects`);
    expect(plain.stdout).toContain(`tree size ${good.treeSize}`);
    expect(plain.stdout).toContain('pass --key to pin it');
    expect(plain.stdout.trimEnd().split('\n').at(-1)).toBe('OK');
    expect(pinned.code, pinned.stderr).toBe(0);
    expect(pinned.stdout).toMatch(/pinned key claimtrail\.test\/log\+[0-9a-f]{8}/);
  }, 60_000);

  it('exits 1 naming each problem on a tampered bag, and with a wrong pinned key', async () => {
    const keyFile = join(dir, 'other.key');
    writeFileSync(keyFile, `${generateSignerKey('claimtrail.test/log').verifierKey}\n`);
    const [tampered, wrongKey] = await Promise.all([runCli([bad]), runCli([good.path, '--key', keyFile])]);
    expect(tampered.code).toBe(1);
    expect(tampered.stdout).toContain('1 claims, 2 sources, 4 evidence items, 3 content files');
    expect(tampered.stdout).toMatch(
      /FAILED: 2 problems\n {2}- data\/content\/[0-9a-f]{64}: content hashes to/,
    );
    expect(tampered.stdout).toMatch(
      /\n {2}- data\/content\/[0-9a-f]{64}: SHA-256 is [0-9a-f]{64} but manifest-sha256\.txt/,
    );
    expect(wrongKey.code).toBe(1);
    expect(wrongKey.stdout).toMatch(/is not signed by the pinned key/);
  }, 60_000);

  it('says, as its own block, what a bag made before export version 2 cannot prove, and exits 0', async () => {
    // The fixture bag has the version-less layout of earlier versions: no version line in
    // bag-info.txt, no exportVersion in its export_scope record.
    const out = await runCli([good.path]);
    expect(out.code, out.stdout).toBe(0);
    expect(out.stdout).toMatch(
      /\nNOT PROVEN by this bag \(an older export format; not a failure\):\n {2}- this export was made before export version 2 \(no bag-info\.txt Claimtrail-Export-Version, .*claims, citations and sources, and its evidence beyond sourceId, sha256, size, mediaType, kind, are NOT proven by the ledger\nOK\n$/,
    );
  }, 60_000);

  it('prints names from the bag with control characters escaped: they cannot hide the FAILED lines', async () => {
    // \r returns to the line start, ESC[2K erases the line, ESC[8m makes what follows invisible.
    const hostile = 'data/\r\x1b[2K\x1b[8mOK\u202e';
    const path = await rewriteBag(good.path, join(dir, 'hostile.zip'), ({ files }) => {
      files.set(hostile, Buffer.from('x'));
    });
    const out = await runCli([path]);
    expect(out.code).toBe(1);
    // No raw control byte (C0 but the newlines between lines, DEL, C1) nor bidi override.
    const raw = [...out.stdout].filter((c) => {
      const n = c.codePointAt(0)!;
      return (n < 0x20 && n !== 0x0a) || (n >= 0x7f && n <= 0x9f) || (n >= 0x202a && n <= 0x202e);
    });
    expect(raw).toEqual([]);
    expect(out.stdout).toMatch(/^FAILED: \d+ problems?$/m);
    expect(out.stdout).toContain('data/\\x0d\\x1b[2K\\x1b[8mOK\\u202e');
  }, 60_000);

  it('escapes invisible characters too: two names that differ by one still print differently', async () => {
    // Zero-width space and joiner, word joiner, BOM, line and paragraph separators.
    const path = await rewriteBag(good.path, join(dir, 'invisible.zip'), ({ files }) => {
      files.set('data/a\u200b\u200d\u2060\ufeff\u2028\u2029b', Buffer.from('x'));
    });
    const out = await runCli([path]);
    expect(out.code).toBe(1);
    expect(out.stdout).toContain('data/a\\u200b\\u200d\\u2060\\ufeff\\u2028\\u2029b');
  }, 60_000);

  it('exits 2 on a missing file, a malformed key and a missing argument', async () => {
    const [missing, badKey, noArg] = await Promise.all([
      runCli([join(dir, 'missing.zip')]),
      runCli([good.path, '--key', 'name+zzzz+abc']),
      runCli([]),
    ]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/cannot read .*missing\.zip/);
    expect(badKey.code).toBe(2);
    expect(badKey.stderr).toMatch(/pinned key is not a verifier key/);
    expect(noArg.code).toBe(2);
    expect(noArg.stderr).toMatch(/missing required argument/);
  }, 60_000);
});
