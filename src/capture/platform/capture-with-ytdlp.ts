// A platform's video (issue 14): yt-dlp fetches the best video of a page and its info JSON,
// with every byte through the worker's egress proxy (`--proxy` with a fresh session: the
// fetcher's address policy applies to each connection, and the session records them), then
// both files are written to the blob store. yt-dlp is fenced (run-ytdlp.ts) and told to stay
// inside its lane:
//   --ignore-config --no-cache-dir     no config file and no cache read or written;
//   --no-playlist --playlist-items 1   one video, never a whole channel or page of embeds;
//   --socket-timeout, --max-filesize   FETCH_IDLE_TIMEOUT_MS, FETCH_MAX_BYTES (the session is
//                                      capped at FETCH_MAX_BYTES too);
//   --downloader native                no external downloader (ffmpeg would open connections
//                                      of its own for HLS/DASH);
//   -f b/bv*+ba or b                   a single file when the platform has one; formats are
//                                      merged only when ffmpeg is on the machine (a local
//                                      step, no network); --fixup never keeps the bytes as
//                                      served;
//   --no-geo-bypass                    no forged X-Forwarded-For;
// certificates are checked as always (no --no-check-certificates). Output goes into a
// directory of the capture's own, removed afterwards (a killed worker's is swept at start).
import { createReadStream } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { EgressProxy, EgressSessionSummary } from '../../egress/egress-proxy.ts';
import { permanentRefusal } from '../../egress/refusals.ts';
import type { BlobStore } from '../../storage/blob-store.ts';
import { BlobTooLargeError } from '../../storage/blob-store.ts';
import type { StoredOutput } from '../browser/capture-with-browser.ts';
import type { Ytdlp } from './find-ytdlp.ts';
import { type RunningYtdlp, runYtdlp, type YtdlpExit } from './run-ytdlp.ts';
import { infoFacts, readYtdlpInfo } from './ytdlp-info.ts';

export type PlatformCaptureErrorCode =
  | 'no_video'
  | 'refused'
  | 'too_large'
  | 'timeout'
  | 'download_failed'
  | 'extractor_error'
  | 'no_output';

/** A page whose video yt-dlp could not keep; `detail` is safe to store as a reason. */
export class PlatformCaptureError extends Error {
  override readonly name = 'PlatformCaptureError';
  constructor(
    readonly code: PlatformCaptureErrorCode,
    readonly detail: string,
    /** false: another attempt may work (a timeout, a network error). */
    readonly permanent: boolean,
  ) {
    super(`${code}: ${detail}`);
  }
}

export interface PlatformLimits {
  /** The video's size (--max-filesize) and the session's bytes (FETCH_MAX_BYTES). */
  maxBytes: number;
  /** yt-dlp's --socket-timeout, in seconds. */
  socketTimeoutSeconds: number;
  /** The whole run: past it the process group is killed (`timeout`). */
  timeoutMs: number;
}

export interface PlatformCaptureDeps {
  blobs: BlobStore;
  egress: EgressProxy;
  ytdlp: Ytdlp;
  /** Whether ffmpeg is on the machine (formats may then be merged). */
  ffmpegLocation: string | null;
  limits: PlatformLimits;
  /** Where per-capture directories are made. */
  workRoot: string;
  /** yt-dlp processes running now (the worker kills their groups at shutdown). */
  running: Set<RunningYtdlp>;
  log?: Logger;
}

export interface PlatformCaptureMeta {
  tool: { name: 'yt-dlp'; version: string };
  extractor: string;
  webpageUrl: string;
  /** The URL the video's bytes came from, as yt-dlp reports it. */
  mediaUrl: string | null;
  formatId: string | null;
  title: string | null;
  /** What the platform says the video lasts (info JSON `duration`). */
  declaredDurationSeconds: number | null;
  timings: { startedAt: string; totalMs: number };
}

export interface PlatformCaptureResult {
  video: StoredOutput;
  info: StoredOutput;
  meta: PlatformCaptureMeta;
  connections: EgressSessionSummary;
}

export const WORK_PREFIX = 'claimtrail-ytdlp-';
const INFO_FILE = 'video.info.json';

export function ytdlpArgs(deps: PlatformCaptureDeps, proxyUrl: string, url: string): string[] {
  const { limits } = deps;
  return [
    '--ignore-config',
    '--no-cache-dir',
    '--no-playlist',
    '--playlist-items',
    '1',
    '--no-write-playlist-metafiles',
    '--proxy',
    proxyUrl,
    '--socket-timeout',
    String(limits.socketTimeoutSeconds),
    '--max-filesize',
    String(limits.maxBytes),
    '--retries',
    '2',
    '--fragment-retries',
    '2',
    '--downloader',
    'native',
    '--no-geo-bypass',
    '--fixup',
    'never',
    '--no-mtime',
    '--no-progress',
    '--write-info-json',
    '-f',
    deps.ffmpegLocation ? 'b/bv*+ba' : 'b',
    ...(deps.ffmpegLocation ? ['--ffmpeg-location', deps.ffmpegLocation] : []),
    '-o',
    'video.%(ext)s',
    '--',
    url,
  ];
}

/**
 * Keeps the video of `url` and yt-dlp's info JSON. Throws PlatformCaptureError.
 */
