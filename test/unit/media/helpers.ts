// Paths of the committed media fixtures (scripts/make-media-fixtures.sh) and scratch dirs.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll } from 'vitest';

export const fixture = (name: string) =>
  fileURLToPath(new URL(`../../fixtures/media/${name}`, import.meta.url));

/** A temporary directory removed after the calling test file. */
export async function scratchDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'claimtrail-media-'));
  afterAll(() => rm(dir, { recursive: true, force: true }));
  return dir;
}
