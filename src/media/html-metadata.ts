// What an article page says about itself: title, canonical URL, Open Graph and Twitter card
// tags, JSON-LD, and the media files it declares (og:video and friends) — the files a
// worker may go on to preserve. Pages are hostile input, so htmlparser2's streaming parser
// is used (no DOM is built) and every collection and string kept is capped.
import { Parser } from 'htmlparser2';
import { clip, type JsonValue } from './json.ts';

export type DeclaredVia =
  | 'og:video'
  | 'og:video:url'
  | 'og:video:secure_url'
  | 'og:image'
  | 'twitter:player:stream'
  | 'og:audio';

export type DeclaredMedia = {
  /** Absolute http(s) URL, resolved against <base href> or the page's URL. */
  url: string;
  /** The first tag that declared this URL. */
  via: DeclaredVia;
  /** og:video:type, og:image:type, og:audio:type or twitter:player:stream:content_type. */
  declaredType?: string;
};

export type PageMetadata = {
  title: string | null;
  canonicalUrl: string | null;
  description: string | null;
  /** article:published_time as the page wrote it (not normalized: pages write many forms). */
  publishedTime: string | null;
  /** og:* meta tags, first value per property. */
  openGraph: Record<string, string>;
  /** twitter:* meta tags, first value per name. */
  twitter: Record<string, string>;
  /** Parsed application/ld+json blocks; unparsable, oversized or too deep ones are skipped. */
  jsonLd: JsonValue[];
  declaredMedia: DeclaredMedia[];
};

export const PAGE_LIMITS = {
  title: 1024,
  metaValue: 2048,
  metaKey: 128,
  metaKeys: 100,
  url: 4096,
  declaredMedia: 20,
  /** Media declarations looked at before deduplication. */
  mediaDeclarations: 200,
  jsonLdBlocks: 10,
  jsonLdChars: 256 * 1024,
  jsonLdDepth: 64,
} as const;

type MediaGroup = 'video' | 'image' | 'audio' | 'stream';

const MEDIA_KEYS: Record<string, { via: DeclaredVia; group: MediaGroup; startsGroup: boolean }> = {
  'og:video': { via: 'og:video', group: 'video', startsGroup: true },
  'og:video:url': { via: 'og:video:url', group: 'video', startsGroup: false },
  'og:video:secure_url': { via: 'og:video:secure_url', group: 'video', startsGroup: false },
  'og:image': { via: 'og:image', group: 'image', startsGroup: true },
  'og:audio': { via: 'og:audio', group: 'audio', startsGroup: true },
  'twitter:player:stream': { via: 'twitter:player:stream', group: 'stream', startsGroup: true },
};

// Open Graph structured properties: a :type tag describes the most recent og:video (etc.).
const TYPE_KEYS: Record<string, MediaGroup> = {
  'og:video:type': 'video',
  'og:image:type': 'image',
  'og:audio:type': 'audio',
  'twitter:player:stream:content_type': 'stream',
};

interface RawDeclaration {
  value: string;
  via: DeclaredVia;
  /** Declarations in one structured group (og:video + its :secure_url) share a type. */
  groupId: number;
}

export function httpUrl(value: string, base: URL | null): string | null {
  const trimmed = value.trim();
  if (trimmed === '' || trimmed.length > PAGE_LIMITS.url) return null;
  try {
    const url = base ? new URL(trimmed, base) : new URL(trimmed);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
    const href = url.href;
    return href.length <= PAGE_LIMITS.url ? href : null;
  } catch {
    return null;
  }
}

/** Nesting depth of a parsed JSON value, counted without recursion; stops past `limit`. */
function depthExceeds(value: unknown, limit: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (depth >= limit) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, depth + 1]);
  }
  return false;
}

const collapse = (s: string) => s.replace(/\s+/g, ' ').trim();

/**
 * Extracts page metadata from HTML. `baseUrl` is the URL the page was fetched from; a
 * <base href> in the page takes precedence for relative URLs, as in a browser. Only http(s)
 * URLs are kept; a bad `baseUrl` leaves only absolute URLs.
 */
