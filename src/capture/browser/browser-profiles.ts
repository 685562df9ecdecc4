// Per-capture browser profiles (temporary directories), named so that a worker can sweep the
// ones a killed worker left behind. Apart from capture-with-browser.ts so that a worker's
// start-up sweep does not load playwright-core and the WACZ writer: a process pays for the
// browser the first time it captures a page.
import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';

export const PROFILE_PREFIX = 'claimtrail-browser-';

/** Removes per-capture directories (browser profiles; `prefix`: another tool's, e.g. yt-dlp's)
 * older than `olderThanMs`, left by a killed worker. */
export async function sweepBrowserProfiles(
  root: string,
  olderThanMs: number,
  prefix = PROFILE_PREFIX,
): Promise<number> {
  let removed = 0;
  const names = await readdir(root).catch(() => [] as string[]);
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const path = join(root, name);
    const info = await stat(path).catch(() => undefined);
    if (!info || Date.now() - info.mtimeMs < olderThanMs) continue;
    await rm(path, { recursive: true, force: true });
    removed++;
  }
  return removed;
}
