import { describe, expect, it } from 'vitest';
import {
  MAX_URL_LENGTH,
  normalizeSourceUrl,
  type Platform,
  UrlRejectedError,
  type UrlRejectionCode,
} from '../../src/sources/normalize-url.ts';

const post = (postId: string, handle?: string): Platform =>
  handle === undefined ? { name: 'x', postId } : { name: 'x', handle, postId };

const zPost = 'https://x.com/zelenskyyua/status/1869094633658282286';
const zFacts = post('1869094633658282286', 'zelenskyyua');
const iPost = 'https://x.com/i/status/1869094633658282286';
const iFacts = post('1869094633658282286');

// input → expected normalizedUrl, expected platform
const accepted: [string, string, Platform][] = [
  // X posts: every host spelling, every path form
  ['https://x.com/ZelenskyyUa/status/1869094633658282286', zPost, zFacts],
  ['https://x.com/zelenskyyua/status/1869094633658282286', zPost, zFacts],
  ['https://twitter.com/ZelenskyyUa/status/1869094633658282286', zPost, zFacts],
  ['https://www.twitter.com/ZelenskyyUa/status/1869094633658282286', zPost, zFacts],
  ['https://mobile.twitter.com/ZelenskyyUa/status/1869094633658282286', zPost, zFacts],
  ['https://www.x.com/ZelenskyyUa/status/1869094633658282286', zPost, zFacts],
  ['https://mobile.x.com/ZelenskyyUa/status/1869094633658282286', zPost, zFacts],
  ['http://twitter.com/ZelenskyyUa/status/1869094633658282286', zPost, zFacts],
  ['HTTPS://TWITTER.COM/ZelenskyyUa/status/1869094633658282286', zPost, zFacts],
  ['https://twitter.com./ZelenskyyUa/status/1869094633658282286', zPost, zFacts],
  ['https://x.com:443/ZelenskyyUa/status/1869094633658282286', zPost, zFacts],
  ['https://x.com/ZelenskyyUa/status/1869094633658282286/', zPost, zFacts],
  ['https://x.com/ZelenskyyUa/status/1869094633658282286/video/1', zPost, zFacts],
  ['https://x.com/ZelenskyyUa/status/1869094633658282286/photo/1', zPost, zFacts],
  ['https://x.com/ZelenskyyUa/status/1869094633658282286/analytics', zPost, zFacts],
  ['https://twitter.com/ZelenskyyUa/statuses/1869094633658282286', zPost, zFacts],
  ['https://x.com/ZelenskyyUa/Status/1869094633658282286', zPost, zFacts],
  ['https://x.com/ZelenskyyUa/status/1869094633658282286?s=20&t=AbCdEf_123', zPost, zFacts],
  ['https://x.com/ZelenskyyUa/status/1869094633658282286?ref_src=twsrc%5Etfw&lang=en', zPost, zFacts],
  ['https://x.com/ZelenskyyUa/status/1869094633658282286#m', zPost, zFacts],
  ['https://twitter.com/#!/ZelenskyyUa/status/1869094633658282286', zPost, zFacts],
  ['https://x.com/jack/status/0020', 'https://x.com/jack/status/20', post('20', 'jack')],
  ['https://x.com/i/web/status/1869094633658282286', iPost, iFacts],
  ['https://twitter.com/i/web/status/1869094633658282286/', iPost, iFacts],
  ['https://x.com/i/status/1869094633658282286', iPost, iFacts],
  ['https://mobile.twitter.com/i/status/1869094633658282286/video/1?s=46', iPost, iFacts],
  ['https://twitter.com/statuses/1869094633658282286', iPost, iFacts],
  ['https://x.com/not-a-handle/status/1869094633658282286', iPost, iFacts],
  ['https://x.com/jack/status/20', 'https://x.com/jack/status/20', post('20', 'jack')],
  [
    'https://x.com/jack/status/12345678901234567890',
    'https://x.com/jack/status/12345678901234567890',
    post('12345678901234567890', 'jack'),
  ],
  // X, not posts
  ['https://twitter.com/ZelenskyyUa', 'https://x.com/zelenskyyua', { name: 'x', handle: 'zelenskyyua' }],
  ['https://www.x.com/ZelenskyyUa/?s=20', 'https://x.com/zelenskyyua', { name: 'x', handle: 'zelenskyyua' }],
  [
    'https://x.com/search?q=North%20Korea&src=typed_query&s=20',
    'https://x.com/search?q=North%20Korea&src=typed_query',
    { name: 'x' },
  ],
  ['https://mobile.twitter.com/explore', 'https://x.com/explore', { name: 'x' }],
  ['https://x.com/ZelenskyyUa/media', 'https://x.com/ZelenskyyUa/media', { name: 'x' }],
  ['https://x.com/jack/status/123abc', 'https://x.com/jack/status/123abc', { name: 'x' }],
  [
    'https://x.com/jack/status/123456789012345678901',
    'https://x.com/jack/status/123456789012345678901',
    { name: 'x' },
  ],
  ['https://x.com/', 'https://x.com/', { name: 'x' }],
  // look-alikes that are not X
  ['https://m.x.company/jack/status/20', 'https://m.x.company/jack/status/20', null],
  ['https://x.com:8443/jack/status/20', 'https://x.com:8443/jack/status/20', null],
  ['https://notx.com/jack/status/20?s=1&t=2', 'https://notx.com/jack/status/20?s=1&t=2', null],
  // generic: case, ports, fragments, tracking parameters
  ['HTTP://Example.COM/Path/To?Q=A', 'http://example.com/Path/To?Q=A', null],
  ['http://example.com:80/a', 'http://example.com/a', null],
  ['https://example.com:443/a', 'https://example.com/a', null],
  ['http://example.com:443/a', 'http://example.com:443/a', null],
  ['https://example.com:8080', 'https://example.com:8080/', null],
  ['https://example.com', 'https://example.com/', null],
  ['https://www.example.com/a/', 'https://www.example.com/a/', null],
  ['https://example.com/a#section-2', 'https://example.com/a', null],
  ['https://example.com/a?', 'https://example.com/a', null],
  [
    'https://example.com/watch?utm_source=x&v=abc&UTM_Medium=social&fbclid=IwAR&list=PL1&gclid=Cj0&Utm_Campaign=z',
    'https://example.com/watch?v=abc&list=PL1',
    null,
  ],
  ['https://example.com/a?utm_source=x&utm_medium=y', 'https://example.com/a', null],
  ['https://example.com/a?b=2&a=1&&c', 'https://example.com/a?b=2&a=1&c', null],
  ['https://example.com/a?utm%5Fsource=x&q=1+2', 'https://example.com/a?q=1+2', null],
  ['https://example.com/a?FBCLID=1&GCLID=2&k', 'https://example.com/a?k', null],
  ['https://example.com/café?q=ü', 'https://example.com/caf%C3%A9?q=%C3%BC', null],
  ['https://example.com/a/./b/../c', 'https://example.com/a/c', null],
  ['  https://example.com/a  ', 'https://example.com/a', null],
  // hosts
  ['https://BÜCHER.example/x', 'https://xn--bcher-kva.example/x', null],
  ['https://Пример.рф/', 'https://xn--e1afmkfd.xn--p1ai/', null],
  ['https://[2001:DB8::1]:443/a', 'https://[2001:db8::1]/a', null],
  ['http://[::1]:8080/a', 'http://[::1]:8080/a', null],
  ['http://127.0.0.1:3000/fixture.mp4', 'http://127.0.0.1:3000/fixture.mp4', null],
  ['https://Example.com./a', 'https://example.com/a', null],
  ['https://ex%61mple.com/', 'https://example.com/', null],
];

