// Declared vs observed: each `expected` value a citation declares is checked against what a
// capture observed. A failed check is data (a ledger event and a row), never an error.
import { canonicalJson } from '../ledger/canonical.ts';
import { c2paCheck } from '../media/c2pa-evidence.ts';
import { capturedBeforeCheck, type DeclaredLocation, locationCheck } from './consistency-checks.ts';

/** JSON as the ledger's event catalogue types it. */
export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

export interface Check {
  name: string;
  expected: Json;
  observed: Json;
  passed: boolean;
}

/** Tolerance of durationSeconds: container and stream durations differ by a few frames. */
export const DURATION_TOLERANCE_SECONDS = 0.5;

export interface ObservedItem {
  kind: string;
  mediaType: string;
  sha256: string;
  metadata: Record<string, unknown>;
}

/** The media class a journalist declares (`expected.mediaType`) for an evidence item. An
 * upload's class comes from its sniffed media type. */
export function mediaClassOf(kind: string, mediaType: string): string {
  if (kind === 'post_metadata') return 'post';
  if (kind !== 'upload') return kind;
  if (mediaType === 'text/html') return 'page';
  const top = mediaType.split('/')[0]!;
  return ['video', 'audio', 'image'].includes(top) ? top : 'document';
}

/**
 * Checks every declared expectation (from all citations of the source, each distinct one
 * once) against one evidence item. Unknown expectation names are ignored (validated at the
 * API edge, so none reach here).
 */
export function runChecks(expectations: readonly Record<string, unknown>[], item: ObservedItem): Check[] {
  const seen = new Set<string>();
  const checks: Check[] = [];
  for (const expected of expectations) {
    for (const [name, value] of Object.entries(expected)) {
      const key = `${name}=${JSON.stringify(value)}`;
      if (value === undefined || seen.has(key)) continue;
      seen.add(key);
      const check = checkOne(name, value, item);
      if (check) checks.push(check);
    }
  }
  // jsonb does not keep key order, so sort for a stable result.
  return checks.sort(byName);
}

/** By name; a stable sort keeps the order of checks of one name. */
const byName = (a: Check, b: Check) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

function checkOne(name: string, expected: unknown, item: ObservedItem): Check | undefined {
  switch (name) {
    case 'durationSeconds': {
      const d = item.metadata.durationSeconds;
      const observed = typeof d === 'number' && Number.isFinite(d) ? d : null;
      const passed =
        observed !== null &&
        typeof expected === 'number' &&
        Math.abs(observed - expected) <= DURATION_TOLERANCE_SECONDS;
      return { name, expected: expected as number, observed, passed };
    }
    case 'mediaType': {
      const observed = mediaClassOf(item.kind, item.mediaType);
      return { name, expected: expected as string, observed, passed: observed === expected };
    }
    case 'sha256':
      return { name, expected: expected as string, observed: item.sha256, passed: item.sha256 === expected };
    case 'capturedBefore':
      return capturedBeforeCheck(expected as string, item.metadata);
    case 'location':
      return locationCheck(expected as DeclaredLocation, item.metadata);
    default:
      return undefined;
  }
}

/** What checking expectations against an item changes. */
export interface CheckOutcome {
  /** The checks just made (each a check_passed / check_failed event). */
  checks: Check[];
  /** The item's checks as they are to be stored, whole, sorted by name. */
  all: Check[];
  /** `all` differs from what the item held (a checks_updated event and a row change). */
  changed: boolean;
}

/**
 * Checks `expectations` against an item. By default they are all of its source's citations'
 * and replace what it held (the item is new, or newly primary); with `merge`, they are one new
 * citation's and replace only the checks of the same name and expected value. `found`: checks
 * the capture made beyond the declarations (matches, the claim's date: capture-checks.ts).
 */
export function checkItem(
  item: Omit<ObservedItem, 'metadata'> & { metadata: unknown; checks: unknown },
  expectations: readonly Record<string, unknown>[],
  merge = false,
  found: readonly Check[] = [],
): CheckOutcome {
  const metadata = (item.metadata ?? {}) as Record<string, unknown>;
  const checks = [
    ...runChecks(
      expectations.filter((e) => e && Object.keys(e).length > 0),
      { kind: item.kind, mediaType: item.mediaType, sha256: item.sha256, metadata },
    ),
    ...found,
    // Observed without a declaration: the item's C2PA manifest (src/media/c2pa-evidence.ts);
    // made when the item's checks are made whole, kept as held when one citation is merged.
    ...(merge ? [] : c2paCheck(metadata)),
  ].sort(byName);
  const held = Array.isArray(item.checks) ? (item.checks as Check[]) : [];
  const sameCheck = (a: Check, b: Check) =>
    a.name === b.name && JSON.stringify(a.expected) === JSON.stringify(b.expected);
  const kept = merge ? held.filter((c) => !checks.some((n) => sameCheck(c, n))) : [];
  const all = [...kept, ...checks].sort(byName);
  return { checks, all, changed: canonicalJson(all) !== canonicalJson(item.checks ?? []) };
}
