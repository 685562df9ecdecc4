// Consistency checks against the claim (issue 17, part 4): facts the evidence holds set against
// what the claim and its citations declare. Pure: the capture reads what they need with the
// statement that locks it (capture-store.ts) and records them with the item's other checks.
//
// When they are computed: at the end of each capture, with the claim's date as it stands then.
// The date is written into the check (`expected.claimedAt`), so a later edit of the claim does
// not silently change what an earlier check said; the next capture checks the new date.
import type { Check, Json } from './checks.ts';

/** A claim citing the source, with its date, as the capture reads it. */
export interface ClaimDate {
  claimId: string;
  /** The stored instant (a date is stored as its UTC midnight), RFC 3339. */
  claimedAt: string;
  precision: 'date' | 'datetime';
  /** The claimant's IANA time zone, when the claim states one; else UTC. */
  timeZone: string | null;
  /** The citation's `expected.dateToleranceHours`, when it states one. */
  toleranceHours?: number;
}

/** An item's own date that a claim date is checked against. */
export interface DatedFact {
  /** `postedAt`: an X post's created_at; `publishedAt`: a page's published time. */
  name: 'postedAt' | 'publishedAt';
  evidenceId: string;
  /** As the evidence states it (RFC 3339 for a post; as the page wrote it for a page). */
  at: string;
}

const HOUR_MS = 3_600_000;

/** The calendar date (YYYY-MM-DD) of an instant in a time zone. */
export function dateIn(instant: Date, timeZone: string): string {
  // en-CA formats as YYYY-MM-DD.
  return new Intl.DateTimeFormat('en-CA', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
  }).format(instant);
}

/** Whether `zone` is an IANA time zone this runtime knows. */
export function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/**
 * One claim date against one dated fact. Without a tolerance the fact must fall on the claim's
 * day in the claimant's zone (UTC if none): a date as given, or the date-time's day there. With
 * `toleranceHours`, a date-time may be that far either way, and a date's day widens by it.
 */
export function claimDateCheck(claim: ClaimDate, fact: DatedFact): Check {
  const timeZone = claim.timeZone ?? 'UTC';
  const claimedAt = claim.precision === 'date' ? claim.claimedAt.slice(0, 10) : claim.claimedAt;
  const expected: { [key: string]: Json } = { claimId: claim.claimId, claimedAt, timeZone };
  if (claim.toleranceHours !== undefined) expected.toleranceHours = claim.toleranceHours;
  const observedAt = new Date(fact.at);
  if (Number.isNaN(observedAt.getTime()))
    return { name: fact.name, expected, observed: fact.at, passed: false };
  const tolerance = (claim.toleranceHours ?? 0) * HOUR_MS;
  let passed: boolean;
  if (claim.precision === 'datetime' && claim.toleranceHours !== undefined) {
    passed = Math.abs(observedAt.getTime() - new Date(claim.claimedAt).getTime()) <= tolerance;
  } else {
    const day = claim.precision === 'date' ? claimedAt : dateIn(new Date(claim.claimedAt), timeZone);
    // Dates only grow with time in one zone, so the widened window is a range of days.
    const first = dateIn(new Date(observedAt.getTime() - tolerance), timeZone);
    const last = dateIn(new Date(observedAt.getTime() + tolerance), timeZone);
    passed = first <= day && day <= last;
  }
  return { name: fact.name, expected, observed: fact.at, passed };
}

/** Every claim date against every dated fact of the capture, each distinct pair once. */
export function claimDateChecks(claims: readonly ClaimDate[], facts: readonly DatedFact[]): Check[] {
  const checks = new Map<string, Check>();
  for (const fact of facts) {
    for (const claim of claims) {
      const check = claimDateCheck(claim, fact);
      checks.set(JSON.stringify([check.name, check.expected, check.observed]), check);
    }
  }
  return [...checks.values()];
}