// input → expected error code
const rejected: [string, UrlRejectionCode][] = [
  ['javascript:alert(1)', 'url_scheme'],
  ['file:///etc/passwd', 'url_scheme'],
  ['data:text/html,<script>alert(1)</script>', 'url_scheme'],
  ['ftp://example.com/file.mp4', 'url_scheme'],
  ['mailto:someone@example.com', 'url_scheme'],
  ['example.com/page', 'url_scheme'],
  ['//example.com/page', 'url_scheme'],
  [`https://example.com/${'a'.repeat(MAX_URL_LENGTH)}`, 'url_too_long'],
  ['https://user:pass@example.com/', 'url_credentials'],
  ['https://user@example.com/', 'url_credentials'],
  ['https://@example.com/', 'url_credentials'],
  ['https://:@x.com/jack/status/20', 'url_credentials'],
  ['', 'url_malformed'],
  ['   ', 'url_malformed'],
  ['https://example.com/a b', 'url_malformed'],
  ['https://exa\tmple.com/', 'url_malformed'],
  ['https://example.com/\u0000', 'url_malformed'],
  ['https://example.com/\u202Egpj.exe', 'url_malformed'],
  ['java\nscript:alert(1)', 'url_malformed'],
  ['http:example.com', 'url_malformed'],
  ['https:\\\\example.com\\a', 'url_malformed'],
  ['https://example.com:99999/', 'url_malformed'],
  ['https://example.com:80a/', 'url_malformed'],
  ['https://', 'url_host'],
  ['https:///example.com', 'url_host'],
  ['https://:443/a', 'url_host'],
  ['http://?q=1', 'url_host'],
  ['https://exa<mple.com/', 'url_host'],
  ['https://a..b/', 'url_host'],
  ['https://./', 'url_host'],
  ['https://[::1/', 'url_host'],
  ['https://999.1.1.1/', 'url_host'],
];

