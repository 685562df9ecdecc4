// Paths of the committed media fixtures (scripts/make-media-fixtures.sh), scratch dirs, the
// ffprobe builds found on this machine and the product's duration check.
import { execFileSync } from 'node:child_process';
import { accessSync, constants, realpathSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll } from 'vitest';
import { runChecks } from '../../../src/capture/checks.ts';

export const fixture = (name: string) =>
  fileURLToPath(new URL(`../../fixtures/media/${name}`, import.meta.url));

/** A temporary directory removed after the calling test file. */
export async function scratchDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'claimtrail-media-'));
  afterAll(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * Every distinct ffprobe on this machine: FFPROBE_PATH when set, the first on PATH, and the
 * static build from npm (@ffprobe-installer). Fixture tests run once per build, because
 * builds read the same file differently (Debian's 5.1 takes an MP4's header duration, newer
 * ones the streams'); a machine with both checks both. Deduplicated by real path.
 */
export function ffprobeBuilds(): { label: string; path: string }[] {
  const candidates: string[] = [];
  const configured = process.env.FFPROBE_PATH;
  if (configured && configured !== 'auto') candidates.push(configured);
  const onPath = (process.env.PATH ?? '')
    .split(delimiter)
    .filter(Boolean)
    .map((d) => join(d, 'ffprobe'))
    .find(isExecutableFile);
  if (onPath) candidates.push(onPath);
  try {
    const require = createRequire(import.meta.url);
    candidates.push((require('@ffprobe-installer/ffprobe') as { path: string }).path);
  } catch {
    // No npm build for this platform: PATH's is enough.
  }
  const seen = new Set<string>();
  const builds: { label: string; path: string }[] = [];
  for (const path of candidates.filter(isExecutableFile)) {
    const real = realpathSync(path);
    if (seen.has(real)) continue;
    seen.add(real);
    const version = /^ffprobe version (\S+)/.exec(execFileSync(path, ['-version'], { encoding: 'utf8' }));
    builds.push({ label: `ffprobe ${version?.[1] ?? 'unknown'} (${path})`, path });
  }
  return builds;
}

function isExecutableFile(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** Whether the product's duration check (±DURATION_TOLERANCE_SECONDS) accepts `declared`. */
export function durationCheckPasses(metadata: { durationSeconds: unknown }, declared: number): boolean {
  const [check] = runChecks([{ durationSeconds: declared }], {
    kind: 'video',
    mediaType: 'video/mp4',
    sha256: '',
    metadata,
  });
  return check?.passed === true;
}
