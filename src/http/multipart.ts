// Streaming multipart/form-data for uploads: the one `file` part goes straight into the blob
// store (hashed in the same pass), never into memory or a temp directory of ours.
import busboy from 'busboy';
import type { Request } from 'express';
import { AppError } from '../lib/errors.ts';
import { type BlobStore, BlobTooLargeError, type BlobWriteResult } from '../storage/blob-store.ts';

export interface ReceivedUpload {
  blob: BlobWriteResult;
  declaredType: string | null;
  filename: string | null;
}

export function receiveUpload(req: Request, blobs: BlobStore, maxBytes: number): Promise<ReceivedUpload> {
  return new Promise((resolve, reject) => {
    let bb: busboy.Busboy;
    try {
      // fileSize one over the limit: busboy truncates silently at the limit, the store refuses.
      // (No `parts` limit: busboy reports partsLimit once the count is reached, not exceeded.)
      bb = busboy({
        headers: req.headers,
        limits: { files: 1, fields: 0, fileSize: maxBytes + 1 },
      });
    } catch (err) {
      reject(new AppError('bad_request', `Malformed multipart request: ${(err as Error).message}.`));
      return;
    }
    let stored: Promise<ReceivedUpload> | undefined;
    let problem: AppError | undefined;
    // Settles when busboy has read the whole request ('close') or found it malformed ('error').
    let parsed!: { resolve: () => void; reject: (err: Error) => void };
    const whole = new Promise<void>((res, rej) => {
      parsed = { resolve: res, reject: rej };
    });
    whole.catch(() => {});
    const fail = (e: AppError) => {
      problem ??= e;
    };
    bb.on('file', (name, stream, info) => {
      if (name !== 'file' || stored) {
        fail(
          new AppError('validation_failed', 'Send exactly one part, named "file".', [
            { path: `body.${name}`, message: 'unexpected part' },
          ]),
        );
        stream.resume();
        return;
      }
      stored = blobs
        .put(stream, {
          maxBytes,
          // The bytes are put in place only once the whole request is known to be good: a
          // second file, a field after this part or an empty file used to be refused (400) after
          // the blob was stored, leaving unreferenced bytes in the store for good.
          beforeCommit: async ({ size }) => {
            await whole;
            if (problem) throw problem;
            if (size === 0) throw emptyFile();
          },
        })
        .then((blob) => ({
          blob,
          declaredType: info.mimeType && info.mimeType !== 'application/octet-stream' ? info.mimeType : null,
          filename: info.filename ?? null,
        }));
      // A refused file (too large, disk error) ends the request at once: stop parsing and
      // drain what the client still sends, so the 413 goes out without waiting for it all.
      stored.catch((err) => {
        req.unpipe(bb);
        req.resume();
        reject(err instanceof BlobTooLargeError ? tooLarge(maxBytes) : err);
      });
    });
    bb.on('field', (name) =>
      fail(new AppError('validation_failed', `Unexpected field "${name}": send only a "file" part.`)),
    );
    bb.on('filesLimit', () => fail(new AppError('validation_failed', 'Send exactly one file.')));
    bb.on('fieldsLimit', () => fail(new AppError('validation_failed', 'Send only a "file" part.')));
    bb.on('error', (err) => {
      parsed.reject(err as Error);
      reject(new AppError('bad_request', `Malformed multipart body: ${(err as Error).message}.`));
    });
    bb.on('close', async () => {
      parsed.resolve();
      try {
        if (!stored)
          throw (
            problem ??
            new AppError('validation_failed', 'A "file" part is required.', [
              { path: 'body.file', message: 'required' },
            ])
          );
        const result = await stored;
        if (problem) throw problem;
        if (result.blob.size === 0) throw emptyFile();
        resolve(result);
      } catch (err) {
        reject(err instanceof BlobTooLargeError ? tooLarge(maxBytes) : err);
      }
    });
    req.on('aborted', () => bb.destroy(new Error('client aborted the upload')));
    req.pipe(bb);
  });
}

const emptyFile = () =>
  new AppError('validation_failed', 'The file is empty.', [{ path: 'body.file', message: 'empty' }]);

const tooLarge = (maxBytes: number) =>
  new AppError('payload_too_large', `The file is larger than ${maxBytes} bytes.`);
