// The default blob store: a directory. Blobs live at <root>/sha256/ab/cd/<hash>; writes go to
// <root>/tmp first, are fsynced, then renamed into place (rename is atomic on one file system),
// so a reader never sees a partial blob and a crash leaves at most a temporary file.
import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, rename, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { type ByteSource, pump } from '../lib/byte-sink.ts';
import {
  type BlobStore,
  BlobTooLargeError,
  type BlobWriteResult,
  type ByteRange,
  HEAD_BYTES,
  type PutOptions,
  SHA256_HEX,
} from './blob-store.ts';
import { BlockFileWriter } from './block-writer.ts';

const TMP_KEY = /^[A-Za-z0-9_.-]{1,128}$/;
/** From this announced size on, the hash is computed on the hash worker (block-hasher.ts). */
const WORKER_HASH_FROM_BYTES = 8 << 20;

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
    if (opts.tmpKey !== undefined && !TMP_KEY.test(opts.tmpKey)) throw new Error('bad tmpKey');
    // Each writer has a file of its own, `<tmpKey>.<uuid>.part`. One shared path per key let a
    // retry racing a still-running stalled worker truncate and interleave into the same file,
    // and the first writer to finish renamed a mix of both downloads into place under its own
    // hash (evidence whose bytes do not match its sha256). A retry first removes what earlier
    // writers of its key left (a killed worker's partial file); a live earlier writer then
    // fails at its rename (ENOENT) instead of storing anything.
    if (opts.tmpKey !== undefined) await this.removeTemporary(opts.tmpKey);
    const tmp = path.join(
      this.tmpDir,
      opts.tmpKey === undefined ? `${randomUUID()}.part` : `${opts.tmpKey}.${randomUUID()}.part`,
    );
    const head = Buffer.allocUnsafe(HEAD_BYTES);
    let headLength = 0;
    let size = 0;
    // A blob announced as big is hashed on the hash worker, beside the download.
    const hashInWorker = (opts.expectedBytes ?? 0) >= WORKER_HASH_FROM_BYTES;
    const writer = await BlockFileWriter.create(tmp, { hashInWorker });
    let sha256: string;
    try {
      // One pass: each chunk is counted and copied into the writer (which hashes it) while
      // the producer holds it (a fetch reuses its read buffer once write() returns).
      await pump(source, {
        write(chunk) {
          size += chunk.length;
          if (opts.maxBytes !== undefined && size > opts.maxBytes) throw new BlobTooLargeError(opts.maxBytes);
          if (headLength < HEAD_BYTES) headLength += chunk.copy(head, headLength);
          return writer.write(chunk);
        },
        drained: () => writer.drained(),
      });
      sha256 = await writer.finish();
    } catch (err) {
      await writer.abort();
      await unlink(tmp).catch(() => {});
      throw err;
    }
    if (opts.beforeCommit) {
      try {
        await opts.beforeCommit({ sha256, size });
      } catch (err) {
        await unlink(tmp).catch(() => {});
        throw err;
      }
    }
    const target = this.pathOf(sha256);
    const existing = await stat(target).catch(() => undefined);
    if (existing?.size === size) {
      await unlink(tmp);
      return { sha256, size, head: head.subarray(0, headLength), created: false };
    }
    const dir = path.dirname(target);
    const made = await mkdir(dir, { recursive: true });
    await rename(tmp, target);
    // The new entry must survive a power loss: the blob's in its directory, and each directory
    // just made (sha256/ab, sha256/ab/cd) in its parent.
    for (let d = dir; ; d = path.dirname(d)) {
      await syncDirectory(d);
      if (made === undefined || d === path.dirname(made) || d === this.root) break;
    }
    return { sha256, size, head: head.subarray(0, headLength), created: true };
  }

  /** Removes the partial files of earlier writers of `tmpKey`. */
  private async removeTemporary(tmpKey: string): Promise<void> {
    const prefix = `${tmpKey}.`;
    for (const name of await readdir(this.tmpDir)) {
      if (name.startsWith(prefix) && name.endsWith('.part') && !name.slice(prefix.length, -5).includes('.'))
        await unlink(path.join(this.tmpDir, name)).catch(() => {});
    }
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

/** Makes a rename durable: the new directory entry survives a power loss. */
async function syncDirectory(dir: string): Promise<void> {
  const fd = await open(dir, 'r');
  try {
    await fd.sync();
  } finally {
    await fd.close();
  }
}
