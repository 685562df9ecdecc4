// What platform captures (yt-dlp) need from a worker process, started once by it and closed at
// its shutdown: yt-dlp and its version, whether ffmpeg is there to merge formats, the egress
// proxy (the browser step's when the process has one, else its own), the limits from the fetch
// settings, and the set of running yt-dlp process groups, killed at shutdown. Work directories
// a killed worker left behind are swept at start.
import { tmpdir } from 'node:os';
import { isAbsolute } from 'node:path';
import type { AppContext } from '../../context.ts';
import type { EgressProxy } from '../../egress/egress-proxy.ts';
import { startWorkerEgress } from '../../egress/worker-egress.ts';
import { resolveFfprobePath } from '../../media/ffprobe.ts';
import { resolveFfmpegPath } from '../../media/video-frames.ts';
import { sweepBrowserProfiles } from '../browser/browser-profiles.ts';
import { type PlatformCaptureDeps, WORK_PREFIX } from './capture-with-ytdlp.ts';
import { findYtdlp, onPath } from './find-ytdlp.ts';

export interface PlatformCapture {
  deps: PlatformCaptureDeps;
  close(): Promise<void>;
}

/** Work directories older than this belong to no running capture (FETCH_TIMEOUT_MS is 15 min). */
const STALE_WORK_MS = 60 * 60_000;

/** Where ffmpeg is, as an absolute path for yt-dlp (which gets a PATH of its own), or null. */
async function ffmpegFor(ctx: Pick<AppContext, 'config'>): Promise<string | null> {
  try {
    const configured = ctx.config.FFPROBE_PATH === 'auto' ? undefined : ctx.config.FFPROBE_PATH;
    const found = await resolveFfmpegPath(undefined, await resolveFfprobePath(configured));
    return isAbsolute(found) ? found : await onPath(found);
  } catch {
    return null;
  }
}

/** Undefined when there is no yt-dlp (YTDLP_PATH `off`, or none found): no platform step. */
export async function startPlatformCapture(
  ctx: Pick<AppContext, 'config' | 'blobs' | 'log'>,
  sharedEgress?: EgressProxy,
  workRoot = tmpdir(),
): Promise<PlatformCapture | undefined> {
  const { config, log } = ctx;
  if (config.YTDLP_PATH === 'off') return undefined;
  const ytdlp = await findYtdlp(config.YTDLP_PATH);
  if (!ytdlp) {
    log.warn(
      { YTDLP_PATH: config.YTDLP_PATH },
      'no yt-dlp: pages are captured without a platform step; install it with apt-get install yt-dlp',
    );
    return undefined;
  }
  const egress = sharedEgress ?? (await startWorkerEgress(config, log));
  await sweepBrowserProfiles(workRoot, STALE_WORK_MS, WORK_PREFIX).catch(() => 0);
  const running: PlatformCaptureDeps['running'] = new Set();
  log.info({ ytdlp: ytdlp.path, version: ytdlp.version }, 'platform video through yt-dlp');
  return {
    deps: {
      blobs: ctx.blobs,
      egress,
      ytdlp,
      ffmpegLocation: await ffmpegFor(ctx),
      limits: {
        maxBytes: config.FETCH_MAX_BYTES,
        socketTimeoutSeconds: Math.max(1, Math.ceil(config.FETCH_IDLE_TIMEOUT_MS / 1000)),
        timeoutMs: config.FETCH_TIMEOUT_MS,
      },
      workRoot,
      running,
      log,
    },
    async close() {
      for (const run of running) run.killGroup();
      if (!sharedEgress) await egress.close();
    },
  };
}
