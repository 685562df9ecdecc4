// The browser step of a capture job (issue 14), through the real worker: a cited page built by
// script is captured as a browser sees it (screenshot, rendered DOM, WACZ as items with their
// events, browser_captured with the proxy's connection record) and the video its script adds
// is fetched; without a browser the page is captured as before and says browser_unavailable;
// a run resumed after the browser step does not load the page in a browser again.
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { startBrowserCapture } from '../../src/capture/browser/browser-deps.ts';
import { captureDeps } from '../../src/capture/capture-deps.ts';
import { runCapture } from '../../src/capture/run-capture.ts';
import { capturesOf, custody, ofType, ownBlobDir } from '../capture/support.ts';
import { useCaptureEnv } from '../helpers/capture-env.ts';
import { serveFile, serveText, useFixtureServer } from '../helpers/fixture-server.ts';
import { chromiumPath, skipBrowser } from './support.ts';

const clip = fileURLToPath(new URL('../fixtures/media/rotated-1s.mp4', import.meta.url));

// The raw HTML names no media: only the rendered DOM shows the video.
const PAGE = `<!doctype html><html><head><title>Built by script</title></head>
<body style="margin:0"><div id="root"></div>
<script>
fetch('/data.json').then((r) => r.json()).then((d) => {
  const root = document.getElementById('root');
  root.style.cssText = 'width:300px;height:120px;background:rgb(0,128,255)';
  root.textContent = d.text;
  const video = document.createElement('video');
  video.src = '/clip.mp4';
  video.preload = 'none';
  document.body.appendChild(video);
});
</script></body></html>`;

const server = await useFixtureServer({
  '/page': serveText(PAGE),
  '/again': serveText(PAGE),
  '/plain': serveText('<!doctype html><title>Plain</title><p>No browser here.</p>'),
  '/data.json': serveText('{"text":"loaded by script"}', 'application/json'),
  '/clip.mp4': serveFile(clip, 'video/mp4'),
});

const withBrowser = await useCaptureEnv({
  FETCH_ALLOWLIST: server.host,
  BLOB_DIR: ownBlobDir('browser-job'),
  BROWSER_PATH: chromiumPath ?? '/usr/lib/chromium/chromium',
});
const noBrowser = await useCaptureEnv({
  FETCH_ALLOWLIST: server.host,
  BLOB_DIR: ownBlobDir('browser-job-none'),
  BROWSER_PATH: '/nonexistent/chromium',
});
// Runs captures itself (no workers): the resumed run.
const direct = await useCaptureEnv(
  {
    FETCH_ALLOWLIST: server.host,
    BLOB_DIR: ownBlobDir('browser-job-direct'),
    BROWSER_PATH: chromiumPath ?? 'auto',
  },
  { workers: false },
);

interface BrowserCaptured {
  evidenceIds: Record<string, string>;
  browser: { name: string; version: string };
  userAgent: string;
  viewport: { width: number; height: number };
  settled: boolean;
  timings: { totalMs: number };
  connections: {
    bytesIn: number;
    connections: { host: string; port: number; address: string | null; refused: unknown }[];
  };
}

const itemsOf = (env: typeof withBrowser, sourceId: string) =>
  env.ctx.prisma.evidenceItem.findMany({ where: { sourceId }, orderBy: { capturedAt: 'asc' } });

