// Describing audio and video files with ffprobe. ffprobe is a separate binary: the one an
// operator configured, else one on PATH, else the copy @ffprobe-installer ships in
// node_modules (so a fresh checkout works without a system ffmpeg). It reads files that
// came from strangers, so every run is bounded in time and output and may read local files
// only, and its answer is reduced to plain JSON-safe numbers and strings.
import { spawn } from 'node:child_process';
import { constants as fsConstants } from 'node:fs';
import { access, chmod, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { boundedTags, clip, compact, finiteNumber } from './json.ts';

export type MediaProbeErrorCode = 'probe_failed' | 'probe_timeout' | 'not_media';

/** ffprobe could not describe a file. `detail` is safe to store as a failure reason. */
export class MediaProbeError extends Error {
  override readonly name = 'MediaProbeError';
  constructor(
    readonly code: MediaProbeErrorCode,
    readonly detail: string,
    options?: ErrorOptions,
  ) {
    super(`${code}: ${detail}`, options);
  }
}

/** No usable ffprobe binary: a deployment problem, not a property of the file. */
export class FfprobeUnavailableError extends Error {
  override readonly name = 'FfprobeUnavailableError';
}

export type StreamType = 'video' | 'audio' | 'subtitle' | 'data';

export type MediaStream = {
  index: number;
  type: StreamType;
  /** ffprobe's codec_name, e.g. "h264", "aac"; "unknown" when ffprobe names none. */
  codec: string;
  profile?: string;
  width?: number;
  height?: number;
  /** Frames per second from avg_frame_rate ("30000/1001" → 29.97…). */
  frameRate?: number;
  bitRate?: number;
  /** Display rotation in degrees, see `rotationOf`. */
  rotation?: number;
  sampleRate?: number;
  channels?: number;
  durationSeconds?: number;
  /** Cover art stored as a video stream (MP3/M4A artwork); not the picture of a video. */
  attachedPicture?: true;
  tags?: Record<string, string>;
};

export type MediaMetadata = {
  /** The presentation duration: see `presentationDuration`; null when ffprobe knows none. */
  durationSeconds: number | null;
  /** ffprobe's format_name, e.g. "mov,mp4,m4a,3gp,3g2,mj2". */
  container: string;
  formatLongName?: string;
  bitRate?: number;
  size?: number;
  tags?: Record<string, string>;
  /** creation_time from the container (or first stream) tags as ISO 8601, else null. */
  creationTime: string | null;
  streams: MediaStream[];
  /** Of the first video stream that is not cover art. */
  width?: number;
  height?: number;
  frameRate?: number;
  rotation?: number;
};

// ffprobe prints a few KiB of JSON per stream; a file with thousands of streams or a
// hostile tag table must not make the worker buffer without limit.
const DEFAULT_MAX_OUTPUT_BYTES = 4 * 1024 * 1024;
const MAX_STDERR_BYTES = 8 * 1024;
const MAX_STREAMS = 64;
const PATH_CHECK_TIMEOUT_MS = 5_000;

/**
 * The demuxers ffprobe may use (`-format_whitelist`; names as `ffprobe -formats` prints
 * them). `-protocol_whitelist file` keeps ffprobe off the network, but not off the disk:
 * some demuxers read other files named inside the one probed — HLS and DASH playlists,
 * WebM DASH and IMF manifests, concat lists, image2 sequences (a file name pattern), and
 * device or filter-graph inputs (lavfi can read any path). A stranger's download must
 * describe only itself, so only ordinary self-contained audio/video containers are
 * allowed, and anything else is refused before its header is read. (The mov demuxer's
 * external data references stay off: its `enable_drefs` option defaults to false.)
 */
export const FORMAT_WHITELIST: readonly string[] = [
  'mov,mp4,m4a,3gp,3g2,mj2', // MP4, MOV, M4A, 3GP
  'matroska,webm', // MKV, MKA, WebM
  'avi',
  'flv',
  'mpegts', // MPEG-TS (.ts, .mts)
  'mpeg', // MPEG-PS (.mpg, .vob)
  'ogg', // Ogg Vorbis, Opus, Theora
  'asf', // WMV, WMA
  'wav',
  'mp3', // MPEG audio layers 1 to 3
  'aac', // raw ADTS
  'flac',
  'aiff',
  'caf', // Apple Core Audio
  'amr', // phone voice recordings
];

/** An executable regular file (a configured or discovered ffprobe/ffmpeg). */
export async function isExecutable(path: string): Promise<boolean> {
  try {
    await access(path, fsConstants.X_OK);
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

let discovered: Promise<string> | undefined;

/**
 * Where ffprobe is. A configured path must be executable (the error names it: a typo should
 * not silently fall back to another binary). Otherwise `ffprobe` on PATH — found by running
 * it, so this module need not read the environment — and last the @ffprobe-installer copy,
 * made executable if npm unpacked it without the bit.
 */
export async function resolveFfprobePath(configured?: string): Promise<string> {
  if (configured !== undefined && configured !== '') {
    if (await isExecutable(configured)) return configured;
    throw new FfprobeUnavailableError(`configured ffprobe ${configured} is not an executable file`);
  }
  // Looking on PATH runs a process; remember a success (a failure is retried next time).
  discovered ??= discoverFfprobe().catch((error: unknown) => {
    discovered = undefined;
    throw error;
  });
  return discovered;
}

async function discoverFfprobe(): Promise<string> {
  if ((await versionLine('ffprobe')) !== null) return 'ffprobe';
  const installed = await npmStaticBinary('@ffprobe-installer/ffprobe');
  if ('path' in installed) return installed.path;
  throw new FfprobeUnavailableError(
    `no ffprobe on PATH and ${installed.why}; install ffmpeg or configure the path`,
  );
}

/**
 * The binary an @ffprobe-installer / @ffmpeg-installer package ships for this platform, made
 * executable if npm unpacked it without the bit; or why there is none.
 */
export async function npmStaticBinary(pkg: string): Promise<{ path: string } | { why: string }> {
  let installed: string;
  try {
    const require = createRequire(import.meta.url);
    // The package's index throws when it has no binary for this platform.
    installed = (require(pkg) as { path: string }).path;
  } catch (error) {
    return { why: `${pkg} has none for this platform or is not installed: ${(error as Error).message}` };
  }
  if (await isExecutable(installed)) return { path: installed };
  try {
    const { mode } = await stat(installed);
    await chmod(installed, mode | 0o100);
  } catch {
    // Reported below.
  }
  if (await isExecutable(installed)) return { path: installed };
  return { why: `${installed} is not executable (chmod u+x failed)` };
}

const versions = new Map<string, Promise<string | null>>();

async function versionLine(ffprobePath: string): Promise<string | null> {
  const run = await runBounded(ffprobePath, ['-version'], PATH_CHECK_TIMEOUT_MS, 64 * 1024).catch(() => null);
  if (run?.exitCode !== 0) return null;
  return run.stdout.toString('utf8').split('\n', 1)[0] ?? null;
}

/**
 * The version ffprobe reports ("6.1.1", or a build id like "N-66595-gc2b38619c0-static"),
 * recorded next to the metadata because another ffprobe may describe the same file a
 * little differently. Cached per path.
 */
export function ffprobeVersion(ffprobePath: string): Promise<string | null> {
  let cached = versions.get(ffprobePath);
  if (!cached) {
    cached = versionLine(ffprobePath).then((line) => /^ffprobe version (\S+)/.exec(line ?? '')?.[1] ?? null);
    versions.set(ffprobePath, cached);
  }
  return cached;
}

interface BoundedRun {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
}

/**
 * Runs a command with a deadline and a stdout cap. Settles as soon as the deadline passes
 * or the cap is hit (after SIGKILL), without waiting for the pipes to close: a wrapper
 * script's children could hold them open long after.
 */
function runBounded(
  command: string,
  args: string[],
  timeoutMs: number,
  maxStdout: number,
): Promise<BoundedRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], windowsHide: true });
    const out: Buffer[] = [];
    let outBytes = 0;
    let stderr = '';
    let settled = false;
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      fn();
    };
    const abort = (error: MediaProbeError) => {
      child.kill('SIGKILL');
      child.stdout.destroy();
      child.stderr.destroy();
      finish(() => reject(error));
    };
    const timer = setTimeout(
      () => abort(new MediaProbeError('probe_timeout', `${command} did not finish within ${timeoutMs} ms`)),
      timeoutMs,
    );
    child.stdout.on('data', (chunk: Buffer) => {
      outBytes += chunk.length;
      if (outBytes > maxStdout) {
        abort(new MediaProbeError('probe_failed', `${command} printed more than ${maxStdout} bytes`));
        return;
      }
      out.push(chunk);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      if (stderr.length < MAX_STDERR_BYTES) stderr += chunk.toString('utf8');
    });
    child.on('error', (error) =>
      finish(() =>
        reject(
          new MediaProbeError('probe_failed', `cannot run ${command}: ${error.message}`, { cause: error }),
        ),
      ),
    );
    child.on('close', (exitCode, signal) =>
      finish(() =>
        resolve({ exitCode, signal, stdout: Buffer.concat(out), stderr: clip(stderr, MAX_STDERR_BYTES) }),
      ),
    );
  });
}

