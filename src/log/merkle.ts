// RFC 6962 / RFC 9162 Merkle tree hashing with the stored-hash layout of Go's
// golang.org/x/mod/sumdb/tlog (tile-free path), ported function by function so that proofs
// produced here are accepted by tlog.CheckRecord / tlog.CheckTree and vice versa.
//
// Indexes are JavaScript numbers. Every computation uses arithmetic (never 32-bit bitwise
// operators), so record numbers and stored-hash indexes are exact up to 2^53. A stored-hash
// index is about twice the record number, so a log may hold up to 2^52 records; functions
// throw a RangeError rather than lose precision beyond that.
import { createHash, hash } from 'node:crypto';

/** Size in bytes of every hash in the log (SHA-256). */
export const HASH_SIZE = 32;

/**
 * Reads stored hashes by stored-hash index (see {@link storedHashIndex}). Must resolve to one
 * 32-byte hash per requested index, in the same order. Every function here calls it at most
 * once per operation, with indexes in increasing order, so one `WHERE idx = ANY($1)` suffices.
 */
export type HashReader = (indexes: number[]) => Promise<Buffer[]>;

/** A hash to persist at a stored-hash index. */
export interface StoredHash {
  index: number;
  hash: Buffer;
}

/**
 * Root hash of the empty tree: SHA-256 of the empty string, as RFC 6962 section 2.1 defines
 * MTH({}). (Go's tlog.TreeHash(0) returns 32 zero bytes instead; tlog never checks proofs
 * against a tree of size 0, and C2SP checkpoints require the RFC 6962 value.)
 */
export const EMPTY_TREE_HASH: Buffer = createHash('sha256').digest();

const LEAF_PREFIX = Buffer.from([0x00]);
const NODE_PREFIX = Buffer.from([0x01]);
// One-shot hashing of the prefixed input assembled in a scratch buffer: no Hash object per
// node (verification and the sequencer hash two nodes per leaf, millions of times).
const scratch = Buffer.alloc(1 + 2 * HASH_SIZE);

/** Leaf hash: SHA-256(0x00 ‖ data). In our log `data` is the 32-byte event hash. */
export function hashLeaf(data: Uint8Array): Buffer {
  if (data.length !== HASH_SIZE) return createHash('sha256').update(LEAF_PREFIX).update(data).digest();
  scratch[0] = 0x00;
  scratch.set(data, 1);
  return hash('sha256', scratch.subarray(0, 1 + HASH_SIZE), 'buffer');
}

/** Interior node hash: SHA-256(0x01 ‖ left ‖ right). */
export function hashChildren(left: Uint8Array, right: Uint8Array): Buffer {
  if (left.length !== HASH_SIZE || right.length !== HASH_SIZE) {
    return createHash('sha256').update(NODE_PREFIX).update(left).update(right).digest();
  }
  scratch[0] = 0x01;
  scratch.set(left, 1);
  scratch.set(right, 1 + HASH_SIZE);
  return hash('sha256', scratch, 'buffer');
}

function checkCount(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`merkle: ${name} must be a non-negative safe integer, got ${value}`);
  }
}

/** n >> l without 32-bit truncation. */
const shr = (n: number, l: number): number => Math.floor(n / 2 ** l);

/** Number of trailing 1 bits of n (= trailing zeros of n + 1). */
function trailingOnes(n: number): number {
  let count = 0;
  for (let x = n; x % 2 === 1; x = (x - 1) / 2) count++;
  return count;
}

/** k, the largest power of two smaller than n (n ≥ 2), and l = log2 k. */
function maxpow2(n: number): { k: number; l: number } {
  // l = floor(log2(n - 1)); Math.clz32 is exact while n - 1 fits in 32 bits.
  if (n <= 2 ** 32) {
    const l = n <= 2 ? 0 : 31 - Math.clz32(n - 1);
    return { k: 2 ** l, l };
  }
  let l = 32;
  while (2 ** (l + 1) < n) l++;
  return { k: 2 ** l, l };
}

