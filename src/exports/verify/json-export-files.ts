// The JSON export (src/exports/json-export.ts) laid out, in memory, as the bag it mirrors, so
// it gets exactly the bag's checks (contents-check.ts): its document without `events` and
// `log` is data/export.json; each event body, canonicalized again (JCS is deterministic, so a
// body as exported gives back its exact canonical bytes), is a line of its subject's chain
// file; `log` gives the checkpoint and key; each event's {hash, logIndex, proof} is a line of
// proofs.jsonl in the bag's order (export.json subjects, then seq). Problems are named with
// those bag paths. The JSON is parsed whole: it holds no content bytes.
import { readFile } from 'node:fs/promises';
import { canonicalJson } from '../../ledger/canonical.ts';
import { CHECKPOINT_FILE, EXPORT_JSON, KEY_FILE, ledgerPath, PROOFS_FILE } from '../bag/export-layout.ts';
import { decodeUtf8, type ExportFiles, type Line } from './bag-zip.ts';
import type { Problems } from './problems.ts';
import { ambiguousJson } from './strict-json.ts';

/** What one JavaScript string can hold, about; a JSON export beyond it cannot be parsed. */
const MAX_JSON_EXPORT = 512 * 1024 * 1024;

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

// Beside export.json's own fields (view-check.ts), the JSON export holds exactly these: any
// other would be stated with nothing to prove it.
const LOG_FIELDS = new Set(['origin', 'checkpoint', 'verifierKey']);
const EVENT_FIELDS = new Set(['body', 'hash', 'logIndex', 'proof']);

function unknownFields(o: Record<string, unknown>, known: Set<string>, at: string, problems: Problems) {
  for (const k of Object.keys(o))
    if (!known.has(k)) problems.add(`the JSON export's ${at}.${k}: a JSON export has no such field`);
}

export class JsonExportFiles implements ExportFiles {
  readonly files = new Map<string, Buffer>();

  has(path: string): boolean {
    return this.files.has(path);
  }

  async read(path: string, max: number): Promise<Buffer | null> {
    const data = this.files.get(path);
    return data && data.length <= max ? data : null;
  }

  async *lines(path: string, maxLine: number): AsyncGenerator<Line> {
    const data = this.files.get(path) ?? Buffer.alloc(0);
    let no = 0;
    let start = 0;
    for (let nl = data.indexOf(0x0a); nl !== -1; nl = data.indexOf(0x0a, start)) {
      yield { no: ++no, bytes: nl - start > maxLine ? null : data.subarray(start, nl), terminated: true };
      start = nl + 1;
    }
    if (start < data.length) {
      const tooLong = data.length - start > maxLine;
      yield { no: ++no, bytes: tooLong ? null : data.subarray(start), terminated: false };
    }
  }

  /** Reads the JSON export at `path`; null (with the problem recorded) when it is unusable. */
  static async open(path: string, problems: Problems): Promise<JsonExportFiles | null> {
    const bytes = await readFile(path);
    const text = bytes.length <= MAX_JSON_EXPORT ? decodeUtf8(bytes) : null;
    if (text === null) {
      problems.add(`the JSON export is larger than ${MAX_JSON_EXPORT} bytes or not UTF-8`);
      return null;
    }
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (err) {
      problems.add(`the JSON export is not JSON: ${(err as Error).message}`);
      return null;
    }
    for (const p of ambiguousJson(text)) problems.add(`the JSON export at ${p}`);
    if (!isObject(doc)) {
      problems.add('the JSON export is not a JSON object');
      return null;
    }
    const { events, log, ...rest } = doc;
    const files = new JsonExportFiles();
    files.files.set(EXPORT_JSON, Buffer.from(JSON.stringify(rest)));
    if (isObject(log) && typeof log.checkpoint === 'string' && typeof log.verifierKey === 'string') {
      files.files.set(CHECKPOINT_FILE, Buffer.from(log.checkpoint));
      files.files.set(KEY_FILE, Buffer.from(`${log.verifierKey}\n`));
      unknownFields(log, LOG_FIELDS, 'log', problems);
      // The checkpoint (signed) names its origin on its first line; log.origin only repeats it.
      const signed = log.checkpoint.split('\n', 1)[0];
      if (log.origin !== signed)
        problems.add(
          `the JSON export's log.origin is ${JSON.stringify(log.origin)}, its checkpoint's is ${JSON.stringify(signed)}`,
        );
    } else problems.add('the JSON export has no log {checkpoint, verifierKey} strings');
    if (!Array.isArray(events)) {
      problems.add('the JSON export has no events array');
      return files;
    }
    // Chain lines and proof lines per subject file, in the order the events come.
    const chains = new Map<string, { lines: string[]; proofs: string[] }>();
    for (const [i, e] of events.entries()) {
      const body = isObject(e) ? e.body : undefined;
      const subject = isObject(body) ? body.subject : undefined;
      let file: string;
      let line: string;
      try {
        if (!isObject(subject) || typeof subject.type !== 'string' || typeof subject.id !== 'string')
          throw new Error('its body names no subject {type, id}');
        file = ledgerPath({ type: subject.type, id: subject.id });
        line = canonicalJson(body);
      } catch (err) {
        problems.add(`the JSON export's events[${i}]: ${(err as Error).message}`);
        continue;
      }
      unknownFields(e as Record<string, unknown>, EVENT_FIELDS, `events[${i}]`, problems);
      const chain = chains.get(file) ?? { lines: [], proofs: [] };
      chains.set(file, chain);
      chain.lines.push(`${line}\n`);
      const { hash, logIndex, proof } = e as Record<string, unknown>;
      chain.proofs.push(`${JSON.stringify({ hash, index: logIndex, proof })}\n`);
    }
    const order: string[] = [];
    for (const s of Array.isArray(rest.subjects) ? rest.subjects : []) {
      try {
        if (isObject(s)) order.push(ledgerPath({ type: String(s.type), id: String(s.id) }));
      } catch {
        // named by the export.json checks
      }
    }
    const listed = new Set(order);
    for (const file of chains.keys()) if (!listed.has(file)) order.push(file);
    let proofs = '';
    for (const file of order) {
      const chain = chains.get(file);
      if (!chain) continue;
      files.files.set(file, Buffer.from(chain.lines.join('')));
      proofs += chain.proofs.join('');
    }
    files.files.set(PROOFS_FILE, Buffer.from(proofs));
    return files;
  }
}
