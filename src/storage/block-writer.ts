// Writes a stream of bytes to a new file and hashes it (SHA-256), as a ByteSink: each chunk is
// copied into a 1 MiB block during write(), so the producer may reuse its buffer at once. Full
// blocks queue up and go to the file in one writev of up to 8 MiB while the next ones fill, one
// write at a time, with a datasync every 64 MiB so that the final fsync does not have to write
// the whole file at once; the producer is asked to wait once 16 blocks are in use.
// With `hashInWorker`, each full block is hashed on the hash worker (block-hasher.ts) while it
// is written, and the main thread goes on reading the socket: on a 1 GiB download this took
// the hash (~0.7 s of CPU) off the thread that reads (bench/capture.bench.ts: 0.54× → 0.75× of
// openssl). Otherwise each chunk is hashed as it is written (small blobs: no round trip).
// (O_DIRECT writes were tried too: ext4 serialises writes that extend a file, so one write at a
// time plus the final flush gave ~550 MB/s durable on this VM's disk, where page-cache
// writeback reached 1.2 GB/s.)
import { createHash, type Hash } from 'node:crypto';
import { type FileHandle, open } from 'node:fs/promises';
import type { ByteSink } from '../lib/byte-sink.ts';
import { BlockHasher } from './block-hasher.ts';
import { BLOCK_BYTES, type Block, copyInto, giveBlock, takeBlock } from './blocks.ts';

/** Blocks per write (one writev of up to 8 MiB). */
const BLOCKS_PER_WRITE = 8;
/** Blocks queued, being written or being hashed before write() asks the producer to wait. */
const MAX_BLOCKS = 16;
const SYNC_EVERY_BYTES = 64 << 20;

/** writev until every byte is written (a short write happens only when the disk is full). */
async function writeAll(file: FileHandle, buffers: Buffer[], position: number): Promise<void> {
  let rest = buffers;
  let at = position;
  while (rest.length > 0) {
    const { bytesWritten } = await file.writev(rest, at);
    if (bytesWritten === 0) throw new Error('short write');
    at += bytesWritten;
    let skip = bytesWritten;
    const next: Buffer[] = [];
    for (const b of rest) {
      if (skip >= b.length) skip -= b.length;
      else {
        next.push(skip > 0 ? b.subarray(skip) : b);
        skip = 0;
      }
    }
    rest = next;
  }
}

/** A filled block waiting to be written (its first `length` bytes), and its hashing. */
interface Filled {
  block: Block;
  length: number;
  hashed: Promise<void>;
}

export class BlockFileWriter implements ByteSink {
  private block: Block | undefined;
  private filled = 0;
  /** File offset of the first queued block. */
  private position = 0;
  private readonly queued: Filled[] = [];
  /** Blocks taken from the pool and not yet given back (filling, queued, writing, hashing). */
  private held = 0;
  private writing: Promise<void> | undefined;
  private failure: Error | undefined;
  private waiter: { resolve: () => void; reject: (err: Error) => void } | undefined;
  private syncing: Promise<void> = Promise.resolve();
  private unsynced = 0;
  private readonly inline: Hash | undefined;
  private readonly worker: BlockHasher | undefined;
  private hashing: Promise<void> = Promise.resolve();

  /**
   * `file`: the file to write, still being opened (writes wait for it; a failure to open fails
   * the writer). `first`: a block already holding the body's first `length` bytes (a body that
   * outgrew the block it was collected in), taken over as the block being filled.
   */
  constructor(
    private readonly file: Promise<FileHandle>,
    opts: { hashInWorker?: boolean; first?: { block: Block; length: number } } = {},
  ) {
    file.catch((err: Error) => this.fail(err));
    if (opts.hashInWorker) this.worker = new BlockHasher();
    else this.inline = createHash('sha256');
    if (opts.first) {
      const { block, length } = opts.first;
      this.inline?.update(block.buffer.subarray(0, length));
      this.block = block;
      this.held++;
      this.filled = length;
      if (this.filled === BLOCK_BYTES) this.enqueue();
    }
  }

  /** Creates (or truncates) `path`, opened as the first write needs it. */
  static create(path: string, opts: { hashInWorker?: boolean } = {}): BlockFileWriter {
    return new BlockFileWriter(open(path, 'w'), opts);
  }