/**
 * Maps tree coordinates (level, n) — the n-th hash at that level, level 0 being leaves — to
 * the dense linear ordering used for storage: a hash is stored right after its right child
 * (level-1, 2n+1), i.e. in the order hashes become computable while records are appended.
 * Invariant: splitStoredHashIndex(storedHashIndex(level, n)) = {level, n}.
 */
export function storedHashIndex(level: number, n: number): number {
  checkCount('level', level);
  checkCount('n', n);
  let m = n;
  for (let l = level; l > 0; l--) m = 2 * m + 1;
  let i = 0;
  for (; m > 0; m = Math.floor(m / 2)) i += m;
  const index = i + level;
  checkCount('stored hash index', index);
  return index;
}

/** Inverse of {@link storedHashIndex}. */
export function splitStoredHashIndex(index: number): { level: number; n: number } {
  checkCount('index', index);
  // storedHashIndex(0, n) < 2n, so the record we want is in [index/2, index/2 + log2(index)].
  let n = Math.floor(index / 2);
  let indexN = storedHashIndex(0, n);
  if (indexN > index) throw new Error('merkle: bad math in splitStoredHashIndex');
  for (;;) {
    // Record n adds 1 + trailingOnes(n) hashes.
    const x = indexN + 1 + trailingOnes(n);
    if (x > index) break;
    n++;
    indexN = x;
  }
  const level = index - indexN;
  return { level, n: shr(n, level) };
}

/**
 * Number of stored hashes for a tree of n records. Invariant: equals the total length of the
 * storedHashes results for records 0..n-1, and equals storedHashIndex(0, n).
 */
export function storedHashCount(n: number): number {
  checkCount('n', n);
  if (n === 0) return 0;
  return storedHashIndex(0, n - 1) + 1 + trailingOnes(n - 1);
}

async function readChecked(read: HashReader, indexes: number[]): Promise<Buffer[]> {
  const hashes = await read(indexes);
  if (hashes.length !== indexes.length) {
    throw new Error(`merkle: readHashes(${indexes.length} indexes) returned ${hashes.length} hashes`);
  }
  for (const [i, h] of hashes.entries()) {
    if (h.length !== HASH_SIZE) {
      throw new Error(`merkle: readHashes returned a ${h.length}-byte hash for index ${indexes[i]}`);
    }
  }
  return hashes;
}

/**
 * The hashes to store when appending record n whose leaf hash is `leafHash` (tlog
 * StoredHashesForRecordHash). They go at consecutive indexes starting at storedHashIndex(0, n):
 * the leaf hash, then the root of every subtree that record n completes. Reads the at most
 * log2(n) left siblings in one call, and does not call the reader when there are none.
 */
export async function storedHashesForRecordHash(
  n: number,
  leafHash: Uint8Array,
  read: HashReader,
): Promise<Buffer[]> {
  checkCount('n', n);
  let h: Buffer = Buffer.from(leafHash);
  const hashes: Buffer[] = [h];
  const m = trailingOnes(n);
  if (m === 0) return hashes;
  const indexes = new Array<number>(m);
  for (let i = 0; i < m; i++) indexes[m - 1 - i] = storedHashIndex(i, shr(n, i) - 1);
  const old = await readChecked(read, indexes);
  for (let i = 0; i < m; i++) {
    h = hashChildren(old[m - 1 - i]!, h);
    hashes.push(h);
  }
  return hashes;
}

/** Like {@link storedHashesForRecordHash} but takes the leaf data (tlog StoredHashes). */
export function storedHashes(n: number, leafData: Uint8Array, read: HashReader): Promise<Buffer[]> {
  return storedHashesForRecordHash(n, hashLeaf(leafData), read);
}

