// An independent BagIt checker written here from RFC 8493 (it imports nothing of
// src/exports) must accept what BagWriter produces, and Info-ZIP's `unzip -t` must find the
// archive sound.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import yauzl from 'yauzl';
import { BagWriter } from '../../../src/exports/bag/bag-writer.ts';
import { buildFixtureBag, rewriteBag } from '../../helpers/bag-fixture.ts';

const dir = mkdtempSync(join(tmpdir(), 'claimtrail-bag-reference-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** RFC 8493 validation of a zipped bag (section 3 "Valid" bags), reading with yauzl only. */
async function referenceValidate(zipPath: string): Promise<string[]> {
  const errors: string[] = [];
  const files = new Map<string, Buffer>();
  const tops = new Set<string>();
  const zip = await yauzl.openPromise(zipPath, { lazyEntries: true, autoClose: false });
  try {
    for await (const entry of zip.eachEntry()) {
      const name = entry.fileName;
      tops.add(name.split('/')[0]!);
      if (name.endsWith('/')) continue;
      const chunks: Buffer[] = [];
      for await (const c of await zip.openReadStreamPromise(entry)) chunks.push(c as Buffer);
      files.set(name.slice(name.indexOf('/') + 1), Buffer.concat(chunks));
    }
  } finally {
    zip.close();
  }
  if (tops.size !== 1) errors.push(`expected one base directory, found ${tops.size}`);
  const text = (name: string) => files.get(name)?.toString('utf8');
  const lines = (s: string) => s.split(/\r\n|\r|\n/).filter((l, i, all) => l !== '' || i < all.length - 1);

  // 2.1.1 bagit.txt
  const bagit = text('bagit.txt');
  if (bagit === undefined) errors.push('no bagit.txt');
  else {
    const [v, e, ...rest] = lines(bagit);
    if (!/^BagIt-Version: \d+\.\d+$/.test(v ?? '')) errors.push(`bad BagIt-Version line ${v}`);
    if (e !== 'Tag-File-Character-Encoding: UTF-8') errors.push(`bad encoding line ${e}`);
    if (rest.length) errors.push('bagit.txt has extra lines');
  }
  // 2.1.2 payload directory
  const payload = [...files.keys()].filter((f) => f.startsWith('data/'));
  // 2.1.3 payload manifests: every manifest-<alg>.txt, each listing every payload file.
  const decode = (p: string) => p.replace(/%0D/gi, '\r').replace(/%0A/gi, '\n').replace(/%25/g, '%');
  const algs = [...files.keys()]
    .map((f) => /^manifest-([a-z0-9]+)\.txt$/.exec(f)?.[1])
    .filter(Boolean) as string[];
  if (algs.length === 0) errors.push('no payload manifest');
  const checkManifest = (name: string, alg: string, mustList: string[]) => {
    const listed = new Set<string>();
    for (const line of lines(text(name)!)) {
      const m = /^(\S+)\s+(.+)$/.exec(line);
      if (!m) {
        errors.push(`${name}: bad line ${line}`);
        continue;
      }
      const path = decode(m[2]!);
      listed.add(path);
      const data = files.get(path);
      if (!data) errors.push(`${name}: ${path} missing`);
      else if (createHash(alg).update(data).digest('hex') !== m[1]!.toLowerCase()) {
        errors.push(`${name}: ${path} checksum mismatch`);
      }
    }
    for (const f of mustList) if (!listed.has(f)) errors.push(`${name} does not list ${f}`);
  };
  for (const alg of algs) checkManifest(`manifest-${alg}.txt`, alg, payload);
  // 2.2.1 tag manifests
  for (const f of files.keys()) {
    const alg = /^tagmanifest-([a-z0-9]+)\.txt$/.exec(f)?.[1];
    if (alg) checkManifest(f, alg, []);
  }
  // 2.2.2 bag-info.txt and Payload-Oxum
  const info = text('bag-info.txt');
  if (info !== undefined) {
    const oxum = lines(info)
      .map((l) => /^Payload-Oxum:\s*(\d+)\.(\d+)$/.exec(l))
      .find(Boolean);
    if (oxum) {
      const octets = payload.reduce((sum, f) => sum + files.get(f)!.length, 0);
      if (Number(oxum[1]) !== octets || Number(oxum[2]) !== payload.length) {
        errors.push(`Payload-Oxum ${oxum[1]}.${oxum[2]} but payload is ${octets}.${payload.length}`);
      }
    }
    for (const l of lines(info)) {
      if (!/^[ \t]/.test(l) && !/^[^:\s][^:]*:\s/.test(l)) errors.push(`bag-info.txt: bad line ${l}`);
    }
  }
  return errors;
}

describe('bags against an independent RFC 8493 checker', () => {
  it('accepts a claimtrail export bag, and unzip -t finds no error', async () => {
    const fixture = await buildFixtureBag(dir);
    expect(await referenceValidate(fixture.path)).toEqual([]);
    const unzip = spawnSync('unzip', ['-t', fixture.path], { encoding: 'utf8' });
    expect(unzip.status, unzip.stdout + unzip.stderr).toBe(0);
    expect(unzip.stdout).toMatch(/No errors detected/);
  });

  it('accepts a bag with awkward file names (spaces, %, CR, LF, non-ASCII) and an empty file', async () => {
    const path = join(dir, 'awkward.zip');
    const bag = new BagWriter(createWriteStream(path), { bagName: 'awkward bag' });
    await bag.addPayload('data/100% sure.txt', 'percent');
    await bag.addPayload('data/line\nbreak\r.txt', 'newline');
    await bag.addPayload('data/évidence/видео.mp4', Buffer.alloc(70_000, 3), { compress: false });
    await bag.addPayload('data/empty', '');
    await bag.finish({
      sourceOrganization: 'x',
      externalIdentifier: 'y',
      externalDescription: 'z',
      bagSoftwareAgent: 'claimtrail',
    });
    expect(await referenceValidate(path)).toEqual([]);
    expect(spawnSync('unzip', ['-t', path], { encoding: 'utf8' }).status).toBe(0);
  });

  it('the reference checker itself catches a changed payload byte', async () => {
    const fixture = await buildFixtureBag(dir);
    const bad = await rewriteBag(fixture.path, join(dir, 'ref-bad.zip'), ({ files }) => {
      const name = [...files.keys()].find((f) => f.startsWith('data/content/'))!;
      const data = Buffer.from(files.get(name)!);
      data[0]! ^= 1;
      files.set(name, data);
    });
    expect(await referenceValidate(bad)).toEqual([expect.stringMatching(/checksum mismatch/)]);
  });
});
