// Shared by the capture test files (not a test file itself): a blob directory of the file's
// own, the chain of custody as events, the captures of a source, partial files left in the
// blob store's tmp directory, and a way to skip BullMQ's backoff wait without changing it.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { afterAll } from 'vitest';
import { captureJobId } from '../../src/capture/capture-request.ts';
import type { useCaptureEnv } from '../helpers/capture-env.ts';
import { waitFor } from '../helpers/context.ts';

export type CaptureEnv = Awaited<ReturnType<typeof useCaptureEnv>>;

export interface CustodyEvent {
  seq: number;
  type: string;
  actor: string;
  data: Record<string, unknown>;
}

/** A blob directory for this test file alone: its tmp/ holds only this file's partial files. */
export function ownBlobDir(label: string): string {
  const dir = mkdtempSync(join(tmpdir(), `claimtrail-${label}-`));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The source's chain of custody through the API. */
export async function custody(env: CaptureEnv, sourceId: string): Promise<CustodyEvent[]> {
  const res = await request(env.app).get(`/v1/sources/${sourceId}/custody?limit=200`).set(env.as(env.editor));
  if (res.status !== 200) throw new Error(`custody ${sourceId}: ${res.status} ${res.text}`);
  return res.body.items;
}

export const ofType = (events: CustodyEvent[], type: string) => events.filter((e) => e.type === type);

/** The source's capture rows, oldest first. */
export function capturesOf(env: CaptureEnv, sourceId: string) {
  return env.ctx.prisma.capture.findMany({ where: { sourceId }, orderBy: { requestedAt: 'asc' } });
}

/** Names of the partial files a capture left in `<blobDir>/tmp` (`<captureId>-<index>.<uuid>.part`). */
export function partialFiles(blobDir: string, captureId?: string): string[] {
  const names = readdirSync(join(blobDir, 'tmp'));
  return captureId ? names.filter((n) => n.startsWith(`${captureId}-`)) : names;
}

/** Every file under `<blobDir>/sha256` (stored blobs). */
export function storedBlobs(blobDir: string): string[] {
  try {
    return readdirSync(join(blobDir, 'sha256'), { recursive: true, withFileTypes: true })
      .filter((d) => d.isFile())
      .map((d) => d.name);
  } catch {
    return [];
  }
}

/**
 * Waits for the capture to end, promoting its BullMQ job whenever it sits `delayed` for its
 * backoff (2 s doubling over 5 attempts would make one transient failure take ~30 s). The
 * retry itself, its attempt count and the recorded events are BullMQ's and ours, unchanged.
 * Returns how many times a delayed job was seen (and promoted).
 */
export async function settleSkippingBackoff(env: CaptureEnv, captureId: string, timeoutMs = 60_000) {
  const queue = env.ctx.queues.get('capture');
  let promoted = 0;
  await waitFor(
    async () => {
      const row = await env.ctx.prisma.capture.findUniqueOrThrow({ where: { id: captureId } });
      if (row.status === 'completed' || row.status === 'failed') return true;
      const job = await queue.getJob(captureJobId(captureId));
      if (job && (await job.getState()) === 'delayed') {
        await job.promote().catch(() => {}); // it may have become waiting in between
        promoted++;
      }
      return false;
    },
    timeoutMs,
    50,
  );
  return promoted;
}

/** The BullMQ job of a capture, with its state. */
export async function captureJob(env: CaptureEnv, captureId: string) {
  const job = await env.ctx.queues.get('capture').getJob(captureJobId(captureId));
  if (!job) throw new Error(`no job for capture ${captureId}`);
  return { job, state: await job.getState() };
}

/** The c2pa check of an image or video without a C2PA manifest (src/media/c2pa-evidence.ts). */
export const c2paAbsent = {
  name: 'c2pa',
  expected: 'valid or absent',
  observed: { state: 'absent', reasons: [] },
  passed: true,
};
