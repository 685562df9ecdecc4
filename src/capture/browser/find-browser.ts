// Which Chromium the capture drives. BROWSER_PATH names one; `auto` looks where Debian and
// Ubuntu install it. The binary itself, not the /usr/bin/chromium wrapper script (which
// misbehaves when launched by playwright). None found: pages are captured without a browser
// and the capture says `browser_unavailable`.
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';

const CANDIDATES = [
  '/usr/lib/chromium/chromium',
  '/usr/lib/chromium-browser/chromium-browser',
  '/usr/bin/chromium',
  '/usr/bin/chromium-browser',
  '/usr/bin/google-chrome-stable',
];

async function executable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The browser binary to use, or null when there is none (`BROWSER_PATH` set but missing: null too). */
export async function findBrowser(configured: string): Promise<string | null> {
  if (configured !== 'auto') return (await executable(configured)) ? configured : null;
  for (const path of CANDIDATES) if (await executable(path)) return path;
  return null;
}
