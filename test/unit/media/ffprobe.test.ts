// ffprobe on the committed fixtures: the real binaries, no mocks. The fixture tests run once per
// ffprobe build on this machine (PATH's and @ffprobe-installer's), and assert what every
// conforming build agrees on, or the product's own duration tolerance: never one build's figure.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { chmod, copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { canonicalJson } from '../../../src/ledger/canonical.ts';
import {
  FfprobeUnavailableError,
  FORMAT_WHITELIST,
  ffprobeVersion,
  type MediaMetadata,
  MediaProbeError,
  mapProbeOutput,
  parseFrameRate,
  probeMedia,
  resolveFfprobePath,
} from '../../../src/media/ffprobe.ts';
import { durationCheckPasses, ffprobeBuilds, fixture, scratchDir } from './helpers.ts';

const dir = await scratchDir();
const builds = ffprobeBuilds();
let ffprobe: string;
const probe = (path: string) => probeMedia(ffprobe, path, { timeoutMs: 20_000 });
/** The longest audio/video stream: the duration every build computes alike (edit lists applied). */
const longestStream = (m: MediaMetadata) =>
  Math.max(...m.streams.filter((s) => !s.attachedPicture).map((s) => s.durationSeconds ?? 0));

async function probeError(promise: Promise<unknown>): Promise<MediaProbeError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(MediaProbeError);
  return error as MediaProbeError;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

beforeAll(async () => {
  ffprobe = await resolveFfprobePath();
});

describe('resolveFfprobePath', () => {
  it('finds a working ffprobe without configuration', async () => {
    const version = await ffprobeVersion(ffprobe);
    expect(version).toMatch(/\S/);
  });

  it('refuses a configured path that does not exist, naming it', async () => {
    const missing = join(dir, 'no-such-ffprobe');
    await expect(resolveFfprobePath(missing)).rejects.toThrow(FfprobeUnavailableError);
    await expect(resolveFfprobePath(missing)).rejects.toThrow(missing);
  });

  it('refuses a configured file that is not executable, and accepts one that is', async () => {
    const script = join(dir, 'fake-ffprobe-plain');
    await writeFile(script, '#!/bin/sh\nexit 0\n', { mode: 0o644 });
    await expect(resolveFfprobePath(script)).rejects.toThrow(script);
    await chmod(script, 0o755);
    await expect(resolveFfprobePath(script)).resolves.toBe(script);
  });
});

it('finds at least one ffprobe build to run the fixture tests with', () => {
  expect(builds.length).toBeGreaterThan(0);
});

