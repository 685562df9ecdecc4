// Crash safety of the platform step: `claimtrail worker` is killed (SIGKILL, no chance to clean
// up) while yt-dlp is downloading a page's video. yt-dlp must not outlive it (setpriv
// --pdeathsig), the capture holds no partial evidence (only the page's item), and the stalled
// job, run again by another worker once the dead worker's lock expires (BullMQ's default 30 s:
// this test takes 30–50 s by design), keeps the video once.
// A database of this file's own: the spawned worker runs the capture sweep at start.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { sweepBrowserProfiles } from '../../src/capture/browser/capture-with-browser.ts';
import { WORK_PREFIX } from '../../src/capture/platform/capture-with-ytdlp.ts';
import { findYtdlp } from '../../src/capture/platform/find-ytdlp.ts';
import { custody, ofType, ownBlobDir } from '../capture/support.ts';
import { useCaptureEnv } from '../helpers/capture-env.ts';
import { waitFor } from '../helpers/context.ts';
import { inTurn, serveFile, serveText, trickle, useFixtureServer } from '../helpers/fixture-server.ts';
import { createIsolatedDatabase } from '../helpers/isolated-db.ts';
import { processesUnder, spawnWorker, standbyWorkers } from '../helpers/worker-process.ts';

const fixture = fileURLToPath(new URL('../fixtures/media/zelenskyy-31s.mp4', import.meta.url));
const ytdlp = await findYtdlp('auto');

const slow = trickle(readFileSync(fixture), 512, 250, 'video/mp4'); // ~20 s: killed long before
const server = await useFixtureServer({
  '/page': serveText(`<!doctype html><title>A clip</title>
<video controls><source src="/clip.mp4" type="video/mp4"></video>`),
  '/clip.mp4': inTurn(slow, serveFile(fixture, 'video/mp4')),
});
const databaseUrl = await createIsolatedDatabase('ytdlpkill');
const blobDir = ownBlobDir('ytdlp-kill');
const workerTmp = mkdtempSync(join(tmpdir(), 'claimtrail-ytdlp-kill-'));
afterAll(() => rmSync(workerTmp, { recursive: true, force: true }));
const env = await useCaptureEnv(
  {
    DATABASE_URL: databaseUrl,
    FETCH_ALLOWLIST: server.host,
    BLOB_DIR: blobDir,
    YTDLP_PATH: ytdlp?.path ?? 'auto',
  },
  { workers: false },
);
const standby = standbyWorkers(env.ctx);

describe('a worker killed while yt-dlp downloads', () => {
  it('leaves no yt-dlp process and no partial evidence; the retry keeps the video once', async () => {
    expect(ytdlp, 'yt-dlp is required for this test: apt-get install -y yt-dlp').not.toBeNull();
    const worker = spawnWorker(env.ctx.config, {
      BROWSER_PATH: 'off',
      YTDLP_PATH: ytdlp!.path,
      TMPDIR: workerTmp, // yt-dlp's work directory is made here
    });
    await worker.started();
    const { source } = await env.cite(`${server.origin}/page`, { durationSeconds: 31 });

    // yt-dlp is running and has the first bytes of the video.
    await waitFor(
      async () => slow.sent() > 0 && processesUnder(workerTmp).some((p) => p.command.includes('yt-dlp')),
      60_000,
      50,
    );
    worker.child.kill('SIGKILL');
    expect(await worker.exited).toEqual([null, 'SIGKILL']);
    await waitFor(async () => processesUnder(workerTmp).length === 0, 15_000, 100);

    // What the kill left: the page's item, nothing of the platform step.
    const before = await env.ctx.prisma.evidenceItem.findMany({ where: { sourceId: source.id } });
    expect(before.map((i) => i.kind)).toEqual(['page']);
    expect(ofType(await custody(env, source.id), 'platform_captured')).toEqual([]);
    // Its work directory is swept (at the next start, when older than any running capture).
    expect(readdirSync(workerTmp).filter((n) => n.startsWith(WORK_PREFIX))).toHaveLength(1);
    expect(await sweepBrowserProfiles(workerTmp, 0, WORK_PREFIX)).toBe(1);

    await standby.start(); // takes the stalled job once the dead worker's lock expires
    const view = await env.settled(source.id, 120_000);
    expect(view.status).toBe('captured');
    const items = await env.ctx.prisma.evidenceItem.findMany({ where: { sourceId: source.id } });
    expect(items.map((i) => i.kind).sort()).toEqual(['page', 'platform_metadata', 'video']);
    const events = await custody(env, source.id);
    expect(ofType(events, 'platform_captured')).toHaveLength(1);
    expect(ofType(events, 'platform_capture_failed')).toHaveLength(0);
    expect(ofType(events, 'check_passed')).toHaveLength(2); // the declared duration, and c2pa absent
    expect(ofType(events, 'capture_completed')).toHaveLength(1);
    expect(server.hits.get('/clip.mp4')).toBe(2); // the killed run's and the retry's
  }, 180_000);
});
