// analyzeFile dispatch: the right analyzer per kind, the tool recorded, JSON-safe metadata.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { canonicalJson } from '../../../src/ledger/canonical.ts';
import { analyzeFile, pageCharset } from '../../../src/media/analyze.ts';
import { MediaProbeError, resolveFfprobePath } from '../../../src/media/ffprobe.ts';
import { fixture, scratchDir } from './helpers.ts';

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
    expect(Math.abs((result.metadata.durationSeconds as number) - 31)).toBeLessThanOrEqual(0.05);
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
  ])('%j → %s', (bytes, expected) => {
    expect(pageCharset(Buffer.from(bytes))).toBe(expected);
  });
});
