// The metadata built here is canonicalized (RFC 8785) into the custody ledger, which refuses
// undefined, NaN and Infinity. These helpers keep every value JSON-safe at the point where
// it is made, so a stray `undefined` or an unparsable "N/A" from a tool never reaches it.

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** A finite number, or undefined: ffprobe writes numbers as strings and "N/A" for unknown. */
export function finiteNumber(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value !== 'string' || value.trim() === '') return undefined;
  const n = Number(value);
  return Number.isFinite(n) ? n : undefined;
}

/**
 * `value` without its undefined-valued keys (shallow). Optional properties stay optional in
 * the type; at runtime they are either present with a value or absent, never `undefined`.
 */
export function compact<T extends object>(value: T): T {
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    if (v !== undefined) out[key] = v;
  }
  return out as T;
}

/** Cuts a string to `max` UTF-16 code units without splitting a surrogate pair. */
export function clip(value: string, max: number): string {
  if (value.length <= max) return value;
  const end = /[\uD800-\uDBFF]/.test(value.charAt(max - 1)) ? max - 1 : max;
  return value.slice(0, end);
}

/**
 * Up to `maxEntries` string tags with keys and values clipped, so a file or page that
 * carries megabytes of tags cannot make the stored metadata large.
 */
export function boundedTags(
  tags: unknown,
  maxEntries = 64,
  maxKey = 128,
  maxValue = 1024,
): Record<string, string> | undefined {
  if (tags === null || typeof tags !== 'object' || Array.isArray(tags)) return undefined;
  const out: Record<string, string> = {};
  let n = 0;
  for (const [key, value] of Object.entries(tags)) {
    if (n >= maxEntries) break;
    if (typeof value !== 'string' && typeof value !== 'number') continue;
    out[clip(key, maxKey)] = clip(String(value), maxValue);
    n++;
  }
  return n > 0 ? out : undefined;
}
