// Source URL validation and normalization. Pure: no I/O, no DNS, no configuration.
//
// A source is unique per investigation by its normalized URL, so two spellings of the same
// thing must normalize to one string, and the function must be deterministic and
// idempotent (normalizing a normalized URL returns it unchanged).
//
// Decisions (see also the test table in test/unit/normalize-url.test.ts):
// - Accepted input: `http://` or `https://` (any case) followed by a non-empty host; the
//   WHATWG parser's leniency (`http:example.com`, `https:///example.com`, backslashes as
//   slashes, an empty `@` userinfo) is refused rather than silently repaired, because
//   other parsers read those spellings differently.
// - Rejected characters: ASCII control characters, any Unicode white space and bidi
//   controls anywhere (after trimming the ends), and `\`.
// - Credentials: any `@` in the authority is refused, even an empty userinfo.
// - Length: both the trimmed input and the normalized URL must be ≤ MAX_URL_LENGTH.
// - Hosts: lowercased and IDN → punycode by WHATWG URL; IPv4 and IPv6 literals serialized by
//   WHATWG URL; one trailing dot is removed (`example.com.` ≡ `example.com`); empty labels
//   are refused. Private and loopback hosts are accepted here: the fetcher enforces what
//   may be connected to.
// - Ports: default ports (80 for http, 443 for https) dropped; others kept.
// - Path: kept as WHATWG URL serializes it (dot segments resolved, percent-encoding as given
//   or added); empty path → `/`. Trailing slashes are kept (except for X posts/profiles).
// - Query: tracking parameters dropped (`utm_*`, `fbclid`, `gclid`, and `s`, `t` on X hosts;
//   names compared case-insensitively after percent-decoding); the others are kept
//   verbatim and in order; empty pieces (`&&`) and an empty query (`?`) are dropped.
// - Fragment: always dropped.
// - Other hosts keep their scheme; `www.` is removed only from X hosts.
// - X: the hosts twitter.com, x.com and their `www.` / `mobile.` forms on the default port
//   all become `https://x.com`.
//   - Posts (`/<handle>/status/<id>`, `/<handle>/statuses/<id>`, `/i/status/<id>`,
//     `/i/web/status/<id>`, `/statuses/<id>`, legacy `/#!/<handle>/status/<id>`, any
//     trailing segments such as `/video/1`, `/photo/1`, `/analytics`) become
//     `https://x.com/<handle>/status/<id>` or `https://x.com/i/status/<id>` when no valid
//     handle is in the URL; query and fragment dropped; platform `{name: 'x', handle?, postId}`.
//   - The handle is lowercased in both normalizedUrl and platform.handle: X handles are
//     case-insensitive, so `ZelenskyyUa` and `zelenskyyua` must be one source; the cited
//     spelling survives in `url`. A handle is 1–15 of `[A-Za-z0-9_]`; a post path whose
//     handle segment is not a valid handle is still a post, with the handle unknown.
//   - Post ids are 1–20 decimal digits; leading zeros are removed (ids are integers).
//   - Profiles (`/<handle>` with an optional trailing slash, handle not a reserved path such
//     as `home` or `search`) become `https://x.com/<handle>` with platform `{name: 'x', handle}`.
//   - Any other X URL (search, explore, lists…) is normalized generically on `https://x.com`
//     with platform `{name: 'x'}`: it is on X, but names no account or post.
// - Any other host: platform null.

export const MAX_URL_LENGTH = 2048;

export type Platform = { name: 'x'; handle?: string; postId?: string } | null;

export type UrlRejectionCode =
  | 'url_scheme'
  | 'url_too_long'
  | 'url_credentials'
  | 'url_malformed'
  | 'url_host';

export class UrlRejectedError extends Error {
  readonly code: UrlRejectionCode;
  constructor(code: UrlRejectionCode, message: string) {
    super(message);
    this.name = 'UrlRejectedError';
    this.code = code;
  }
}

export interface NormalizedSourceUrl {
  /** The URL as cited, with surrounding white space trimmed. */
  url: string;
  normalizedUrl: string;
  platform: Platform;
}