export async function captureWithYtdlp(
  deps: PlatformCaptureDeps,
  url: string,
  opts: { tmpKey?: string } = {},
): Promise<PlatformCaptureResult> {
  const started = Date.now();
  const session = deps.egress.openSession({
    maxBytes: deps.limits.maxBytes,
    totalTimeoutMs: deps.limits.timeoutMs,
  });
  const dir = await mkdtemp(join(deps.workRoot, WORK_PREFIX));
  try {
    const run = await runYtdlp(deps.ytdlp.path, ytdlpArgs(deps, session.url, url), {
      cwd: dir,
      timeoutMs: deps.limits.timeoutMs,
    });
    deps.running.add(run);
    const exit = await run.exited.finally(() => deps.running.delete(run));
    const files = await readdir(dir);
    const videoName = files.find(
      (f) => f.startsWith('video.') && f !== INFO_FILE && !/\.(part|ytdl|temp)$|\.part-Frag/.test(f),
    );
    if (exit.code !== 0 || !videoName || !files.includes(INFO_FILE)) {
      throw failureOf(exit, session.summary(), url, videoName !== undefined);
    }
    const tmp = (what: string) => ({ tmpKey: `${opts.tmpKey ?? 'platform'}-ytdlp-${what}` });
    const infoPath = join(dir, INFO_FILE);
    const facts = infoFacts(await readYtdlpInfo(infoPath).catch(() => ({})));
    const put = async (path: string, what: string) => {
      try {
        return await deps.blobs.put(createReadStream(path), { ...tmp(what), maxBytes: deps.limits.maxBytes });
      } catch (err) {
        if (err instanceof BlobTooLargeError)
          throw new PlatformCaptureError('too_large', `larger than ${err.maxBytes} bytes`, true);
        throw err;
      }
    };
    const video = { ...(await put(join(dir, videoName), 'video')), mediaType: 'application/octet-stream' };
    const infoBlob = { ...(await put(infoPath, 'info')), mediaType: 'application/json' };
    return {
      video,
      info: infoBlob,
      meta: {
        tool: { name: 'yt-dlp', version: deps.ytdlp.version },
        extractor: facts.extractor,
        webpageUrl: facts.webpageUrl ?? url,
        mediaUrl: facts.mediaUrl,
        formatId: facts.formatId,
        title: facts.title,
        declaredDurationSeconds: facts.durationSeconds,
        timings: { startedAt: new Date(started).toISOString(), totalMs: Date.now() - started },
      },
      connections: session.close(),
    };
  } finally {
    session.close();
    await rm(dir, { recursive: true, force: true }).catch(() => {});
  }
}

/** yt-dlp's last `ERROR:` line, without URLs' query strings (signed media URLs carry tokens)
 * and control characters, capped. */
function lastError(exit: YtdlpExit): string {
  const lines = `${exit.stderr}\n${exit.stdout}`.split('\n').filter((l) => l.startsWith('ERROR:'));
  const line = (lines.at(-1) ?? '')
    .replace(/^ERROR:\s*/, '')
    .replace(/(https?:\/\/[^\s?#]+)[?#]\S*/g, '$1?…');
  // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping them is the point
  return line.replace(/[\u0000-\u001f\u007f]/g, ' ').slice(0, 400);
}

const TRANSIENT =
  /timed out|timeout|Connection (?:refused|reset|aborted)|Tunnel connection failed: 50|Remote end closed|Temporary failure|urlopen error|HTTP Error 5\d\d|HTTP Error 429|IncompleteRead|did not get any data/i;

/** Why a run kept no video, from the session's record first (what the proxy saw), then yt-dlp's words. */
function failureOf(
  exit: YtdlpExit,
  summary: EgressSessionSummary,
  url: string,
  hadVideo: boolean,
): PlatformCaptureError {
  // The page's own address refused, else any other (the video's host): the run failed on it.
  const refused =
    permanentRefusal(summary, url) ??
    summary.connections.find((c) => c.refused && c.address === null && c.refused.code !== 'session_closed')
      ?.refused?.reason;
  if (refused) return new PlatformCaptureError('refused', refused, true);
  if (summary.ended?.code === 'too_large' || /larger than max-filesize/i.test(exit.stdout + exit.stderr))
    return new PlatformCaptureError('too_large', 'the video is larger than FETCH_MAX_BYTES', true);
  if (exit.timedOut || summary.ended?.code === 'timeout')
    return new PlatformCaptureError('timeout', 'yt-dlp did not finish in time', false);
  if (exit.killed)
    return new PlatformCaptureError('download_failed', 'stopped: the worker is shutting down', false);
  const error = lastError(exit);
  if (
    /Unsupported URL|No video formats found|Requested format is not available|no suitable formats/i.test(
      error,
    )
  )
    return new PlatformCaptureError('no_video', error || 'yt-dlp found no video', true);
  if (TRANSIENT.test(error)) return new PlatformCaptureError('download_failed', error, false);
  if (error) return new PlatformCaptureError('extractor_error', error, true);
  if (exit.code === 0 && !hadVideo)
    return new PlatformCaptureError('no_video', 'yt-dlp kept no video file', true);
  return new PlatformCaptureError(
    'no_output',
    `yt-dlp ended (${exit.signal ?? `exit ${exit.code}`}) without a video and its info JSON`,
    false,
  );
}
