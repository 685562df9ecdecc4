// Which yt-dlp the platform step runs, and its version (recorded in every platform event).
// YTDLP_PATH names one; `auto` asks the shell where `yt-dlp` is on PATH (so this module does not
// read the environment); `off`, or none there, means no platform step. The runs themselves get
// an absolute path and a fixed PATH of their own (run-ytdlp.ts).
import { execFile } from 'node:child_process';
import { isAbsolute } from 'node:path';
import { promisify } from 'node:util';
import { isExecutable } from '../../media/ffprobe.ts';

const run = promisify(execFile);
const CHECK_TIMEOUT_MS = 20_000;

export interface Ytdlp {
  path: string;
  version: string;
}

/** The absolute path of `name` on the worker's PATH, or null. */
export async function onPath(name: string): Promise<string | null> {
  try {
    const { stdout } = await run('sh', ['-c', 'command -v "$1"', 'sh', name], { timeout: CHECK_TIMEOUT_MS });
    const path = stdout.trim();
    return isAbsolute(path) && (await isExecutable(path)) ? path : null;
  } catch {
    return null; // `command -v` exits 1 when there is none
  }
}

/** yt-dlp and its version, or null (`off`, not found, not executable, or it does not run). */
export async function findYtdlp(configured: string): Promise<Ytdlp | null> {
  if (configured === 'off') return null;
  const path = configured === 'auto' ? await onPath('yt-dlp') : configured;
  if (!path || !(await isExecutable(path))) return null;
  try {
    const { stdout } = await run(path, ['--ignore-config', '--version'], {
      timeout: CHECK_TIMEOUT_MS,
      env: { PATH: '/usr/local/bin:/usr/bin:/bin', LANG: 'C.UTF-8' },
    });
    const version = stdout.trim().split('\n')[0]?.slice(0, 64);
    return version ? { path, version } : null;
  } catch {
    return null;
  }
}