describe('normalizeSourceUrl', () => {
  it.each(accepted)('%s → %s', (input, normalizedUrl, platform) => {
    const result = normalizeSourceUrl(input);
    expect(result).toEqual({ url: input.trim(), normalizedUrl, platform });
  });

  it.each(accepted)('is idempotent for %s', (input) => {
    const { normalizedUrl, platform } = normalizeSourceUrl(input);
    expect(normalizeSourceUrl(normalizedUrl)).toEqual({ url: normalizedUrl, normalizedUrl, platform });
  });

  it.each(rejected)('rejects %j with %s', (input, code) => {
    let caught: unknown;
    try {
      normalizeSourceUrl(input);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(UrlRejectedError);
    expect(caught).toMatchObject({ name: 'UrlRejectedError', code });
    expect((caught as UrlRejectedError).message.length).toBeGreaterThan(0);
  });

  it('accepts exactly MAX_URL_LENGTH characters and refuses one more', () => {
    const base = 'https://example.com/';
    const atLimit = base + 'a'.repeat(MAX_URL_LENGTH - base.length);
    expect(MAX_URL_LENGTH).toBe(2048);
    expect(normalizeSourceUrl(atLimit).normalizedUrl).toBe(atLimit);
    expect(() => normalizeSourceUrl(`${atLimit}a`)).toThrow(UrlRejectedError);
  });

  it('refuses a URL whose normalized form outgrows the limit', () => {
    const input = `https://example.com/${'é'.repeat(1000)}`;
    expect(input.length).toBeLessThanOrEqual(MAX_URL_LENGTH);
    expect(() => normalizeSourceUrl(input)).toThrow(expect.objectContaining({ code: 'url_too_long' }));
  });

  it('keeps the URL as cited, trimmed', () => {
    expect(
      normalizeSourceUrl('\n https://TWITTER.com/ZelenskyyUa/status/1869094633658282286?s=20 \t').url,
    ).toBe('https://TWITTER.com/ZelenskyyUa/status/1869094633658282286?s=20');
  });
});