const X_HOSTS: ReadonlySet<string> = new Set([
  'twitter.com',
  'www.twitter.com',
  'mobile.twitter.com',
  'x.com',
  'www.x.com',
  'mobile.x.com',
]);

// First path segments of x.com that are not profiles.
const X_RESERVED_PATHS: ReadonlySet<string> = new Set([
  'about',
  'account',
  'compose',
  'download',
  'explore',
  'hashtag',
  'home',
  'i',
  'intent',
  'jobs',
  'login',
  'logout',
  'messages',
  'notifications',
  'privacy',
  'search',
  'settings',
  'share',
  'signup',
  'tos',
]);

const X_HANDLE = /^[A-Za-z0-9_]{1,15}$/;
const X_POST_ID = /^[0-9]{1,20}$/;

// C0/C1 controls, DEL, every Unicode White_Space character, and bidi controls (which make a
// URL display differently from what it is).
const FORBIDDEN_CHARS = /[\p{Cc}\p{White_Space}\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/u;
const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):/;

function reject(code: UrlRejectionCode, message: string): never {
  throw new UrlRejectedError(code, message);
}

function isTrackingParam(name: string, onX: boolean): boolean {
  const n = name.toLowerCase();
  if (n.startsWith('utm_') || n === 'fbclid' || n === 'gclid') return true;
  return onX && (n === 's' || n === 't');
}

function decodeParamName(raw: string): string {
  try {
    return decodeURIComponent(raw.replace(/\+/g, ' '));
  } catch {
    return raw;
  }
}

/** `search` as serialized by WHATWG URL (`''` or `?…`) → filtered query with its `?`, or `''`. */
function filterQuery(search: string, onX: boolean): string {
  if (search === '') return '';
  const kept = search
    .slice(1)
    .split('&')
    .filter((piece) => {
      if (piece === '') return false;
      const eq = piece.indexOf('=');
      const name = decodeParamName(eq === -1 ? piece : piece.slice(0, eq));
      return !isTrackingParam(name, onX);
    });
  return kept.length === 0 ? '' : `?${kept.join('&')}`;
}

function postId(segment: string | undefined): string | undefined {
  if (segment === undefined || !X_POST_ID.test(segment)) return undefined;
  return segment.replace(/^0+(?=[0-9])/, '');
}

/** Recognizes an X post or profile from a path; undefined for any other X path. */
function parseXPath(path: string): { handle?: string; postId?: string } | undefined {
  const parts = path.slice(1).split('/');
  if (parts.length > 1 && parts[parts.length - 1] === '') parts.pop();
  const [p0, p1, p2, p3] = parts.map((p) => p.toLowerCase());
  const first = parts[0] ?? '';

  if (p0 === 'i' && p1 === 'web' && p2 === 'status') {
    const id = postId(p3);
    if (id !== undefined) return { postId: id };
  }
  if (p0 === 'i' && p1 === 'status') {
    const id = postId(p2);
    if (id !== undefined) return { postId: id };
  }
  if (p0 === 'statuses') {
    const id = postId(p1);
    if (id !== undefined) return { postId: id };
  }
  if (p0 !== undefined && p0 !== 'i' && (p1 === 'status' || p1 === 'statuses')) {
    const id = postId(p2);
    if (id !== undefined) {
      return X_HANDLE.test(first) ? { handle: first.toLowerCase(), postId: id } : { postId: id };
    }
  }
  if (parts.length === 1 && X_HANDLE.test(first) && !X_RESERVED_PATHS.has(first.toLowerCase())) {
    return { handle: first.toLowerCase() };
  }
  return undefined;
}

/** Splits `host[:port]` of an authority; the host keeps its IPv6 brackets. */
function splitHostPort(authority: string): { host: string; port: string } {
  if (authority.startsWith('[')) {
    const close = authority.indexOf(']');
    if (close === -1) reject('url_host', 'The URL has an unterminated IPv6 address.');
    const rest = authority.slice(close + 1);
    if (rest !== '' && !rest.startsWith(':')) reject('url_host', 'The URL has an invalid host.');
    return { host: authority.slice(0, close + 1), port: rest.slice(1) };
  }
  const colon = authority.lastIndexOf(':');
  return colon === -1
    ? { host: authority, port: '' }
    : { host: authority.slice(0, colon), port: authority.slice(colon + 1) };
}