describe.each(builds)('probeMedia on the fixtures with $label', ({ path: bin }) => {
  const probe = (path: string) => probeMedia(bin, path, { timeoutMs: 20_000 });

  it('describes the 31-second H.264/AAC video', async () => {
    const m = await probe(fixture('zelenskyy-31s.mp4'));
    // Its header says 31.128 s (AAC priming counted), its edit lists 31 s: the duration is the
    // streams' (what the file plays), whichever build reads it.
    expect(m.durationSeconds).toBe(longestStream(m));
    expect(durationCheckPasses(m, 31)).toBe(true);
    expect(m.container).toContain('mp4');
    expect(m.streams.map((s) => [s.type, s.codec])).toEqual([
      ['video', 'h264'],
      ['audio', 'aac'],
    ]);
    expect([m.width, m.height, m.frameRate]).toEqual([96, 64, 2]);
    const video = m.streams[0]!;
    expect([video.width, video.height, video.frameRate]).toEqual([96, 64, 2]);
    const audio = m.streams[1]!;
    expect([audio.sampleRate, audio.channels]).toEqual([8000, 1]);
    expect(audio.width).toBeUndefined();
    expect(m.creationTime).toBe('2024-12-17T18:31:00.000Z');
    expect(m.tags?.major_brand).toBe('isom');
    expect(m.size).toBe(statSync(fixture('zelenskyy-31s.mp4')).size);
    expect(typeof m.bitRate).toBe('number');
  });

  it('tells the 30-second variant apart from the 31-second video', async () => {
    const m = await probe(fixture('variant-30s.mp4'));
    expect(m.durationSeconds).toBe(longestStream(m));
    expect(durationCheckPasses(m, 30)).toBe(true);
    expect(durationCheckPasses(m, 31)).toBe(false);
    expect(m.streams.map((s) => s.codec)).toEqual(['h264', 'aac']);
  });

  it('describes an audio-only file without video fields', async () => {
    const m = await probe(fixture('tone-5s.m4a'));
    expect(m.durationSeconds).toBe(longestStream(m));
    expect(durationCheckPasses(m, 5)).toBe(true);
    expect(m.streams).toHaveLength(1);
    expect(m.streams[0]).toMatchObject({ type: 'audio', codec: 'aac', sampleRate: 8000, channels: 1 });
    expect(m).not.toHaveProperty('width');
    expect(m).not.toHaveProperty('frameRate');
    expect(m.creationTime).toBeNull();
  });

  it('reads the display-matrix rotation', async () => {
    const m = await probe(fixture('rotated-1s.mp4'));
    expect(m.rotation).toBe(90);
    expect(m.streams[0]!.rotation).toBe(90);
    const upright = await probe(fixture('zelenskyy-31s.mp4'));
    expect(upright).not.toHaveProperty('rotation');
  });

  it('yields values the ledger can canonicalize (no undefined, NaN)', async () => {
    for (const name of ['zelenskyy-31s.mp4', 'variant-30s.mp4', 'tone-5s.m4a', 'rotated-1s.mp4']) {
      const m = await probe(fixture(name));
      expect(() => canonicalJson(m)).not.toThrow();
      expect(JSON.parse(JSON.stringify(m))).toStrictEqual(m);
    }
  });
});

describe('probeMedia failures', () => {
  it('reports text and random bytes as not_media', async () => {
    const text = join(dir, 'notes.mp4');
    await writeFile(text, 'This is a text file that only pretends to be a video.\n'.repeat(50));
    expect((await probeError(probe(text))).code).toBe('not_media');
    const noise = join(dir, 'noise.bin');
    await writeFile(noise, randomBytes(64 * 1024));
    expect(['not_media', 'probe_failed']).toContain((await probeError(probe(noise))).code);
  });

  it('refuses a JPEG (an image demuxer, not on the format whitelist) as not_media', async () => {
    // The kind dispatch keeps images away from ffprobe; one that reaches it anyway gets a
    // plain answer rather than an obscure failure.
    const error = await probeError(probe(fixture('photo-exif.jpg')));
    expect(error.code).toBe('not_media');
    expect(error.detail).toMatch(/^format jpeg_pipe is not an audio\/video container/);
  });

  it('reports a missing file as probe_failed', async () => {
    const error = await probeError(probe(join(dir, 'does-not-exist.mp4')));
    expect(error.code).toBe('probe_failed');
    expect(error.detail).toMatch(/No such file/i);
  });

  it('kills a hung ffprobe at the deadline (probe_timeout)', async () => {
    const hung = join(dir, 'hung-ffprobe');
    const pidFile = join(dir, 'hung.pid');
    // exec: the sleep keeps the shell's pid, which the script records.
    await writeFile(hung, `#!/bin/sh\necho $$ > '${pidFile}'\nexec sleep 30\n`, { mode: 0o755 });
    const started = Date.now();
    const error = await probeError(probeMedia(hung, fixture('zelenskyy-31s.mp4'), { timeoutMs: 300 }));
    expect(error.code).toBe('probe_timeout');
    expect(Date.now() - started).toBeLessThan(5_000);
    const pid = Number(readFileSync(pidFile, 'utf8'));
    expect(pid).toBeGreaterThan(0);
    await expect.poll(() => isAlive(pid), { timeout: 3_000 }).toBe(false);
  });

  it('stops reading output past the cap', async () => {
    const error = await probeError(
      probeMedia(ffprobe, fixture('zelenskyy-31s.mp4'), { timeoutMs: 20_000, maxOutputBytes: 200 }),
    );
    expect(error.code).toBe('probe_failed');
    expect(error.detail).toMatch(/more than 200 bytes/);
  });

  it('reports a binary that cannot run as probe_failed', async () => {
    const error = await probeError(
      probeMedia(join(dir, 'nothing-here'), fixture('tone-5s.m4a'), { timeoutMs: 1000 }),
    );
    expect(error.code).toBe('probe_failed');
  });
});

