// One picture per second of a video, decoded by ffmpeg, for vPDQ (ThreatExchange `vpdq/`:
// PDQ of frames at one per second). ffmpeg reads files that came from strangers, so it gets
// ffprobe's fences (local file only, self-contained containers only), a deadline and a cap on
// frames, and frames are shrunk inside ffmpeg to fit 512×512 like images (image-pixels.ts):
// the pipe carries at most 768 KiB a second whatever the resolution.
//
// Frames come out as PPM (`-f image2pipe -c:v ppm`): rgb24 bytes exactly as `-f rawvideo
// -pix_fmt rgb24` gives them, each behind a dozen bytes of header stating its size, so the
// stream splits itself without knowing the scaled size in advance or parsing ffmpeg's log.
import { spawn } from 'node:child_process';
import { constants as fsConstants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { dirname, isAbsolute, join } from 'node:path';
import { FORMAT_WHITELIST } from './ffprobe.ts';
import { HASH_INPUT_MAX_SIDE } from './image-pixels.ts';

export interface RgbFrame {
  /** Seconds from the start: frame n of the 1 fps stream shows second n. */
  second: number;
  width: number;
  height: number;
  /** width × height × 3 bytes, interleaved R, G, B. Valid only until the callback returns. */
  pixels: Uint8Array;
}

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
  const side = HASH_INPUT_MAX_SIDE;
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
    `fps=1,scale=w='min(${side},iw)':h='min(${side},ih)':force_original_aspect_ratio=decrease`,
    '-frames:v',
    String(maxSeconds),
    '-f',
    'image2pipe',
    '-c:v',
    'ppm',
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
    const parser = new PpmSplitter();
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
        parser.push(chunk, (width, height, pixels) => onFrame({ second: frames++, width, height, pixels }));
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

/** Splits a stream of binary PPM images (P6, maxval 255) into frames. */
export class PpmSplitter {
  private buffer: Buffer = Buffer.alloc(0);

  push(chunk: Buffer, onFrame: (width: number, height: number, pixels: Uint8Array) => void): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    for (;;) {
      const header = parseHeader(this.buffer);
      if (!header) return;
      const end = header.offset + header.width * header.height * 3;
      if (this.buffer.length < end) return;
      onFrame(header.width, header.height, this.buffer.subarray(header.offset, end));
      this.buffer = this.buffer.subarray(end);
    }
  }

  /** Bytes of an unfinished frame are waiting. */
  pending(): boolean {
    return this.buffer.length > 0;
  }
}

/** "P6\n<width> <height>\n255\n" (any whitespace); undefined while incomplete. */
function parseHeader(buffer: Buffer): { width: number; height: number; offset: number } | undefined {
  const head = buffer.subarray(0, 64).toString('latin1');
  const m = /^P6\s+(\d+)\s+(\d+)\s+(\d+)\s/.exec(head);
  if (!m) {
    if (head.length >= 64 || (head.length >= 2 && !head.startsWith('P6'))) {
      throw new VideoDecodeError('decode_failed', 'ffmpeg wrote something other than a PPM frame');
    }
    return undefined;
  }
  const width = Number(m[1]);
  const height = Number(m[2]);
  if (
    m[3] !== '255' ||
    width < 1 ||
    height < 1 ||
    width > 4 * HASH_INPUT_MAX_SIDE ||
    height > 4 * HASH_INPUT_MAX_SIDE
  ) {
    throw new VideoDecodeError('decode_failed', `unexpected frame header ${JSON.stringify(m[0])}`);
  }
  return { width, height, offset: m[0].length };
}

async function isExecutable(path: string): Promise<boolean> {
  try {
    await access(path, fsConstants.X_OK);
    return (await stat(path)).isFile();
  } catch {
    return false;
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
 * Where ffmpeg is: a configured path (must be executable), else `ffmpeg` on PATH, else an
 * `ffmpeg` next to the ffprobe in use (static builds ship both). Unlike ffprobe there is no
 * copy from npm among the runtime dependencies: a worker that hashes video needs ffmpeg installed.
 */
export async function resolveFfmpegPath(configured?: string, ffprobePath?: string): Promise<string> {
  if (configured) {
    if (await isExecutable(configured)) return configured;
    throw new FfmpegUnavailableError(`configured ffmpeg ${configured} is not an executable file`);
  }
  discovered ??= (async () => {
    if (await answers('ffmpeg')) return 'ffmpeg';
    if (ffprobePath && isAbsolute(ffprobePath)) {
      const sibling = join(dirname(ffprobePath), 'ffmpeg');
      if (await isExecutable(sibling)) return sibling;
    }
    throw new FfmpegUnavailableError('no ffmpeg on PATH or next to ffprobe: install ffmpeg to hash videos');
  })().catch((error: unknown) => {
    discovered = undefined;
    throw error;
  });
  return discovered;
}