export function extractPageMetadata(html: string, baseUrl: string): PageMetadata {
  let title: string | null = null;
  let titleText: string | null = null; // collecting while inside the first <title>
  let svgDepth = 0;
  let baseHref: string | null = null;
  let canonicalHref: string | null = null;
  let description: string | null = null;
  let publishedTime: string | null = null;
  const openGraph: Record<string, string> = {};
  const twitter: Record<string, string> = {};
  let ogCount = 0;
  let twitterCount = 0;
  const jsonLd: JsonValue[] = [];
  let jsonLdText: string | null = null; // collecting inside <script type=application/ld+json>
  let jsonLdTooLong = false;
  const declarations: RawDeclaration[] = [];
  const currentGroup: Partial<Record<MediaGroup, number>> = {};
  const groupTypes = new Map<number, string>();
  let nextGroupId = 0;

  const onMeta = (keyRaw: string, contentRaw: string) => {
    const key = keyRaw.trim().toLowerCase();
    if (key === '' || key.length > PAGE_LIMITS.metaKey) return;
    const content = clip(contentRaw.trim(), PAGE_LIMITS.metaValue);
    if (key === 'description' && description === null) description = collapse(content);
    if (key === 'article:published_time' && publishedTime === null) publishedTime = content;
    if (key.startsWith('og:') && !(key in openGraph) && ogCount < PAGE_LIMITS.metaKeys) {
      openGraph[key] = content;
      ogCount++;
    }
    if (key.startsWith('twitter:') && !(key in twitter) && twitterCount < PAGE_LIMITS.metaKeys) {
      twitter[key] = content;
      twitterCount++;
    }
    const media = MEDIA_KEYS[key];
    if (media) {
      let groupId = currentGroup[media.group];
      if (media.startsGroup || groupId === undefined) {
        groupId = nextGroupId++;
        currentGroup[media.group] = groupId;
      }
      if (declarations.length < PAGE_LIMITS.mediaDeclarations) {
        declarations.push({ value: contentRaw, via: media.via, groupId });
      }
      return;
    }
    const typeGroup = TYPE_KEYS[key];
    if (typeGroup) {
      const groupId = currentGroup[typeGroup];
      if (groupId !== undefined && !groupTypes.has(groupId) && content !== '') {
        groupTypes.set(groupId, clip(content, 128));
      }
    }
  };

  const parser = new Parser(
    {
      onopentag(name, attribs) {
        if (name === 'svg') svgDepth++;
        if (name === 'title' && title === null && titleText === null && svgDepth === 0) titleText = '';
        if (name === 'base' && baseHref === null && attribs.href !== undefined) baseHref = attribs.href;
        if (name === 'link' && canonicalHref === null && attribs.href !== undefined) {
          const rels = (attribs.rel ?? '').toLowerCase().split(/\s+/);
          if (rels.includes('canonical')) canonicalHref = attribs.href;
        }
        if (name === 'meta' && attribs.content !== undefined) {
          const key = attribs.property ?? attribs.name;
          if (key !== undefined) onMeta(key, attribs.content);
        }
        if (
          name === 'script' &&
          (attribs.type ?? '').trim().toLowerCase() === 'application/ld+json' &&
          jsonLd.length < PAGE_LIMITS.jsonLdBlocks
        ) {
          jsonLdText = '';
          jsonLdTooLong = false;
        }
      },
      ontext(data) {
        if (titleText !== null && titleText.length < PAGE_LIMITS.title * 2) titleText += data;
        if (jsonLdText !== null && !jsonLdTooLong) {
          if (jsonLdText.length + data.length > PAGE_LIMITS.jsonLdChars) {
            jsonLdTooLong = true;
            jsonLdText = '';
          } else {
            jsonLdText += data;
          }
        }
      },
      onclosetag(name) {
        if (name === 'svg' && svgDepth > 0) svgDepth--;
        if (name === 'title' && titleText !== null) {
          title = clip(collapse(titleText), PAGE_LIMITS.title);
          titleText = null;
        }
        if (name === 'script' && jsonLdText !== null) {
          if (!jsonLdTooLong) {
            try {
              const parsed = JSON.parse(jsonLdText) as JsonValue;
              if (!depthExceeds(parsed, PAGE_LIMITS.jsonLdDepth)) jsonLd.push(parsed);
            } catch {
              // Broken JSON-LD is common on real pages; it is skipped, not fatal.
            }
          }
          jsonLdText = null;
        }
      },
    },
    { decodeEntities: true, lowerCaseTags: true, lowerCaseAttributeNames: true },
  );
  parser.write(html);
  parser.end();

  let pageBase: URL | null = null;
  try {
    pageBase = new URL(baseUrl);
  } catch {
    pageBase = null;
  }
  // <base href> applies to the whole document, wherever it appears; only http(s) bases count.
  const baseResolved = baseHref === null ? null : httpUrl(baseHref, pageBase);
  const base = baseResolved ? new URL(baseResolved) : pageBase;

  const declaredMedia: DeclaredMedia[] = [];
  const byUrl = new Map<string, DeclaredMedia>();
  for (const declaration of declarations) {
    const url = httpUrl(declaration.value, base);
    if (url === null) continue;
    const declaredType = groupTypes.get(declaration.groupId);
    const existing = byUrl.get(url);
    if (existing) {
      if (existing.declaredType === undefined && declaredType !== undefined)
        existing.declaredType = declaredType;
      continue;
    }
    if (declaredMedia.length >= PAGE_LIMITS.declaredMedia) continue;
    const item: DeclaredMedia = { url, via: declaration.via };
    if (declaredType !== undefined) item.declaredType = declaredType;
    declaredMedia.push(item);
    byUrl.set(url, item);
  }

  return {
    title,
    canonicalUrl: canonicalHref === null ? null : httpUrl(canonicalHref, base),
    description,
    publishedTime,
    openGraph,
    twitter,
    jsonLd,
    declaredMedia,
  };
}
