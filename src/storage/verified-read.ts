// Reading a blob and checking its bytes against its name on the way (a re-hash on read): for
// copies between stores, `blobs check`, and local copies of S3 objects. The last chunk is held
// back until the hash is known, so a reader of a corrupted blob sees an error instead of a
// complete-looking wrong body.
import { createHash } from 'node:crypto';
import { pipeline, type Readable, Transform } from 'node:stream';
import type { BlobStore } from './blob-store.ts';

export class BlobHashMismatchError extends Error {
  override name = 'BlobHashMismatchError';
  constructor(
    readonly expected: string,
    readonly actual: string,
    readonly size: number,
  ) {
    super(`stored bytes hash to ${actual} (${size} bytes), not ${expected}`);
  }
}

/** `store.read(sha256)`, failing at the end when the bytes do not hash to `sha256`. */
export function verifiedRead(store: Pick<BlobStore, 'read'>, sha256: string): Readable {
  const hash = createHash('sha256');
  let size = 0;
  let held: Buffer | undefined;
  const check = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      size += chunk.length;
      const previous = held;
      held = chunk;
      done(null, previous);
    },
    flush(done) {
      const actual = hash.digest('hex');
      if (actual !== sha256) return done(new BlobHashMismatchError(sha256, actual, size));
      done(null, held);
    },
  });
  return pipeline(store.read(sha256), check, () => {});
}

/** Reads the whole blob and reports its hash and size (never throws for a mismatch). */
export async function hashStored(
  store: Pick<BlobStore, 'read'>,
  sha256: string,
): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of store.read(sha256)) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), size };
}
