// Sending stored bytes (evidence content, export files): the same identity headers and the
// same streaming for both.
import { pipeline, type Readable } from 'node:stream';
import type { Response } from 'express';
import type { Logger } from 'pino';
import type { AppContext } from '../context.ts';
import { exportFileName, exportMediaType } from '../exports/exports.service.ts';
import type { ExportRow } from '../exports/exports-store.ts';
import { AppError } from '../lib/errors.ts';

/** ETag and RFC 9530 Repr-Digest of content addressed by its SHA-256. */
export const digestHeaders = (sha256: string) => ({
  ETag: `"sha256-${sha256}"`,
  'Repr-Digest': `sha-256=:${Buffer.from(sha256, 'hex').toString('base64')}:`,
});

/** Pipes `stream` into the response; a read error mid-way cuts the connection (the client
 * sees a short body, never a complete-looking wrong one) and is logged. pipeline() listens
 * for errors on both sides and destroys both: a client that goes away mid-download closes
 * the file too (pipe() left it open, paused for good). */
export function pipeBlob(res: Response, stream: Readable, log: Logger, what: Record<string, unknown>): void {
  pipeline(stream, res, (err) => {
    // Both are destroyed by now. A client leaving early is no failure of ours; a read error is.
    if (!err || (err as NodeJS.ErrnoException).code === 'ERR_STREAM_PREMATURE_CLOSE') return;
    log.error({ ...what, err: err.message }, 'reading stored bytes failed');
  });
}

/** Sends a completed export's file (API download and web app alike): 409 while it is not
 * completed, 410 when its bytes are no longer stored. */
export async function sendExportFile(
  ctx: Pick<AppContext, 'blobs' | 'log'>,
  res: Response,
  row: ExportRow,
): Promise<void> {
  if (row.status !== 'completed' || !row.sha256)
    throw new AppError('conflict', `Export ${row.id} is ${row.status}; download it once it is completed.`);
  const size = await ctx.blobs.size(row.sha256);
  if (size !== Number(row.size))
    throw new AppError('gone', `The file of export ${row.id} is no longer stored.`);
  res.set({
    'Content-Type': exportMediaType(row),
    'Content-Length': String(size),
    'Content-Disposition': `attachment; filename="${exportFileName(row)}"`,
    ...digestHeaders(row.sha256),
  });
  pipeBlob(res, ctx.blobs.read(row.sha256), ctx.log, { exportId: row.id });
}
