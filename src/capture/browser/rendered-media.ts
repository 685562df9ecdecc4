// Media a rendered page shows: the `src` of its <video> elements and of the <source> elements
// inside <video> and <audio>, which script often sets and which no meta tag names. Read from
// the rendered DOM (the browser step's `dom` item), so the capture then fetches them through
// the guarded fetcher like the media a page declares. Hostile input: a streaming parse, capped.
import { Parser } from 'htmlparser2';
import { httpUrl, PAGE_LIMITS } from '../../media/html-metadata.ts';

export interface RenderedMedia {
  /** Absolute http(s) URL, resolved against the page's <base href> or URL. */
  url: string;
  via: 'video' | 'source';
  /** The <source> element's `type`, when it has one. */
  declaredType?: string;
}

/** Elements looked at (a page may hold thousands) and URLs kept. */
const MAX_ELEMENTS = 200;
const MAX_MEDIA = PAGE_LIMITS.declaredMedia;

export function renderedMedia(html: string, pageUrl: string): RenderedMedia[] {
  const found: { value: string; via: RenderedMedia['via']; type?: string }[] = [];
  let baseHref: string | null = null;
  let mediaDepth = 0;
  const parser = new Parser(
    {
      onopentag(name, attribs) {
        if (name === 'base' && baseHref === null && attribs.href !== undefined) baseHref = attribs.href;
        if (found.length >= MAX_ELEMENTS) return;
        if (name === 'video' || name === 'audio') {
          mediaDepth++;
          if (name === 'video' && attribs.src) found.push({ value: attribs.src, via: 'video' });
        }
        if (name === 'source' && mediaDepth > 0 && attribs.src) {
          found.push({ value: attribs.src, via: 'source', ...(attribs.type ? { type: attribs.type } : {}) });
        }
      },
      onclosetag(name) {
        if ((name === 'video' || name === 'audio') && mediaDepth > 0) mediaDepth--;
      },
    },
    { decodeEntities: true, lowerCaseTags: true, lowerCaseAttributeNames: true },
  );
  parser.write(html);
  parser.end();
  let base: URL | null = null;
  try {
    base = new URL(pageUrl);
  } catch {}
  const resolvedBase = baseHref === null ? null : httpUrl(baseHref, base);
  if (resolvedBase) base = new URL(resolvedBase);
  const media: RenderedMedia[] = [];
  const seen = new Set<string>();
  for (const f of found) {
    const url = httpUrl(f.value, base);
    if (url === null || seen.has(url)) continue;
    seen.add(url);
    media.push({ url, via: f.via, ...(f.type ? { declaredType: f.type.slice(0, 128) } : {}) });
    if (media.length >= MAX_MEDIA) break;
  }
  return media;
}
