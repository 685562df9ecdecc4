// The default blob store: a directory. Blobs live at <root>/sha256/ab/cd/<hash>; writes go to
// <root>/tmp first, are fsynced, then renamed into place (rename is atomic on one file system),
// so a reader never sees a partial blob and a crash leaves at most a temporary file. A small
// body is written and put in place by a file worker thread in one round trip (incoming-body.ts,
// file-workers.ts); a big one streams to its file here and only its commit goes there.
import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { type ByteSource, pump } from '../lib/byte-sink.ts';
import {
  type BlobStore,
  BlobTooLargeError,
  type BlobWriteResult,
  type ByteRange,
  checkTmpKey,
  HEAD_BYTES,
  type PutOptions,
  SHA256_HEX,
} from './blob-store.ts';
import { commitFile, removeTemporary } from './file-workers.ts';
import { IncomingBody } from './incoming-body.ts';

export class LocalBlobStore implements BlobStore {
  private readonly tmpDir: string;
  private readonly ready: Promise<void>;

  constructor(readonly root: string) {
    this.tmpDir = path.join(root, 'tmp');
    this.ready = mkdir(this.tmpDir, { recursive: true }).then(() => undefined);
    this.ready.catch(() => {}); // seen by put() and sweepTemporary(), not an unhandled rejection
  }

  pathOf(sha256: string): string {
    if (!SHA256_HEX.test(sha256)) throw new Error(`not a sha256: ${JSON.stringify(sha256)}`);
    return path.join(this.root, 'sha256', sha256.slice(0, 2), sha256.slice(2, 4), sha256);
  }

  async put(source: ByteSource, opts: PutOptions = {}): Promise<BlobWriteResult> {
    await this.ready;
    checkTmpKey(opts.tmpKey);
    // Each writer has a file of its own, `<tmpKey>.<uuid>.part`. One shared path per key let a
    // retry racing a still-running stalled worker truncate and interleave into the same file,
    // and the first writer to finish renamed a mix of both downloads into place under its own
    // hash (evidence whose bytes do not match its sha256). A retry first removes what earlier
    // writers of its key left (a killed worker's partial file); a live earlier writer then
    // fails at its rename (ENOENT) instead of storing anything.
    const { tmpKey } = opts;
    const tmp = path.join(
      this.tmpDir,
      tmpKey === undefined ? `${randomUUID()}.part` : `${tmpKey}.${randomUUID()}.part`,
    );
    const body = new IncomingBody(tmp, opts, async () => {
      if (tmpKey !== undefined) await removeTemporary(this.tmpDir, tmpKey);
      return open(tmp, 'w');
    });
    const head = Buffer.allocUnsafe(HEAD_BYTES);
    let headLength = 0;
    let size = 0;
    try {
      await body.drained(); // a body announced big streams to a file: it is there before any byte
      // One pass: each chunk is counted and copied (into the body's block, or into the writer,
      // which hashes it) while the producer holds it (a fetch reuses its read buffer once
      // write() returns).
      await pump(source, {
        write(chunk) {
          size += chunk.length;
          if (opts.maxBytes !== undefined && size > opts.maxBytes) throw new BlobTooLargeError(opts.maxBytes);
          if (headLength < HEAD_BYTES) headLength += chunk.copy(head, headLength);
          return body.write(chunk);
        },
        drained: () => body.drained(),
      });
    } catch (err) {
      await body.abort();
      throw err;
    }
    const result = (sha256: string, created: boolean): BlobWriteResult => ({
      sha256,
      size,
      head: head.subarray(0, headLength),
      created,
    });
    // Most captured bodies: hashed, written, fsynced and put in place in one round trip.
    if (body.small && !opts.beforeCommit) {
      const stored = await body.putSmall(this.root);
      return result(stored.sha256, stored.created);
    }
    const sha256 = await body.finish();
    if (opts.beforeCommit) {
      try {
        await opts.beforeCommit({ sha256, size });
      } catch (err) {
        await unlink(tmp).catch(() => {});
        throw err;
      }
    }
    // The rename into place and the fsync of its directory (and of each directory just made).
    return result(sha256, await commitFile(tmp, this.pathOf(sha256), size, this.root));
  }

  async size(sha256: string): Promise<number | undefined> {
    const s = await stat(this.pathOf(sha256)).catch(() => undefined);
    return s?.size;
  }

  read(sha256: string, range?: ByteRange): Readable {
    return createReadStream(this.pathOf(sha256), range ? { start: range.start, end: range.end } : {});
  }

  async withLocalFile<T>(sha256: string, fn: (p: string) => Promise<T>): Promise<T> {
    return fn(this.pathOf(sha256));
  }

  async sweepTemporary(olderThanMs: number): Promise<number> {
    await this.ready;
    let removed = 0;
    for (const name of await readdir(this.tmpDir)) {
      const p = path.join(this.tmpDir, name);
      const s = await stat(p).catch(() => undefined);
      if (s && Date.now() - s.mtimeMs > olderThanMs) {
        try {
          await unlink(p);
          removed++;
        } catch {
          // gone already (renamed into place, another sweep) or not a file: nothing removed
        }
      }
    }
    return removed;
  }
}
