// Inclusion proofs for many leaves with one database round trip per batch. Which stored
// hashes a proof needs depends only on the leaf index and tree size, so a first pass with a
// reader that only records the indexes learns them all; one query fetches them; a second pass
// builds the proofs from memory.
import { HASH_SIZE, type HashReader, proveRecord } from '../log/merkle.ts';

export async function proveRecords(
  size: number,
  leaves: readonly number[],
  read: HashReader,
): Promise<Buffer[][]> {
  const wanted = new Set<number>();
  const zero = Buffer.alloc(HASH_SIZE);
  const recorder: HashReader = async (indexes) => {
    for (const i of indexes) wanted.add(i);
    return indexes.map(() => zero);
  };
  for (const n of leaves) await proveRecord(size, n, recorder);
  const indexes = [...wanted];
  const hashes = await read(indexes);
  const byIndex = new Map(indexes.map((idx, k) => [idx, hashes[k]!]));
  const fromMemory: HashReader = async (idx) => idx.map((i) => byIndex.get(i)!);
  const proofs: Buffer[][] = [];
  for (const n of leaves) proofs.push(await proveRecord(size, n, fromMemory));
  return proofs;
}
