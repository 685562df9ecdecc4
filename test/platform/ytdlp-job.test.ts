// Platform video through yt-dlp (issue 14), through the real worker: yt-dlp's generic extractor
// finds the video a loopback page shows in its raw HTML (no meta tag declares it) and keeps it
// and its info JSON through the worker's egress proxy; the video is described like any fetched
// video (ffprobe, PDQ) and is the item the citation's declared duration is checked against.
// A video on an address the policy refuses is refused by the proxy and never reached; a page
// with no video (not a platform's) is recorded as that fact, not as a failure. yt-dlp
// is required here (scripts/ensure-env.sh installs it for `npm test`): a machine without it
// fails this file instead of skipping it.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findYtdlp } from '../../src/capture/platform/find-ytdlp.ts';
import { c2paAbsent, custody, ofType, ownBlobDir } from '../capture/support.ts';
import { useCaptureEnv } from '../helpers/capture-env.ts';
import { verifiedClaimBag } from '../helpers/export-download.ts';
import { serveFile, serveText, useFixtureServer } from '../helpers/fixture-server.ts';
import { startTrapServer } from '../helpers/trap-server.ts';

const fixture = fileURLToPath(new URL('../fixtures/media/zelenskyy-31s.mp4', import.meta.url));
const fixtureSha = createHash('sha256').update(readFileSync(fixture)).digest('hex');
const ytdlp = await findYtdlp('auto');

const trap = await startTrapServer();
afterAll(() => trap.close());

const page = (src: string) => `<!doctype html><html><head><title>A clip</title></head>
<body><p>Footage of the address.</p>
<video controls width="320"><source src="${src}" type="video/mp4"></video></body></html>`;

const server = await useFixtureServer({
  '/clip-page': serveText(page('/clip.mp4')),
  '/trapped-page': serveText(page(`http://127.0.0.1:${trap.port}/clip.mp4`)),
  '/article': serveText('<!doctype html><title>Words</title><p>No video here.</p>'),
  '/clip.mp4': serveFile(fixture, 'video/mp4'),
});

const env = await useCaptureEnv({
  FETCH_ALLOWLIST: server.host,
  BLOB_DIR: ownBlobDir('ytdlp-job'),
  YTDLP_PATH: ytdlp?.path ?? 'auto',
});

interface PlatformCaptured {
  tool: { name: string; version: string };
  extractor: string;
  mediaUrl: string | null;
  declaredDurationSeconds: number | null;
  observedDurationSeconds: number | null;
  evidenceIds: { video: string; metadata: string };
  connections: {
    bytesIn: number;
    connections: { host: string; port: number; address: string | null; bytesIn: number; refused: unknown }[];
  };
}

const itemsOf = (sourceId: string) =>
  env.ctx.prisma.evidenceItem.findMany({ where: { sourceId }, orderBy: { capturedAt: 'asc' } });

