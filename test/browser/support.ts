// A browser capture's world for tests: a blob store in a temporary directory, the egress
// proxy (allow-list: the test's site only; staged DNS names aimed at the trap and at a
// private address), the trap server, Debian's Chromium, and small readers of what came out.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { BrowserSlots } from '../../src/capture/browser/browser-slots.ts';
import type { BrowserCaptureDeps, BrowserLimits } from '../../src/capture/browser/capture-with-browser.ts';
import { startEgressProxy } from '../../src/egress/egress-proxy.ts';
import type { BlobStore } from '../../src/storage/blob-store.ts';
import { LocalBlobStore } from '../../src/storage/local-blob-store.ts';
import { findChromium, whyBrowserCannotBeInstalled } from '../helpers/browser.ts';

export const chromiumPath = findChromium();
export const skipBrowser = !chromiumPath && whyBrowserCannotBeInstalled() !== null;
if (skipBrowser) {
  console.warn(
    `\n!!! SKIPPED: browser capture tests need Chromium at /usr/lib/chromium/chromium (${whyBrowserCannotBeInstalled()}). Install it: apt-get install -y chromium\n`,
  );
}

export async function useBrowserDeps(
  allowlist: string[],
  limits: Partial<BrowserLimits> = {},
  staged: Record<string, string[]> = {},
): Promise<BrowserCaptureDeps & { blobs: BlobStore; root: string }> {
  const root = mkdtempSync(join(tmpdir(), 'claimtrail-browser-test-'));
  const egress = await startEgressProxy({
    allowlist,
    timeouts: { connectTimeoutMs: 2000, headersTimeoutMs: 5000, idleTimeoutMs: 5000, totalTimeoutMs: 60_000 },
    maxBytes: 64 * 1024 * 1024,
    resolve: async (host) => {
      const answer = staged[host];
      if (answer) return answer;
      throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
    },
  });
  afterAll(async () => {
    await egress.close();
    rmSync(root, { recursive: true, force: true });
  });
  const profiles = join(root, 'profiles');
  const { mkdirSync } = await import('node:fs');
  mkdirSync(profiles);
  return {
    root,
    blobs: new LocalBlobStore(join(root, 'blobs')),
    egress,
    browserPath: chromiumPath,
    slots: new BrowserSlots(2),
    limits: {
      pageTimeoutMs: 15_000,
      archiveMaxBytes: 32 * 1024 * 1024,
      egressMaxBytes: 64 * 1024 * 1024,
      ...limits,
    },
    profileRoot: profiles,
    software: 'claimtrail-test',
  };
}

export async function readBlob(blobs: BlobStore, sha256: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of blobs.read(sha256)) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}
