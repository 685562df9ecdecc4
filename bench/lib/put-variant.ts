// A what-if for the capture benchmark, NOT the code in src/: LocalBlobStore.put()'s write loop
// as it could be, to measure a proposed change in the same run as the real one. Same contract
// (hash in the same pass, temporary file fsynced before the rename, directory fsynced after),
// but
//   - chunks are gathered into `batchBytes` and written with one writev() per batch, and that
//     write is in flight while the next chunks are hashed (at most one write at a time, so the
//     file's bytes stay in order);
//   - with `syncEveryBytes`, a datasync() is started every that many bytes written (at most
//     one at a time, not awaited by the loop), so the page cache is written back while the
//     download goes on and the final fsync only has the tail left.
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, open, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';

export interface VariantOptions {
  batchBytes: number;
  /** 0: no intermediate sync (only the final fsync, as today). */
  syncEveryBytes: number;
}

export interface VariantResult {
  sha256: string;
  size: number;
  /** Seconds from the last chunk to the end (final fsync, rename, directory fsync). */
  tail: number;
  writes: number;
  syncs: number;
}

/** Stores `source` under `<root>/sha256/ab/cd/<hash>` like LocalBlobStore; returns its path too. */
export async function putVariant(
  root: string,
  source: AsyncIterable<Buffer>,
  opts: VariantOptions,
): Promise<VariantResult & { file: string }> {
  const tmpDir = path.join(root, 'tmp');
  await mkdir(tmpDir, { recursive: true });
  const tmp = path.join(tmpDir, `${randomUUID()}.part`);
  const hash = createHash('sha256');
  const file = await open(tmp, 'w');
  let size = 0;
  let written = 0;
  let syncedAt = 0;
  let writes = 0;
  let syncs = 0;
  let batch: Buffer[] = [];
  let batchLength = 0;
  let writing: Promise<unknown> = Promise.resolve();
  let syncing: Promise<unknown> = Promise.resolve();
  const flush = async () => {
    if (batchLength === 0) return;
    await writing; // one write in flight: order kept
    const buffers = batch;
    written += batchLength;
    batch = [];
    batchLength = 0;
    writes++;
    writing = file.writev(buffers);
    if (opts.syncEveryBytes > 0 && written - syncedAt >= opts.syncEveryBytes) {
      await syncing;
      syncedAt = written;
      syncs++;
      // Starts after the write just issued, so it covers everything up to `written`.
      syncing = writing.then(() => file.datasync());
    }
  };
  let lastChunkAt = 0;
  try {
    for await (const chunk of source) {
      size += chunk.length;
      hash.update(chunk);
      batch.push(chunk);
      batchLength += chunk.length;
      if (batchLength >= opts.batchBytes) await flush();
    }
    lastChunkAt = performance.now();
    await flush();
    await writing;
    await syncing;
    await file.sync();
  } catch (err) {
    await writing.catch(() => {});
    await syncing.catch(() => {});
    await file.close().catch(() => {});
    await unlink(tmp).catch(() => {});
    throw err;
  }
  await file.close();
  const sha256 = hash.digest('hex');
  const target = path.join(root, 'sha256', sha256.slice(0, 2), sha256.slice(2, 4), sha256);
  await mkdir(path.dirname(target), { recursive: true });
  await rename(tmp, target);
  const dir = await open(path.dirname(target), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
  return { sha256, size, tail: (performance.now() - lastChunkAt) / 1000, writes, syncs, file: target };
}
