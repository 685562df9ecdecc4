// What the first bytes of a download say it is, independent of what the server claimed.
// file-type recognises binary formats by their magic numbers; it does not do text, so HTML,
// JSON and plain text are recognised here. A server that labels a page "video/mp4" (or a
// video "text/html") is worth recording: compareDeclaredType says whether the two agree.
import { fileTypeFromBuffer } from 'file-type';

export type MediaKind = 'video' | 'audio' | 'image' | 'page' | 'document';

export type SniffResult = { mediaType: string; kind: MediaKind };

/** How many leading bytes callers should pass: file-type needs at most a few KiB. */
export const SNIFF_BYTES = 4096;

export function kindOf(mediaType: string): MediaKind {
  if (mediaType === 'text/html' || mediaType === 'application/xhtml+xml') return 'page';
  if (mediaType.startsWith('video/')) return 'video';
  if (mediaType.startsWith('audio/')) return 'audio';
  if (mediaType.startsWith('image/')) return 'image';
  return 'document';
}

// WHATWG MIME Sniffing 7.1 "identifying a resource with an unknown MIME type": the tags
// whose appearance first (after whitespace) marks HTML, each followed by a space or ">".
const HTML_TAGS = [
  '!doctype html',
  'html',
  'head',
  'script',
  'iframe',
  'h1',
  'div',
  'font',
  'table',
  'a',
  'style',
  'title',
  'b',
  'body',
  'br',
  'p',
  '!--',
];

function stripLeading(text: string): string {
  return text.replace(/^\uFEFF/, '').replace(/^[\t\n\f\r ]+/, '');
}

function looksLikeHtml(text: string): boolean {
  const start = stripLeading(text).slice(0, 32).toLowerCase();
  return HTML_TAGS.some((tag) => {
    if (!start.startsWith(`<${tag}`)) return false;
    const next = start.charAt(tag.length + 1);
    return (
      tag === '!--' ||
      next === '>' ||
      next === ' ' ||
      next === '\t' ||
      next === '\n' ||
      next === '\r' ||
      next === '\f'
    );
  });
}

/**
 * A JSON object or array start: "{" then a key or "}", or "[" then a value. Only the head of
 * the file is seen, so the rest cannot be parsed; this is a shape check, not validation.
 */
