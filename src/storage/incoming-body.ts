// A body on its way into the local blob store. A small one (most captured sources) is collected
// in one 1 MiB block and then hashed, written, fsynced and put in place by a file worker in one
// round trip (file-workers.ts). A body announced bigger than a block, or one that outgrows its
// block, streams to a temporary file through a BlockFileWriter (block-writer.ts), which takes
// over the block already filled.
import type { FileHandle } from 'node:fs/promises';
import { unlink } from 'node:fs/promises';
import type { ByteSink } from '../lib/byte-sink.ts';
import { BlockFileWriter } from './block-writer.ts';
import { BLOCK_BYTES, type Block, copyInto, giveBlock, takeBlock } from './blocks.ts';
import { putSmall, writeSmall } from './file-workers.ts';

/** From this announced size on, the hash is computed on the hash worker (block-hasher.ts). */
const WORKER_HASH_FROM_BYTES = 8 << 20;

export class IncomingBody implements ByteSink {
  private block: Block | undefined;
  private length = 0;
  private writer: BlockFileWriter | undefined;
  /** The streamed body's file being opened: the producer waits for it once (see drained). */
  private file: Promise<FileHandle> | undefined;

  /**
   * `tmp`: the temporary file's path; `openFile` creates it for a streamed body (after the
   * partial files of earlier writers of `tmpKey` are removed); a small body's file is made by
   * the file worker, which removes those first too.
   */
  constructor(
    private readonly tmp: string,
    private readonly opts: { expectedBytes?: number; tmpKey?: string },
    private readonly openFile: () => Promise<FileHandle>,
  ) {
    const expected = opts.expectedBytes ?? 0;
    if (expected > BLOCK_BYTES) {
      // A blob announced as big is hashed on the hash worker, beside the download.
      this.writer = new BlockFileWriter(this.open(), { hashInWorker: expected >= WORKER_HASH_FROM_BYTES });
    } else {
      this.block = takeBlock();
    }
  }

  /** Still in its block: putSmall() may store it in one round trip. */
  get small(): boolean {
    return this.writer === undefined;
  }

  write(chunk: Buffer): boolean {
    if (this.writer) return this.writer.write(chunk);
    if (this.length + chunk.length <= BLOCK_BYTES) {
      copyInto(this.block!, this.length, chunk);
      this.length += chunk.length;
      return true;
    }
    // Outgrew the block: from here on it streams to the file, starting with the block.
    this.writer = new BlockFileWriter(this.open(), { first: { block: this.block!, length: this.length } });
    this.block = undefined;
    this.writer.write(chunk);
    return false; // until the file exists (drained)
  }

  /** A streamed body's file exists (so a partial file shows as soon as bytes flow) and the
   * writer takes more. */
  async drained(): Promise<void> {
    if (!this.writer) return;
    if (this.file) {
      const file = this.file;
      this.file = undefined;
      await file;
    }
    await this.writer.drained();
  }

  private open(): Promise<FileHandle> {
    this.file = this.openFile();
    return this.file;
  }

  /** Every byte is in the temporary file, fsynced; the SHA-256 (hex). Nothing is left on failure. */
  async finish(): Promise<string> {
    if (!this.writer) {
      const block = this.takeBack();
      try {
        return await writeSmall({ block, length: this.length, tmp: this.tmp, tmpKey: this.opts.tmpKey });
      } finally {
        giveBlock(block);
      }
    }
    try {
      return await this.writer.finish();
    } catch (err) {
      await this.abort();
      throw err;
    }
  }

  /** A small body written, fsynced and put into `root`'s fan-out. */
  async putSmall(root: string): Promise<{ sha256: string; created: boolean }> {
    const block = this.takeBack();
    try {
      return await putSmall({ block, length: this.length, tmp: this.tmp, tmpKey: this.opts.tmpKey }, root);
    } finally {
      giveBlock(block);
    }
  }

  /** After a failure: the block back to the pool, the writer closed, its file removed. */
  async abort(): Promise<void> {
    if (this.block) giveBlock(this.takeBack());
    if (this.writer) {
      await this.writer.abort();
      await unlink(this.tmp).catch(() => {});
    }
  }

  private takeBack(): Block {
    const block = this.block;
    if (!block) throw new Error('the body is not in its block');
    this.block = undefined;
    return block;
  }
}
