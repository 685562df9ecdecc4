// data/export.json as the verifier needs it: the listed fields are checked, everything else
// (the API shapes of claims, sources and evidence) passes through untouched.
import { z } from 'zod';
import { EXPORT_JSON } from '../bag/export-layout.ts';
import { decodeUtf8, type ExportFiles } from './bag-zip.ts';
import type { Problems } from './problems.ts';
import { ambiguousJson } from './strict-json.ts';

/** export.json is metadata (no content bytes); it is the one file read whole. */
const MAX_EXPORT_JSON = 256 * 1024 * 1024;

const hex64 = z.string().regex(/^[0-9a-f]{64}$/, 'must be a lowercase hex SHA-256');
const count = z.number().int().nonnegative();

export const exportDocSchema = z.looseObject({
  exportId: z.string().min(1),
  scope: z.union([
    z.looseObject({ claimId: z.string().min(1) }),
    z.looseObject({ investigationId: z.string().min(1) }),
  ]),
  createdAt: z.string(),
  includeContent: z.boolean(),
  claims: z.array(z.looseObject({ id: z.string() })),
  sources: z.array(z.looseObject({ id: z.string() })),
  evidence: z.array(
    z.looseObject({
      id: z.string(),
      sourceId: z.string(),
      sha256: hex64,
      size: count,
      mediaType: z.string(),
      kind: z.string(),
    }),
  ),
  subjects: z.array(
    z.looseObject({
      type: z.string().min(1),
      id: z.string().min(1),
      length: count,
      headHash: hex64.nullable(),
    }),
  ),
});
export type ExportDoc = z.infer<typeof exportDocSchema>;

/** Reads and validates export.json; null (with problems recorded) when unusable. */
export async function readExportDoc(bag: ExportFiles, problems: Problems): Promise<ExportDoc | null> {
  if (!bag.has(EXPORT_JSON)) {
    problems.add(`${EXPORT_JSON} is missing`);
    return null;
  }
  const bytes = await bag.read(EXPORT_JSON, MAX_EXPORT_JSON);
  const text = bytes && decodeUtf8(bytes);
  if (text === null) {
    problems.add(`${EXPORT_JSON} is larger than ${MAX_EXPORT_JSON} bytes or not UTF-8`);
    return null;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    problems.add(`${EXPORT_JSON} is not JSON: ${(err as Error).message}`);
    return null;
  }
  for (const p of ambiguousJson(text)) problems.add(`${EXPORT_JSON} at ${p}`);
  const parsed = exportDocSchema.safeParse(json);
  if (!parsed.success) {
    for (const issue of parsed.error.issues.slice(0, 20)) {
      problems.add(`${EXPORT_JSON} at ${issue.path.join('.') || '(top)'}: ${issue.message}`);
    }
    return null;
  }
  const doc = parsed.data;
  const sourceIds = new Set(doc.sources.map((s) => s.id));
  for (const [i, e] of doc.evidence.entries()) {
    if (!sourceIds.has(e.sourceId)) {
      problems.add(
        `${EXPORT_JSON} evidence[${i}] (${e.id}) names source ${e.sourceId}, which is not exported`,
      );
    }
  }
  const subjects = new Set<string>();
  for (const [i, s] of doc.subjects.entries()) {
    const key = `${s.type}:${s.id}`;
    if (subjects.has(key)) problems.add(`${EXPORT_JSON} subjects[${i}] lists ${key} again`);
    subjects.add(key);
    if ((s.length === 0) !== (s.headHash === null)) {
      problems.add(`${EXPORT_JSON} subjects[${i}] (${key}): headHash must be null exactly when length is 0`);
    }
  }
  return doc;
}
