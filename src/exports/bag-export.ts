// BagIt (RFC 8493) export, zipped; the layout is in bag/export-layout.ts and is what
// `claimtrail verify-export` checks offline.
import { addTimestampFiles } from '../anchors/timestamp/bag-timestamps.ts';
import { BagWriter } from './bag/bag-writer.ts';
import {
  CHECKPOINT_FILE,
  contentPath,
  EXPORT_JSON,
  EXPORT_VERSION_LABEL,
  exportDescription,
  KEY_FILE,
  ledgerPath,
  PROOFS_FILE,
  WITNESS_CHECKPOINT_FILE,
  WITNESS_CONSISTENCY_FILE,
  WITNESS_NAMES_LABEL,
  WITNESS_SIZE_LABEL,
} from './bag/export-layout.ts';
import {
  distinctContent,
  EXPORT_VERSION,
  type ExportInput,
  exportDocument,
  exportView,
  provenLedger,
} from './export-context.ts';
import { bySubject, type LedgerRow, streamLedger } from './export-ledger.ts';
import { LedgerView } from './ledger-view.ts';

/** Media is already compressed; deflating it costs time and gains nothing. */
const COMPRESSIBLE = /^(text\/|application\/(json|xml|xhtml))/;

export async function writeBag(
  out: NodeJS.WritableStream,
  input: ExportInput,
  version: string,
): Promise<void> {
  const bag = new BagWriter(out, { bagName: `claimtrail-export-${input.exportId}` });
  // export.json is written last, from the events the chain files hold (one pass over them).
  const ledgerView = new LedgerView();
  try {
    for await (const subject of bySubject(streamLedger(input.pool, input.gathered.subjects))) {
      await bag.addPayload(ledgerPath(subject), linesOf(subject.rows, input, ledgerView));
    }
    const view = exportView(ledgerView);
    await bag.addPayload(PROOFS_FILE, proofLines(input));
    await bag.addPayload(CHECKPOINT_FILE, input.checkpoint.note);
    await bag.addPayload(KEY_FILE, `${input.verifierKey}\n`);
    // RFC 3161 anchors of the checkpoint (issue 15); their bag-info labels say which.
    const timestamped = await addTimestampFiles(bag, input.pool, input.checkpoint.size);
    const { witnessed } = input;
    if (witnessed) {
      await bag.addPayload(WITNESS_CHECKPOINT_FILE, witnessed.note);
      const { from, size: to, proof } = witnessed;
      await bag.addPayload(WITNESS_CONSISTENCY_FILE, `${JSON.stringify({ from, to, proof })}\n`);
    }
    if (input.includeContent) {
      for (const item of distinctContent(view.evidence)) {
        await bag.addPayload(contentPath(item.sha256), countBytes(input.blobs.read(item.sha256), input), {
          compress: COMPRESSIBLE.test(item.mediaType),
          expectedSha256: item.sha256,
          expectedSize: item.size,
        });
      }
    }
    await bag.addPayload(EXPORT_JSON, `${JSON.stringify(exportDocument(input, view), null, 2)}\n`);
    await bag.finish({
      sourceOrganization: 'claimtrail',
      externalIdentifier: input.exportId,
      externalDescription: exportDescription(input.scope),
      bagSoftwareAgent: `claimtrail ${version}`,
      extra: {
        'Checkpoint-Size': String(input.checkpoint.size),
        'Log-Origin': input.checkpoint.origin,
        [EXPORT_VERSION_LABEL]: String(EXPORT_VERSION),
        ...timestamped,
        ...(witnessed && {
          [WITNESS_SIZE_LABEL]: String(witnessed.size),
          [WITNESS_NAMES_LABEL]: witnessed.witnesses.join(', '),
        }),
      },
    });
  } catch (err) {
    bag.abort(err as Error);
    throw err;
  }
}

async function* linesOf(rows: AsyncIterable<LedgerRow>, input: ExportInput, view: LedgerView) {
  let chunk = '';
  let n = 0;
  for await (const r of rows) {
    view.addRow(r);
    chunk += `${r.body}\n`;
    if (++n % 500 === 0) {
      yield chunk;
      chunk = '';
      input.advance(500);
    }
  }
  if (chunk) yield chunk;
  input.advance(n % 500);
}

async function* proofLines(input: ExportInput) {
  for await (const rows of provenLedger(input)) {
    yield rows
      .map((r) => `${JSON.stringify({ hash: r.hash, index: Number(r.log_index), proof: r.proof })}\n`)
      .join('');
    input.advance(rows.length);
  }
}

async function* countBytes(stream: AsyncIterable<Buffer>, input: ExportInput) {
  for await (const chunk of stream) {
    input.advance(chunk.length);
    yield chunk;
  }
}
