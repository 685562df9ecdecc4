// analyzeFile dispatch: the right analyzer per kind, the tool recorded, JSON-safe metadata.
import { copyFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { describe as describeStored } from '../../../src/capture/describe.ts';
import { canonicalJson } from '../../../src/ledger/canonical.ts';
import { analyzeFile, charsetParameter, pageCharset } from '../../../src/media/analyze.ts';
import { MediaProbeError, resolveFfprobePath } from '../../../src/media/ffprobe.ts';
import type { BlobStore } from '../../../src/storage/blob-store.ts';
import { durationCheckPasses, fixture, scratchDir } from './helpers.ts';

const dir = await scratchDir();
let ffprobePath: string;

beforeAll(async () => {
  ffprobePath = await resolveFfprobePath();
});

describe('analyzeFile', () => {
  it('describes video with ffprobe and names its version', async () => {
    const result = await analyzeFile(fixture('zelenskyy-31s.mp4'), {
      kind: 'video',
      ffprobePath,
      timeoutMs: 20_000,
    });
    expect(result.tool).toMatch(/^ffprobe \S+$/);
    expect(result.tool).not.toBe('ffprobe unknown');
    expect(result.metadata).toMatchObject({
      container: expect.stringContaining('mp4'),
      width: 96,
      height: 64,
    });
    expect(durationCheckPasses(result.metadata as { durationSeconds: unknown }, 31)).toBe(true);
    expect(() => canonicalJson(result.metadata)).not.toThrow();
  });

  it('finds ffprobe itself when no path is given', async () => {
    const result = await analyzeFile(fixture('tone-5s.m4a'), { kind: 'audio' });
    expect((result.metadata.streams as { codec: string }[]).map((s) => s.codec)).toEqual(['aac']);
  });

  it('lets MediaProbeError through for a file that is not media', async () => {
    await expect(analyzeFile(fixture('page.html'), { kind: 'video', ffprobePath })).rejects.toThrow(
      MediaProbeError,
    );
  });

  it('refuses an HLS playlist given as video instead of describing the file it names', async () => {
    await copyFile(fixture('zelenskyy-31s.mp4'), join(dir, 'segment.mp4'));
    const path = join(dir, 'stream.m3u8');
    await writeFile(path, '#EXTM3U\n#EXT-X-TARGETDURATION:31\n#EXTINF:31.0,\nsegment.mp4\n#EXT-X-ENDLIST\n');
    const error = await analyzeFile(path, { kind: 'video', ffprobePath, timeoutMs: 20_000 }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(MediaProbeError);
    expect(error).toMatchObject({ code: 'not_media', detail: expect.stringMatching(/^format hls /) });
  });

  it('describes images with exifr', async () => {
    const result = await analyzeFile(fixture('photo-exif.jpg'), { kind: 'image' });
    expect(result.tool).toMatch(/^exifr \d+\.\d+\.\d+$/);
    expect(result.metadata).toMatchObject({ width: 64, height: 48, exif: { make: 'Canon' } });
  });

  it('describes pages with htmlparser2, resolving against the base URL', async () => {
    const result = await analyzeFile(fixture('page.html'), {
      kind: 'page',
      baseUrl: 'https://mirror.example.net/a/b.html',
    });
    expect(result.tool).toMatch(/^htmlparser2 \d+\.\d+\.\d+$/);
    expect(result.metadata.charset).toBe('utf-8');
    expect(result.metadata).not.toHaveProperty('truncated');
    expect((result.metadata.declaredMedia as { url: string }[])[0]?.url).toBe(
      'https://mirror.example.net/media/zelenskyy-31s.mp4',
    );
    expect(() => canonicalJson(result.metadata)).not.toThrow();
  });

  it('reads only the head of a large page and says so', async () => {
    const path = join(dir, 'long.html');
    const late = '<meta property="og:video" content="https://late.example/v.mp4">';
    await writeFile(path, `<html><head><title>Long</title>${' '.repeat(10_000)}${late}</head></html>`);
    const result = await analyzeFile(path, {
      kind: 'page',
      baseUrl: 'https://a.example/',
      maxPageBytes: 4096,
    });
    expect(result.metadata.title).toBe('Long');
    expect(result.metadata.declaredMedia).toEqual([]);
    expect(result.metadata.truncated).toBe(true);
  });

  it('decodes a page in the charset it declares', async () => {
    const path = join(dir, 'cp1251.html');
    // "Київ" in windows-1251.
    const kyiv = Buffer.from([0xca, 0xe8, 0xbf, 0xe2]);
    await writeFile(
      path,
      Buffer.concat([
        Buffer.from('<html><head><meta charset="windows-1251"><title>'),
        kyiv,
        Buffer.from('</title></head></html>'),
      ]),
    );
    const result = await analyzeFile(path, { kind: 'page', baseUrl: 'https://a.example/' });
    expect(result.metadata.title).toBe('Київ');
    expect(result.metadata.charset).toBe('windows-1251');
  });

  it('decodes a windows-1251 page declared only in the Content-Type header', async () => {
    const path = join(dir, 'cp1251-header.html');
    // "Київ — новини" in windows-1251, with no <meta charset> and no BOM.
    const title = Buffer.from([0xca, 0xe8, 0xbf, 0xe2, 0x20, 0x97, 0x20, 0xed, 0xee, 0xe2, 0xe8, 0xed, 0xe8]);
    await writeFile(
      path,
      Buffer.concat([Buffer.from('<html><head><title>'), title, Buffer.from('</title></head></html>')]),
    );
    const served = await analyzeFile(path, {
      kind: 'page',
      baseUrl: 'https://a.example/',
      contentType: 'text/html; charset=windows-1251',
    });
    expect(served.metadata.title).toBe('Київ — новини');
    expect(served.metadata.charset).toBe('windows-1251');
    // The same bytes without the header are not windows-1251 text.
    const bare = await analyzeFile(path, { kind: 'page', baseUrl: 'https://a.example/' });
    expect(bare.metadata.charset).toBe('utf-8');
    expect(bare.metadata.title).not.toBe('Київ — новини');
  });

  it('is given the Content-Type a capture recorded (capture describe)', async () => {
    const path = join(dir, 'cp1251-served.html');
    const html = Buffer.concat([
      Buffer.from('<html><head><title>'),
      Buffer.from([0xca, 0xe8, 0xbf, 0xe2]), // "Київ" in windows-1251
      Buffer.from('</title></head></html>'),
    ]);
    await writeFile(path, html);
    // Only the one method describe() uses: the stored bytes are this file.
    const blobs = { withLocalFile: (_sha256: string, fn: (p: string) => Promise<unknown>) => fn(path) };
    const item = await describeStored(
      { blobs: blobs as unknown as BlobStore, ffprobePath },
      { sha256: '0'.repeat(64), head: html, declaredType: 'text/html; charset=windows-1251' },
    );
    expect(item.kind).toBe('page');
    expect(item.analysis.metadata).toMatchObject({ title: 'Київ', charset: 'windows-1251' });
  });

  it('gives other kinds no metadata', async () => {
    for (const kind of ['document', 'post_metadata', 'upload'] as const) {
      await expect(analyzeFile(fixture('syndication-post.json'), { kind })).resolves.toStrictEqual({
        tool: 'none',
        metadata: {},
      });
    }
  });
});

describe('pageCharset', () => {
  it.each([
    [[0xef, 0xbb, 0xbf, 0x3c], 'utf-8'],
    [[0xff, 0xfe, 0x3c, 0x00], 'utf-16le'],
    [[...Buffer.from('<meta http-equiv="Content-Type" content="text/html; charset=KOI8-U">')], 'koi8-u'],
    [[...Buffer.from('<meta charset="utf-16">')], 'utf-8'],
    [[...Buffer.from('<meta charset="no-such-charset">')], 'utf-8'],
    [[...Buffer.from('<p>no declaration</p>')], 'utf-8'],
    [[...Buffer.from('<meta charset="ucs-2">')], 'utf-8'],
    [[...Buffer.from('<meta charset="x-user-defined">')], 'windows-1252'],
  ])('%j → %s', (bytes, expected) => {
    expect(pageCharset(Buffer.from(bytes))).toBe(expected);
  });

  const meta1251 = Buffer.from('<html><head><meta charset="windows-1251"><title>x</title>');
  const utf8Bom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), meta1251]);
  const utf16Bom = Buffer.from([0xfe, 0xff, 0x00, 0x3c]);

  it('takes the Content-Type charset over <meta>', () => {
    expect(pageCharset(meta1251, 'text/html; charset=koi8-r')).toBe('koi8-r');
    expect(pageCharset(meta1251, 'text/html;charset="ISO-8859-2"')).toBe('iso-8859-2');
    expect(pageCharset(meta1251, 'text/html; charset=latin1')).toBe('windows-1252');
    // A UTF-16 header is believed (only a <meta> claiming UTF-16 is not).
    expect(pageCharset(Buffer.from('<p>'), 'text/html; charset=utf-16le')).toBe('utf-16le');
  });

  it('takes a byte order mark over the Content-Type charset', () => {
    expect(pageCharset(utf8Bom, 'text/html; charset=koi8-r')).toBe('utf-8');
    expect(pageCharset(utf16Bom, 'text/html; charset=windows-1251')).toBe('utf-16be');
  });

  it('falls back to <meta>, then UTF-8, when the header has no charset it knows', () => {
    for (const header of [
      'text/html; charset=no-such-charset',
      'text/html; charset=replacement',
      'text/html; charset=',
      'text/html; charset="unterminated',
      'text/html',
      '',
      null,
      undefined,
    ]) {
      expect(pageCharset(meta1251, header), String(header)).toBe('windows-1251');
      expect(pageCharset(Buffer.from('<p>no declaration</p>'), header), String(header)).toBe('utf-8');
    }
  });
});

describe('charsetParameter', () => {
  it.each([
    ['text/html; charset=UTF-8', 'UTF-8'],
    ['text/html;charset=koi8-r', 'koi8-r'],
    ['text/html; CHARSET = "windows-1251" ', 'windows-1251'],
    ['text/html; q="a;charset=x"; charset=big5', 'big5'],
    ['text/html; x="a\\"b"; charset=gbk', 'gbk'],
    ['text/html; bare; charset=euc-kr', 'euc-kr'],
    ['text/html; charset=shift_jis; charset=utf-8', 'shift_jis'],
    ['text/html; charset=; charset=utf-8', 'utf-8'],
    ['text/html', undefined],
    ['text/html; charset', undefined],
    ['', undefined],
    [null, undefined],
  ])('%j → %j', (contentType, expected) => {
    expect(charsetParameter(contentType)).toBe(expected);
  });
});
