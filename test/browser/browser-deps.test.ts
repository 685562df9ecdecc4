// The worker's browser-capture dependencies from the configuration: BROWSER_PATH found or not,
// the egress proxy listening on loopback until closed, the limits from the settings.
import { connect } from 'node:net';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { startBrowserCapture } from '../../src/capture/browser/browser-deps.ts';
import { parseConfig } from '../../src/config/env.ts';
import { LocalBlobStore } from '../../src/storage/local-blob-store.ts';
import { chromiumPath } from './support.ts';

const log = pino({ level: 'silent' });
const blobs = new LocalBlobStore('/tmp/claimtrail-browser-deps-unused');

function reachable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

describe('startBrowserCapture', () => {
  it('takes the browser, slots and limits from the configuration and owns the proxy', async () => {
    const config = parseConfig({
      BROWSER_CONCURRENCY: '3',
      BROWSER_PAGE_TIMEOUT_MS: '12000',
      BROWSER_ARCHIVE_MAX_BYTES: '5000000',
    });
    const capture = await startBrowserCapture({ config, blobs, log });
    expect(capture.deps.browserPath).toBe(chromiumPath);
    expect(capture.deps.slots.size).toBe(3);
    expect(capture.deps.limits).toEqual({
      pageTimeoutMs: 12_000,
      archiveMaxBytes: 5_000_000,
      egressMaxBytes: config.FETCH_MAX_BYTES,
    });
    const port = capture.deps.egress.port;
    expect(await reachable(port)).toBe(true);
    await capture.close();
    expect(await reachable(port)).toBe(false);
  });

  it('a BROWSER_PATH that is not there means no browser (browser_unavailable)', async () => {
    const config = parseConfig({ BROWSER_PATH: '/nonexistent/chromium' });
    const capture = await startBrowserCapture({ config, blobs, log });
    expect(capture.deps.browserPath).toBeNull();
    await capture.close();
  });
});
