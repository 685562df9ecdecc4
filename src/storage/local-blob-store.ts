// The default blob store: a directory. Blobs live at <root>/sha256/ab/cd/<hash>; writes go to
// <root>/tmp first, are fsynced, then renamed into place (rename is atomic on one file system),
// so a reader never sees a partial blob and a crash leaves at most a temporary file.
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, rename, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { BatchedFileWriter } from './batched-writer.ts';
import {
  type BlobStore,
  BlobTooLargeError,
  type BlobWriteResult,
  type ByteRange,
  HEAD_BYTES,
  type PutOptions,
  SHA256_HEX,
} from './blob-store.ts';

const TMP_KEY = /^[A-Za-z0-9_.-]{1,128}$/;

export class LocalBlobStore implements BlobStore {
  private readonly tmpDir: string;
  private readonly ready: Promise<void>;

  constructor(readonly root: string) {
    this.tmpDir = path.join(root, 'tmp');
    this.ready = mkdir(this.tmpDir, { recursive: true }).then(() => undefined);
  }

  pathOf(sha256: string): string {
    if (!SHA256_HEX.test(sha256)) throw new Error(`not a sha256: ${JSON.stringify(sha256)}`);
    return path.join(this.root, 'sha256', sha256.slice(0, 2), sha256.slice(2, 4), sha256);
  }

  async put(source: AsyncIterable<Buffer | Uint8Array>, opts: PutOptions = {}): Promise<BlobWriteResult> {
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
    const hash = createHash('sha256');
    const heads: Buffer[] = [];
    let headLength = 0;
    let size = 0;
    const file = await open(tmp, 'w');
    const writer = new BatchedFileWriter(file);
    try {
      for await (const chunk of source) {
        const buf = Buffer.isBuffer(chunk)
          ? chunk
          : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
        size += buf.length;
        if (opts.maxBytes !== undefined && size > opts.maxBytes) throw new BlobTooLargeError(opts.maxBytes);
        if (headLength < HEAD_BYTES) {
          const part = buf.subarray(0, HEAD_BYTES - headLength);
          heads.push(Buffer.from(part));
          headLength += part.length;
        }
        hash.update(buf);
        await writer.write(buf);
      }
      await writer.finish();
    } catch (err) {
      await writer.settle();
      await file.close().catch(() => {});
      await unlink(tmp).catch(() => {});
      throw err;
    }
    await file.close();
    const sha256 = hash.digest('hex');
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
      return { sha256, size, head: Buffer.concat(heads), created: false };
    }
    await mkdir(path.dirname(target), { recursive: true });
    await rename(tmp, target);
    await syncDirectory(path.dirname(target));
    return { sha256, size, head: Buffer.concat(heads), created: true };
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
        await unlink(p).catch(() => {});
        removed++;
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
