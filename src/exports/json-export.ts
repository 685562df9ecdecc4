// JSON: one document with everything a bag holds except the bytes: the export document, the
// checkpoint and key, and every event (its canonical body parsed, hash, log index and proof).
// Written as a stream; memory does not grow with the number of events. claims, sources and
// evidence come after the events: they are folded from them on the way (ledger-view.ts).
import { type ExportInput, exportHead, exportView, provenLedger } from './export-context.ts';
import { LedgerView } from './ledger-view.ts';

export async function* jsonChunks(input: ExportInput): AsyncGenerator<string> {
  const head = JSON.stringify({
    ...exportHead(input),
    log: {
      origin: input.checkpoint.origin,
      checkpoint: input.checkpoint.note,
      verifierKey: input.verifierKey,
    },
  });
  yield `${head.slice(0, -1)},"events":[`;
  const view = new LedgerView();
  let first = true;
  for await (const rows of provenLedger(input)) {
    let chunk = '';
    for (const r of rows) {
      view.addRow(r);
      chunk += `${first ? '' : ','}\n{"body":${r.body},"hash":"${r.hash}","logIndex":${r.log_index},"proof":${JSON.stringify(r.proof)}}`;
      first = false;
    }
    yield chunk;
    input.advance(rows.length);
  }
  const { claims, sources, evidence } = exportView(view);
  yield `\n],"claims":${JSON.stringify(claims)},"sources":${JSON.stringify(sources)},"evidence":${JSON.stringify(evidence)}}\n`;
}
