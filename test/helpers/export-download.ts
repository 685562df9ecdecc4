// An export made by the real export job, asked for and downloaded through the API as a client
// does: POST /v1/exports, poll until it ends, GET …/download as bytes; and a claim's bag so made,
// checked by verify-export, with a source's chain read out of it by unzip (not our reader).
import { execFileSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Express } from 'express';
import request from 'supertest';
import { expect } from 'vitest';
import { verifyExport } from '../../src/exports/verify/verify-export.ts';
import { scratchDir } from '../media/media-tools.ts';
import { waitFor } from './context.ts';

export async function exportAndDownload(
  app: Express,
  auth: Record<string, string>,
  body: Record<string, unknown>,
): Promise<{ id: string; file: Buffer }> {
  const res = await request(app).post('/v1/exports').set(auth).send(body);
  expect(res.status, res.text).toBe(202);
  const id = res.body.id as string;
  const done = await waitFor(async () => {
    const s = await request(app).get(`/v1/exports/${id}`).set(auth);
    return ['completed', 'failed'].includes(s.body.status) && s.body;
  }, 60_000);
  expect(done.status, done.error).toBe('completed');
  const file = await request(app)
    .get(`/v1/exports/${id}/download`)
    .set(auth)
    .buffer(true)
    .parse((r, cb) => {
      const chunks: Buffer[] = [];
      r.on('data', (c: Buffer) => chunks.push(c));
      r.on('end', () => cb(null, Buffer.concat(chunks)));
    });
  expect(file.status).toBe(200);
  return { id, file: file.body as Buffer };
}

/** A claim's bag (as above) written to a scratch file and checked by verify-export. */
export async function verifiedClaimBag(app: Express, auth: Record<string, string>, claimId: string) {
  const { id, file } = await exportAndDownload(app, auth, { claimId, format: 'bagit' });
  const path = join(await scratchDir(), `${id}.zip`);
  await writeFile(path, file);
  const report = await verifyExport(path);
  return {
    problems: report.problems,
    /** A source's chain as the bag holds it (JSON lines). */
    sourceChain: (sourceId: string) =>
      execFileSync('unzip', ['-p', path, `claimtrail-export-${id}/data/ledger/source/${sourceId}.jsonl`], {
        encoding: 'utf8',
      }),
  };
}
