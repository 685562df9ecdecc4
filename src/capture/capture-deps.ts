// What capture code needs from the process, built once per process: the guarded fetcher
// (the only way out to the network), the resolved ffprobe binary, the C2PA trust anchors.
import type { AppContext } from '../context.ts';
import { fetchTimeouts } from '../fetch/fetch-timeouts.ts';
import { createGuardedFetcher } from '../fetch/guarded-fetcher.ts';
import { loadC2paTrustAnchors } from '../media/c2pa-evidence.ts';
import { resolveFfprobePath } from '../media/ffprobe.ts';
import { resolveFfmpegPath } from '../media/video-frames.ts';
import { HostSlots } from '../queue/host-slots.ts';
import type { CaptureDeps } from './run-capture.ts';

/** ffprobe must be there (startup fails without it); ffmpeg only hashes video, so none leaves
 * the reason in each video's `pdq.error` (hashFile looks again then). */
async function mediaTools(config: AppContext['config']) {
  const ffprobePath = await resolveFfprobePath(
    config.FFPROBE_PATH === 'auto' ? undefined : config.FFPROBE_PATH,
  );
  const configured = config.FFMPEG_PATH === 'auto' ? undefined : config.FFMPEG_PATH;
  // A configured path that is wrong fails startup like FFPROBE_PATH's: a typo is not silent.
  const ffmpegPath = configured
    ? await resolveFfmpegPath(configured)
    : await resolveFfmpegPath(undefined, ffprobePath).catch(() => undefined);
  return { ffprobePath, ...(ffmpegPath ? { ffmpegPath } : {}) };
}

const built = new WeakMap<AppContext, Promise<CaptureDeps>>();

export function captureDeps(ctx: AppContext): Promise<CaptureDeps> {
  let deps = built.get(ctx);
  if (!deps) {
    deps = (async () => ({
      prisma: ctx.prisma,
      pool: ctx.pool,
      blobs: ctx.blobs,
      config: ctx.config,
      log: ctx.log,
      hostSlots: new HostSlots(
        ctx.redis,
        ctx.config.REDIS_PREFIX,
        ctx.config.CAPTURE_PER_HOST_CONCURRENCY,
        ctx.log,
      ),
      // The same leases keyed by investigation, under a prefix of their own.
      investigationSlots: new HostSlots(
        ctx.redis,
        `${ctx.config.REDIS_PREFIX}:investigation`,
        ctx.config.CAPTURE_PER_INVESTIGATION_CONCURRENCY,
        ctx.log,
      ),
      ...(await mediaTools(ctx.config)),
      c2paTrustAnchors: await loadC2paTrustAnchors(ctx.config.C2PA_TRUST_ANCHORS),
      fetcher: createGuardedFetcher({
        allowlist: ctx.config.FETCH_ALLOWLIST,
        maxBytes: ctx.config.FETCH_MAX_BYTES,
        ...fetchTimeouts(ctx.config),
        userAgent: 'claimtrail-capture/0.1 (+https://github.com/claimtrail)',
      }),
    }))();
    deps.catch(() => built.delete(ctx));
    built.set(ctx, deps);
  }
  return deps;
}
