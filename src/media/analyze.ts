// One entry point for describing a preserved file: the capture worker sniffs a download,
// then asks here for the metadata to store with the evidence item. The `tool` string is
// stored too, because a different tool or version may describe the same bytes differently.
import { readFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { ffprobeVersion, probeMedia, resolveFfprobePath } from './ffprobe.ts';
import { extractPageMetadata } from './html-metadata.ts';
import { readImageMetadata } from './image-metadata.ts';
import type { JsonObject } from './json.ts';

/** Evidence kinds (API.md "evidence item"); only the first four have an analyzer. */
export type AnalyzeKind = 'video' | 'audio' | 'image' | 'page' | 'document' | 'post_metadata' | 'upload';

export interface AnalyzeOptions {
  /** What the file is — pass the sniffed kind, not the kind of the evidence row. */
  kind: AnalyzeKind;
  /** ffprobe binary; resolved with resolveFfprobePath() when absent. */
  ffprobePath?: string;
  /** Bound on one ffprobe run (default 30 s). */
  timeoutMs?: number;
  /** The URL a page was fetched from, for resolving its relative URLs. */
  baseUrl?: string;
  /**
   * The Content-Type the file came with (a server's header, e.g. "text/html; charset=koi8-r").
   * Pages: its charset parameter is the transport-layer encoding, see pageCharset.
   */
  contentType?: string | null;
  /** Pages: bytes read at most (default 5 MiB); metadata sits near the top. */
  maxPageBytes?: number;
}

export interface Analysis {
  /** What produced the metadata, e.g. "ffprobe 6.1.1", "exifr 7.1.3", "htmlparser2 12.0.0". */
  tool: string;
  metadata: JsonObject;
}

const DEFAULT_TIMEOUT_MS = 30_000;
export const DEFAULT_MAX_PAGE_BYTES = 5 * 1024 * 1024;

const require = createRequire(import.meta.url);
const versionCache = new Map<string, string | null>();

/** An installed package's version, found next to its resolved entry point. */
function packageVersion(name: string): string | null {
  if (versionCache.has(name)) return versionCache.get(name) ?? null;
  let version: string | null = null;
  try {
    let dir = dirname(require.resolve(name));
    for (let i = 0; i < 5 && version === null; i++, dir = dirname(dir)) {
      try {
        const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
          name?: string;
          version?: string;
        };
        if (pkg.name === name && typeof pkg.version === 'string') version = pkg.version;
      } catch {
        // No package.json at this level; go up.
      }
    }
  } catch {
    version = null;
  }
  versionCache.set(name, version);
  return version;
}

const toolName = (name: string) => {
  const version = packageVersion(name);
  return version ? `${name} ${version}` : name;
};

/**
 * The `charset` parameter of a Content-Type value, or undefined. Parameters are read as in
 * WHATWG MIME type parsing (the first non-empty one wins; a quoted value may hold ";" and
 * backslash escapes), a little more leniently: whitespace around the "=" is allowed.
 */
export function charsetParameter(contentType: string | null | undefined): string | undefined {
  if (!contentType) return undefined;
  let i = contentType.indexOf(';');
  while (i !== -1 && i < contentType.length) {
    i += 1; // past ";"
    const eq = contentType.indexOf('=', i);
    const semi = contentType.indexOf(';', i);
    if (eq === -1) return undefined;
    if (semi !== -1 && semi < eq) {
      i = semi; // a parameter without a value
      continue;
    }
    const name = contentType.slice(i, eq).trim().toLowerCase();
    let start = eq + 1;
    while (contentType[start] === ' ' || contentType[start] === '\t') start++;
    let value: string;
    let next: number;
    if (contentType[start] === '"') {
      value = '';
      let j = start + 1;
      for (; j < contentType.length && contentType[j] !== '"'; j++) {
        if (contentType[j] === '\\' && j + 1 < contentType.length) j++;
        value += contentType[j];
      }
      next = contentType.indexOf(';', j);
    } else {
      next = contentType.indexOf(';', start);
      value = contentType.slice(start, next === -1 ? undefined : next).trim();
    }
    if (name === 'charset' && value !== '') return value;
    i = next;
  }
  return undefined;
}

