// JSON: one document with everything a bag holds except the bytes: the export document, the
// checkpoint and key, and every event (its canonical body parsed, hash, log index and proof).
// Written as a stream; memory does not grow with the number of events.
import { type ExportInput, exportDocument, provenLedger } from './export-context.ts';

export async function* jsonChunks(input: ExportInput): AsyncGenerator<string> {
  const head = JSON.stringify({
    ...exportDocument(input),
    log: {
      origin: input.checkpoint.origin,
      checkpoint: input.checkpoint.note,
      verifierKey: input.verifierKey,
    },
  });
  yield `${head.slice(0, -1)},"events":[`;
  let first = true;
  for await (const rows of provenLedger(input)) {
    let chunk = '';
    for (const r of rows) {
      chunk += `${first ? '' : ','}\n{"body":${r.body},"hash":"${r.hash}","logIndex":${r.log_index},"proof":${JSON.stringify(r.proof)}}`;
      first = false;
    }
    yield chunk;
    input.advance(rows.length);
  }
  yield '\n]}\n';
}