/**
 * Validates a cited URL and returns it trimmed, its normalized form and the platform facts
 * parsed from it. Throws UrlRejectedError when the URL cannot be a source.
 */
export function normalizeSourceUrl(input: string): NormalizedSourceUrl {
  const url = input.trim();
  if (url === '') reject('url_malformed', 'The URL is empty.');
  if (url.length > MAX_URL_LENGTH) {
    reject('url_too_long', `The URL is longer than ${MAX_URL_LENGTH} characters.`);
  }
  if (FORBIDDEN_CHARS.test(url)) {
    reject('url_malformed', 'The URL contains white space or control characters.');
  }

  const scheme = SCHEME.exec(url)?.[1]?.toLowerCase();
  if (scheme === undefined) reject('url_scheme', 'The URL has no scheme; only http and https are accepted.');
  if (scheme !== 'http' && scheme !== 'https') {
    reject('url_scheme', `The URL scheme "${scheme}" is not accepted; only http and https are.`);
  }
  if (url.includes('\\')) reject('url_malformed', 'The URL contains a backslash.');
  const afterScheme = url.slice(scheme.length + 1);
  if (!afterScheme.startsWith('//')) reject('url_malformed', `The URL must start with "${scheme}://".`);

  const rest = afterScheme.slice(2);
  const authorityEnd = rest.search(/[/?#]/);
  const authority = authorityEnd === -1 ? rest : rest.slice(0, authorityEnd);
  if (authority.includes('@')) reject('url_credentials', 'The URL must not contain a user name or password.');
  const { host: rawHost, port: rawPort } = splitHostPort(authority);
  if (rawHost === '') reject('url_host', 'The URL has no host.');
  if (!/^[0-9]*$/.test(rawPort) || (rawPort !== '' && Number(rawPort) > 65535)) {
    reject('url_malformed', 'The URL has an invalid port.');
  }
  try {
    new URL(`http://${rawHost}/`);
  } catch {
    reject('url_host', 'The URL has an invalid host.');
  }

  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    reject('url_malformed', 'The URL could not be parsed.');
  }
  if (parsed.username !== '' || parsed.password !== '') {
    reject('url_credentials', 'The URL must not contain a user name or password.');
  }

  let host = parsed.hostname;
  if (!host.startsWith('[')) {
    if (host.endsWith('.')) host = host.slice(0, -1);
    if (host === '' || host.split('.').includes('')) reject('url_host', 'The URL has an invalid host.');
  }

  let normalizedUrl: string;
  let platform: Platform = null;
  if (X_HOSTS.has(host) && parsed.port === '') {
    const hashbang = parsed.pathname === '/' && parsed.hash.startsWith('#!/');
    const xPath = hashbang ? (parsed.hash.slice(2).split('?')[0] ?? '/') : parsed.pathname;
    const facts = parseXPath(xPath);
    if (facts?.postId !== undefined) {
      normalizedUrl = `https://x.com/${facts.handle ?? 'i'}/status/${facts.postId}`;
      platform = facts.handle === undefined ? { name: 'x', postId: facts.postId } : { name: 'x', ...facts };
    } else if (facts?.handle !== undefined) {
      normalizedUrl = `https://x.com/${facts.handle}`;
      platform = { name: 'x', handle: facts.handle };
    } else {
      normalizedUrl = `https://x.com${parsed.pathname}${filterQuery(parsed.search, true)}`;
      platform = { name: 'x' };
    }
  } else {
    const port = parsed.port === '' ? '' : `:${parsed.port}`;
    normalizedUrl = `${scheme}://${host}${port}${parsed.pathname}${filterQuery(parsed.search, false)}`;
  }

  if (normalizedUrl.length > MAX_URL_LENGTH) {
    reject('url_too_long', `The normalized URL is longer than ${MAX_URL_LENGTH} characters.`);
  }
  return { url, normalizedUrl, platform };
}