export interface ProbeOptions {
  timeoutMs: number;
  /** Cap on ffprobe's JSON output (default 4 MiB). */
  maxOutputBytes?: number;
}

/**
 * Describes one local file. Rejects with MediaProbeError: `not_media` when ffprobe finds no
 * audio or video in it or its format is not in FORMAT_WHITELIST, `probe_timeout` past `timeoutMs` (ffprobe is killed), `probe_failed`
 * for anything else (missing file, crash, oversized or unreadable output).
 */
export async function probeMedia(
  ffprobePath: string,
  filePath: string,
  options: ProbeOptions,
): Promise<MediaMetadata> {
  const args = [
    '-v',
    'error',
    // Only local files: a hostile HLS playlist or concat list must not make ffprobe fetch URLs.
    '-protocol_whitelist',
    'file',
    // Only self-contained containers: such a playlist must not make it read other local files.
    '-format_whitelist',
    FORMAT_WHITELIST.join(','),
    '-print_format',
    'json',
    '-show_format',
    '-show_streams',
    // The file: prefix keeps a name like "-x" or "http:..." from being read as an option or URL.
    `file:${filePath}`,
  ];
  const run = await runBounded(
    ffprobePath,
    args,
    options.timeoutMs,
    options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES,
  );
  const message = run.stderr.trim().replaceAll(`file:${filePath}: `, '');
  if (run.exitCode !== 0) {
    // "[hls @ 0x55d0c1a2b3c0] Format not on whitelist 'mov,mp4,…'": ffprobe recognised the
    // file but its demuxer is not one of FORMAT_WHITELIST, so nothing past the probe was read.
    const refused = /\[([\w,]+) @ [^\]]*\] Format not on whitelist/.exec(message);
    if (refused) {
      throw new MediaProbeError(
        'not_media',
        `format ${refused[1]} is not an audio/video container ffprobe may open (playlists, lists and image sequences are refused)`,
      );
    }
    if (/Invalid data found when processing input|could not find codec parameters/i.test(message)) {
      throw new MediaProbeError('not_media', message || 'ffprobe found no media in the file');
    }
    const how = run.signal ? `killed by ${run.signal}` : `exit ${run.exitCode}`;
    throw new MediaProbeError('probe_failed', `ffprobe ${how}${message ? `: ${message}` : ''}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(run.stdout.toString('utf8'));
  } catch (error) {
    throw new MediaProbeError('probe_failed', 'ffprobe printed output that is not JSON', { cause: error });
  }
  return mapProbeOutput(parsed);
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);
const str = (v: unknown, max = 256): string | undefined =>
  typeof v === 'string' && v !== '' ? clip(v, max) : undefined;
const positive = (v: unknown): number | undefined => {
  const n = finiteNumber(v);
  return n !== undefined && n > 0 ? n : undefined;
};

/** "30000/1001" → 29.97002997…; "0/0" and garbage → undefined. */
export function parseFrameRate(value: unknown): number | undefined {
  if (typeof value !== 'string') return positive(value);
  const m = /^(\d+(?:\.\d+)?)(?:\/(\d+(?:\.\d+)?))?$/.exec(value.trim());
  if (!m) return undefined;
  const num = Number(m[1]);
  const den = m[2] === undefined ? 1 : Number(m[2]);
  return den > 0 && num > 0 ? num / den : undefined;
}

/**
 * Rotation in degrees in (-180, 180], in the convention of ffprobe's display matrix
 * ("rotation" in side_data_list): counter-clockwise, so a portrait phone video is -90.
 * Older ffprobe versions also print the legacy `rotate` tag, which counts clockwise; it is
 * negated to the same convention and used only when there is no display matrix.
 */
function rotationOf(stream: Obj): number | undefined {
  let degrees: number | undefined;
  if (Array.isArray(stream.side_data_list)) {
    for (const side of stream.side_data_list) {
      if (isObj(side) && /display ?matrix/i.test(String(side.side_data_type ?? ''))) {
        degrees = finiteNumber(side.rotation);
        if (degrees !== undefined) break;
      }
    }
  }
  if (degrees === undefined && isObj(stream.tags)) {
    const legacy = finiteNumber(stream.tags.rotate);
    if (legacy !== undefined) degrees = -legacy;
  }
  if (degrees === undefined) return undefined;
  let normalized = degrees % 360;
  if (normalized <= -180) normalized += 360;
  if (normalized > 180) normalized -= 360;
  return normalized === 0 ? 0 : normalized; // no -0 in JSON
}

const STREAM_TYPES: Record<string, StreamType> = {
  video: 'video',
  audio: 'audio',
  subtitle: 'subtitle',
  data: 'data',
  attachment: 'data',
};

function mapStream(raw: Obj, position: number): MediaStream {
  const type = STREAM_TYPES[String(raw.codec_type)] ?? 'data';
  const isVideo = type === 'video';
  const isAudio = type === 'audio';
  const disposition = isObj(raw.disposition) ? raw.disposition : {};
  return compact({
    index: finiteNumber(raw.index) ?? position,
    type,
    codec: str(raw.codec_name, 64) ?? 'unknown',
    profile: str(raw.profile, 64),
    width: isVideo ? positive(raw.width) : undefined,
    height: isVideo ? positive(raw.height) : undefined,
    frameRate: isVideo ? (parseFrameRate(raw.avg_frame_rate) ?? parseFrameRate(raw.r_frame_rate)) : undefined,
    bitRate: positive(raw.bit_rate),
    rotation: isVideo ? rotationOf(raw) : undefined,
    sampleRate: isAudio ? positive(raw.sample_rate) : undefined,
    channels: isAudio ? positive(raw.channels) : undefined,
    durationSeconds: positive(raw.duration),
    attachedPicture: isVideo && finiteNumber(disposition.attached_pic) === 1 ? (true as const) : undefined,
    tags: boundedTags(raw.tags, 32),
  });
}

function isoTime(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length > 64) return undefined;
  const ms = Date.parse(value);
  // 1970-01-01 is what many muxers write when they know no time; it means "unknown".
  return Number.isFinite(ms) && ms !== 0 ? new Date(ms).toISOString() : undefined;
}

/**
 * How long the file plays: the longest audio or video stream (cover art aside), else the
 * container's duration. Stream durations are what ffprobe computes after applying an MP4's
 * edit list; the container's (`format.duration`) may be the header's `mvhd` value, which
 * ffmpeg's own muxer writes including the 1024 AAC priming samples the edit list skips. So
 * Debian's ffprobe 5.1 reads a 31 s ffmpeg-made MP4 with 8 kHz AAC as 31.128 s while newer
 * builds (which derive it from the streams) read 31.000; both agree on the streams. The
 * container's value is kept for files whose streams carry no duration (Matroska, WebM).
 */
export function presentationDuration(
  streams: readonly MediaStream[],
  formatDuration?: number,
): number | null {
  const playable = streams.filter((s) => (s.type === 'video' && !s.attachedPicture) || s.type === 'audio');
  const longest = Math.max(0, ...playable.map((s) => s.durationSeconds ?? 0));
  return longest > 0 ? longest : (formatDuration ?? null);
}

/**
 * Reduces ffprobe's `-show_format -show_streams` JSON to MediaMetadata. Exported so the
 * mapping can be checked against output of other ffprobe versions without running one.
 * Throws MediaProbeError `not_media` when there is no audio or video stream.
 */
export function mapProbeOutput(json: unknown): MediaMetadata {
  if (!isObj(json)) throw new MediaProbeError('probe_failed', 'ffprobe output is not a JSON object');
  const format = isObj(json.format) ? json.format : {};
  const rawStreams = Array.isArray(json.streams) ? json.streams.filter(isObj) : [];
  const streams = rawStreams.slice(0, MAX_STREAMS).map(mapStream);
  if (!streams.some((s) => s.type === 'video' || s.type === 'audio')) {
    throw new MediaProbeError(
      'not_media',
      `no audio or video stream (format ${str(format.format_name) ?? 'unknown'})`,
    );
  }
  const formatTags = boundedTags(format.tags);
  const creationTime =
    isoTime(formatTags?.creation_time) ??
    streams.map((s) => isoTime(s.tags?.creation_time)).find((t) => t !== undefined) ??
    null;
  const video = streams.find((s) => s.type === 'video' && !s.attachedPicture);
  return compact({
    durationSeconds: presentationDuration(streams, positive(format.duration)),
    container: str(format.format_name) ?? 'unknown',
    formatLongName: str(format.format_long_name),
    bitRate: positive(format.bit_rate),
    size: finiteNumber(format.size),
    tags: formatTags,
    creationTime,
    streams,
    width: video?.width,
    height: video?.height,
    frameRate: video?.frameRate,
    rotation: video?.rotation,
  });
}