/** The first `datePublished` a page's JSON-LD states (an Article, or one inside @graph). */
function jsonLdDatePublished(jsonLd: unknown, depth = 0): string | undefined {
  if (depth > 8 || jsonLd === null || typeof jsonLd !== 'object') return undefined;
  if (Array.isArray(jsonLd)) {
    for (const x of jsonLd) {
      const found = jsonLdDatePublished(x, depth + 1);
      if (found) return found;
    }
    return undefined;
  }
  const o = jsonLd as Record<string, unknown>;
  if (typeof o.datePublished === 'string' && o.datePublished.trim()) return o.datePublished.trim();
  return jsonLdDatePublished(o['@graph'], depth + 1);
}

/**
 * The date an item states of itself: an X post record's `createdAt`, a page's
 * article:published_time, else its JSON-LD datePublished. Undefined for anything else.
 */
export function datedFact(item: { id: string; kind: string; metadata: unknown }): DatedFact | undefined {
  const m = (item.metadata ?? {}) as Record<string, unknown>;
  if (item.kind === 'post_metadata' && typeof m.createdAt === 'string')
    return { name: 'postedAt', evidenceId: item.id, at: m.createdAt };
  if (item.kind === 'page') {
    const at =
      typeof m.publishedTime === 'string' && m.publishedTime.trim()
        ? m.publishedTime.trim()
        : jsonLdDatePublished(m.jsonLd);
    if (at) return { name: 'publishedAt', evidenceId: item.id, at: at.slice(0, 100) };
  }
  return undefined;
}

// EXIF against the citation's `expected.capturedBefore` and `expected.location`.

/** The widest offset from UTC a wall-clock time can have (UTC−12): EXIF without an offset. */
const UNKNOWN_ZONE_LATEST_MS = 12 * HOUR_MS;

/** The instant a `capturedBefore` states: a date is that day's start in UTC. */
const instantOf = (value: string) =>
  new Date(/^\d{4}-\d{2}-\d{2}$/.test(value) ? `${value}T00:00:00Z` : value);

/**
 * EXIF capture time before the declared instant. A time with no offset is the camera's wall
 * clock in an unknown zone: it passes only if it is before in every zone (UTC−12 included).
 */
export function capturedBeforeCheck(expected: string, metadata: Record<string, unknown>): Check {
  const exif = (metadata.exif ?? {}) as { captureTime?: unknown };
  const observed = typeof exif.captureTime === 'string' ? exif.captureTime : null;
  let passed = false;
  if (observed !== null) {
    const zoned = /(Z|[+-]\d{2}:\d{2})$/.test(observed);
    const at = new Date(zoned ? observed : `${observed}Z`).getTime();
    const latest = zoned ? at : at + UNKNOWN_ZONE_LATEST_MS;
    passed = Number.isFinite(at) && latest < instantOf(expected).getTime();
  }
  return { name: 'capturedBefore', expected, observed, passed };
}

export interface DeclaredLocation {
  lat: number;
  lon: number;
  radiusMeters: number;
}

const EARTH_RADIUS_METERS = 6_371_008.8;

/** Great-circle distance in metres (haversine on the mean Earth radius). */
export function distanceMeters(a: { lat: number; lon: number }, b: { lat: number; lon: number }): number {
  const rad = (d: number) => (d * Math.PI) / 180;
  const dLat = rad(b.lat - a.lat);
  const dLon = rad(b.lon - a.lon);
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(rad(a.lat)) * Math.cos(rad(b.lat)) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_METERS * Math.asin(Math.min(1, Math.sqrt(h)));
}

/** EXIF GPS within the declared radius; observed holds the position and its distance. */
export function locationCheck(expected: DeclaredLocation, metadata: Record<string, unknown>): Check {
  const gps = ((metadata.exif ?? {}) as { gps?: { latitude?: unknown; longitude?: unknown } }).gps;
  const declared = { lat: expected.lat, lon: expected.lon, radiusMeters: expected.radiusMeters };
  if (typeof gps?.latitude !== 'number' || typeof gps.longitude !== 'number')
    return { name: 'location', expected: declared, observed: null, passed: false };
  const at = { lat: gps.latitude, lon: gps.longitude };
  const distance = Math.round(distanceMeters(at, declared));
  return {
    name: 'location',
    expected: declared,
    observed: { ...at, distanceMeters: distance },
    passed: distance <= expected.radiusMeters,
  };
}