  write(chunk: Buffer): boolean {
    if (this.failure) throw this.failure;
    this.inline?.update(chunk);
    for (let at = 0; at < chunk.length; ) {
      if (!this.block) {
        this.block = takeBlock();
        this.held++;
      }
      const copied = Math.min(BLOCK_BYTES - this.filled, chunk.length - at);
      copyInto(this.block, this.filled, chunk.subarray(at, at + copied));
      this.filled += copied;
      at += copied;
      if (this.filled === BLOCK_BYTES) this.enqueue();
    }
    return this.held < MAX_BLOCKS;
  }

  drained(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.held < MAX_BLOCKS) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  /** Writes the last partial block, waits for every write, fsyncs, closes; the SHA-256 (hex). */
  async finish(): Promise<string> {
    if (this.filled > 0) this.enqueue();
    while (this.writing || (this.queued.length > 0 && !this.failure)) {
      if (!this.writing) this.startWrite();
      await this.writing;
    }
    await this.hashing;
    if (this.failure) throw this.failure;
    await this.syncing;
    const file = await this.file;
    await file.sync();
    await file.close();
    return this.inline ? this.inline.digest('hex') : this.worker!.digest();
  }

  /** After a failure: lets the write under way end and closes the file. */
  async abort(): Promise<void> {
    this.failure ??= new Error('aborted');
    await this.writing;
    await this.hashing.catch(() => {});
    await this.syncing.catch(() => {});
    for (const f of this.queued.splice(0)) this.release(f);
    if (this.block) this.release({ block: this.block, length: 0, hashed: Promise.resolve() });
    this.block = undefined;
    this.worker?.drop();
    await this.file.then((file) => file.close()).catch(() => {});
  }

  /** The block being filled is complete (or the last one): hash it, queue it for writing. */
  private enqueue(): void {
    const block = this.block!;
    const length = this.filled;
    this.block = undefined;
    this.filled = 0;
    const hashed = this.worker ? this.worker.update(block, length) : Promise.resolve();
    this.hashing = Promise.all([this.hashing, hashed]).then(() => undefined);
    this.hashing.catch((err: Error) => this.fail(err));
    this.queued.push({ block, length, hashed });
    if (!this.writing) this.startWrite();
  }

  private startWrite(): void {
    const batch = this.queued.splice(0, BLOCKS_PER_WRITE);
    const position = this.position;
    const bytes = batch.reduce((n, f) => n + f.length, 0);
    this.position += bytes;
    this.writing = this.writeBatch(batch, position, bytes).then(
      () => this.afterWrite(batch),
      (err: unknown) => {
        this.fail(err);
        this.afterWrite(batch);
      },
    );
  }

  private async writeBatch(batch: Filled[], position: number, bytes: number): Promise<void> {
    const file = await this.file;
    await writeAll(
      file,
      batch.map((f) => f.block.buffer.subarray(0, f.length)),
      position,
    );
    this.unsynced += bytes;
    if (this.unsynced >= SYNC_EVERY_BYTES) {
      this.unsynced = 0;
      this.syncing = this.syncing.then(() => file.datasync());
      this.syncing.catch((err: Error) => this.fail(err));
    }
  }

  private afterWrite(batch: Filled[]): void {
    this.writing = undefined;
    for (const f of batch) this.release(f);
    if (!this.failure && this.queued.length > 0) this.startWrite();
  }

  /** Gives a block back to the pool once the hash worker is done with it too. */
  private release(filled: Filled): void {
    filled.hashed
      .catch(() => {})
      .then(() => {
        giveBlock(filled.block);
        this.held--;
        this.wake();
      });
  }

  private wake(): void {
    const waiter = this.waiter;
    if (!waiter) return;
    if (this.failure) {
      this.waiter = undefined;
      waiter.reject(this.failure);
    } else if (this.held < MAX_BLOCKS) {
      this.waiter = undefined;
      waiter.resolve();
    }
  }

  private fail(err: unknown): void {
    this.failure ??= err instanceof Error ? err : new Error(String(err));
    this.wake();
  }
}
