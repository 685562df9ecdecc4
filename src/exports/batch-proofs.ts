// Inclusion proofs for many leaves with one database round trip per batch. Which stored
// hashes a proof needs depends only on the leaf index and tree size, so a first pass with a
// reader that only records the indexes learns them all; one query fetches them; a second pass
// builds the proofs from memory.
import { type HashReader, proveRecord, proveRecordIndexes } from '../log/merkle.ts';

export async function proveRecords(
  size: number,
  leaves: readonly number[],
  read: HashReader,
): Promise<Buffer[][]> {
  const wanted = new Set<number>();
  for (const n of leaves) for (const i of proveRecordIndexes(size, n)) wanted.add(i);
  const indexes = [...wanted];
  const hashes = await read(indexes);
  const byIndex = new Map(indexes.map((idx, k) => [idx, hashes[k]!]));
  const fromMemory: HashReader = async (idx) => idx.map((i) => byIndex.get(i)!);
  const proofs: Buffer[][] = [];
  for (const n of leaves) proofs.push(await proveRecord(size, n, fromMemory));
  return proofs;
}
