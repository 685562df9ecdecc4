// ffprobe on the committed fixtures: the real binary (system or @ffprobe-installer), no mocks.
import { randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { canonicalJson } from '../../../src/ledger/canonical.ts';
import {
  FfprobeUnavailableError,
  ffprobeVersion,
  type MediaMetadata,
  MediaProbeError,
  mapProbeOutput,
  parseFrameRate,
  probeMedia,
  resolveFfprobePath,
} from '../../../src/media/ffprobe.ts';
import { fixture, scratchDir } from './helpers.ts';

const dir = await scratchDir();
let ffprobe: string;
const probe = (path: string) => probeMedia(ffprobe, path, { timeoutMs: 20_000 });

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

describe('probeMedia on the fixtures', () => {
  it('describes the 31-second H.264/AAC video', async () => {
    const m = await probe(fixture('zelenskyy-31s.mp4'));
    expect(Math.abs((m.durationSeconds ?? 0) - 31)).toBeLessThanOrEqual(0.05);
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
    expect(Math.abs((m.durationSeconds ?? 0) - 30)).toBeLessThanOrEqual(0.05);
    expect(Math.abs((m.durationSeconds ?? 0) - 31)).toBeGreaterThan(0.5);
    expect(m.streams.map((s) => s.codec)).toEqual(['h264', 'aac']);
  });

  it('describes an audio-only file without video fields', async () => {
    const m = await probe(fixture('tone-5s.m4a'));
    expect(Math.abs((m.durationSeconds ?? 0) - 5)).toBeLessThanOrEqual(0.05);
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

  it('probes a JPEG as a one-frame mjpeg video with JSON-safe output', async () => {
    // ffprobe reads a JPEG as one mjpeg frame; the kind dispatch keeps images away from it,
    // but probing one must still produce JSON-safe output rather than fail obscurely.
    const m = await probe(fixture('photo-exif.jpg'));
    expect(m.streams[0]!.codec).toBe('mjpeg');
    expect(() => canonicalJson(m)).not.toThrow();
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