describe.skipIf(skipBrowser)('browser step of a capture job', () => {
  it('a page built by script: screenshot, dom and web_archive items, browser_captured, and the video its script shows', async () => {
    const { source } = await withBrowser.cite(`${server.origin}/page`);
    const view = await withBrowser.settled(source.id, 90_000);
    expect(view.status).toBe('captured');
    const items = await itemsOf(withBrowser, source.id);
    const byKind = new Map(items.map((i) => [i.kind, i]));
    expect([...byKind.keys()].sort()).toEqual(['dom', 'page', 'screenshot', 'video', 'web_archive']);
    expect(byKind.get('screenshot')!.mediaType).toBe('image/png');
    expect(byKind.get('web_archive')!.mediaType).toBe('application/wacz');
    expect(byKind.get('video')!.originUrl).toBe(`${server.origin}/clip.mp4`);
    const dom = byKind.get('dom')!.metadata as { renderedMedia: { url: string }[] };
    expect(dom.renderedMedia.map((m) => m.url)).toEqual([`${server.origin}/clip.mp4`]);

    const events = await custody(withBrowser, source.id);
    const stored = ofType(events, 'stored').map((e) => e.data.evidenceId);
    const extracted = ofType(events, 'metadata_extracted').map((e) => e.data.evidenceId);
    for (const item of items) {
      expect(stored).toContain(item.id);
      expect(extracted).toContain(item.id);
    }
    const [captured, ...more] = ofType(events, 'browser_captured');
    expect(more).toHaveLength(0);
    const data = captured!.data as unknown as BrowserCaptured;
    expect(data.evidenceIds).toEqual({
      screenshot: byKind.get('screenshot')!.id,
      dom: byKind.get('dom')!.id,
      webArchive: byKind.get('web_archive')!.id,
    });
    expect(data.browser.name).toBe('chromium');
    expect(data.browser.version).toMatch(/^\d+\./);
    expect(data.userAgent).toMatch(/Chrome/);
    expect(data.viewport).toEqual({ width: 1280, height: 800 });
    expect(data.settled).toBe(true);
    expect(data.timings.totalMs).toBeGreaterThan(0);
    // The proxy's record: the page and the script's request went through it, to the server.
    const { connections } = data.connections;
    const toServer = connections.filter((c) => c.port === server.port);
    expect(toServer.length).toBeGreaterThanOrEqual(2); // the page and what its script loaded
    expect(toServer.every((c) => c.address === '127.0.0.1' && c.refused === null)).toBe(true);
    // Anything else (Chromium's own background requests) was refused, never connected.
    const others = connections.filter((c) => c.port !== server.port);
    expect(
      others.every((c) => c.address === null && c.refused !== null),
      JSON.stringify(others),
    ).toBe(true);
    expect(data.connections.bytesIn).toBeGreaterThan(PAGE.length);
    // The custody's order: the page's item, then the browser step, then the video, then the end.
    const types = events.map((e) => e.type);
    expect(types.indexOf('browser_captured')).toBeGreaterThan(types.indexOf('stored'));
    expect(types.lastIndexOf('stored')).toBeGreaterThan(types.indexOf('browser_captured'));
    expect(types.at(-1)).toBe('capture_completed');
    expect(types).not.toContain('browser_capture_failed');
  }, 120_000);

  it('a run resumed after the browser step does not load the page in a browser again', async () => {
    const { source } = await direct.cite(`${server.origin}/again`);
    const [capture] = await capturesOf(direct, source.id);
    const browser = await startBrowserCapture(direct.ctx);
    afterAll(() => browser.close());
    const deps = { ...(await captureDeps(direct.ctx)), browser: browser.deps };
    // The first run dies right after the browser step committed: its next read fails.
    let reads = 0;
    const failing = new Proxy(deps.prisma, {
      get(target, prop, receiver) {
        if (prop !== 'evidenceItem') return Reflect.get(target, prop, receiver);
        reads++;
        throw new Error('the worker died here');
      },
    });
    await expect(
      runCapture({ ...deps, prisma: failing }, capture!.id, { number: 1, max: 3 }),
    ).rejects.toThrow(/died/);
    expect(reads).toBe(1);
    const hitsAfterFirst = server.hits.get('/again');
    expect(hitsAfterFirst).toBe(2); // the fetcher and the browser, once each
    expect(ofType(await custody(direct, source.id), 'browser_captured')).toHaveLength(1);

    const result = await runCapture(deps, capture!.id, { number: 2, max: 3 });
    expect(result.status).toBe('completed');
    expect(server.hits.get('/again')).toBe(hitsAfterFirst);
    const events = await custody(direct, source.id);
    expect(ofType(events, 'browser_captured')).toHaveLength(1);
    expect(
      ofType(events, 'stored')
        .map((e) => e.data.kind)
        .sort(),
    ).toEqual(['dom', 'page', 'screenshot', 'video', 'web_archive']);
    expect(ofType(events, 'capture_completed')).toHaveLength(1);
  }, 120_000);
});

describe('without a browser', () => {
  it('BROWSER_PATH naming a missing file: the page is captured as before and says browser_unavailable', async () => {
    const { source } = await noBrowser.cite(`${server.origin}/plain`);
    const view = await noBrowser.settled(source.id, 30_000);
    expect(view.status).toBe('captured');
    const items = await itemsOf(noBrowser, source.id);
    expect(items.map((i) => i.kind)).toEqual(['page']);
    const events = await custody(noBrowser, source.id);
    const [failed, ...more] = ofType(events, 'browser_capture_failed');
    expect(more).toHaveLength(0);
    expect(failed!.data).toMatchObject({ url: `${server.origin}/plain`, code: 'browser_unavailable' });
    expect(ofType(events, 'browser_captured')).toHaveLength(0);
    expect(events.at(-1)!.type).toBe('capture_completed');
  }, 60_000);
});
