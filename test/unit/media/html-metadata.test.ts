// Page metadata from the committed article fixture and from hostile inputs.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../../src/ledger/canonical.ts';
import { extractPageMetadata, PAGE_LIMITS } from '../../../src/media/html-metadata.ts';
import { fixture } from './helpers.ts';

const PAGE_URL = 'https://news.example.org/2024/12/17/zelenskyy-north-korean-soldiers?utm_source=x';

describe('extractPageMetadata on the article fixture', () => {
  const page = extractPageMetadata(readFileSync(fixture('page.html'), 'utf8'), PAGE_URL);

  it('reads title, description, canonical URL and published time, decoding entities', () => {
    expect(page.title).toBe(
      'Zelenskyy: Russia burns faces of killed North Korean soldiers \u2013 Fixture News',
    );
    expect(page.description).toBe(
      'Video posted by the President of Ukraine "shows" soldiers\' bodies being burned.',
    );
    expect(page.canonicalUrl).toBe('https://news.example.org/2024/12/17/zelenskyy-north-korean-soldiers');
    expect(page.publishedTime).toBe('2024-12-17T19:05:00+00:00');
  });

  it('keeps og:* and twitter:* tags, first value per property', () => {
    expect(page.openGraph['og:type']).toBe('video.other');
    expect(page.openGraph['og:video']).toBe('/media/zelenskyy-31s.mp4');
    expect(page.openGraph['og:image']).toBe('/media/poster.jpg?w=96&h=64'); // not the javascript: one
    expect(page.twitter['twitter:card']).toBe('player');
    expect(page.twitter['twitter:player:stream:content_type']).toBe('video/mp4');
    expect(Object.keys(page.openGraph).every((k) => k.startsWith('og:'))).toBe(true);
  });

  it('parses good JSON-LD and skips the broken block', () => {
    expect(page.jsonLd).toEqual([
      {
        '@context': 'https://schema.org',
        '@type': 'VideoObject',
        name: 'Zelenskyy on North Korean soldiers',
        uploadDate: '2024-12-17T18:31:00Z',
        duration: 'PT31S',
        contentUrl: 'https://news.example.org/media/zelenskyy-31s.mp4',
      },
    ]);
  });

  it('lists declared media resolved, deduplicated, typed, http(s) only', () => {
    expect(page.declaredMedia).toStrictEqual([
      { url: 'https://news.example.org/media/zelenskyy-31s.mp4', via: 'og:video', declaredType: 'video/mp4' },
      { url: 'https://news.example.org/media/poster.jpg?w=96&h=64', via: 'og:image' },
      {
        url: 'https://cdn.example.org/media/zelenskyy-31s.mp4?src=tw&v=1',
        via: 'twitter:player:stream',
        declaredType: 'video/mp4',
      },
    ]);
    expect(() => canonicalJson(page)).not.toThrow();
  });
});

describe('extractPageMetadata rules', () => {
  it('resolves against <base href>, even when it comes after the tag', () => {
    const html = `<head>
      <meta property="og:video" content="clips/v.mp4">
      <base href="https://cdn.example.net/assets/">
      <link rel="alternate canonical" href="/story">
    </head>`;
    const page = extractPageMetadata(html, 'https://example.org/news/a/b.html');
    expect(page.declaredMedia).toStrictEqual([
      { url: 'https://cdn.example.net/assets/clips/v.mp4', via: 'og:video' },
    ]);
    expect(page.canonicalUrl).toBe('https://cdn.example.net/story');
  });

  it('resolves relative URLs against the page URL and decodes entities in attributes', () => {
    const html = `<meta property="og:video:url" content="../v.mp4?a=1&amp;b=2&#38;c=&quot;3&quot;">
      <meta property="og:audio" content="//audio.example.org/x.mp3">
      <meta property="og:audio:type" content="audio/mpeg">`;
    const page = extractPageMetadata(html, 'https://example.org/news/a/b.html');
    expect(page.declaredMedia).toStrictEqual([
      { url: 'https://example.org/news/v.mp4?a=1&b=2&c=%223%22', via: 'og:video:url' },
      { url: 'https://audio.example.org/x.mp3', via: 'og:audio', declaredType: 'audio/mpeg' },
    ]);
  });

  it('attaches a :type to its own group only', () => {
    const html = `
      <meta property="og:video" content="https://a.example/1.mp4">
      <meta property="og:video:secure_url" content="https://a.example/1-secure.mp4">
      <meta property="og:video:type" content="video/mp4">
      <meta property="og:video" content="https://a.example/2.webm">
      <meta property="og:video:type" content="video/webm">
      <meta property="og:video" content="https://a.example/3">`;
    const page = extractPageMetadata(html, 'https://a.example/');
    expect(page.declaredMedia).toStrictEqual([
      { url: 'https://a.example/1.mp4', via: 'og:video', declaredType: 'video/mp4' },
      { url: 'https://a.example/1-secure.mp4', via: 'og:video:secure_url', declaredType: 'video/mp4' },
      { url: 'https://a.example/2.webm', via: 'og:video', declaredType: 'video/webm' },
      { url: 'https://a.example/3', via: 'og:video' },
    ]);
  });

  it('drops non-http(s) URLs, and relative ones when the base is unusable', () => {
    const html = `
      <meta property="og:image" content="data:image/png;base64,AAAA">
      <meta property="og:image" content="javascript:alert(1)">
      <meta property="og:image" content="ftp://files.example/x.png">
      <meta property="og:image" content="/relative.png">
      <meta property="og:image" content="https://ok.example/abs.png">`;
    expect(extractPageMetadata(html, 'not a url').declaredMedia).toStrictEqual([
      { url: 'https://ok.example/abs.png', via: 'og:image' },
    ]);
  });

  it('ignores an SVG <title> and a <script> that is not JSON-LD', () => {
    const html = `<svg><title>icon</title></svg><title> Real
      title </title><script>{"not": "ld"}</script>`;
    const page = extractPageMetadata(html, 'https://a.example/');
    expect(page.title).toBe('Real title');
    expect(page.jsonLd).toEqual([]);
  });

  it('returns nulls and empty collections for a page without metadata', () => {
    expect(extractPageMetadata('<p>hello</p>', 'https://a.example/')).toStrictEqual({
      title: null,
      canonicalUrl: null,
      description: null,
      publishedTime: null,
      openGraph: {},
      twitter: {},
      jsonLd: [],
      declaredMedia: [],
    });
  });
});