/** ffprobe's streams for a file, run as probeMedia would but without the format whitelist. */
function probeWithoutFormatWhitelist(
  ffprobe: string,
  path: string,
): Promise<{ format: string; codecs: string[] }> {
  const args = ['-v', 'error', '-protocol_whitelist', 'file', '-print_format', 'json'];
  args.push('-show_format', '-show_streams', `file:${path}`);
  return new Promise((resolve, reject) => {
    execFile(ffprobe, args, { timeout: 20_000 }, (error, stdout, stderr) => {
      if (error) return reject(new Error(`${error.message}: ${stderr}`));
      const json = JSON.parse(stdout) as {
        format: { format_name: string };
        streams: { codec_name: string }[];
      };
      resolve({ format: json.format.format_name, codecs: json.streams.map((s) => s.codec_name) });
    });
  });
}

/** A 16-bit mono PCM WAV of `seconds` of silence at 8 kHz. */
function wav(seconds: number): Buffer {
  const rate = 8000;
  const data = rate * 2 * seconds;
  const header = Buffer.alloc(44);
  header.write('RIFF', 0, 'latin1');
  header.writeUInt32LE(36 + data, 4);
  header.write('WAVEfmt ', 8, 'latin1');
  header.writeUInt32LE(16, 16); // fmt chunk size
  header.writeUInt16LE(1, 20); // PCM
  header.writeUInt16LE(1, 22); // channels
  header.writeUInt32LE(rate, 24);
  header.writeUInt32LE(rate * 2, 28); // bytes per second
  header.writeUInt16LE(2, 32); // block align
  header.writeUInt16LE(16, 34); // bits per sample
  header.write('data', 36, 'latin1');
  header.writeUInt32LE(data, 40);
  return Buffer.concat([header, Buffer.alloc(data)]);
}