/** The WHATWG encoding a label names, or undefined for a label TextDecoder cannot decode with. */
function encodingOf(label: string | undefined): string | undefined {
  if (label === undefined) return undefined;
  try {
    return new TextDecoder(label).encoding;
  } catch {
    return undefined; // unknown, or "replacement" and x-user-defined, which Node lacks
  }
}

/**
 * The character set to decode a page with, in the order of HTML's encoding sniffing
 * algorithm: a byte order mark; else the transport layer's charset, i.e. the parameter of
 * the Content-Type it was served with; else <meta charset> or <meta http-equiv
 * content="...charset="> in the first 1024 bytes (the prescan); else UTF-8. A label is
 * resolved with TextDecoder (the WHATWG label set: "latin1" is windows-1252, "cp1251"
 * windows-1251); one it does not know is skipped, so the next source decides. As in
 * browsers, a <meta> that declares UTF-16 means UTF-8 (bytes the prescan could read are
 * not UTF-16) and x-user-defined means windows-1252; a UTF-16 header is believed.
 */
export function pageCharset(bytes: Buffer, contentType?: string | null): string {
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) return 'utf-8';
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return 'utf-16le';
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return 'utf-16be';
  const declared = encodingOf(charsetParameter(contentType));
  if (declared) return declared;
  const prescan = bytes.subarray(0, 1024).toString('latin1');
  const m = /<meta[^>]*?charset\s*=\s*["']?\s*([\w:.-]+)/i.exec(prescan);
  const label = m?.[1]?.toLowerCase();
  if (label === 'x-user-defined') return 'windows-1252';
  const meta = encodingOf(label);
  if (!meta || meta.startsWith('utf-16')) return 'utf-8';
  return meta;
}

export async function readHead(
  filePath: string,
  max: number,
): Promise<{ bytes: Buffer; truncated: boolean }> {
  const handle = await open(filePath, 'r');
  try {
    // One byte more than the limit tells whether there was more; small files stay small.
    const { size } = await handle.stat();
    const buffer = Buffer.alloc(Math.min(size, max) + 1);
    let length = 0;
    while (length < buffer.length) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    return { bytes: buffer.subarray(0, Math.min(length, max)), truncated: length > max };
  } finally {
    await handle.close();
  }
}

/**
 * Describes one local file by kind: video and audio with ffprobe (MediaProbeError when it
 * cannot), images with the header readers and exifr, pages with htmlparser2; other kinds
 * get `{tool: 'none', metadata: {}}`. Never touches the network.
 */
export async function analyzeFile(filePath: string, options: AnalyzeOptions): Promise<Analysis> {
  switch (options.kind) {
    case 'video':
    case 'audio': {
      const ffprobePath = options.ffprobePath ?? (await resolveFfprobePath());
      const [metadata, version] = await Promise.all([
        probeMedia(ffprobePath, filePath, { timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS }),
        ffprobeVersion(ffprobePath),
      ]);
      return { tool: `ffprobe ${version ?? 'unknown'}`, metadata };
    }
    case 'image':
      return { tool: toolName('exifr'), metadata: await readImageMetadata(filePath) };
    case 'page': {
      const { bytes, truncated } = await readHead(filePath, options.maxPageBytes ?? DEFAULT_MAX_PAGE_BYTES);
      const charset = pageCharset(bytes, options.contentType);
      const html = new TextDecoder(charset).decode(bytes);
      const page = extractPageMetadata(html, options.baseUrl ?? '');
      const metadata: JsonObject = { ...page, charset };
      if (truncated) metadata.truncated = true;
      return { tool: toolName('htmlparser2'), metadata };
    }
    default:
      return { tool: 'none', metadata: {} };
  }
}
