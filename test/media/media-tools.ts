// What the perceptual-hash tests share: the reference vectors, an ffmpeg to make videos with
// (Debian's on PATH, else the @ffmpeg-installer copy from devDependencies), scratch files.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll } from 'vitest';
import { resolveFfmpegPath } from '../../src/media/video-frames.ts';

export const root = fileURLToPath(new URL('../../', import.meta.url));
export const mediaFixtures = join(root, 'test/fixtures/media');
export const vectorDir = join(root, '../shared/vectors/pdq');

export interface Vector {
  file: string;
  pdq: string;
}

export const vectors: { tolerance_bits: number; vectors: Vector[] } = JSON.parse(
  readFileSync(join(vectorDir, 'expected.json'), 'utf8'),
);

export const vectorPath = (file: string) => join(vectorDir, file);

/** The vector whose file name contains `part` (exactly one). */
export function vector(part: string): Vector {
  const found = vectors.vectors.filter((v) => v.file.includes(part));
  if (found.length !== 1) throw new Error(`${found.length} vectors match ${part}`);
  return found[0]!;
}

export async function testFfmpeg(): Promise<string> {
  try {
    return await resolveFfmpegPath();
  } catch {
    return (createRequire(import.meta.url)('@ffmpeg-installer/ffmpeg') as { path: string }).path;
  }
}

const run = promisify(execFile);

/** Runs ffmpeg quietly (overwriting outputs). */
export async function ffmpeg(...args: string[]): Promise<void> {
  await run(await testFfmpeg(), ['-hide_banner', '-loglevel', 'error', '-nostdin', '-y', ...args]);
}

/** A scratch directory for this test file, removed after its tests. */
export async function scratchDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'claimtrail-pdq-'));
  afterAll(() => rm(dir, { recursive: true, force: true }));
  return dir;
}
