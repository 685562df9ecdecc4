// Sending stored bytes (evidence content, export files): the same identity headers and the
// same streaming for both.
import { pipeline, type Readable } from 'node:stream';
import type { Request, Response } from 'express';
import type { Logger } from 'pino';
import type { Principal } from '../access/principal.ts';
import type { AppContext } from '../context.ts';
import { readEvidenceContent } from '../evidence/evidence.service.ts';
import { exportFileName, exportMediaType } from '../exports/exports.service.ts';
import type { ExportRow } from '../exports/exports-store.ts';
import { AppError } from '../lib/errors.ts';
import type { ByteRange } from '../storage/blob-store.ts';

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

/**
 * One byte range (RFC 9110 14.2). Several ranges, or a header we cannot parse, are ignored
 * (the whole content is sent, as the RFC allows); a range wholly outside is unsatisfiable.
 */
export function requestedRange(
  header: string | undefined,
  size: number,
): ByteRange | 'unsatisfiable' | undefined {
  if (!header) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (start >= size || end < start) return 'unsatisfiable';
  return { start, end };
}

/**
 * Sends an evidence item's bytes (API content route and web app alike): identity headers plus
 * the caller's `headers` (disposition, CSP), 304 for a matching If-None-Match, one byte range,
 * HEAD; the read itself goes through readEvidenceContent (its `evidence_read` event). `item` is
 * what visibleEvidence returned for `p`. A range
 * wholly outside the item gets `Content-Range: bytes *\/size` and `unsatisfiable(size)` answers
 * (the API with a problem, the web app in plain text).
 */
export async function sendEvidenceContent(
  ctx: AppContext,
  req: Request,
  res: Response,
  p: Principal,
  item: { id: string; sourceId: string; sha256: string; size: number | bigint; mediaType: string },
  headers: Record<string, string>,
  unsatisfiable: (size: number) => void,
): Promise<void> {
  const size = Number(item.size);
  const identity = digestHeaders(item.sha256);
  res.set({
    ...identity,
    'Accept-Ranges': 'bytes',
    'Content-Type': item.mediaType,
    'Cache-Control': 'private, max-age=0, must-revalidate',
    ...headers,
  });
  if (req.headers['if-none-match']?.split(/\s*,\s*/).includes(identity.ETag)) {
    res.status(304).end();
    return;
  }
  const range = requestedRange(req.headers.range, size);
  if (range === 'unsatisfiable') {
    res.set('Content-Range', `bytes */${size}`);
    unsatisfiable(size);
    return;
  }
  if (req.method === 'HEAD') {
    res.set('Content-Length', String(size)).status(200).end();
    return;
  }
  const { stream, length } = await readEvidenceContent(ctx, p, item, range);
  res.set('Content-Length', String(length));
  if (range) res.status(206).set('Content-Range', `bytes ${range.start}-${range.end}/${size}`);
  pipeBlob(res, stream, ctx.log, { evidenceId: item.id });
}
