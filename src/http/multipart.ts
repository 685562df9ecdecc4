// Streaming multipart/form-data for uploads: the one `file` part goes straight into the blob
// store (hashed in the same pass), never into memory or a temp directory of ours.
//
// Every stream here has an error listener from the moment it exists: busboy, each file stream
// (the one we keep and any we discard), and the request. An 'error' with no listener throws
// out of the event loop and takes the whole process down (API, workers and sequencer in
// `start`) — one truncated body did exactly that. The promise settles only after the blob
// store has finished with the file stream, so a refused upload has removed its temporary file
// before the answer goes out.
import busboy from 'busboy';
import type { Request } from 'express';
import { AppError } from '../lib/errors.ts';
import { type BlobStore, BlobTooLargeError, type BlobWriteResult } from '../storage/blob-store.ts';

export interface ReceivedUpload {
  blob: BlobWriteResult;
  declaredType: string | null;
  filename: string | null;
}

/** Errors of a stream we have handed elsewhere or discarded: the outcome is decided elsewhere. */
const ignore = () => {};

export function receiveUpload(req: Request, blobs: BlobStore, maxBytes: number): Promise<ReceivedUpload> {
  return new Promise((resolve, reject) => {
    let bb: busboy.Busboy;
    try {
      // fileSize one over the limit: busboy truncates silently at the limit, the store refuses.
      // parts: 2 is reached only when a second part has ended (refused anyway); past it busboy
      // stops parsing part headers, so a body of a million tiny parts costs little.
      bb = busboy({
        headers: req.headers,
        limits: { files: 1, fields: 0, parts: 2, fileSize: maxBytes + 1 },
      });
    } catch (err) {
      req.resume();
      reject(new AppError('bad_request', `Malformed multipart request: ${(err as Error).message}.`));
      return;
    }
    let stored: Promise<ReceivedUpload> | undefined;
    let problem: AppError | undefined;
    let malformed: Error | undefined;
    // Settles when busboy has read the whole request ('close') or found it malformed ('error').
    let parsed!: { resolve: () => void; reject: (err: Error) => void };
    const whole = new Promise<void>((res, rej) => {
      parsed = { resolve: res, reject: rej };
    });
    whole.catch(ignore);
    const fail = (e: AppError) => {
      problem ??= e;
    };
    let settled = false;
    /** The one way out: waits for the blob store to let go of the file, then answers. */
    const finish = async () => {
      if (settled) return;
      settled = true;
      try {
        const result = await stored?.catch((err: unknown) => {
          if (err instanceof BlobTooLargeError) throw tooLarge(maxBytes);
          // The store failed because the stream did: the malformed body is the answer.
          if (malformed) return undefined;
          throw err;
        });
        if (malformed) throw badBody(malformed);
        if (problem) throw problem;
        if (!result)
          throw new AppError('validation_failed', 'A "file" part is required.', [
            { path: 'body.file', message: 'required' },
          ]);
        if (result.blob.size === 0) throw emptyFile();
        resolve(result);
      } catch (err) {
        reject(err);
      }
    };
    /** Stops reading: the rest of the body is drained (not parsed) so the answer can go out. */
    const abandon = (err: Error) => {
      malformed ??= err;
      parsed.reject(err);
      req.unpipe(bb);
      req.resume();
      if (!bb.destroyed) bb.destroy(err); // also destroys the current file stream, if any
      void finish();
    };

    bb.on('file', (name, stream, info) => {
      stream.on('error', ignore);
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
      stored.catch(() => {
        if (malformed || settled) return;
        req.unpipe(bb);
        req.resume();
        void finish();
      });
    });
    bb.on('field', (name) =>
      fail(new AppError('validation_failed', `Unexpected field "${name}": send only a "file" part.`)),
    );
    bb.on('filesLimit', () => fail(new AppError('validation_failed', 'Send exactly one file.')));
    bb.on('fieldsLimit', () => fail(new AppError('validation_failed', 'Send only a "file" part.')));
    bb.on('partsLimit', () => fail(new AppError('validation_failed', 'Send exactly one part.')));
    bb.on('error', (err: Error) => abandon(err));
    bb.on('close', () => {
      parsed.resolve();
      void finish();
    });
    req.on('error', (err) => abandon(err));
    // A client that goes away mid-body: busboy would otherwise wait for the rest forever.
    req.on('close', () => {
      if (!req.complete) abandon(new Error('the client closed the connection before the body ended'));
    });
    req.pipe(bb);
  });
}

const badBody = (err: Error) => new AppError('bad_request', `Malformed multipart body: ${err.message}.`);

const emptyFile = () =>
  new AppError('validation_failed', 'The file is empty.', [{ path: 'body.file', message: 'empty' }]);

const tooLarge = (maxBytes: number) =>
  new AppError('payload_too_large', `The file is larger than ${maxBytes} bytes.`);
