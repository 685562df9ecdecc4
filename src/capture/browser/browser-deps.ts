// What browser captures need from a worker process, started once by it and closed at its
// shutdown: the egress proxy the process owns (loopback, random port, FETCH_ALLOWLIST and the
// fetch timeouts, exactly the fetcher's policy), the browser binary, the BROWSER_CONCURRENCY
// slots and the limits. Profiles a killed worker left behind are swept at start.
import { tmpdir } from 'node:os';
import type { AppContext } from '../../context.ts';
import { startWorkerEgress } from '../../egress/worker-egress.ts';
import { sweepBrowserProfiles } from './browser-profiles.ts';
import { BrowserSlots } from './browser-slots.ts';
import type { BrowserCaptureDeps } from './capture-with-browser.ts';
import { findBrowser } from './find-browser.ts';

export interface BrowserCapture {
  deps: BrowserCaptureDeps;
  close(): Promise<void>;
}

/** Profiles older than this belong to no running capture (page deadline plus its last steps). */
const STALE_PROFILE_MS = 60 * 60_000;

export async function startBrowserCapture(
  ctx: Pick<AppContext, 'config' | 'blobs' | 'log'>,
  profileRoot = tmpdir(),
): Promise<BrowserCapture> {
  const { config, log } = ctx;
  const browserPath = await findBrowser(config.BROWSER_PATH);
  if (!browserPath) {
    log.warn(
      { BROWSER_PATH: config.BROWSER_PATH },
      'no browser: pages are captured without screenshot, DOM or web archive (browser_unavailable); install one with apt-get install chromium',
    );
  }
  const egress = await startWorkerEgress(config, log);
  await sweepBrowserProfiles(profileRoot, STALE_PROFILE_MS).catch(() => 0);
  return {
    deps: {
      blobs: ctx.blobs,
      egress,
      browserPath,
      slots: new BrowserSlots(config.BROWSER_CONCURRENCY),
      limits: {
        pageTimeoutMs: config.BROWSER_PAGE_TIMEOUT_MS,
        archiveMaxBytes: config.BROWSER_ARCHIVE_MAX_BYTES,
        egressMaxBytes: config.FETCH_MAX_BYTES,
      },
      profileRoot,
      software: 'claimtrail-capture/0.1 (+https://github.com/claimtrail)',
      log,
    },
    close: () => egress.close(),
  };
}
