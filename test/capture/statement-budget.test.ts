// How many SQL statements a capture sends (issue 12: "a 100 KB capture … at most ~15",
// request and sequencer included). A count, not a timing: for a given capture it is always the
// same, so a regression (a re-read, a statement per event, Prisma's transaction around a step)
// fails here. The worker's capture is run by this file (no workers) on a pool of its own whose
// every query is recorded: BEGIN and COMMIT count, each is a round trip.
import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import request from 'supertest';
import { afterAll, describe, expect, it } from 'vitest';
import { captureDeps } from '../../src/capture/capture-deps.ts';
import { runCapture } from '../../src/capture/run-capture.ts';
import { createPgPool } from '../../src/db/pg-pool.ts';
import { useCaptureEnv } from '../helpers/capture-env.ts';
import { serveBytes, serveFile, serveText, useFixtureServer } from '../helpers/fixture-server.ts';
import { capturesOf, custody, ownBlobDir } from './support.ts';

const server = await useFixtureServer({
  '/report.bin': serveBytes(randomBytes(100_000)),
  '/plain-page': serveText('<!doctype html><title>No media here</title><p>Only text.</p>'),
  '/picture.png': serveFile(new URL('../fixtures/media/image.png', import.meta.url).pathname, 'image/png'),
});
const env = await useCaptureEnv(
  { FETCH_ALLOWLIST: server.host, BLOB_DIR: ownBlobDir('budget') },
  { workers: false },
);

/** A pool whose clients record each statement they send. */
function recordingPool(): { pool: pg.Pool; sent: string[] } {
  const pool = createPgPool(env.ctx.config.DATABASE_URL);
  afterAll(() => pool.end());
  const sent: string[] = [];
  pool.on('connect', (client) => {
    const query = client.query.bind(client) as (...args: unknown[]) => unknown;
    client.query = ((...args: unknown[]) => {
      const q = args[0] as string | { text: string };
      sent.push((typeof q === 'string' ? q : q.text).replace(/\s+/g, ' ').slice(0, 60));
      return query(...args);
    }) as typeof client.query;
  });
  return { pool, sent };
}

/** Runs the source's latest capture here; the statements it sent. */
async function captureCounted(sourceId: string): Promise<string[]> {
  const captures = await capturesOf(env, sourceId);
  const { pool, sent } = recordingPool();
  const deps = { ...(await captureDeps(env.ctx)), pool };
  const result = await runCapture(deps, captures.at(-1)!.id, { number: 1, max: 1 });
  expect(result).toEqual({ status: 'completed', steps: 1 });
  return sent;
}

describe('statements per capture', () => {
  let sourceId: string;

  it('a new source, 100 KB: 6 (read, start, then BEGIN, lock, one write that also completes, COMMIT)', async () => {
    sourceId = (await env.cite(`${server.origin}/report.bin`)).source.id;
    const sent = await captureCounted(sourceId);
    expect(sent, sent.join('\n')).toHaveLength(6);
    expect(sent.slice(2).map((s) => s.split(' ')[0])).toEqual(['BEGIN', 'SELECT', 'WITH', 'COMMIT']);
    const types = (await custody(env, sourceId)).map((e) => e.type);
    expect(types).toEqual([
      'source_cited',
      'capture_requested',
      'fetch_started',
      'fetched',
      'stored',
      'metadata_extracted',
      'capture_completed',
    ]);
  });

  it('the same bytes again: 7 (the item it already holds is looked up before describing)', async () => {
    const again = await request(env.app)
      .post(`/v1/sources/${sourceId}/captures`)
      .set(env.as(env.editor))
      .send({});
    expect(again.status).toBe(202);
    const sent = await captureCounted(sourceId);
    expect(sent, sent.join('\n')).toHaveLength(7);
    const types = (await custody(env, sourceId)).map((e) => e.type).slice(7);
    expect(types).toEqual(['capture_requested', 'fetch_started', 'fetched', 'capture_completed']);
  });

  it('an image: 7 (its PDQ neighbours are one search; its other found checks ride the lock)', async () => {
    const id = (await env.cite(`${server.origin}/picture.png`)).source.id;
    const sent = await captureCounted(id);
    expect(sent, sent.join('\n')).toHaveLength(7);
    expect(sent.slice(2).map((s) => s.split(' ')[0])).toEqual([
      'BEGIN',
      'SELECT',
      'SELECT',
      'WITH',
      'COMMIT',
    ]);
  });

  it('a page that declares no media: 6 as well', async () => {
    const id = (await env.cite(`${server.origin}/plain-page`)).source.id;
    expect(await captureCounted(id)).toHaveLength(6);
    expect((await request(env.app).get(`/v1/sources/${id}`).set(env.as(env.editor))).body).toMatchObject({
      status: 'captured',
      evidence: [{ kind: 'page' }],
    });
  });
});
