// `npm run bench media`: issue 17's benchmark, in one run, each figure next to its baseline
// measured in the same run:
//   1. PDQ of `--images` JPEGs of 1–12 MP (bench/lib/image-corpus.ts) by the real path
//      (readRgb + pdqFromPixels) per second, next to sharp decoding the same files to raw pixels
//      alone. Target: the hash costs ≤ 1.5× the decode.
//   2. The 31-second fixture's per-second hashes (decodeFramesPerSecond + pdqFromPixels), next
//      to ffmpeg decoding the same frames alone (the same arguments, its pipe drained), in
//      `--rounds` alternating rounds, medians. Target ≤ 1.3×.
//   3. A similarity query over `--hashes` stored hashes (bench/pdq.bench.ts: searchBench).
//      Target p99 ≤ 50 ms.
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { readRgb } from '../src/media/image-pixels.ts';
import { pdqFromPixels } from '../src/media/pdq.ts';
import {
  decodeFramesPerSecond,
  FRAME_SIDE,
  frameArgs,
  resolveFfmpegPath,
} from '../src/media/video-frames.ts';
import { runBench } from './lib/bench-run.ts';
import { CORPUS_DIR, imageCorpus } from './lib/image-corpus.ts';
import { loadLine } from './lib/machine-load.ts';
import { type NumberOption, usage } from './lib/options.ts';
import { latencyLine, ms, num, perSecond, ratio, summarize, times } from './lib/stats.ts';
import { searchBench, searchSpec } from './pdq.bench.ts';

const spec = {
  images: { name: 'images', full: 1000, quick: 50, help: 'JPEGs of 1–12 MP hashed and decoded' },
  rounds: { name: 'rounds', full: 9, quick: 3, help: 'alternating rounds over the 31-second video' },
  ...searchSpec,
} satisfies Record<string, NumberOption>;

export const help = `npm run bench media [-- --quick] [options]\n${usage(Object.values(spec))}`;

const IMAGE_TARGET = 1.5;
const VIDEO_TARGET = 1.3;
const VIDEO = fileURLToPath(new URL('../test/fixtures/media/zelenskyy-31s.mp4', import.meta.url));
/** Passed to both sides so they run the same ffmpeg command (the fixture is far shorter). */
const MAX_SECONDS = 3600;

const say = (line = '') => console.log(line);
const section = (title: string) => say(`\n=== ${title}`);
const secs = (s: number) => `${num(s, s < 10 ? 2 : 1)} s`;
const seconds = (since: number) => (performance.now() - since) / 1000;

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

/** ffmpeg alone: the hasher's exact command, its output read and dropped. Resolves with the bytes. */
function ffmpegDrained(ffmpeg: string, file: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(ffmpeg, frameArgs(file, MAX_SECONDS), { stdio: ['ignore', 'pipe', 'ignore'] });
    let bytes = 0;
    child.stdout.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
    });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(bytes) : reject(new Error(`ffmpeg exit ${code}`))));
  });
}

