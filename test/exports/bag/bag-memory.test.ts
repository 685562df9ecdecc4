// Memory stays flat with payload size: a bag holding a 200 MB content file is written through
// BagWriter and verified by verifyExport while the heap (and Buffer memory) barely grows.
// Not a timing test. GC is exposed at run time so the baseline and samples are honest.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, describe, expect, it } from 'vitest';
import { verifyExport } from '../../../src/exports/verify/verify-export.ts';
import { buildFixtureBag } from '../../helpers/bag-fixture.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const dir = mkdtempSync(join(tmpdir(), 'claimtrail-bag-memory-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const MB = 1024 * 1024;

/** Runs `work` while sampling memory; returns its result and the peak growth over the baseline. */
async function measure<T>(work: () => Promise<T>): Promise<{ result: T; heap: number; buffers: number }> {
  gc();
  const base = process.memoryUsage();
  let heap = 0;
  let buffers = 0;
  const sample = () => {
    const m = process.memoryUsage();
    heap = Math.max(heap, m.heapUsed - base.heapUsed);
    buffers = Math.max(buffers, m.arrayBuffers - base.arrayBuffers);
  };
  const timer = setInterval(sample, 10);
  try {
    const result = await work();
    sample();
    return { result, heap, buffers };
  } finally {
    clearInterval(timer);
  }
}

describe('memory', () => {
  it('writes and verifies a bag with a 200 MB payload file in bounded memory', async () => {
    const size = 200 * MB;
    const written = await measure(() => buildFixtureBag(dir, { bigContentBytes: size }));
    const fixture = written.result;
    expect(statSync(fixture.path).size).toBeGreaterThan(size);
    const verified = await measure(() => verifyExport(fixture.path, { pinnedKey: fixture.verifierKey }));
    expect(verified.result.problems).toEqual([]);
    expect(verified.result.summary.payloadBytes).toBeGreaterThan(size);
    for (const [what, m] of [
      ['write', written],
      ['verify', verified],
    ] as const) {
      expect(m.heap, `${what}: heap grew by ${(m.heap / MB).toFixed(1)} MB`).toBeLessThan(64 * MB);
      expect(m.buffers, `${what}: Buffers grew by ${(m.buffers / MB).toFixed(1)} MB`).toBeLessThan(64 * MB);
    }
    console.log(
      `200 MB bag: write heap +${(written.heap / MB).toFixed(1)} MB, buffers +${(written.buffers / MB).toFixed(1)} MB; ` +
        `verify heap +${(verified.heap / MB).toFixed(1)} MB, buffers +${(verified.buffers / MB).toFixed(1)} MB`,
    );
  }, 120_000);
});
