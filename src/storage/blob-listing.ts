// Every blob a store holds, by name and size: what `claimtrail blobs copy` copies and what
// `blobs check` compares with the database. Kept beside the stores rather than in the
// BlobStore interface: jobs and routes never enumerate blobs.
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { SHA256_HEX } from './blob-store.ts';
import { LocalBlobStore } from './local-blob-store.ts';
import type { S3BlobStore } from './s3-blob-store.ts';

export interface ListedBlob {
  sha256: string;
  size: number;
}

export async function* listBlobs(store: LocalBlobStore | S3BlobStore): AsyncGenerator<ListedBlob> {
  if (!(store instanceof LocalBlobStore)) {
    yield* store.listBlobs();
    return;
  }
  // <root>/sha256/ab/cd/<hash>; anything else there is not a blob of ours.
  const top = path.join(store.root, 'sha256');
  for (const a of await names(top)) {
    for (const b of await names(path.join(top, a))) {
      for (const name of await names(path.join(top, a, b))) {
        if (!SHA256_HEX.test(name) || store.pathOf(name) !== path.join(top, a, b, name)) continue;
        const s = await stat(store.pathOf(name)).catch(() => undefined);
        if (s?.isFile()) yield { sha256: name, size: s.size };
      }
    }
  }
}

async function names(dir: string): Promise<string[]> {
  return (await readdir(dir).catch(() => [] as string[])).sort();
}