describe('platform video through yt-dlp in the capture job', () => {
  beforeAll(() => {
    expect(ytdlp, 'yt-dlp is required for this test: apt-get install -y yt-dlp').not.toBeNull();
  });

  it('the generic extractor keeps the video a page shows, through the proxy, and the declared duration is checked', async () => {
    const { source } = await env.cite(`${server.origin}/clip-page`, { durationSeconds: 31 });
    const view = await env.settled(source.id, 90_000);
    expect(view.status).toBe('captured');
    const items = await itemsOf(source.id);
    const byKind = new Map(items.map((i) => [i.kind, i]));
    expect(items.map((i) => i.kind).sort()).toEqual(['page', 'platform_metadata', 'video']);
    const video = byKind.get('video')!;
    expect(video.sha256).toBe(fixtureSha); // the bytes as served: no remux, no fixup
    expect(video.mediaType).toBe('video/mp4');
    expect(video.originUrl).toBe(`${server.origin}/clip.mp4`);
    const meta = video.metadata as { durationSeconds: number; pdq?: { frames?: unknown[] } };
    expect(meta.durationSeconds).toBeCloseTo(31, 0);
    expect(meta.pdq?.frames?.length ?? 0).toBeGreaterThan(0);
    expect(video.checks).toEqual([
      c2paAbsent,
      { name: 'durationSeconds', expected: 31, observed: meta.durationSeconds, passed: true },
    ]);
    const info = byKind.get('platform_metadata')!;
    expect(info.mediaType).toBe('application/json');
    expect(info.metadata).toMatchObject({
      extractor: expect.any(String),
      mediaUrl: `${server.origin}/clip.mp4`,
    });

    const events = await custody(env, source.id);
    const [captured, ...more] = ofType(events, 'platform_captured');
    expect(more).toHaveLength(0);
    const data = captured!.data as unknown as PlatformCaptured;
    expect(data.tool).toEqual({ name: 'yt-dlp', version: ytdlp!.version });
    expect(data.evidenceIds).toEqual({ video: video.id, metadata: info.id });
    expect(data.mediaUrl).toBe(`${server.origin}/clip.mp4`);
    expect(data.observedDurationSeconds).toBeCloseTo(31, 0);
    // The proxy's record: the page and the video went through it, to the server, in full.
    const toServer = data.connections.connections.filter((c) => c.port === server.port);
    expect(toServer.length).toBeGreaterThanOrEqual(2);
    expect(toServer.every((c) => c.address === '127.0.0.1' && c.refused === null)).toBe(true);
    expect(data.connections.bytesIn).toBeGreaterThan(readFileSync(fixture).length);
    expect(server.hits.get('/clip.mp4')).toBe(1); // yt-dlp only: the guarded fetcher was not asked
    // Order: the page's item, the platform step, the duration check, the end.
    const types = events.map((e) => e.type);
    expect(types.indexOf('platform_captured')).toBeGreaterThan(types.indexOf('stored'));
    expect(ofType(events, 'check_passed').map((e) => (e.data.check as { name: string }).name)).toEqual([
      'c2pa',
      'durationSeconds',
    ]);
    expect(types.at(-1)).toBe('capture_completed');
    expect(types).not.toContain('platform_capture_failed');
  }, 120_000);

  it('a video on an address the policy refuses: the proxy refuses it, nothing reaches it, the page is kept', async () => {
    const { source } = await env.cite(`${server.origin}/trapped-page`);
    const view = await env.settled(source.id, 90_000);
    expect(view.status).toBe('captured');
    expect((await itemsOf(source.id)).map((i) => i.kind)).toEqual(['page']);
    const events = await custody(env, source.id);
    const [failed, ...more] = ofType(events, 'platform_capture_failed');
    expect(more).toHaveLength(0);
    expect(failed!.data).toMatchObject({
      url: `${server.origin}/trapped-page`,
      code: 'refused',
      tool: { name: 'yt-dlp', version: ytdlp!.version },
    });
    expect(trap.connections()).toBe(0);
    expect(events.at(-1)!.type).toBe('capture_completed');
  }, 120_000);

  it('a page with no video (not a platform): recorded as platform_no_video, no failure, and its export verifies', async () => {
    const { claimId, source } = await env.cite(`${server.origin}/article`);
    const view = await env.settled(source.id, 90_000);
    expect(view.status).toBe('captured');
    expect(view.failure).toBeNull();
    const events = await custody(env, source.id);
    expect(ofType(events, 'platform_capture_failed')).toHaveLength(0);
    expect(events.map((e) => e.type).filter((t) => t.includes('failed'))).toEqual([]);
    const [absent, ...more] = ofType(events, 'platform_no_video');
    expect(more).toHaveLength(0);
    expect(absent!.data).toEqual({
      captureId: view.captures[0].id,
      url: `${server.origin}/article`,
      detail: expect.stringMatching(/Unsupported URL/),
      tool: { name: 'yt-dlp', version: ytdlp!.version },
    });
    const types = events.map((e) => e.type);
    expect(types.indexOf('platform_no_video')).toBeGreaterThan(types.indexOf('stored'));
    expect(types.at(-1)).toBe('capture_completed');
    expect((await itemsOf(source.id)).map((i) => i.kind)).toEqual(['page']);

    // The custody format carries it: the bag holds the event in the source's chain and
    // verify-export (which projects only the events export.json states) passes it.
    const bag = await verifiedClaimBag(env.app, env.as(env.editor), claimId);
    expect(bag.problems).toEqual([]);
    expect(bag.sourceChain(source.id)).toContain('"type":"platform_no_video"');
  }, 120_000);
});
