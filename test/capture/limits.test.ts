// Hostile or broken servers against the real workers, with FETCH_MAX_BYTES = 1 MiB and
// FETCH_TIMEOUT_MS = 1.5 s for this file: too large (declared, streamed, endless) is refused
// at once; silence, a lying Content-Length and a 503 are transient and retried by BullMQ
// (each failed attempt in the chain, the last one final); a 404 fails a new source at once.
// After each, nothing is left: no partial file of the capture, no evidence row.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { useCaptureEnv } from '../helpers/capture-env.ts';
import { waitFor } from '../helpers/context.ts';
import {
  chunkedBytes,
  declaredTooLarge,
  endless,
  inTurn,
  serveBytes,
  serveText,
  shortBody,
  silent,
  status,
  useFixtureServer,
} from '../helpers/fixture-server.ts';
import {
  captureJob,
  capturesOf,
  custody,
  ofType,
  ownBlobDir,
  partialFiles,
  settleSkippingBackoff,
  storedBlobs,
} from './support.ts';

const MAX = 1024 * 1024;
// The total timeout (FETCH_TIMEOUT_MS) fires first; undici's own headers timeout, on a coarse
// clock, can only win when the event loop was blocked at that moment.
const TIMEOUT = /^(timeout|headers_timeout)$/;
const TIMEOUT_CODE = expect.stringMatching(TIMEOUT);
const exactly = Buffer.alloc(MAX, 0x5a);
const server = await useFixtureServer({
  '/declared-too-large': declaredTooLarge(2 * MAX),
  '/chunked-too-large': chunkedBytes(MAX + 1),
  '/endless': endless,
  '/exactly-max': serveBytes(exactly),
  '/silent': silent,
  '/short': shortBody(64 * 1024, 1000),
  '/gone': status(404),
});
const flaky = inTurn(status(503), serveText('back again', 'text/plain'));
server.routes.set('/flaky', flaky);

const blobDir = ownBlobDir('limits');
const env = await useCaptureEnv({
  FETCH_ALLOWLIST: server.host,
  BLOB_DIR: blobDir,
  FETCH_MAX_BYTES: String(MAX),
  FETCH_TIMEOUT_MS: '1500',
});
const { cite, settled } = env;

/** The source's only capture, and what any capture must leave behind. */
async function onlyCapture(sourceId: string) {
  const [capture, ...more] = await capturesOf(env, sourceId);
  expect(more).toEqual([]);
  expect(partialFiles(blobDir, capture!.id), 'partial files of the capture').toEqual([]);
  return capture!;
}

async function expectNoEvidence(sourceId: string) {
  expect(await env.ctx.prisma.evidenceItem.count({ where: { sourceId } })).toBe(0);
  expect(ofType(await custody(env, sourceId), 'stored')).toEqual([]);
}

describe('too large: refused, not retried', () => {
  const cases = [
    ['/declared-too-large', /^Content-Length 2097152 exceeds the 1048576-byte limit$/],
    ['/chunked-too-large', /^body exceeds the 1048576-byte limit$/],
    ['/endless', /^body exceeds the 1048576-byte limit$/],
  ] as const;
  for (const [path, detail] of cases) {
    it(`${path} → failed too_large after one attempt`, async () => {
      const blobsBefore = storedBlobs(blobDir).length;
      const cited = await cite(`${server.origin}${path}`);
      const source = await settled(cited.source.id);
      expect(source.status).toBe('failed');
      expect(source.failure).toEqual({ code: 'too_large', detail: expect.stringMatching(detail) });
      const events = await custody(env, cited.source.id);
      expect(events.map((e) => e.type)).toEqual([
        'source_cited',
        'capture_requested',
        'fetch_started',
        'capture_failed',
      ]);
      expect(ofType(events, 'capture_failed')[0]!.data).toMatchObject({
        code: 'too_large',
        retryable: false,
      });
      const capture = await onlyCapture(cited.source.id);
      expect(capture).toMatchObject({ status: 'failed', attempts: 1 });
      expect((await captureJob(env, capture.id)).state).toBe('failed');
      expect(server.hits.get(path)).toBe(1);
      await expectNoEvidence(cited.source.id);
      expect(storedBlobs(blobDir).length).toBe(blobsBefore);
    });
  }

  it('a body of exactly FETCH_MAX_BYTES is captured whole', async () => {
    const cited = await cite(`${server.origin}/exactly-max`);
    const source = await settled(cited.source.id);
    expect(source.status).toBe('captured');
    expect(source.evidence).toHaveLength(1);
    expect(source.evidence[0]).toMatchObject({
      size: MAX,
      sha256: createHash('sha256').update(exactly).digest('hex'),
    });
    await onlyCapture(cited.source.id);
  });
});

