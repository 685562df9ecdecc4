// Crash safety of the browser step in the real job: `claimtrail worker` is killed (SIGKILL, no
// chance to clean up) while its browser is loading a cited page. The browser must not outlive
// it (Chromium ends when playwright's pipe closes), the capture holds no partial evidence (the
// page's own item only: no screenshot, DOM or archive, no browser_captured), and the stalled
// job, run again by another worker once the dead worker's lock expires (BullMQ's default 30 s:
// this test takes 30–50 s by design), completes the browser step once.
// A database of this file's own: the spawned worker runs the capture sweep at start.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PROFILE_PREFIX } from '../../src/capture/browser/capture-with-browser.ts';
import { custody, ofType, ownBlobDir, partialFiles, storedBlobs } from '../capture/support.ts';
import { useCaptureEnv } from '../helpers/capture-env.ts';
import { waitFor } from '../helpers/context.ts';
import { inTurn, serveText, silent, useFixtureServer } from '../helpers/fixture-server.ts';
import { createIsolatedDatabase } from '../helpers/isolated-db.ts';
import { processesUnder, spawnWorker, standbyWorkers } from '../helpers/worker-process.ts';
import { chromiumPath, skipBrowser } from './support.ts';

const server = await useFixtureServer({
  '/page': serveText('<!doctype html><title>Slow image</title><p>Waiting.</p><img src="/never">'),
  // The killed run's browser waits for this forever; the retry's gets an answer.
  '/never': inTurn(silent, serveText('done', 'text/plain')),
});
const databaseUrl = await createIsolatedDatabase('browserkill');
const blobDir = ownBlobDir('browser-job-kill');
const workerTmp = mkdtempSync(join(tmpdir(), 'claimtrail-browser-kill-job-'));
afterAll(() => rmSync(workerTmp, { recursive: true, force: true }));
const browserPath = chromiumPath ?? '/usr/lib/chromium/chromium';
const env = await useCaptureEnv(
  { DATABASE_URL: databaseUrl, FETCH_ALLOWLIST: server.host, BLOB_DIR: blobDir, BROWSER_PATH: browserPath },
  { workers: false },
);
const standby = standbyWorkers(env.ctx);

describe.skipIf(skipBrowser)('a worker killed while its browser loads a cited page', () => {
  it('leaves no browser process and no partial evidence; the retry completes the browser step once', async () => {
    const worker = spawnWorker(env.ctx.config, {
      BROWSER_PATH: browserPath,
      YTDLP_PATH: 'off',
      TMPDIR: workerTmp, // the browser's profile is made here
    });
    await worker.started();
    const { source } = await env.cite(`${server.origin}/page`);

    // The browser is loading the page: it asked for the image that never comes.
    await waitFor(async () => (server.hits.get('/never') ?? 0) > 0, 60_000, 50);
    expect(processesUnder(workerTmp).length).toBeGreaterThan(0);
    expect(readdirSync(workerTmp).filter((n) => n.startsWith(PROFILE_PREFIX))).toHaveLength(1);
    worker.child.kill('SIGKILL');
    expect(await worker.exited).toEqual([null, 'SIGKILL']);
    await waitFor(async () => processesUnder(workerTmp).length === 0, 15_000, 100);

    // What the kill left: the page's item; nothing of the browser step, no stray blob.
    const before = await env.ctx.prisma.evidenceItem.findMany({ where: { sourceId: source.id } });
    expect(before.map((i) => i.kind)).toEqual(['page']);
    expect(storedBlobs(blobDir)).toEqual([before[0]!.sha256]);
    const beforeEvents = await custody(env, source.id);
    expect(ofType(beforeEvents, 'browser_captured')).toEqual([]);
    expect(ofType(beforeEvents, 'browser_capture_failed')).toEqual([]);

    await standby.start(); // takes the stalled job once the dead worker's lock expires
    const view = await env.settled(source.id, 120_000);
    expect(view.status).toBe('captured');
    const items = await env.ctx.prisma.evidenceItem.findMany({ where: { sourceId: source.id } });
    expect(items.map((i) => i.kind).sort()).toEqual(['dom', 'page', 'screenshot', 'web_archive']);
    const events = await custody(env, source.id);
    expect(ofType(events, 'browser_captured')).toHaveLength(1);
    expect(ofType(events, 'browser_capture_failed')).toHaveLength(0);
    expect(ofType(events, 'stored')).toHaveLength(4);
    expect(ofType(events, 'capture_completed')).toHaveLength(1);
    expect(server.hits.get('/page')).toBe(3); // the fetcher once, each run's browser once
    expect(partialFiles(blobDir)).toEqual([]);
  }, 180_000);
});
