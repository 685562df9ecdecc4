// Content sniffing on the fixtures' first 4 KiB, and declared-vs-sniffed comparison.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { compareDeclaredType, SNIFF_BYTES, sniffMediaType } from '../../../src/media/sniff.ts';
import { fixture } from './helpers.ts';

const head = (name: string) => readFileSync(fixture(name)).subarray(0, SNIFF_BYTES);

describe('sniffMediaType', () => {
  it.each([
    ['zelenskyy-31s.mp4', 'video/mp4', 'video'],
    ['tone-5s.m4a', 'audio/x-m4a', 'audio'],
    ['photo-exif.jpg', 'image/jpeg', 'image'],
    ['image.png', 'image/png', 'image'],
    ['page.html', 'text/html', 'page'],
    ['syndication-post.json', 'application/json', 'document'],
  ])('%s → %s (%s)', async (name, mediaType, kind) => {
    await expect(sniffMediaType(head(name))).resolves.toStrictEqual({ mediaType, kind });
  });

  it('recognises HTML after a BOM and whitespace, in any case, by its first tag', async () => {
    for (const text of [
      '\uFEFF \n\t<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01//EN"><html>',
      '<HTML lang="uk"><head>',
      '  <!-- generated --><div>hi</div>',
      '<body>\n<p>hi</p>',
    ]) {
      await expect(sniffMediaType(Buffer.from(text))).resolves.toStrictEqual({
        mediaType: 'text/html',
        kind: 'page',
      });
    }
    // "<a" must be a tag, not the start of another word.
    await expect(sniffMediaType(Buffer.from('<article-list>'))).resolves.toHaveProperty(
      'mediaType',
      'text/plain',
    );
  });

  it('recognises JSON objects and arrays, and plain UTF-8 text', async () => {
    await expect(sniffMediaType(Buffer.from(' [ {"a": 1} ]'))).resolves.toHaveProperty(
      'mediaType',
      'application/json',
    );
    await expect(sniffMediaType(Buffer.from('{\n  "id_str": "1"'))).resolves.toHaveProperty(
      'mediaType',
      'application/json',
    );
    await expect(sniffMediaType(Buffer.from('{curly but not json'))).resolves.toHaveProperty(
      'mediaType',
      'text/plain',
    );
    await expect(sniffMediaType(Buffer.from('Київ, 17 грудня — plain text\n'))).resolves.toStrictEqual({
      mediaType: 'text/plain',
      kind: 'document',
    });
  });

  it('keeps text whose last character is cut by the 4 KiB boundary', async () => {
    const text = Buffer.from('ї'.repeat(3000)); // 2 bytes per character
    await expect(sniffMediaType(text.subarray(0, 4095))).resolves.toHaveProperty('mediaType', 'text/plain');
  });

  it('recognises HTML in a legacy encoding, which is not UTF-8', async () => {
    const cp1251 = Buffer.concat([
      Buffer.from('<!DOCTYPE html>\n<html><head><title>'),
      Buffer.from([0xca, 0xe8, 0xbf, 0xe2]), // "Київ" in windows-1251
      Buffer.from('</title>'),
    ]);
    await expect(sniffMediaType(cp1251)).resolves.toStrictEqual({ mediaType: 'text/html', kind: 'page' });
    // Not UTF-8 and not starting with a tag: still unknown bytes.
    await expect(sniffMediaType(Buffer.from([0xca, 0xe8, 0x3c, 0x70, 0x3e]))).resolves.toHaveProperty(
      'mediaType',
      'application/octet-stream',
    );
  });

  it('calls unknown binary, NUL-laden text and empty input application/octet-stream', async () => {
    const binary = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 37 + 11) % 256));
    const octet = { mediaType: 'application/octet-stream', kind: 'document' };
    await expect(sniffMediaType(binary)).resolves.toStrictEqual(octet);
    await expect(sniffMediaType(Buffer.from('text\u0000with a NUL'))).resolves.toStrictEqual(octet);
    await expect(sniffMediaType(Buffer.from([0xc3, 0x28, 0x41]))).resolves.toStrictEqual(octet); // invalid UTF-8
    await expect(sniffMediaType(Buffer.alloc(0))).resolves.toStrictEqual(octet);
  });
});

describe('compareDeclaredType', () => {
  it.each([
    ['video/mp4', 'video/mp4', true],
    ['Video/MP4; codecs="avc1.64001e"', 'video/mp4', true],
    ['video/quicktime', 'video/mp4', true],
    ['audio/mp4', 'video/mp4', true],
    ['video/mp4', 'audio/x-m4a', true],
    ['image/jpg', 'image/jpeg', true],
    ['application/octet-stream', 'video/mp4', true],
    ['text/plain; charset=utf-8', 'text/html', true],
    ['text/csv', 'text/plain', true],
    ['application/json', 'text/plain', true],
    ['text/html; charset=utf-8', 'video/mp4', false],
    ['video/mp4', 'text/html', false],
    ['video/mp4', 'application/octet-stream', false],
    ['video/webm', 'video/mp4', false],
    ['image/png', 'image/jpeg', false],
    ['application/json', 'text/html', false],
  ])('declared %s, sniffed %s → %s', (declared, sniffed, consistent) => {
    expect(compareDeclaredType(declared, sniffed).consistent).toBe(consistent);
  });

  it('normalizes the declared type and treats a missing one as claiming nothing', () => {
    expect(compareDeclaredType('  VIDEO/MP4 ; foo=bar', 'video/mp4')).toStrictEqual({
      declared: 'video/mp4',
      sniffed: 'video/mp4',
      consistent: true,
    });
    expect(compareDeclaredType(undefined, 'image/png')).toStrictEqual({
      declared: null,
      sniffed: 'image/png',
      consistent: true,
    });
  });

  it('flags a page served as a video', async () => {
    const sniffed = await sniffMediaType(head('page.html'));
    expect(compareDeclaredType('video/mp4', sniffed.mediaType)).toStrictEqual({
      declared: 'video/mp4',
      sniffed: 'text/html',
      consistent: false,
    });
  });
});
