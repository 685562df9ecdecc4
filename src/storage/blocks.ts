// 1 MiB blocks of shared memory that a blob write fills, pooled for the life of the process
// (the pool grows to the peak number of blocks in use at once and no further). The hash worker
// (block-hasher.ts) reads a block in place, so nothing is copied or transferred to it.
// (Transferring ordinary ArrayBuffers to the worker and back was measured too: every transfer
// made a new buffer object, and a 1 GiB capture paid 10–18 major GCs for them.)

export const BLOCK_BYTES = 1 << 20;

export interface Block {
  /** Stable id: the hash worker is sent each block's memory once. */
  readonly id: number;
  readonly memory: SharedArrayBuffer;
  readonly buffer: Buffer;
}

const free: Block[] = [];
let allocated = 0;

export function takeBlock(): Block {
  const block = free.pop();
  if (block) return block;
  const memory = new SharedArrayBuffer(BLOCK_BYTES);
  return { id: allocated++, memory, buffer: Buffer.from(memory) };
}

export function giveBlock(block: Block): void {
  free.push(block);
}

/**
 * Copies `source` into `block` at `offset`. Buffer#copy into shared memory goes through V8's
 * atomic-safe element copy, which cost ~0.6 s per GiB in a capture here; Buffer#fill with a
 * buffer of the range's exact length is a plain memcpy in Node's C++.
 */
export function copyInto(block: Block, offset: number, source: Buffer): void {
  if (source.length > 0) block.buffer.fill(source, offset, offset + source.length);
}

/** Blocks allocated so far (for tests). */
export function blocksAllocated(): number {
  return allocated;
}
