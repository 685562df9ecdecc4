// BagWriter: tag files byte for byte, every payload source kind, RFC 8493 path rules and
// manifest encoding, sequential use, and failures that abort the bag instead of truncating it.
import { createWriteStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { BagPathError, decodeManifestPath, encodeManifestPath } from '../../../src/exports/bag/bag-paths.ts';
import { BagWriter, BagWriterError } from '../../../src/exports/bag/bag-writer.ts';
import { readBag, sha256 } from '../../helpers/bag-fixture.ts';

const dir = mkdtempSync(join(tmpdir(), 'claimtrail-bag-writer-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const info = {
  sourceOrganization: 'Newsroom',
  externalIdentifier: 'exp_1',
  externalDescription: 'first line\nsecond line',
  bagSoftwareAgent: 'claimtrail test',
  baggingDate: new Date('2024-12-18T23:59:00Z'),
  extra: { 'Contact-Name': 'Desk' },
};

let n = 0;
function newBag(bagName = 'claimtrail-export-test') {
  const path = join(dir, `bag-${++n}.zip`);
  const out = createWriteStream(path);
  return { path, out, bag: new BagWriter(out, { bagName, mtime: new Date('2024-12-17T00:00:00Z') }) };
}

describe('BagWriter', () => {
  it('writes bagit.txt, bag-info.txt, both manifests and the payload, from every kind of source', async () => {
    const { path, bag } = newBag();
    const big = Buffer.alloc(100_000, 7);
    const written = [
      await bag.addPayload('data/a.txt', 'hello\n'),
      await bag.addPayload('data/b/bytes.bin', big),
      await bag.addPayload('data/b/stream.bin', () =>
        Readable.from([Buffer.from('abc'), Buffer.from('def')]),
      ),
      await bag.addPayload(
        'data/c.jsonl',
        (async function* () {
          yield '{"a":1}\n';
          yield Buffer.from('{"b":2}\n');
        })(),
      ),
      await bag.addPayload('data/empty', ''),
    ];
    expect(written.map((w) => w.size)).toEqual([6, 100_000, 6, 16, 0]);
    expect(written[1]!.sha256).toBe(sha256(big));
    const done = await bag.finish(info);
    expect(done.payloadOxum).toBe(`${6 + 100_000 + 6 + 16}.5`);

    const { bagName, files } = await readBag(path);
    expect(bagName).toBe('claimtrail-export-test');
    expect([...files.keys()][0]).toBe('bagit.txt');
    expect(files.get('bagit.txt')!.toString()).toBe(
      'BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n',
    );
    expect(files.get('bag-info.txt')!.toString()).toBe(
      [
        'Source-Organization: Newsroom',
        'External-Identifier: exp_1',
        'External-Description: first line',
        '  second line',
        'Bag-Software-Agent: claimtrail test',
        'Bagging-Date: 2024-12-18',
        `Payload-Oxum: ${done.payloadOxum}`,
        'Contact-Name: Desk',
        '',
      ].join('\n'),
    );
    expect(files.get('data/b/stream.bin')!.toString()).toBe('abcdef');
    expect(files.get('data/c.jsonl')!.toString()).toBe('{"a":1}\n{"b":2}\n');
    const manifest = files.get('manifest-sha256.txt')!.toString();
    expect(manifest).toBe(written.map((w) => `${w.sha256} ${w.path}\n`).join(''));
    expect(files.get('tagmanifest-sha256.txt')!.toString()).toBe(
      ['bagit.txt', 'bag-info.txt', 'manifest-sha256.txt']
        .map((t) => `${sha256(files.get(t)!)} ${t}\n`)
        .join(''),
    );
    expect(done.tagSha256['tagmanifest-sha256.txt']).toBe(sha256(files.get('tagmanifest-sha256.txt')!));
  });

  it('percent-encodes CR, LF and % in manifest paths (RFC 8493 section 2.1.3)', async () => {
    expect(encodeManifestPath('data/100% a\r\nb')).toBe('data/100%25 a%0D%0Ab');
    expect(decodeManifestPath('data/100%25 a%0D%0Ab%0a%41')).toBe('data/100% a\r\nb\n%41');
    expect(decodeManifestPath(encodeManifestPath('data/%0A literally'))).toBe('data/%0A literally');
    const { path, bag } = newBag();
    const w = await bag.addPayload('data/100% sure\nreally.txt', 'x');
    await bag.finish(info);
    const { files } = await readBag(path);
    expect(files.get('manifest-sha256.txt')!.toString()).toBe(`${w.sha256} data/100%25 sure%0Areally.txt\n`);
    expect(files.get('data/100% sure\nreally.txt')!.toString()).toBe('x');
  });

  it('rejects paths outside data/, absolute, with . or .. segments, duplicates and file/directory clashes', async () => {
    const { path, bag } = newBag();
    for (const bad of [
      '../x',
      '/data/x',
      'C:/data/x',
      'data/../x',
      'data/./x',
      'data//x',
      'data\\x',
      'bag-info.txt',
      'data',
      'data/',
      'other/x',
    ]) {
      await expect(bag.addPayload(bad, 'x'), bad).rejects.toBeInstanceOf(BagPathError);
    }
    await bag.addPayload('data/a/b', 'x');
    await expect(bag.addPayload('data/a/b', 'y')).rejects.toThrow(/duplicate payload path/);
    await expect(bag.addPayload('data/a', 'y')).rejects.toThrow(/already a directory/);
    await expect(bag.addPayload('data/a/b/c', 'y')).rejects.toThrow(/lies under the file/);
    // A rejected path writes nothing: the bag is still whole.
    await bag.finish(info);
    expect([...(await readBag(path)).files.keys()].filter((f) => f.startsWith('data/'))).toEqual([
      'data/a/b',
    ]);
    expect(() => new BagWriter(new PassThrough(), { bagName: 'a/b' })).toThrow(BagPathError);
  });

  it('is sequential: a second call before the first resolved is refused', async () => {
    const { bag } = newBag();
    const first = bag.addPayload('data/a', 'x');
    await expect(bag.addPayload('data/b', 'y')).rejects.toThrow(/sequential/);
    await expect(bag.finish(info)).rejects.toThrow(/sequential/);
    await first;
    await bag.finish(info);
    await expect(bag.addPayload('data/c', 'z')).rejects.toThrow(/already finished/);
  });

  it('a failing source aborts the bag: the call rejects, `out` is destroyed, later calls reject', async () => {
    const { bag, out } = newBag();
    const failing = (async function* () {
      yield Buffer.from('partial');
      throw new Error('blob store went away');
    })();
    await expect(bag.addPayload('data/a', failing)).rejects.toThrow(/data\/a: blob store went away/);
    await expect(bag.addPayload('data/b', 'x')).rejects.toBeInstanceOf(BagWriterError);
    await expect(bag.finish(info)).rejects.toThrow(/failed earlier/);
    expect(out.destroyed).toBe(true);
  });

  it('aborts when the streamed bytes do not match the expected hash or size', async () => {
    const a = newBag();
    await expect(a.bag.addPayload('data/a', 'abc', { expectedSha256: sha256('abd') })).rejects.toThrow(
      /hashes to .* expected/,
    );
    expect(a.out.destroyed).toBe(true);
    const b = newBag();
    await expect(b.bag.addPayload('data/a', 'abc', { expectedSize: 4 })).rejects.toThrow(
      /3 bytes streamed, expected 4/,
    );
    const c = newBag();
    await c.bag.addPayload('data/a', 'abc', { expectedSha256: sha256('abc'), expectedSize: 3 });
    await c.bag.finish(info);
  });

  it('rejects bag-info labels it sets itself', async () => {
    const { bag } = newBag();
    await expect(bag.finish({ ...info, extra: { 'Payload-Oxum': '1.1' } })).rejects.toThrow(
      /set by the bag writer/,
    );
  });

  it('respects backpressure: a slow reader gets every byte in order', async () => {
    const out = new PassThrough({ highWaterMark: 1024 });
    const bag = new BagWriter(out, { bagName: 'slow' });
    const chunks: Buffer[] = [];
    let received = 0;
    const reading = (async () => {
      for await (const c of out) {
        chunks.push(c as Buffer);
        received += (c as Buffer).length;
        await new Promise((r) => setImmediate(r));
      }
    })();
    const payload = Buffer.alloc(2 * 1024 * 1024, 1);
    await bag.addPayload('data/x', payload, { compress: false });
    // The writer cannot run ahead of the reader by more than the stream buffers.
    expect(received).toBeGreaterThan(payload.length - 512 * 1024);
    await bag.finish(info);
    await reading;
    const zipPath = join(dir, 'slow.zip');
    writeFileSync(zipPath, Buffer.concat(chunks));
    expect((await readBag(zipPath)).files.get('data/x')!.equals(payload)).toBe(true);
  });
});
