// 1 MiB blocks that a blob write fills, pooled for the life of the process (the pool grows to
// the peak number of blocks in use at once and no further). Each block is its own ArrayBuffer,
// so it can be handed to the hash worker (block-hasher.ts) and back without a copy. (Shared
// memory was tried first: copying into a SharedArrayBuffer goes through V8's atomic-safe copy,
// which cost ~0.6 s per GiB here against ~0.1 s into an ordinary one.)

export const BLOCK_BYTES = 1 << 20;

export interface Block {
  /** Replaced when the block comes back from the hash worker (a transfer detaches it). */
  buffer: Buffer;
}

const free: Block[] = [];
let allocated = 0;

export function takeBlock(): Block {
  const block = free.pop();
  if (block) return block;
  allocated++;
  return { buffer: Buffer.from(new ArrayBuffer(BLOCK_BYTES)) };
}

export function giveBlock(block: Block): void {
  if (block.buffer.byteLength === BLOCK_BYTES) free.push(block); // a lost (detached) one is dropped
}

/** Blocks allocated so far (for tests). */
export function blocksAllocated(): number {
  return allocated;
}