/**
 * The hashes to store when appending records start .. start+k-1 (k = leafData.length) in one
 * batch. Equivalent to calling {@link storedHashes} for each record in turn, but hashes
 * produced inside the batch are kept in memory and the reader is called at most once, for the
 * at most log2(start)+1 roots of the existing tree's right edge (all with index < the first
 * new index). Result: `{index, hash}` for the contiguous indexes
 * storedHashCount(start) .. storedHashCount(start + k) - 1, in increasing order.
 */
export async function storedHashesForBatch(
  start: number,
  leafData: readonly Uint8Array[],
  read: HashReader,
): Promise<StoredHash[]> {
  checkCount('start', start);
  checkCount('end', start + leafData.length);
  const first = storedHashIndex(0, start);
  const external = new Set<number>();
  for (let n = start; n < start + leafData.length; n++) {
    for (let i = 0, m = trailingOnes(n); i < m; i++) {
      const index = storedHashIndex(i, shr(n, i) - 1);
      if (index < first) external.add(index);
    }
  }
  const known = new Map<number, Buffer>();
  const needed = [...external].sort((a, b) => a - b);
  if (needed.length > 0) {
    const hashes = await readChecked(read, needed);
    for (const [i, index] of needed.entries()) known.set(index, hashes[i]!);
  }
  const out: StoredHash[] = [];
  let next = first;
  for (const [j, data] of leafData.entries()) {
    const n = start + j;
    let h = hashLeaf(data);
    out.push({ index: next, hash: h });
    known.set(next++, h);
    for (let i = 0, m = trailingOnes(n); i < m; i++) {
      const left = known.get(storedHashIndex(i, shr(n, i) - 1));
      if (!left) throw new Error('merkle: bad math in storedHashesForBatch');
      h = hashChildren(left, h);
      out.push({ index: next, hash: h });
      known.set(next++, h);
    }
  }
  return out;
}

/** Cursor over hashes returned by the reader, consumed in the order their indexes were listed. */
interface Cursor {
  hashes: Buffer[];
  pos: number;
}

/** Appends the stored-hash indexes needed to compute the hash of the subtree of records [lo, hi). */
function subTreeIndex(lo: number, hi: number, need: number[]): number[] {
  let x = lo;
  while (x < hi) {
    const { k, l } = maxpow2(hi - x + 1);
    if (x % k !== 0) throw new Error('merkle: bad math in subTreeIndex');
    need.push(storedHashIndex(l, x / k));
    x += k;
  }
  return need;
}

/** Hash of the subtree [lo, hi) from the hashes listed by subTreeIndex(lo, hi). */
function subTreeHash(lo: number, hi: number, c: Cursor): Buffer {
  let numTree = 0;
  for (let x = lo; x < hi; numTree++) x += maxpow2(hi - x + 1).k;
  if (c.hashes.length - c.pos < numTree) throw new Error('merkle: bad index math in subTreeHash');
  let h = c.hashes[c.pos + numTree - 1]!;
  for (let i = numTree - 2; i >= 0; i--) h = hashChildren(c.hashes[c.pos + i]!, h);
  c.pos += numTree;
  return h;
}

/**
 * Root hash of the tree with n records (tlog TreeHash), from hashes stored by
 * storedHashes for records 0..n-1. One reader call for at most 1 + log2(n) hashes; none for n = 0
 * (which yields {@link EMPTY_TREE_HASH}).
 */
export async function treeHash(n: number, read: HashReader): Promise<Buffer> {
  checkCount('n', n);
  if (n === 0) return EMPTY_TREE_HASH;
  const indexes = subTreeIndex(0, n, []);
  const c: Cursor = { hashes: await readChecked(read, indexes), pos: 0 };
  const h = subTreeHash(0, n, c);
  if (c.pos !== c.hashes.length) throw new Error('merkle: bad index math in treeHash');
  return h;
}

