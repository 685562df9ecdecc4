// C2PA of one evidence item, for describe() (captures and uploads alike): the manifest summary
// stored as `metadata.c2pa` (so the metadata_extracted event, the API and exports carry it),
// and the `c2pa` check that summary makes (capture/checks.ts adds it to the item's checks).
import { readFile } from 'node:fs/promises';
import { recordedError } from '../lib/error-text.ts';
import { C2PA_TOOL, readC2pa } from './c2pa.ts';
import type { JsonObject, JsonValue } from './json.ts';

/** The contents of C2PA_TRUST_ANCHORS ('' when unset). A file that cannot be read or holds no
 * certificate is a configuration error, named. */
export async function loadC2paTrustAnchors(file: string): Promise<string> {
  if (!file) return '';
  const pem = await readFile(file, 'utf8').catch((err: Error) => {
    throw new Error(`C2PA_TRUST_ANCHORS ${file}: ${err.message}`);
  });
  if (!pem.includes('-----BEGIN CERTIFICATE-----'))
    throw new Error(`C2PA_TRUST_ANCHORS ${file} holds no PEM certificate`);
  return pem;
}

/** The item's C2PA summary read from a local copy at `path`, or undefined for media types the
 * reader does not open (readC2pa records its own failures as `unread`). */
export function c2paOfFile(
  deps: { c2paTrustAnchors?: string },
  path: string,
  mediaType: string,
): Promise<JsonObject | undefined> {
  return readC2pa(path, mediaType, { trustAnchorsPem: deps.c2paTrustAnchors ?? '' });
}

/** The summary of an item whose bytes could not be had to read (the download failed). */
export function c2paNotRead(err: unknown): JsonObject {
  return { tool: C2PA_TOOL, state: 'unread', error: recordedError(err) };
}

/** What the check expects: a manifest, when there is one, verifies. */
export const C2PA_EXPECTED = 'valid or absent';

/**
 * The `c2pa` check of an item's metadata: observed `{state, reasons}`; it fails only for an
 * `invalid` manifest (most media carry none, so `absent` is recorded, not a failure). None
 * when the item was not read (another media type) or could not be (`unread`: the reason is
 * in the metadata).
 */
export function c2paCheck(
  metadata: Record<string, unknown>,
): { name: string; expected: JsonValue; observed: JsonValue; passed: boolean }[] {
  const c2pa = metadata.c2pa as { state?: unknown; reasons?: unknown } | undefined;
  const state = c2pa?.state;
  if (state !== 'valid' && state !== 'invalid' && state !== 'absent') return [];
  const reasons = Array.isArray(c2pa?.reasons) ? (c2pa.reasons as string[]) : [];
  return [
    { name: 'c2pa', expected: C2PA_EXPECTED, observed: { state, reasons }, passed: state !== 'invalid' },
  ];
}
