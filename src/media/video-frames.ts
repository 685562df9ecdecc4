// One picture per second of a video, decoded by ffmpeg, for vPDQ (ThreatExchange `vpdq/`:
// PDQ of frames at one per second). Frames are scaled by ffmpeg to 64×64 with its area filter,
// as the reference vPDQ hasher does (`--downsample-frame-dimension 64`, SWS_AREA), and PDQ
// takes a 64×64 picture as its already-downsampled grid. Measured on the fixtures: a copy at
// a quarter of the resolution is 16–22 bits from the original on every second this way, but
// 18–42 bits (a third of the seconds over the match distance) when PDQ resamples the small
// frames itself (below 128 pixels its tent filter has nothing to average, so it aliases).
// The pipe then carries 12 KiB a second whatever the resolution.
//
// ffmpeg reads files that came from strangers, so it gets ffprobe's fences (local file only,
// self-contained containers only), a deadline and a cap on frames.
import { spawn } from 'node:child_process';
import { dirname, isAbsolute, join } from 'node:path';
import { FORMAT_WHITELIST, isExecutable, npmStaticBinary } from './ffprobe.ts';

export interface RgbFrame {
  /** Seconds from the start: frame n of the 1 fps stream shows second n. */
  second: number;
  width: number;
  height: number;
  /** width × height × 3 bytes, interleaved R, G, B. Valid only until the callback returns. */
  pixels: Uint8Array;
}

/** Every frame is scaled to this square (PDQ's own 64×64 grid). */
export const FRAME_SIDE = 64;
const FRAME_BYTES = FRAME_SIDE * FRAME_SIDE * 3;

export interface FrameOptions {
  /** Bound on the whole decode (default 10 minutes). */
  timeoutMs?: number;
  /** Frames (seconds) decoded at most (default 4 hours' worth); later ones are not read. */
  maxSeconds?: number;
}

export class VideoDecodeError extends Error {
  override readonly name = 'VideoDecodeError';
  constructor(
    readonly code: 'decode_failed' | 'decode_timeout' | 'not_media',
    readonly detail: string,
    options?: ErrorOptions,
  ) {
    super(`${code}: ${detail}`, options);
  }
}

export class FfmpegUnavailableError extends Error {
  override readonly name = 'FfmpegUnavailableError';
}

const DEFAULT_TIMEOUT_MS = 10 * 60_000;
const DEFAULT_MAX_SECONDS = 4 * 3600;
const MAX_STDERR = 4096;

/** The ffmpeg arguments for 1 fps frames of the first video stream (cover art excluded). */
export function frameArgs(filePath: string, maxSeconds: number): string[] {
  return [
    '-hide_banner',
    '-loglevel',
    'error',
    '-nostdin',
    '-protocol_whitelist',
    'file',
    '-format_whitelist',
    FORMAT_WHITELIST.join(','),
    '-i',
    `file:${filePath}`,
    '-map',
    '0:V:0',
    '-vf',
    `fps=1,scale=${FRAME_SIDE}:${FRAME_SIDE}:flags=area`,
    '-frames:v',
    String(maxSeconds),
    '-f',
    'rawvideo',
    '-pix_fmt',
    'rgb24',
    'pipe:1',
  ];
}

/**
 * Decodes one frame per second and calls `onFrame` for each, in order (synchronously from the
 * pipe's reader, so a slow callback slows ffmpeg instead of buffering frames). Resolves with
 * the number of frames; rejects with VideoDecodeError (ffmpeg is killed on timeout).
 */