function leafProofIndex(lo: number, hi: number, n: number, need: number[]): number[] {
  if (!(lo <= n && n < hi)) throw new Error('merkle: bad math in leafProofIndex');
  if (lo + 1 === hi) return need;
  const { k } = maxpow2(hi - lo);
  if (n < lo + k) {
    leafProofIndex(lo, lo + k, n, need);
    subTreeIndex(lo + k, hi, need);
  } else {
    subTreeIndex(lo, lo + k, need);
    leafProofIndex(lo + k, hi, n, need);
  }
  return need;
}

function leafProof(lo: number, hi: number, n: number, c: Cursor): Buffer[] {
  if (!(lo <= n && n < hi)) throw new Error('merkle: bad math in leafProof');
  if (lo + 1 === hi) return []; // The verifier knows the leaf hash.
  const { k } = maxpow2(hi - lo);
  let p: Buffer[];
  let th: Buffer;
  if (n < lo + k) {
    p = leafProof(lo, lo + k, n, c);
    th = subTreeHash(lo + k, hi, c);
  } else {
    th = subTreeHash(lo, lo + k, c);
    p = leafProof(lo + k, hi, n, c);
  }
  p.push(th);
  return p;
}

/** The stored-hash indexes proveRecord(t, n) reads, in the order it reads them (no hashing). */
export function proveRecordIndexes(t: number, n: number): number[] {
  checkCount('t', t);
  checkCount('n', n);
  if (n >= t) throw new RangeError(`merkle: invalid inputs to proveRecord(t=${t}, n=${n})`);
  return leafProofIndex(0, t, n, []);
}

/**
 * Inclusion proof (RFC 6962 audit path, leaf to root) that the tree of size t contains record n
 * (tlog ProveRecord). Requires 0 ≤ n < t. One reader call (none when t = 1).
 */
export async function proveRecord(t: number, n: number, read: HashReader): Promise<Buffer[]> {
  const indexes = proveRecordIndexes(t, n);
  if (indexes.length === 0) return [];
  const c: Cursor = { hashes: await readChecked(read, indexes), pos: 0 };
  const p = leafProof(0, t, n, c);
  if (c.pos !== c.hashes.length) throw new Error('merkle: bad index math in proveRecord');
  return p;
}

function treeProofIndex(lo: number, hi: number, n: number, need: number[]): number[] {
  if (!(lo < n && n <= hi)) throw new Error('merkle: bad math in treeProofIndex');
  if (n === hi) return lo === 0 ? need : subTreeIndex(lo, hi, need);
  const { k } = maxpow2(hi - lo);
  if (n <= lo + k) {
    treeProofIndex(lo, lo + k, n, need);
    subTreeIndex(lo + k, hi, need);
  } else {
    subTreeIndex(lo, lo + k, need);
    treeProofIndex(lo + k, hi, n, need);
  }
  return need;
}

function treeProof(lo: number, hi: number, n: number, c: Cursor): Buffer[] {
  if (!(lo < n && n <= hi)) throw new Error('merkle: bad math in treeProof');
  if (n === hi) return lo === 0 ? [] : [subTreeHash(lo, hi, c)];
  const { k } = maxpow2(hi - lo);
  let p: Buffer[];
  let th: Buffer;
  if (n <= lo + k) {
    p = treeProof(lo, lo + k, n, c);
    th = subTreeHash(lo + k, hi, c);
  } else {
    th = subTreeHash(lo, lo + k, c);
    p = treeProof(lo + k, hi, n, c);
  }
  p.push(th);
  return p;
}

/**
 * Consistency proof (RFC 6962 section 2.1.2) that the tree of size t contains the tree of size n
 * as a prefix (tlog ProveTree). Requires 1 ≤ n ≤ t; empty when n = t. One reader call at most.
 */
