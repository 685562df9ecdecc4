// CSV: one row per evidence item (RFC 4180, UTF-8 with BOM so spreadsheets pick UTF-8, CRLF).
// Cells that a spreadsheet would run as a formula are neutralized (OWASP CSV injection).
import { type ExportInput, exportView } from './export-context.ts';
import { streamLedger } from './export-ledger.ts';
import { LedgerView } from './ledger-view.ts';

export const CSV_COLUMNS = [
  'claim_id',
  'statement',
  // As the claim view shows it: a date (2024-12-17) when a date was given, else the date-time.
  'claimed_at',
  'source_url',
  'normalized_url',
  'relation',
  'evidence_id',
  'kind',
  'media_type',
  'sha256',
  'size',
  'duration_seconds',
  'captured_at',
  'checks',
  'custody_length',
  'custody_head_hash',
  // The same and similar media the capture found (sameAs / similarTo checks, issue 17).
  'matches',
] as const;

/** Quotes a cell when needed and defuses a leading =, +, -, @, tab or CR. */
export function csvCell(value: unknown): string {
  let s = value === null || value === undefined ? '' : typeof value === 'string' ? value : String(value);
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n']/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

type CsvCheck = { name: string; passed: boolean; expected: unknown; observed: unknown };

const isMatch = (c: CsvCheck) => c.name === 'sameAs' || c.name === 'similarTo';

/** "sameAs <id>", "similarTo <id> distance 12, 29/31 s, offset 0 s". */
function matchWords(c: CsvCheck): string {
  const other = (c.expected as { evidenceId?: unknown } | null)?.evidenceId;
  if (c.name === 'sameAs') return `sameAs ${other}`;
  const o = (c.observed ?? {}) as {
    distance?: number;
    matchedSeconds?: number;
    hashedSeconds?: number;
    offsetSeconds?: number;
  };
  const video =
    o.matchedSeconds === undefined
      ? ''
      : `, ${o.matchedSeconds}/${o.hashedSeconds} s, offset ${o.offsetSeconds} s`;
  return `similarTo ${other} distance ${o.distance}${video}`;
}

export async function* csvLines(input: ExportInput): AsyncGenerator<string> {
  yield `\uFEFF${CSV_COLUMNS.join(',')}\r\n`;
  // The same view as the other formats: folded from the exported events.
  const ledgerView = new LedgerView();
  for await (const rows of streamLedger(input.pool, input.gathered.subjects)) {
    for (const r of rows) ledgerView.addRow(r);
    input.advance(rows.length);
  }
  const { claims, sources, evidence } = exportView(ledgerView);
  const { subjects } = input.gathered;
  const sourceById = new Map(sources.map((s) => [s.id, s]));
  const custody = new Map(subjects.filter((s) => s.type === 'source').map((s) => [s.id, s]));
  const evidenceBySource = new Map<string, typeof evidence>();
  for (const e of evidence)
    evidenceBySource.set(e.sourceId, [...(evidenceBySource.get(e.sourceId) ?? []), e]);
  for (const claim of claims) {
    for (const citation of claim.citations) {
      const source = sourceById.get(citation.sourceId);
      for (const item of evidenceBySource.get(citation.sourceId) ?? []) {
        const all = Array.isArray(item.checks) ? (item.checks as CsvCheck[]) : [];
        const checks = all
          .filter((c) => !isMatch(c))
          .map(
            (c) =>
              `${c.name}:${c.passed ? 'passed' : 'failed'} (expected ${JSON.stringify(c.expected)}, observed ${JSON.stringify(c.observed)})`,
          )
          .join('; ');
        const duration = (item.metadata as { durationSeconds?: unknown } | null)?.durationSeconds;
        const row = [
          claim.id,
          claim.statement,
          claim.claimedAt,
          source?.url,
          source?.normalizedUrl,
          citation.relation,
          item.id,
          item.kind,
          item.mediaType,
          item.sha256,
          item.size,
          typeof duration === 'number' ? duration : '',
          item.capturedAt,
          checks,
          custody.get(citation.sourceId)?.length ?? 0,
          custody.get(citation.sourceId)?.headHash ?? '',
          all.filter(isMatch).map(matchWords).join('; '),
        ];
        yield `${row.map(csvCell).join(',')}\r\n`;
      }
    }
  }
}