describe.each(builds)('the format whitelist with $label', ({ path: ffprobe }) => {
  const probe = (path: string) => probeMedia(ffprobe, path, { timeoutMs: 20_000 });
  // Files that name another file, next to the MP4 they name: the 31-second H.264/AAC video.
  const listDir = join(dir, `lists-${builds.findIndex((b) => b.path === ffprobe)}`);
  const playlist = join(listDir, 'stream.m3u8');
  const concatList = join(listDir, 'list.ffconcat');

  beforeAll(async () => {
    await mkdir(listDir, { recursive: true });
    await copyFile(fixture('zelenskyy-31s.mp4'), join(listDir, 'segment.mp4'));
    await writeFile(
      playlist,
      '#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:31\n#EXT-X-MEDIA-SEQUENCE:0\n' +
        '#EXTINF:31.0,\nsegment.mp4\n#EXT-X-ENDLIST\n',
    );
    await writeFile(concatList, "ffconcat version 1.0\nfile 'segment.mp4'\n");
  });

  it('names only demuxers this ffprobe has', async () => {
    const formats = await new Promise<string>((resolve, reject) =>
      execFile(ffprobe, ['-hide_banner', '-demuxers'], (error, stdout) =>
        error ? reject(error) : resolve(stdout),
      ),
    );
    const demuxers = new Set([...formats.matchAll(/^ D\S* +(\S+)/gm)].map((m) => m[1]));
    for (const name of FORMAT_WHITELIST) expect(demuxers, name).toContain(name);
    for (const name of ['hls', 'dash', 'concat', 'image2', 'webm_dash_manifest', 'imf', 'lavfi'])
      expect(FORMAT_WHITELIST.join(',').split(',')).not.toContain(name);
  });

  it('leaves the committed fixtures and a WAV probe-able', async () => {
    for (const name of ['zelenskyy-31s.mp4', 'variant-30s.mp4', 'tone-5s.m4a', 'rotated-1s.mp4']) {
      expect((await probe(fixture(name))).container).toBe('mov,mp4,m4a,3gp,3g2,mj2');
    }
    const path = join(listDir, 'silence.wav');
    await writeFile(path, wav(2));
    const m = await probe(path);
    expect(m.container).toBe('wav');
    expect(m.durationSeconds).toBe(2);
    expect(m.streams).toMatchObject([{ type: 'audio', codec: 'pcm_s16le', sampleRate: 8000, channels: 1 }]);
  });

  it('the HLS playlist and the concat list do lead plain ffprobe to the MP4', async () => {
    // The control for the next test: without the format whitelist these files are followed.
    await expect(probeWithoutFormatWhitelist(ffprobe, playlist)).resolves.toEqual({
      format: 'hls',
      codecs: ['h264', 'aac'],
    });
    await expect(probeWithoutFormatWhitelist(ffprobe, concatList)).resolves.toEqual({
      format: 'concat',
      codecs: ['h264', 'aac'],
    });
  });

  it('does not open a local file named by an HLS playlist', async () => {
    const error = await probeError(probe(playlist));
    expect(error.code).toBe('not_media');
    expect(error.detail).toMatch(/^format hls is not an audio\/video container/);
  });

  it('does not open a local file named by an ffconcat list', async () => {
    const error = await probeError(probe(concatList));
    expect(error.code).toBe('not_media');
    expect(error.detail).toMatch(/^format concat is not an audio\/video container/);
  });
});