export async function run(argv: readonly string[]): Promise<number> {
  return runBench(
    {
      argv,
      spec,
      title: 'Media hashing benchmark',
      where: 'everything in this process (ffmpeg as its child)',
      help,
      secs,
      checkIdle: true,
    },
    async ({ base, res, sizes, phases, results }) => {
      say(loadLine('at start'));
      // libvips caches operations by their arguments: the second read of a file would be served
      // from memory. Evidence is hashed once, so neither side may profit from it.
      sharp.cache(false);

      section(`1. PDQ of ${num(sizes.images)} JPEGs (1–12 MP) next to sharp decoding them alone`);
      let t = performance.now();
      const { images, made } = await imageCorpus(sizes.images);
      const megapixels = images.reduce((a, img) => a + (img.width * img.height) / 1e6, 0);
      say(
        `corpus: ${num(images.length)} images, ${num(megapixels, 0)} MP in all, in ${CORPUS_DIR} (${num(made)} made now, in ${secs(seconds(t))})`,
      );
      phases.push(['make images', seconds(t)]);
      t = performance.now();
      const decode: number[] = [];
      const hash: number[] = [];
      const decodeAlone = (path: string) => sharp(path).raw().toBuffer();
      const pdqOf = async (path: string) => {
        const img = await readRgb(path);
        return pdqFromPixels(img.pixels, img.width, img.height);
      };
      for (const [i, img] of images.entries()) {
        // Alternate which goes first, so neither always finds the file just read by the other.
        if (i % 2 === 0) {
          decode.push(await timed(() => decodeAlone(img.path)));
          hash.push(await timed(() => pdqOf(img.path)));
        } else {
          hash.push(await timed(() => pdqOf(img.path)));
          decode.push(await timed(() => decodeAlone(img.path)));
        }
      }
      phases.push(['images: hash + decode', seconds(t)]);
      const decodeRate = images.length / (decode.reduce((a, b) => a + b, 0) / 1000);
      const hashRate = images.length / (hash.reduce((a, b) => a + b, 0) / 1000);
      say(latencyLine('decode alone (sharp, full size, raw)', summarize(decode)));
      say(latencyLine('PDQ (readRgb shrinks to 512 while decoding, then hash)', summarize(hash)));
      say(`throughput: PDQ ${perSecond(hashRate)}, decode alone ${perSecond(decodeRate)}`);
      const imageRatio = ratio(decodeRate, hashRate);
      results.push({
        name: `PDQ of ${num(images.length)} images, 1–12 MP`,
        measured: perSecond(hashRate),
        baselineName: 'sharp decode alone',
        baseline: perSecond(decodeRate),
        ratio: times(imageRatio),
        target: `cost ≤ ${IMAGE_TARGET}×`,
        pass: imageRatio <= IMAGE_TARGET,
      });

      section(`2. the 31-second video, one PDQ a second, next to ffmpeg decoding the same frames alone`);
      const ffmpeg = await resolveFfmpegPath(base.FFMPEG_PATH === 'auto' ? undefined : base.FFMPEG_PATH);
      say(`ffmpeg: ${ffmpeg}; ${VIDEO}; ${sizes.rounds} rounds, the order alternating`);
      t = performance.now();
      const alone: number[] = [];
      const hashed: number[] = [];
      let frames = 0;
      let drained = 0;
      const hashVideo = () =>
        decodeFramesPerSecond(ffmpeg, VIDEO, (f) => pdqFromPixels(f.pixels, f.width, f.height), {
          maxSeconds: MAX_SECONDS,
        }).then((n) => {
          frames = n;
        });
      const decodeVideo = () =>
        ffmpegDrained(ffmpeg, VIDEO).then((bytes) => {
          drained = bytes;
        });
      for (let r = 0; r < sizes.rounds; r++) {
        if (r % 2 === 0) {
          alone.push(await timed(decodeVideo));
          hashed.push(await timed(hashVideo));
        } else {
          hashed.push(await timed(hashVideo));
          alone.push(await timed(decodeVideo));
        }
      }
      phases.push(['video rounds', seconds(t)]);
      const a = summarize(alone);
      const h = summarize(hashed);
      say(latencyLine('ffmpeg alone (rawvideo drained)', a));
      say(latencyLine('decodeFramesPerSecond + PDQ', h));
      const sameFrames = drained === frames * FRAME_SIDE * FRAME_SIDE * 3;
      say(
        `${frames} frames hashed; ffmpeg alone wrote ${num(drained)} bytes${sameFrames ? '' : ' (NOT the same frames)'}`,
      );
      const videoRatio = ratio(h.p50, a.p50);
      results.push({
        name: `PDQ of the 31 s video (${frames} frames)`,
        measured: `median ${ms(h.p50)}`,
        baselineName: 'ffmpeg decode alone',
        baseline: `median ${ms(a.p50)}`,
        ratio: times(videoRatio),
        target: `≤ ${VIDEO_TARGET}×`,
        pass: videoRatio <= VIDEO_TARGET,
      });

      section(`3. similarity search over ${num(sizes.hashes)} stored hashes (bench pdq's search part)`);
      const found = await searchBench({ res, phases, results }, sizes);
      say(loadLine('at the end'));
      return found && sameFrames;
    },
  );
}
