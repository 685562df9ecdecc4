// A real headless Chromium for page tests: Debian's `chromium` (scripts/ensure-env.sh installs
// it for `npm test`) driven by playwright-core, which downloads no browser of its own.
import { execFileSync } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium, type LaunchOptions } from 'playwright-core';

// The /usr/bin/chromium wrapper script misbehaves when launched this way: use the binary.
const candidates = ['/usr/lib/chromium/chromium'];

export function findChromium(): string | null {
  for (const path of candidates) {
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {}
  }
  return null;
}

/** Why a missing browser may be skipped rather than failed: only when nobody could install it. */
export function whyBrowserCannotBeInstalled(): string | null {
  if (process.getuid?.() !== 0) return 'not root, so apt-get cannot install chromium';
  try {
    execFileSync('apt-get', ['--version'], { stdio: 'ignore' });
  } catch {
    return 'no apt-get on this machine';
  }
  return null;
}

/** A fresh profile every time (no state carried between runs), and no background traffic. */
export async function launchChromium(
  executablePath: string,
  /** Context options (viewport, javaScriptEnabled, …) for pages that need them. */
  options: Omit<Parameters<typeof chromium.launchPersistentContext>[1] & LaunchOptions, 'args'> = {},
): Promise<{ context: BrowserContext; close: () => Promise<void> }> {
  const profile = mkdtempSync(join(tmpdir(), 'claimtrail-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    ...options,
    executablePath,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-dev-shm-usage',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-quic',
    ],
  });
  return {
    context,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