export function decodeFramesPerSecond(
  ffmpegPath: string,
  filePath: string,
  onFrame: (frame: RgbFrame) => void,
  options: FrameOptions = {},
): Promise<number> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const maxSeconds = options.maxSeconds ?? DEFAULT_MAX_SECONDS;
  return new Promise((resolve, reject) => {
    const child = spawn(ffmpegPath, frameArgs(filePath, maxSeconds), {
      stdio: ['ignore', 'pipe', 'pipe'],
      windowsHide: true,
    });
    const parser = new FrameSplitter(FRAME_BYTES);
    let frames = 0;
    let stderr = '';
    let settled = false;
    const fail = (error: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(error);
    };
    const timer = setTimeout(
      () => fail(new VideoDecodeError('decode_timeout', `ffmpeg did not finish within ${timeoutMs} ms`)),
      timeoutMs,
    );
    child.stdout.on('data', (chunk: Buffer) => {
      if (settled) return;
      try {
        parser.push(chunk, (pixels) =>
          onFrame({ second: frames++, width: FRAME_SIDE, height: FRAME_SIDE, pixels }),
        );
      } catch (error) {
        fail(error as Error);
      }
    });
    child.stderr.on('data', (chunk: Buffer) => {
      if (stderr.length < MAX_STDERR) stderr += chunk.toString('utf8');
    });
    child.on('error', (error) =>
      fail(
        new VideoDecodeError('decode_failed', `cannot run ${ffmpegPath}: ${error.message}`, { cause: error }),
      ),
    );
    child.on('close', (code, signal) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      const message = stderr.trim().replaceAll(`file:${filePath}: `, '').slice(0, MAX_STDERR);
      if (code !== 0) {
        const notMedia =
          /Format not on whitelist|Invalid data found|does not contain any stream|matches no streams/i;
        const how = signal ? `killed by ${signal}` : `exit ${code}`;
        reject(
          new VideoDecodeError(
            notMedia.test(message) ? 'not_media' : 'decode_failed',
            `ffmpeg ${how}${message ? `: ${message}` : ''}`,
          ),
        );
      } else if (parser.pending()) {
        reject(new VideoDecodeError('decode_failed', 'ffmpeg ended inside a frame'));
      } else {
        resolve(frames);
      }
    });
  });
}

/** Cuts a byte stream into frames of one size, copying only a frame split across chunks. */
export class FrameSplitter {
  private readonly partial: Buffer;
  private filled = 0;

  constructor(private readonly frameBytes: number) {
    this.partial = Buffer.alloc(frameBytes);
  }

  push(chunk: Buffer, onFrame: (pixels: Uint8Array) => void): void {
    let at = 0;
    if (this.filled > 0) {
      const take = Math.min(this.frameBytes - this.filled, chunk.length);
      chunk.copy(this.partial, this.filled, 0, take);
      this.filled += take;
      at = take;
      if (this.filled < this.frameBytes) return;
      this.filled = 0;
      onFrame(this.partial);
    }
    for (; at + this.frameBytes <= chunk.length; at += this.frameBytes) {
      onFrame(chunk.subarray(at, at + this.frameBytes));
    }
    if (at < chunk.length) {
      chunk.copy(this.partial, 0, at);
      this.filled = chunk.length - at;
    }
  }

  /** Bytes of an unfinished frame are waiting. */
  pending(): boolean {
    return this.filled > 0;
  }
}

function answers(command: string): Promise<boolean> {
  return new Promise((resolve) => {
    const child = spawn(command, ['-version'], { stdio: 'ignore' });
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.on('error', () => resolve(false));
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve(code === 0);
    });
  });
}

let discovered: Promise<string> | undefined;

/**
 * Where ffmpeg is (FFMPEG_PATH): a configured path (must be executable), else `ffmpeg` on PATH,
 * else the static copy from npm (@ffmpeg-installer/ffmpeg, when installed), else an `ffmpeg`
 * next to the ffprobe in use (static builds ship both).
 */
export async function resolveFfmpegPath(configured?: string, ffprobePath?: string): Promise<string> {
  if (configured) {
    if (await isExecutable(configured)) return configured;
    throw new FfmpegUnavailableError(`configured ffmpeg ${configured} is not an executable file`);
  }
  discovered ??= (async () => {
    if (await answers('ffmpeg')) return 'ffmpeg';
    const installed = await npmStaticBinary('@ffmpeg-installer/ffmpeg');
    if ('path' in installed) return installed.path;
    if (ffprobePath && isAbsolute(ffprobePath)) {
      const sibling = join(dirname(ffprobePath), 'ffmpeg');
      if (await isExecutable(sibling)) return sibling;
    }
    throw new FfmpegUnavailableError(
      `no ffmpeg on PATH, ${installed.why}, none next to ffprobe: install ffmpeg to hash videos`,
    );
  })().catch((error: unknown) => {
    discovered = undefined;
    throw error;
  });
  return discovered;
}