describe('extractPageMetadata on hostile input', () => {
  it('stays bounded on 10 MB of <meta> tags', () => {
    const parts: string[] = ['<html><head><title>', 'T'.repeat(100_000), '</title>'];
    let size = 0;
    for (let i = 0; size < 10 * 1024 * 1024; i++) {
      const tag =
        `<meta property="og:video" content="https://evil.example/${i}.mp4">` +
        `<meta property="og:k${i}" content="${'x'.repeat(50)}">` +
        `<meta name="twitter:k${i}" content="y">`;
      parts.push(tag);
      size += tag.length;
    }
    parts.push(`<meta property="og:zzz" content="${'z'.repeat(1_000_000)}">`);
    const html = parts.join('');
    expect(html.length).toBeGreaterThan(10 * 1024 * 1024);

    const started = Date.now();
    const page = extractPageMetadata(html, 'https://evil.example/');
    expect(Date.now() - started).toBeLessThan(15_000);

    expect(page.declaredMedia).toHaveLength(PAGE_LIMITS.declaredMedia);
    expect(page.declaredMedia[0]).toStrictEqual({ url: 'https://evil.example/0.mp4', via: 'og:video' });
    expect(Object.keys(page.openGraph).length).toBeLessThanOrEqual(PAGE_LIMITS.metaKeys);
    expect(Object.keys(page.twitter).length).toBeLessThanOrEqual(PAGE_LIMITS.metaKeys);
    expect(page.title?.length).toBe(PAGE_LIMITS.title);
    expect(JSON.stringify(page).length).toBeLessThan(400_000);
  });

  it('clips long values and refuses overlong URLs', () => {
    const html =
      `<meta name="description" content="${'d'.repeat(100_000)}">` +
      `<meta property="og:video" content="https://a.example/${'p'.repeat(10_000)}.mp4">`;
    const page = extractPageMetadata(html, 'https://a.example/');
    expect(page.description).toHaveLength(PAGE_LIMITS.metaValue);
    expect(page.openGraph['og:video']).toHaveLength(PAGE_LIMITS.metaValue);
    expect(page.declaredMedia).toEqual([]);
  });

  it('skips broken, oversized and deeply nested JSON-LD and caps the number of blocks', () => {
    const ld = (body: string) => `<script type="application/ld+json">${body}</script>`;
    const html = [
      ld('{"@type": "NewsArticle", '), // broken
      ld(`{"big": "${'b'.repeat(PAGE_LIMITS.jsonLdChars)}"}`), // oversized
      ld(`${'['.repeat(10_000)}${']'.repeat(10_000)}`), // too deep for the ledger's recursion
      ...Array.from({ length: 30 }, (_, i) => ld(`{"n": ${i}}`)),
    ].join('');
    const page = extractPageMetadata(html, 'https://a.example/');
    expect(page.jsonLd).toHaveLength(PAGE_LIMITS.jsonLdBlocks);
    expect(page.jsonLd[0]).toEqual({ n: 0 });
    expect(() => canonicalJson(page)).not.toThrow();
  });
});