describe('transient failures: retried with backoff, each attempt recorded', () => {
  /** Every attempt but the last says retryable: true; the last one is final. */
  async function expectExhausted(sourceId: string, code: string | RegExp, path: string) {
    const c = typeof code === 'string' ? code : expect.stringMatching(code);
    const source = await settled(sourceId, 5_000);
    expect(source.status).toBe('failed');
    expect(source.failure.code).toEqual(c);
    const events = await custody(env, sourceId);
    const failed = ofType(events, 'capture_failed');
    expect(failed.map((e) => [e.data.code, e.data.retryable])).toEqual([
      [c, true],
      [c, true],
      [c, true],
      [c, true],
      [c, false],
    ]);
    expect(ofType(events, 'fetch_started')).toHaveLength(5);
    const capture = await onlyCapture(sourceId);
    expect(capture).toMatchObject({ status: 'failed', attempts: 5 });
    expect(capture.failure).toMatchObject({ code: c });
    const { job, state } = await captureJob(env, capture.id);
    expect(state).toBe('failed');
    expect(job.attemptsMade).toBe(5);
    expect(server.hits.get(path)).toBe(5);
    await expectNoEvidence(sourceId);
  }

  it('a server that never answers: timeout, retried (backoff 2 s doubling), five attempts, then failed', async () => {
    const cited = await cite(`${server.origin}/silent`);
    const [capture] = await capturesOf(env, cited.source.id);
    // The first attempt fails after FETCH_TIMEOUT_MS and BullMQ schedules the retry itself.
    const afterFirst = (await waitForDelayed(capture!.id))!;
    expect(afterFirst.job.opts).toMatchObject({ attempts: 5, backoff: { type: 'exponential', delay: 2000 } });
    expect(afterFirst.job.attemptsMade).toBe(1);
    const [first] = ofType(await custody(env, cited.source.id), 'capture_failed');
    expect(first!.data).toEqual({
      captureId: capture!.id,
      code: TIMEOUT_CODE,
      detail: expect.any(String),
      retryable: true,
    });
    // While it waits for its retry the row is not failed and the source is being captured
    // (checked only if the 2 s backoff had not yet run out when these were read).
    const during = await env.ctx.prisma.capture.findUniqueOrThrow({ where: { id: capture!.id } });
    const sourceDuring = await env.ctx.prisma.source.findUniqueOrThrow({ where: { id: cited.source.id } });
    if ((await captureJob(env, capture!.id)).state === 'delayed') {
      expect(during).toMatchObject({ status: 'running', attempts: 1, failure: null });
      expect(sourceDuring.status).toBe('capturing');
    }

    expect(await settleSkippingBackoff(env, capture!.id)).toBeGreaterThanOrEqual(3);
    await expectExhausted(cited.source.id, TIMEOUT, '/silent');
  });

  it('a body shorter than its Content-Length: truncated, retried, then failed', async () => {
    const cited = await cite(`${server.origin}/short`);
    const [capture] = await capturesOf(env, cited.source.id);
    await settleSkippingBackoff(env, capture!.id);
    await expectExhausted(cited.source.id, 'truncated', '/short');
  });

  it('503 once, then 200: captured on the second attempt, the failed one in the chain', async () => {
    const cited = await cite(`${server.origin}/flaky`);
    // No skipping here: the real 2 s backoff.
    const source = await settled(cited.source.id);
    expect(source.status).toBe('captured');
    expect(source.failure).toBeNull();
    expect(source.evidence).toHaveLength(1);
    expect(source.evidence[0].sha256).toBe(createHash('sha256').update('back again').digest('hex'));
    const events = await custody(env, cited.source.id);
    const capture = await onlyCapture(cited.source.id);
    expect(events.map((e) => e.type)).toEqual([
      'source_cited',
      'capture_requested',
      'fetch_started',
      'capture_failed',
      'fetch_started',
      'fetched',
      'stored',
      'metadata_extracted',
      'capture_completed',
    ]);
    expect(ofType(events, 'capture_failed')[0]!.data).toEqual({
      captureId: capture.id,
      code: 'server_error',
      detail: `HTTP 503 from ${server.origin}/flaky`,
      retryable: true,
    });
    expect(capture).toMatchObject({ status: 'completed', attempts: 2, failure: null });
    expect(flaky.served()).toBe(2);
  });

  it('404 for a new source: failed http_404 at once, no source_gone (it never held anything)', async () => {
    const cited = await cite(`${server.origin}/gone`);
    const source = await settled(cited.source.id);
    expect(source.status).toBe('failed');
    expect(source.failure).toEqual({ code: 'http_404', detail: `HTTP 404 from ${server.origin}/gone` });
    const events = await custody(env, cited.source.id);
    expect(events.map((e) => e.type)).not.toContain('source_gone');
    expect(ofType(events, 'capture_failed').map((e) => e.data.retryable)).toEqual([false]);
    const capture = await onlyCapture(cited.source.id);
    expect(capture).toMatchObject({ status: 'failed', attempts: 1 });
    await expectNoEvidence(cited.source.id);
  });
});

it('no partial file is left in the blob store at all', () => {
  expect(partialFiles(blobDir)).toEqual([]);
});

/** Waits until the capture's job waits for its backoff. */
async function waitForDelayed(captureId: string) {
  return waitFor(async () => {
    const found = await captureJob(env, captureId).catch(() => undefined);
    return found?.state === 'delayed' ? found : undefined;
  }, 15_000);
}
