// What capture code needs from the process, built once per process: the guarded fetcher
// (the only way out to the network), the resolved ffprobe binary, the C2PA trust anchors.
import type { AppContext } from '../context.ts';
import { fetchTimeouts } from '../fetch/fetch-timeouts.ts';
import { createGuardedFetcher } from '../fetch/guarded-fetcher.ts';
import { loadC2paTrustAnchors } from '../media/c2pa-evidence.ts';
import { resolveFfprobePath } from '../media/ffprobe.ts';
import { HostSlots } from '../queue/host-slots.ts';
import type { CaptureDeps } from './run-capture.ts';

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
      ffprobePath: await resolveFfprobePath(
        ctx.config.FFPROBE_PATH === 'auto' ? undefined : ctx.config.FFPROBE_PATH,
      ),
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
