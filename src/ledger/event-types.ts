// The catalogue of ledger event types: which subject each belongs to and the exact shape
// of its `data`. Appending validates against it, so an unknown type or malformed data is a
// programming error that tests catch, never a stored row.
import { z } from 'zod';

export const subjectTypes = ['investigation', 'claim', 'source', 'export', 'user'] as const;
export type SubjectType = (typeof subjectTypes)[number];
export const subjectSchema = z.strictObject({
  type: z.enum(subjectTypes),
  id: z.string().min(1).max(64),
});
export type Subject = z.infer<typeof subjectSchema>;

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/);
const url = z.string().max(8192);
const json = z.json();
const check = z.strictObject({ name: z.string(), expected: json, observed: json, passed: z.boolean() });
const expected = z.strictObject({
  durationSeconds: z.number().optional(),
  mediaType: z.enum(['video', 'image', 'audio', 'page']).optional(),
  sha256: sha256Hex.optional(),
  // Issue 17 (export version 3): EXIF and the claim's date.
  capturedBefore: z.string().optional(),
  location: z.strictObject({ lat: z.number(), lon: z.number(), radiusMeters: z.number() }).optional(),
  dateToleranceHours: z.number().optional(),
});
const headers = z.record(z.string(), z.string());

/** type → [subject type, data schema]. Keep data sufficient to re-check the step later. */
export const eventCatalogue = {
  // users and tenancy
  user_created: ['user', z.strictObject({ name: z.string(), role: z.string() })],
  user_tokens_revoked: ['user', z.strictObject({ revoked: z.number().int().nonnegative() })],
  investigation_created: [
    'investigation',
    z.strictObject({ title: z.string(), description: z.string().nullable() }),
  ],
  member_added: ['investigation', z.strictObject({ userId: z.string(), role: z.string() })],
  member_removed: ['investigation', z.strictObject({ userId: z.string() })],
  // claims
  claim_created: [
    'claim',
    z.strictObject({ investigationId: z.string(), claim: z.record(z.string(), json) }),
  ],
  claim_updated: [
    'claim',
    z.strictObject({ before: z.record(z.string(), json), after: z.record(z.string(), json) }),
  ],
  citation_added: [
    'claim',
    z.strictObject({
      citationId: z.string(),
      sourceId: z.string(),
      relation: z.string(),
      expected,
      note: z.string().nullable(),
    }),
  ],
  /** A citation withdrawn (its row deleted); the source it named and its custody stay. */
  citation_withdrawn: [
    'claim',
    z.strictObject({ citationId: z.string(), sourceId: z.string(), relation: z.string() }),
  ],
  // sources: citation and capture
  source_cited: [
    'source',
    z.strictObject({
      claimId: z.string(),
      citationId: z.string(),
      url,
      normalizedUrl: url,
      relation: z.string(),
      expected,
      /** Since export version 2: what the source row was created with (export projection). */
      investigationId: z.string().optional(),
      platform: json.optional(),
    }),
  ],
  /** The source's recapture interval set (or cleared: null), in the transaction that sets it. */
  recapture_scheduled: ['source', z.strictObject({ everySeconds: z.number().int().nullable() })],
  capture_requested: ['source', z.strictObject({ captureId: z.string(), reason: z.string() })],
  fetch_started: ['source', z.strictObject({ captureId: z.string(), url, worker: z.string() })],
  fetched: [
    'source',
    z.strictObject({
      captureId: z.string(),
      url,
      finalUrl: url,
      status: z.number().int(),
      redirects: z.array(z.strictObject({ url, status: z.number().int() })),
      headers,
      remoteAddress: z.string(),
      bytes: z.number().int().nonnegative(),
    }),
  ],
  stored: [
    'source',
    z.strictObject({
      captureId: z.string().nullable(),
      evidenceId: z.string(),
      kind: z.string(),
      sha256: sha256Hex,
      size: z.number().int().nonnegative(),
      mediaType: z.string(),
      originUrl: url.nullable(),
      /** Since export version 2: the Content-Type the server (or uploader) declared. */
      declaredType: z.string().nullable().optional(),
    }),
  ],
  metadata_extracted: [
    'source',
    z.strictObject({
      evidenceId: z.string(),
      sha256: sha256Hex,
      tool: z.string(),
      metadata: z.record(z.string(), json),
    }),
  ],
  check_passed: ['source', z.strictObject({ evidenceId: z.string(), check })],
  check_failed: ['source', z.strictObject({ evidenceId: z.string(), check })],
  /** The item's checks as now stored, whole (replaced or merged); the events above say why. */
  checks_updated: ['source', z.strictObject({ evidenceId: z.string(), checks: z.array(check) })],
  /** A capture ended with everything fetched: the source is `captured`, its failure cleared. */
  capture_completed: ['source', z.strictObject({ captureId: z.string() })],
  capture_failed: [
    'source',
    z.strictObject({ captureId: z.string(), code: z.string(), detail: z.string(), retryable: z.boolean() }),
  ],
  /** A secondary fetch (media a page declared) failed; the capture went on without it. */
  fetch_failed: [
    'source',
    z.strictObject({ captureId: z.string(), url, code: z.string(), detail: z.string() }),
  ],
  /**
   * A cited page as a browser saw it (issue 14): its screenshot, rendered DOM and WACZ items
   * (stored in the same statement), the browser and how the page loaded, and every connection
   * the page made through the egress proxy (refusals included).
   */
  browser_captured: [
    'source',
    z.strictObject({
      captureId: z.string(),
      url,
      finalUrl: url,
      status: z.number().int(),
      title: z.string(),
      browser: z.strictObject({ name: z.string(), version: z.string() }),
      userAgent: z.string(),
      viewport: z.strictObject({ width: z.number().int(), height: z.number().int() }),
      /** False: the page had not settled by the deadline and was shot as it stood. */
      settled: z.boolean(),
      timings: z.record(z.string(), json),
      archive: z.record(z.string(), json),
      connections: z.record(z.string(), json),
      evidenceIds: z.strictObject({ screenshot: z.string(), dom: z.string(), webArchive: z.string() }),
    }),
  ],
  /** The browser step of a page gave up for good (or there is no browser: browser_unavailable);
   * the page itself is captured as without a browser. */
  browser_capture_failed: [
    'source',
    z.strictObject({ captureId: z.string(), url, code: z.string(), detail: z.string() }),
  ],
  /**
   * A platform's video as yt-dlp fetched it through the egress proxy (issue 14): the video and
   * yt-dlp's info JSON (`platform_metadata`) items, stored in the same statement, the tool and
   * its version, the extractor and format it chose, the duration the platform declared next to
   * the one ffprobe observed, and every connection yt-dlp made through the proxy.
   */
  platform_captured: [
    'source',
    z.strictObject({
      captureId: z.string(),
      url,
      tool: z.strictObject({ name: z.string(), version: z.string() }),
      extractor: z.string(),
      webpageUrl: z.string(),
      mediaUrl: z.string().nullable(),
      formatId: z.string().nullable(),
      title: z.string().nullable(),
      declaredDurationSeconds: z.number().nullable(),
      observedDurationSeconds: z.number().nullable(),
      timings: z.record(z.string(), json),
      connections: z.record(z.string(), json),
      evidenceIds: z.strictObject({ video: z.string(), metadata: z.string() }),
    }),
  ],
  /** The platform step of a page gave up for good (no video found on a platform's page,
   * refused, too large, the extractor's error, or the last attempt's error); the page itself is
   * captured as without it. */
  platform_capture_failed: [
    'source',
    z.strictObject({
      captureId: z.string(),
      url,
      code: z.string(),
      detail: z.string(),
      tool: z.strictObject({ name: z.string(), version: z.string() }),
    }),
  ],
  /**
   * yt-dlp looked for a video on a page that is not a video platform's (the generic extractor:
   * a cited article that queued no media of its own) and found none. A fact of the capture, not
   * a failure: most cited pages have no video. On a platform's host the same outcome is a
   * failure (`platform_capture_failed` `no_video`). Not projected into export.json, so bags
   * holding it stay export version 3 and older version-3 verifiers check them in full.
   */
  platform_no_video: [
    'source',
    z.strictObject({
      captureId: z.string(),
      url,
      /** yt-dlp's own words (query strings cut), e.g. `Unsupported URL: https://…`. */
      detail: z.string(),
      tool: z.strictObject({ name: z.string(), version: z.string() }),
    }),
  ],
  content_changed: [
    'source',
    z.strictObject({ captureId: z.string(), previousSha256: sha256Hex, sha256: sha256Hex }),
  ],
  source_gone: ['source', z.strictObject({ captureId: z.string(), status: z.number().int(), url })],
  evidence_read: [
    'source',
    z.strictObject({
      evidenceId: z.string(),
      sha256: sha256Hex,
      range: z.string().nullable(),
      bytes: z.number().int(),
    }),
  ],
  // exports
  export_requested: [
    'export',
    z.strictObject({
      scope: z.strictObject({ claimId: z.string().optional(), investigationId: z.string().optional() }),
      format: z.string(),
      includeContent: z.boolean(),
    }),
  ],
  // The chains an export holds, each at its length and head, fixed when its build starts. In
  // the log, so a bag cannot drop a chain's last events and edit export.json to match.
  export_scope: [
    'export',
    z.strictObject({
      /** The export format version (2: export.json is the projection of the chains); absent
       * in bags made before version 2. Signed, so a bag cannot be passed off as older. */
      exportVersion: z.number().int().optional(),
      subjects: z.array(
        z.strictObject({
          type: z.string(),
          id: z.string(),
          length: z.number().int().nonnegative(),
          headHash: sha256Hex.nullable(),
        }),
      ),
    }),
  ],
  export_completed: [
    'export',
    z.strictObject({
      sha256: sha256Hex,
      size: z.number().int().nonnegative(),
      checkpointSize: z.number().int(),
    }),
  ],
  export_failed: ['export', z.strictObject({ reason: z.string() })],
} as const satisfies Record<string, readonly [SubjectType, z.ZodType]>;

export type EventType = keyof typeof eventCatalogue;
export type EventData<T extends EventType> = z.infer<(typeof eventCatalogue)[T][1]>;
export const eventTypes = Object.keys(eventCatalogue) as EventType[];

export class LedgerProgrammingError extends Error {
  override name = 'LedgerProgrammingError';
}

/** Validates an event before it is appended: known type, right subject, exact data. */
export function validateEvent<T extends EventType>(subject: Subject, type: T, data: unknown): EventData<T> {
  if (!Object.hasOwn(eventCatalogue, type))
    throw new LedgerProgrammingError(`unknown ledger event type "${type}"`);
  const [subjectType, schema] = eventCatalogue[type];
  if (subject.type !== subjectType) {
    throw new LedgerProgrammingError(
      `event "${type}" belongs to ${subjectType} subjects, not ${subject.type}`,
    );
  }
  const parsed = schema.safeParse(data);
  if (!parsed.success) {
    throw new LedgerProgrammingError(`invalid data for "${type}": ${z.prettifyError(parsed.error)}`);
  }
  return parsed.data as EventData<T>;
}