function looksLikeJson(text: string): boolean {
  const start = stripLeading(text);
  if (start.startsWith('{')) return /^\{\s*(?:"|\}|$)/.test(start);
  if (start.startsWith('[')) return /^\[\s*(?:[{["\]\-0-9]|true|false|null|$)/.test(start);
  return false;
}

// WHATWG MIME Sniffing "binary data byte": control bytes that do not occur in text.
// biome-ignore lint/suspicious/noControlCharactersInRegex: detecting control bytes is the point.
const BINARY_BYTE = /[\u0000-\u0008\u000b\u000e-\u001a\u001c-\u001f]/;

/** UTF-8 text without binary control bytes; a character cut at the end of the head is allowed. */
function decodeText(head: Buffer): string | null {
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(head, { stream: true });
    return BINARY_BYTE.test(text) ? null : text;
  } catch {
    return null;
  }
}

/**
 * Media type and kind of content from its first bytes (pass about SNIFF_BYTES). Binary
 * formats by magic number (file-type), then HTML (in any ASCII-compatible encoding), JSON
 * and UTF-8 plain text; anything else
 * (and an empty file) is application/octet-stream of kind 'document'.
 */
export async function sniffMediaType(head: Buffer | Uint8Array): Promise<SniffResult> {
  const bytes = Buffer.from(head.buffer, head.byteOffset, head.byteLength);
  if (bytes.length === 0) return { mediaType: 'application/octet-stream', kind: 'document' };
  const found = await fileTypeFromBuffer(bytes);
  if (found) return { mediaType: found.mime, kind: kindOf(found.mime) };
  const text = decodeText(bytes);
  if (text !== null) {
    if (looksLikeHtml(text)) return { mediaType: 'text/html', kind: 'page' };
    if (looksLikeJson(text)) return { mediaType: 'application/json', kind: 'document' };
    return { mediaType: 'text/plain', kind: 'document' };
  }
  // A page in a legacy encoding (windows-1251, Shift_JIS...) is not UTF-8, but its leading
  // tag is ASCII in any of them: as in WHATWG sniffing, HTML is told by its first bytes alone.
  if (looksLikeHtml(bytes.toString('latin1'))) return { mediaType: 'text/html', kind: 'page' };
  return { mediaType: 'application/octet-stream', kind: 'document' };
}

/** "Video/MP4; codecs=avc1" → "video/mp4"; empty or malformed → null. */
export function essence(contentType: string | undefined | null): string | null {
  if (!contentType) return null;
  const value = contentType.split(';', 1)[0]!.trim().toLowerCase();
  return /^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/.test(value) ? value : null;
}

// Types that name one container format. file-type reports one member of a family (e.g.
// video/mp4 for any ISO-BMFF file whose brand it does not single out, video/quicktime for
// "qt  " brands) and servers use the others for the same bytes, so within a family the
// difference is naming, not a mismatch.
const FAMILIES: readonly (readonly string[])[] = [
  [
    'video/mp4',
    'video/quicktime',
    'video/x-m4v',
    'video/3gpp',
    'video/3gpp2',
    'audio/mp4',
    'audio/x-m4a',
    'audio/m4a',
    'audio/aac', // often used for .m4a files
    'audio/3gpp',
    'audio/3gpp2',
    'application/mp4',
  ],
  ['video/webm', 'audio/webm', 'video/x-matroska', 'audio/x-matroska', 'video/matroska', 'audio/matroska'],
  ['audio/mpeg', 'audio/mp3', 'audio/x-mp3', 'audio/mpeg3', 'audio/x-mpeg'],
  ['audio/ogg', 'video/ogg', 'application/ogg', 'audio/opus', 'audio/x-ogg'],
  ['audio/wav', 'audio/x-wav', 'audio/wave', 'audio/vnd.wave'],
  ['video/mp2t', 'video/mpeg', 'video/x-mpegts'],
  ['video/x-msvideo', 'video/avi', 'video/msvideo', 'video/vnd.avi'],
  ['video/x-flv', 'video/flv'],
  ['image/jpeg', 'image/jpg', 'image/pjpeg'],
  ['image/png', 'image/apng', 'image/x-png'],
  ['image/bmp', 'image/x-bmp', 'image/x-ms-bmp'],
  ['image/heic', 'image/heif', 'image/heic-sequence', 'image/heif-sequence'],
  ['text/html', 'application/xhtml+xml'],
  ['application/json', 'text/json', 'application/ld+json'],
  ['application/xml', 'text/xml'],
];

const FAMILY_OF = new Map<string, number>();
FAMILIES.forEach((members, i) => {
  for (const member of members) FAMILY_OF.set(member, i);
});

/** Declared types that claim nothing about the bytes. */
const GENERIC = new Set(['application/octet-stream', 'binary/octet-stream', 'application/unknown']);

/** Sniffed types that are textual: a server may call them text/plain without lying. */
const TEXTUAL = new Set(['text/plain', 'text/html', 'application/json']);

function isTextualDeclared(type: string): boolean {
  return (
    type.startsWith('text/') ||
    type === 'application/json' ||
    type === 'application/javascript' ||
    type === 'application/xml' ||
    type.endsWith('+json') ||
    type.endsWith('+xml')
  );
}

export type TypeComparison = { declared: string | null; sniffed: string; consistent: boolean };

/**
 * Whether a server's Content-Type agrees with the sniffed type. Parameters and case are
 * ignored. "Consistent" means the declared type does not contradict the bytes:
 * - no declared type, or a generic one (application/octet-stream), claims nothing: consistent;
 * - the same type, or two names of the same container family (video/mp4 and
 *   video/quicktime, audio/mp4 and video/mp4, image/jpg and image/jpeg...): consistent —
 *   a container says nothing about whether it holds video or only audio;
 * - text/plain declared for sniffed HTML or JSON: consistent (plain text is the generic
 *   textual type); and sniffed text/plain with any textual declared type (text/csv,
 *   application/json...): consistent, since the sniffer cannot tell these apart;
 * - anything else, including a declared video/mp4 whose bytes are not recognised: not.
 */
export function compareDeclaredType(
  declaredContentType: string | undefined,
  sniffed: string,
): TypeComparison {
  const declared = essence(declaredContentType);
  const sniffedType = essence(sniffed) ?? 'application/octet-stream';
  const result = (consistent: boolean): TypeComparison => ({ declared, sniffed: sniffedType, consistent });
  if (declared === null || GENERIC.has(declared)) return result(true);
  if (declared === sniffedType) return result(true);
  const a = FAMILY_OF.get(declared);
  if (a !== undefined && a === FAMILY_OF.get(sniffedType)) return result(true);
  if (declared === 'text/plain' && TEXTUAL.has(sniffedType)) return result(true);
  if (sniffedType === 'text/plain' && isTextualDeclared(declared)) return result(true);
  return result(false);
}
