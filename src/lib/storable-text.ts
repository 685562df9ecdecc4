// Text PostgreSQL cannot hold: `text` refuses the NUL character and `jsonb` refuses the
// `\u0000` escape; both refuse a lone UTF-16 surrogate (U+D800–U+DFFF without its pair),
// which is no Unicode character at all and has no UTF-8 form. JavaScript strings can hold
// all three (JSON.parse of "\ud800", a NUL byte in an HTML title or an EXIF field).
//
// Two policies, one detector:
// - what a client sends is refused (400 naming the field): see findUnstorableText;
// - what we *describe* (captured metadata, an upload's file name) is kept, escaped: the
//   character becomes the six literal characters of its JSON escape (`\u0000`, `\ud800`) and
//   the description says so (`textEscaped: true`, see storableDescription). The raw bytes are
//   untouched in the blob, so the escaped text is never the only record of what was there.
import type { FieldError } from './errors.ts';

// A NUL, a high surrogate not followed by a low one, or a low one not preceded by a high one.
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding NUL is the point.
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const UNSTORABLE_ALL = new RegExp(UNSTORABLE.source, 'g');

/** Whether `s` holds a character PostgreSQL text/jsonb refuses. */
export const isStorableText = (s: string): boolean => !UNSTORABLE.test(s);

/** `s` with each unstorable character replaced by its JSON escape as literal text. */
export const escapeUnstorable = (s: string): string =>
  s.replace(UNSTORABLE_ALL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

/** At most this many offending fields are named in one answer. */
const MAX_REPORTED = 20;

/**
 * The paths (`root.a.0.b`) of every string in a parsed JSON-like value, object keys
 * included, that PostgreSQL cannot store; [] when there is none. Iterative: depth is bounded
 * elsewhere, but a wide value must not cost a stack frame per element either.
 */
export function findUnstorableText(value: unknown, root: string): FieldError[] {
  const found: FieldError[] = [];
  const stack: [unknown, string][] = [[value, root]];
  while (stack.length > 0 && found.length < MAX_REPORTED) {
    const [v, path] = stack.pop()!;
    if (typeof v === 'string') {
      if (!isStorableText(v)) found.push({ path, message: unstorableMessage });
      continue;
    }
    if (v === null || typeof v !== 'object') continue;
    const entries = Array.isArray(v) ? v.map((x, i) => [String(i), x] as const) : Object.entries(v);
    for (const [key, child] of entries) {
      if (!isStorableText(key)) {
        found.push({ path: `${path}.${escapeUnstorable(key)}`, message: `key ${unstorableMessage}` });
        continue;
      }
      stack.push([child, `${path}.${key}`]);
    }
  }
  return found;
}

const unstorableMessage = 'contains a NUL character or a lone UTF-16 surrogate, which cannot be stored';

/** A deep copy of a JSON value with unstorable text in strings and keys escaped. */
export function escapeUnstorableJson<T>(value: T): { value: T; escaped: boolean } {
  let escaped = false;
  const text = (s: string) => {
    if (isStorableText(s)) return s;
    escaped = true;
    return escapeUnstorable(s);
  };
  const copy = (v: unknown, depth: number): unknown => {
    // Metadata is built by our own extractors with bounded depth (JSON-LD: 64 levels).
    if (depth > 256) throw new RangeError('metadata nested too deeply');
    if (typeof v === 'string') return text(v);
    if (v === null || typeof v !== 'object') return v;
    if (Array.isArray(v)) return v.map((x) => copy(x, depth + 1));
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[text(k)] = copy(x, depth + 1);
    return out;
  };
  const result = copy(value, 0) as T;
  return { value: result, escaped };
}

/**
 * What describes an evidence item (its metadata and declared media type), ready to store:
 * unstorable text escaped, and `metadata.textEscaped: true` when anything was.
 */
export function storableDescription<
  D extends { declaredType: string | null; analysis: { tool: string; metadata: Record<string, unknown> } },
>(d: D): D {
  const metadata = escapeUnstorableJson(d.analysis.metadata);
  const declaredType = d.declaredType === null ? null : escapeUnstorableJson(d.declaredType);
  if (!metadata.escaped && !declaredType?.escaped) return d;
  return {
    ...d,
    declaredType: declaredType?.value ?? null,
    analysis: { ...d.analysis, metadata: { ...metadata.value, textEscaped: true } },
  };
}
