// `claimtrail verify-export FILE [--key KEY] [--witness KEY]… [--min-witnesses N]`: offline check of an export bag (no database,
// no Redis, no network). Prints what it checked, then OK or every problem.
// Exit 0 only when everything holds, 1 on any failure, 2 on usage errors or an unreadable file.
import { existsSync, readFileSync } from 'node:fs';
import { describeTimestamps } from '../anchors/timestamp/verify-timestamps.ts';
import { printable } from '../exports/verify/printable.ts';
import {
  ExportFileError,
  type ExportReport,
  PinnedKeyError,
  verifyExport,
} from '../exports/verify/verify-export.ts';
import { WitnessOptionError, type WitnessSummary } from '../exports/verify/witness-check.ts';

/** `--key` takes the verifier key itself, or a file holding it. */
function pinnedKeyFrom(value: string): string {
  if (value.includes('+') || !existsSync(value)) return value;
  return readFileSync(value, 'utf8').trim();
}

/** `--tsa-ca FILE`: an unreadable file is a usage error (exit 2), like a bad --key. */
function readTsaCa(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new PinnedKeyError(`cannot read --tsa-ca ${path}: ${(err as Error).message}`);
  }
}

export function formatReport(file: string, report: ExportReport): string {
  const s = report.summary;
  const lines = [
    s.format === 'json' ? `JSON export (${file})` : `export bag ${s.bagName ?? '?'} (${file})`,
    `  export ${s.exportId ?? '?'}, scope ${s.scope ?? '?'}, content ${s.includeContent === null ? '?' : s.includeContent ? 'included' : 'not included'}`,
    `  ${s.claims} claims, ${s.sources} sources, ${s.evidence} evidence items, ${s.contentFiles} content files`,
    `  ${s.events} ledger events in ${s.subjects} subjects, ${s.proofsVerified} inclusion proofs verified`,
    s.format === 'json'
      ? '  payload: none (a JSON export holds no content bytes and no manifests)'
      : `  payload: ${s.payloadFiles} files, ${s.payloadBytes} bytes (manifest-sha256.txt, Payload-Oxum)`,
    `  log: origin ${s.origin ?? '?'}, tree size ${s.treeSize ?? '?'}, key ${s.keyName ?? '?'}` +
      (s.pinnedKey ? `, pinned key ${s.pinnedKey}` : ' (bundled key only: pass --key to pin it)'),
    ...describeTimestamps(s.timestamps, s.treeSize).map((l) => `  ${l}`),
  ];
  lines.push(`  witnesses: ${witnessLine(s.witness)}`);
  if (s.unproven.length > 0) {
    lines.push(
      `NOT PROVEN by this ${s.format === 'json' ? 'export' : 'bag'} (an older export format; not a failure):`,
    );
    for (const u of s.unproven) lines.push(`  - ${u}`);
  }
  if (report.ok) lines.push('OK');
  else {
    lines.push(`FAILED: ${report.problems.length} problem${report.problems.length === 1 ? '' : 's'}`);
    for (const p of report.problems) lines.push(`  - ${p}`);
  }
  // Each line made printable on its own: no text from the bag can start a new line or move the cursor.
  return `${lines.map(printable).join('\n')}\n`;
}

/** "checkpoint 1,234 cosigned by 2 of 2 witnesses (a, b)", or what the bag carries unchecked. */
function witnessLine(w: WitnessSummary | null): string {
  if (!w || w.cosignedSize === null) {
    return w && w.given > 0
      ? `no cosignatures in this export; cosigned by 0 of ${w.given} witnesses`
      : 'no cosignatures in this export';
  }
  const at = `checkpoint ${w.cosignedSize.toLocaleString('en-US')}`;
  if (w.given === 0) {
    return `${at} carries cosignatures by ${w.carried.join(', ') || 'nobody'} (not checked: pass --witness KEY)`;
  }
  const names = w.verified.length > 0 ? ` (${w.verified.join(', ')})` : '';
  return `${at} cosigned by ${w.verified.length} of ${w.given} witnesses${names}, ${w.required} required`;
}

export async function runVerifyExport(
  file: string,
  options: { key?: string; tsaCa?: string; witness?: string[]; minWitnesses?: number },
): Promise<number> {
  let report: ExportReport;
  try {
    const pinnedKey = options.key === undefined ? undefined : pinnedKeyFrom(options.key);
    const tsaCa = options.tsaCa === undefined ? undefined : readTsaCa(options.tsaCa);
    const witness = {
      witnesses: (options.witness ?? []).map(pinnedKeyFrom),
      ...(options.minWitnesses === undefined ? {} : { minWitnesses: options.minWitnesses }),
    };
    report = await verifyExport(file, {
      ...(pinnedKey === undefined ? {} : { pinnedKey }),
      ...(tsaCa === undefined ? {} : { tsaCa }),
      witness,
    });
  } catch (err) {
    if (
      err instanceof ExportFileError ||
      err instanceof PinnedKeyError ||
      err instanceof WitnessOptionError
    ) {
      process.stderr.write(`${printable(`claimtrail verify-export: ${err.message}`)}\n`);
      return 2;
    }
    throw err;
  }
  process.stdout.write(formatReport(file, report));
  return report.ok ? 0 : 1;
}