describe('mapProbeOutput (output of other ffprobe versions)', () => {
  const stream = (extra: Record<string, unknown>) => ({
    index: 0,
    codec_type: 'video',
    codec_name: 'h264',
    width: 1920,
    height: 1080,
    avg_frame_rate: '30000/1001',
    ...extra,
  });

  it('takes the legacy rotate tag (clockwise) into the display-matrix convention', () => {
    const m = mapProbeOutput({ streams: [stream({ tags: { rotate: '90' } })], format: { duration: '1.5' } });
    expect(m.rotation).toBe(-90);
  });

  it('prefers the display matrix and normalizes to (-180, 180]', () => {
    const both = mapProbeOutput({
      streams: [
        stream({
          tags: { rotate: '90' },
          side_data_list: [{ side_data_type: 'Display Matrix', rotation: -90 }],
        }),
      ],
      format: {},
    });
    expect(both.rotation).toBe(-90);
    const wide = mapProbeOutput({
      streams: [stream({ side_data_list: [{ side_data_type: 'Display Matrix', rotation: 270 }] })],
      format: {},
    });
    expect(wide.rotation).toBe(-90);
    const flip = mapProbeOutput({
      streams: [stream({ side_data_list: [{ side_data_type: 'Display Matrix', rotation: -180 }] })],
      format: {},
    });
    expect(flip.rotation).toBe(180);
  });

  it('parses frame rates, falls back to stream durations, and drops "N/A"', () => {
    const m: MediaMetadata = mapProbeOutput({
      streams: [
        stream({ duration: '12.5', bit_rate: 'N/A' }),
        {
          index: 1,
          codec_type: 'audio',
          codec_name: 'opus',
          sample_rate: '48000',
          channels: 2,
          duration: '12.75',
        },
      ],
      format: { format_name: 'matroska,webm', duration: 'N/A', size: '1234', bit_rate: 'N/A' },
    });
    expect(m.frameRate).toBeCloseTo(29.97003, 5);
    expect(m.durationSeconds).toBe(12.75);
    expect(m).not.toHaveProperty('bitRate');
    expect(m.streams[0]).not.toHaveProperty('bitRate');
    expect(m.size).toBe(1234);
    expect(m.creationTime).toBeNull();
    expect(() => canonicalJson(m)).not.toThrow();
  });

  it("takes the streams' duration over an MP4 header that counts AAC priming (Debian's ffprobe 5.1)", () => {
    // What ffprobe 5.1 prints for test/fixtures/media/zelenskyy-31s.mp4: mvhd says 31.128 s,
    // the edit lists (applied to the streams) 31 s.
    const m = mapProbeOutput({
      streams: [
        stream({ width: 96, height: 64, avg_frame_rate: '2/1', duration: '31.000000' }),
        { index: 1, codec_type: 'audio', codec_name: 'aac', sample_rate: '8000', duration: '31.000000' },
      ],
      format: { format_name: 'mov,mp4,m4a,3gp,3g2,mj2', duration: '31.128000' },
    });
    expect(m.durationSeconds).toBe(31);
  });

  it("takes the container's duration when no stream has one, and ignores cover art's", () => {
    const mkv = mapProbeOutput({
      streams: [stream({}), { index: 1, codec_type: 'audio', codec_name: 'opus' }],
      format: { format_name: 'matroska,webm', duration: '61.5' },
    });
    expect(mkv.durationSeconds).toBe(61.5);
    const withArt = mapProbeOutput({
      streams: [
        { index: 0, codec_type: 'audio', codec_name: 'mp3', duration: '200.0' },
        {
          index: 1,
          codec_type: 'video',
          codec_name: 'mjpeg',
          duration: '9999',
          disposition: { attached_pic: 1 },
        },
      ],
      format: { format_name: 'mp3', duration: '200.0' },
    });
    expect(withArt.durationSeconds).toBe(200);
  });

  it('uses r_frame_rate when avg_frame_rate is 0/0, and null duration when none is known', () => {
    const m = mapProbeOutput({
      streams: [stream({ avg_frame_rate: '0/0', r_frame_rate: '25/1' })],
      format: {},
    });
    expect(m.frameRate).toBe(25);
    expect(m.durationSeconds).toBeNull();
  });

  it('does not take cover art for the video', () => {
    const m = mapProbeOutput({
      streams: [
        { index: 0, codec_type: 'audio', codec_name: 'mp3', duration: '200.0' },
        {
          index: 1,
          codec_type: 'video',
          codec_name: 'mjpeg',
          width: 600,
          height: 600,
          disposition: { attached_pic: 1 },
        },
      ],
      format: {
        format_name: 'mp3',
        duration: '200.0',
        tags: { creation_time: '1970-01-01T00:00:00.000000Z' },
      },
    });
    expect(m.streams[1]!.attachedPicture).toBe(true);
    expect(m).not.toHaveProperty('width');
    expect(m.creationTime).toBeNull(); // the epoch means "not set"
  });

  it('refuses output without audio or video as not_media', () => {
    expect(() =>
      mapProbeOutput({ streams: [{ index: 0, codec_type: 'subtitle', codec_name: 'subrip' }], format: {} }),
    ).toThrow(expect.objectContaining({ code: 'not_media' }));
    expect(() => mapProbeOutput('nope')).toThrow(MediaProbeError);
  });

  it('bounds tags', () => {
    const tags = Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`k${i}`, 'v'.repeat(5000)]));
    const m = mapProbeOutput({ streams: [stream({})], format: { tags } });
    expect(Object.keys(m.tags ?? {})).toHaveLength(64);
    expect(m.tags?.k0).toHaveLength(1024);
  });
});

describe('parseFrameRate', () => {
  it.each([
    ['30000/1001', 30000 / 1001],
    ['25/1', 25],
    ['24', 24],
    ['0/0', undefined],
    ['1/0', undefined],
    ['abc', undefined],
  ])('%s → %s', (input, expected) => {
    expect(parseFrameRate(input)).toBe(expected);
  });
});