export async function proveTree(t: number, n: number, read: HashReader): Promise<Buffer[]> {
  checkCount('t', t);
  checkCount('n', n);
  if (n < 1 || n > t) throw new RangeError(`merkle: invalid inputs to proveTree(t=${t}, n=${n})`);
  const indexes = treeProofIndex(0, t, n, []);
  if (indexes.length === 0) return [];
  const c: Cursor = { hashes: await readChecked(read, indexes), pos: 0 };
  const p = treeProof(0, t, n, c);
  if (c.pos !== c.hashes.length) throw new Error('merkle: bad index math in proveTree');
  return p;
}

const isHash = (h: Uint8Array): boolean => h.length === HASH_SIZE;
const isCount = (v: number): boolean => Number.isSafeInteger(v) && v >= 0;

/** Root implied by proof p[0..end) for leaf n in subtree [lo, hi), or null if p does not fit. */
function runRecordProof(
  p: readonly Uint8Array[],
  end: number,
  lo: number,
  hi: number,
  n: number,
  leaf: Buffer,
): Buffer | null {
  if (lo + 1 === hi) return end === 0 ? leaf : null; // No unnecessary hashes allowed.
  if (end === 0) return null;
  const { k } = maxpow2(hi - lo);
  const sibling = p[end - 1]!;
  if (n < lo + k) {
    const th = runRecordProof(p, end - 1, lo, lo + k, n, leaf);
    return th && hashChildren(th, sibling);
  }
  const th = runRecordProof(p, end - 1, lo + k, hi, n, leaf);
  return th && hashChildren(sibling, th);
}

/**
 * Whether `proof` shows that the tree of size t with root hash th has, at index n, the record
 * whose leaf hash is h (= hashLeaf(eventHash)) (tlog CheckRecord). Returns false — never
 * throws — for any bad input: wrong sizes, wrong hash lengths, extra or missing proof hashes.
 */
export function checkRecord(
  proof: readonly Uint8Array[],
  t: number,
  th: Uint8Array,
  n: number,
  h: Uint8Array,
): boolean {
  if (!isCount(t) || !isCount(n) || n >= t || !isHash(th) || !isHash(h) || !proof.every(isHash)) {
    return false;
  }
  const root = runRecordProof(proof, proof.length, 0, t, n, Buffer.from(h));
  return root?.equals(th) ?? false;
}

type TreePair = { old: Buffer; cur: Buffer } | null;

/** Old-tree and new-tree hashes of subtree [lo, hi) implied by p[0..end), or null. */
function runTreeProof(
  p: readonly Uint8Array[],
  end: number,
  lo: number,
  hi: number,
  n: number,
  old: Buffer,
): TreePair {
  if (n === hi) {
    if (lo === 0) return end === 0 ? { old, cur: old } : null;
    if (end !== 1) return null;
    const h = Buffer.from(p[0]!);
    return { old: h, cur: h };
  }
  if (end === 0) return null;
  const { k } = maxpow2(hi - lo);
  const sibling = p[end - 1]!;
  if (n <= lo + k) {
    const r = runTreeProof(p, end - 1, lo, lo + k, n, old);
    return r && { old: r.old, cur: hashChildren(r.cur, sibling) };
  }
  const r = runTreeProof(p, end - 1, lo + k, hi, n, old);
  return r && { old: hashChildren(sibling, r.old), cur: hashChildren(sibling, r.cur) };
}

/**
 * Whether `proof` shows that the tree of size t with root th contains as a prefix the tree of
 * size n with root h (tlog CheckTree). Requires 1 ≤ n ≤ t. Returns false, never throws, on
 * any bad input.
 */
export function checkTree(
  proof: readonly Uint8Array[],
  t: number,
  th: Uint8Array,
  n: number,
  h: Uint8Array,
): boolean {
  if (!isCount(t) || !isCount(n) || n < 1 || n > t || !isHash(th) || !isHash(h) || !proof.every(isHash)) {
    return false;
  }
  const r = runTreeProof(proof, proof.length, 0, t, n, Buffer.from(h));
  if (!r) return false;
  return r.old.equals(h) && r.cur.equals(th);
}
