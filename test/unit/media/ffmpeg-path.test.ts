// FFMPEG_PATH: a configured ffmpeg must be executable (named when it is not), and `auto`
// finds one (on PATH, else the static copy from npm) that decodes.
import { execFileSync } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { npmStaticBinary } from '../../../src/media/ffprobe.ts';
import { FfmpegUnavailableError, resolveFfmpegPath } from '../../../src/media/video-frames.ts';

const dir = await mkdtemp(join(tmpdir(), 'claimtrail-ffmpeg-path-'));
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('resolveFfmpegPath', () => {
  it('refuses a configured path that does not exist or is not executable, naming it', async () => {
    const missing = join(dir, 'no-such-ffmpeg');
    await expect(resolveFfmpegPath(missing)).rejects.toThrow(FfmpegUnavailableError);
    await expect(resolveFfmpegPath(missing)).rejects.toThrow(missing);
    const script = join(dir, 'fake-ffmpeg');
    await writeFile(script, '#!/bin/sh\nexit 0\n', { mode: 0o644 });
    await expect(resolveFfmpegPath(script)).rejects.toThrow(script);
    await chmod(script, 0o755);
    await expect(resolveFfmpegPath(script)).resolves.toBe(script);
  });

  it('auto: finds an ffmpeg that runs', async () => {
    const found = await resolveFfmpegPath();
    expect(execFileSync(found, ['-version']).toString()).toMatch(/^ffmpeg version/);
  });

  it("the npm static copy is found and runs (auto's fallback when none is on PATH)", async () => {
    const installed = await npmStaticBinary('@ffmpeg-installer/ffmpeg');
    expect(installed).toHaveProperty('path');
    const path = (installed as { path: string }).path;
    expect(execFileSync(path, ['-version']).toString()).toMatch(/^ffmpeg version/);
    expect(await npmStaticBinary('@claimtrail/no-such-package')).toHaveProperty('why');
  });
});
