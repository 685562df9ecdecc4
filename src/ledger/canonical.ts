// Canonical event bodies (RFC 8785 JSON Canonicalization Scheme) and their hashes.
// JCS over JavaScript values is small enough to own: ECMAScript number and string
// serialization (what JSON.stringify does) plus object keys sorted by UTF-16 code units.
import { hash } from 'node:crypto';
import type { Subject } from './event-types.ts';

/** The hashed part of a ledger event. */
export interface EventBody {
  subject: Subject;
  seq: number;
  /** Lowercase hex hash of the subject's previous event; null for seq 1. */
  prev: string | null;
  type: string;
  actor: string;
  /** RFC 3339 UTC with milliseconds. */
  at: string;
  data: unknown;
}

/** RFC 8785 serialization. Throws on values JSON cannot hold (undefined, NaN, Infinity,
 * bigint, functions), instead of silently dropping them as JSON.stringify would. Written as
 * loops appending to one string (no entry arrays, filters and joins per object): every append
 * canonicalizes its event, so this runs on each write. */
export function canonicalJson(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return jsonString(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`cannot canonicalize ${value}`);
      return JSON.stringify(value);
    case 'object': {
      if (value === null) return 'null';
      if (Array.isArray(value)) {
        let out = '[';
        for (let i = 0; i < value.length; i++) out += (i === 0 ? '' : ',') + canonicalJson(value[i]);
        return `${out}]`;
      }
      // Default sort compares UTF-16 code units, exactly as RFC 8785 section 3.2.3 requires.
      const keys = Object.keys(value).sort();
      let out = '{';
      for (const key of keys) {
        const v = (value as Record<string, unknown>)[key];
        if (v === undefined) continue;
        out += `${out.length === 1 ? '' : ','}${jsonString(key)}:${canonicalJson(v)}`;
      }
      return `${out}}`;
    }
  }
  throw new TypeError(`cannot canonicalize a ${typeof value}`);
}

// What JSON.stringify escapes in a string: quote, backslash, control characters and (ES2019
// well-formed stringify) lone surrogates. A string without any is written as it is, quoted.
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it finds
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;
const jsonString = (s: string) => (NEEDS_ESCAPE.test(s) ? JSON.stringify(s) : `"${s}"`);

/** One-shot hashing (crypto.hash) avoids a Hash object per event: verification hashes millions. */
/** Whether `text` is the RFC 8785 form of `parsed` (= JSON.parse(text)). Fast path for
 * verification: when every object's keys already come out sorted, JSON.stringify emits
 * exactly what canonicalJson would; otherwise (e.g. integer-like keys, which V8 reorders)
 * fall back to the full canonicalization. */
export function isCanonicalText(parsed: unknown, text: string): boolean {
  if (keysSorted(parsed) && JSON.stringify(parsed) === text) return true;
  return canonicalJson(parsed) === text;
}

function keysSorted(value: unknown): boolean {
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (v === null || typeof v !== 'object') continue;
    if (Array.isArray(v)) {
      for (const x of v) stack.push(x);
      continue;
    }
    const keys = Object.keys(v);
    for (let i = 1; i < keys.length; i++) if (keys[i - 1]! >= keys[i]!) return false;
    for (const k of keys) stack.push((v as Record<string, unknown>)[k]);
  }
  return true;
}

export const sha256Hex = (text: string | Buffer) => hash('sha256', text, 'hex');

/**
 * The body split around its chain fields, for appends assembled in SQL (ledger_append, see
 * prisma/migrations/20261202000600_ledger_append_fn): RFC 8785 sorts the body's keys as
 * actor, at, data, prev, seq, subject, type, so the canonical body is exactly
 *   prefix + '"prev":' + (null | '"<hex>"') + ',"seq":' + <integer> + suffix
 * with prefix = `{"actor":…,"at":…,"data":…,` and suffix = `,"subject":…,"type":…}`. Both
 * come from canonicalJson, so there is still one canonicalizer; only seq and prev, which need
 * the chain's head under its lock, are written in SQL (an integer and lowercase hex need no
 * escaping). `chainFields` is the JS twin of that SQL, for the tests and the documentation.
 */
export interface BodyFrame {
  prefix: string;
  suffix: string;
}

export function bodyFrame(body: Omit<EventBody, 'seq' | 'prev'>): BodyFrame {
  // The members written in their sorted order, each value by canonicalJson: the same bytes as
  // canonicalJson of the objects, without building and sorting them on every append.
  return {
    prefix: `{"actor":${jsonString(body.actor)},"at":${jsonString(body.at)},"data":${canonicalJson(body.data)},`,
    suffix: `,"subject":${canonicalJson(body.subject)},"type":${jsonString(body.type)}}`,
  };
}

/** What SQL writes between prefix and suffix (the JS form of ledger_append's assembly). */
export const chainFields = (seq: number, prev: string | null): string =>
  `"prev":${prev === null ? 'null' : `"${prev}"`},"seq":${seq}`;

/** Canonical bytes and hash of a body: hash = lowercase hex SHA-256 of the canonical bytes. */
export function sealBody(body: EventBody): { canonical: string; hash: string } {
  const canonical = canonicalJson(body);
  return { canonical, hash: sha256Hex(canonical) };
}
