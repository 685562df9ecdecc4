// The investigation `npm run bench export` exports: claims citing sources, one evidence item
// (random bytes in the blob store) per source, and valid chains of custody for the
// investigation, its claims and its sources, inserted in bulk with the ledger's own sealing
// code (the same way as test/helpers/ledger-fixtures.ts bulkInsertChains, for any subject and
// event type) and left pending for the real sequencer to integrate.
import { randomBytes, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import type pg from 'pg';
import { type EventBody, sealBody } from '../../src/ledger/canonical.ts';
import { type EventType, type Subject, validateEvent } from '../../src/ledger/event-types.ts';
import { ensureInitialCheckpoint, integrateBatch, type SequencerDeps } from '../../src/log/sequencer.ts';
import type { BlobStore } from '../../src/storage/blob-store.ts';

export interface ExportFixtureSizes {
  /** Ledger events in the exported subjects (at least the fixed events every subject has). */
  events: number;
  items: number;
  itemSize: number;
  claims: number;
}

export interface ExportFixture {
  investigationId: string;
  claimIds: string[];
  sourceIds: string[];
  evidence: { sha256: string; size: number }[];
  /** Events inserted for the exported subjects. */
  events: number;
  /** Canonical body bytes of those events. */
  bodyBytes: number;
}

interface EventSpec {
  type: EventType;
  actor: string;
  data: Record<string, unknown>;
}

interface Chain {
  subject: Subject;
  events: EventSpec[];
}

const MEDIA_TYPE = 'video/mp4';

/** Stores `items` blobs of `itemSize` random bytes; `concurrency` puts at a time. */
export async function putRandomBlobs(
  blobs: BlobStore,
  items: number,
  itemSize: number,
  concurrency = 4,
): Promise<{ sha256: string; size: number }[]> {
  const out: { sha256: string; size: number }[] = new Array(items);
  let next = 0;
  const worker = async () => {
    while (next < items) {
      const i = next++;
      const bytes = randomBytes(itemSize);
      const r = await blobs.put(Readable.from([bytes]));
      out[i] = { sha256: r.sha256, size: r.size };
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items) }, worker));
  return out;
}

/** Rows of the investigation: investigation, claims, sources, citations, evidence items. */
async function insertRows(
  pool: pg.Pool,
  evidence: readonly { sha256: string; size: number }[],
  claims: number,
  userId: string,
) {
  const investigationId = randomUUID();
  const claimIds = Array.from({ length: claims }, () => randomUUID());
  const sourceIds = evidence.map(() => randomUUID());
  const citationIds = evidence.map(() => randomUUID());
  const evidenceIds = evidence.map(() => randomUUID());
  const captureIds = evidence.map(() => randomUUID());
  const urls = sourceIds.map((_, i) => `https://media.example.org/bench/video-${i}`);
  await pool.query(
    `INSERT INTO investigations (id, title, description, created_by) VALUES ($1, $2, $3, $4)`,
    [investigationId, 'Export benchmark investigation', 'bench/export.bench.ts', userId],
  );
  await pool.query(
    `INSERT INTO claims (id, investigation_id, statement, claimant_name, created_by)
     SELECT id, $2, 'Benchmark claim ' || ord, 'Benchmark claimant', $3
     FROM unnest($1::uuid[]) WITH ORDINALITY AS t(id, ord)`,
    [claimIds, investigationId, userId],
  );
  await pool.query(
    `INSERT INTO sources (id, investigation_id, url, normalized_url, status)
     SELECT id, $3, url, url, 'captured' FROM unnest($1::uuid[], $2::text[]) AS t(id, url)`,
    [sourceIds, urls, investigationId],
  );
  await pool.query(
    `INSERT INTO citations (id, claim_id, source_id, relation)
     SELECT id, claim_id, source_id, 'supporting'
     FROM unnest($1::uuid[], $2::uuid[], $3::uuid[]) AS t(id, claim_id, source_id)`,
    [citationIds, sourceIds.map((_, i) => claimIds[i % claims]!), sourceIds],
  );
  await pool.query(
    `INSERT INTO captures (id, source_id, reason, status, attempts, started_at, finished_at)
     SELECT id, source_id, 'citation', 'completed', 1, now(), now()
     FROM unnest($1::uuid[], $2::uuid[]) AS t(id, source_id)`,
    [captureIds, sourceIds],
  );
  await pool.query(
    `INSERT INTO evidence_items (id, source_id, capture_id, kind, media_type, size, sha256, metadata, checks, origin_url)
     SELECT id, source_id, capture_id, 'video', $6, size, sha256,
            jsonb_build_object('durationSeconds', 42.5, 'width', 1280, 'height', 720),
            jsonb_build_array(jsonb_build_object('name', 'sha256', 'expected', sha256, 'observed', sha256, 'passed', true)),
            url
     FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::bigint[], $5::text[], $7::text[])
       AS t(id, source_id, capture_id, size, sha256, url)`,
    [
      evidenceIds,
      sourceIds,
      captureIds,
      evidence.map((e) => e.size),
      evidence.map((e) => e.sha256),
      MEDIA_TYPE,
      urls,
    ],
  );
  return { investigationId, claimIds, sourceIds, citationIds, evidenceIds, captureIds, urls };
}

const headers = {
  'content-type': MEDIA_TYPE,
  'cache-control': 'public, max-age=3600',
  server: 'bench',
  etag: '"5f1c2a9e-100000"',
};

/**
 * The chains: investigation (created, member added), each claim (created, one citation_added
 * per cited source), each source (cited, captured, stored, metadata, check), then filler
 * events (recaptures and evidence reads) spread over the sources until `events` is reached.
 */
function chains(
  sizes: ExportFixtureSizes,
  rows: Awaited<ReturnType<typeof insertRows>>,
  evidence: readonly { sha256: string; size: number }[],
  userId: string,
): Chain[] {
  const user = `user:${userId}`;
  const out: Chain[] = [
    {
      subject: { type: 'investigation', id: rows.investigationId },
      events: [
        {
          type: 'investigation_created',
          actor: user,
          data: { title: 'Export benchmark investigation', description: 'bench/export.bench.ts' },
        },
        { type: 'member_added', actor: user, data: { userId, role: 'editor' } },
      ],
    },
  ];
  const claimChains = rows.claimIds.map(
    (id, i): Chain => ({
      subject: { type: 'claim', id },
      events: [
        {
          type: 'claim_created',
          actor: user,
          data: {
            investigationId: rows.investigationId,
            claim: { statement: `Benchmark claim ${i + 1}`, claimant: { name: 'Benchmark claimant' } },
          },
        },
      ],
    }),
  );
  out.push(...claimChains);
  const sourceChains: Chain[] = rows.sourceIds.map((id, i) => {
    const claimId = rows.claimIds[i % rows.claimIds.length]!;
    const citationId = rows.citationIds[i]!;
    const captureId = rows.captureIds[i]!;
    const evidenceId = rows.evidenceIds[i]!;
    const url = rows.urls[i]!;
    const { sha256, size } = evidence[i]!;
    claimChains[i % claimChains.length]!.events.push({
      type: 'citation_added',
      actor: user,
      data: { citationId, sourceId: id, relation: 'supporting', expected: {}, note: null },
    });
    return {
      subject: { type: 'source', id },
      events: [
        {
          type: 'source_cited',
          actor: user,
          data: { claimId, citationId, url, normalizedUrl: url, relation: 'supporting', expected: {} },
        },
        { type: 'capture_requested', actor: user, data: { captureId, reason: 'citation' } },
        { type: 'fetch_started', actor: 'worker:capture', data: { captureId, url, worker: 'bench-1' } },
        {
          type: 'fetched',
          actor: 'worker:capture',
          data: {
            captureId,
            url,
            finalUrl: url,
            status: 200,
            redirects: [],
            headers: { ...headers, 'content-length': String(size) },
            remoteAddress: '203.0.113.7',
            bytes: size,
          },
        },
        {
          type: 'stored',
          actor: 'worker:capture',
          data: { captureId, evidenceId, kind: 'video', sha256, size, mediaType: MEDIA_TYPE, originUrl: url },
        },
        {
          type: 'metadata_extracted',
          actor: 'worker:capture',
          data: {
            evidenceId,
            sha256,
            tool: 'ffprobe 6.0',
            metadata: { durationSeconds: 42.5, width: 1280, height: 720, codec: 'h264' },
          },
        },
        {
          type: 'check_passed',
          actor: 'worker:capture',
          data: { evidenceId, check: { name: 'sha256', expected: sha256, observed: sha256, passed: true } },
        },
      ],
    };
  });
  out.push(...sourceChains);

  const fixed = out.reduce((n, c) => n + c.events.length, 0);
  const filler = Math.max(0, sizes.events - fixed);
  for (let k = 0; k < filler; k++) {
    const i = k % sourceChains.length;
    const chain = sourceChains[i]!;
    const round = Math.floor(k / sourceChains.length);
    const captureId = `${rows.captureIds[i]!.slice(0, 24)}${String(round).padStart(12, '0')}`;
    const url = rows.urls[i]!;
    const { sha256, size } = evidence[i]!;
    switch (round % 4) {
      case 0:
        chain.events.push({
          type: 'capture_requested',
          actor: 'system:recapture',
          data: { captureId, reason: 'schedule' },
        });
        break;
      case 1:
        chain.events.push({
          type: 'fetch_started',
          actor: 'worker:capture',
          data: { captureId, url, worker: 'bench-1' },
        });
        break;
      case 2:
        chain.events.push({
          type: 'fetched',
          actor: 'worker:capture',
          data: {
            captureId,
            url,
            finalUrl: url,
            status: 200,
            redirects: [],
            headers: { ...headers, 'content-length': String(size) },
            remoteAddress: '203.0.113.7',
            bytes: size,
          },
        });
        break;
      default:
        chain.events.push({
          type: 'evidence_read',
          actor: user,
          data: { evidenceId: rows.evidenceIds[i]!, sha256, range: null, bytes: size },
        });
    }
  }
  return out;
}

/**
 * Seals every chain and inserts the events interleaved across subjects (event 1 of every
 * subject, then event 2, ...), as a busy investigation would append them, so that neighbouring
 * log leaves belong to different subjects and proofs share few stored hashes. All pending.
 */
async function insertChains(pool: pg.Pool, all: Chain[]): Promise<{ events: number; bodyBytes: number }> {
  const validated = new Set<string>();
  const prev = new Map<Chain, string | null>(all.map((c) => [c, null]));
  const longest = Math.max(...all.map((c) => c.events.length));
  const started = Date.now() - 30 * 86_400_000;
  let position = 0;
  let events = 0;
  let bodyBytes = 0;
  const cols = {
    st: [] as string[],
    sid: [] as string[],
    seq: [] as number[],
    prev: [] as (string | null)[],
  };
  const more = { hash: [] as string[], type: [] as string[], body: [] as string[] };
  const flush = async () => {
    if (cols.st.length === 0) return;
    await pool.query(
      `WITH e AS (
         INSERT INTO ledger_events (subject_type, subject_id, seq, prev, hash, type, body)
         SELECT st, sid, seq, decode(prev, 'hex'), decode(hash, 'hex'), type, body
         FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::text[], $6::text[], $7::text[])
           AS t(st, sid, seq, prev, hash, type, body)
         RETURNING id)
       INSERT INTO log_pending (event_id) SELECT id FROM e`,
      [cols.st, cols.sid, cols.seq, cols.prev, more.hash, more.type, more.body],
    );
    for (const a of [cols.st, cols.sid, cols.seq, cols.prev, more.hash, more.type, more.body]) a.length = 0;
  };
  for (let seq = 1; seq <= longest; seq++) {
    for (const chain of all) {
      const e = chain.events[seq - 1];
      if (!e) continue;
      if (!validated.has(e.type)) {
        validateEvent(chain.subject, e.type, e.data);
        validated.add(e.type);
      }
      const body: EventBody = {
        subject: chain.subject,
        seq,
        prev: prev.get(chain)!,
        type: e.type,
        actor: e.actor,
        at: new Date(started + position++ * 10).toISOString(),
        data: e.data,
      };
      const { canonical, hash } = sealBody(body);
      cols.st.push(chain.subject.type);
      cols.sid.push(chain.subject.id);
      cols.seq.push(seq);
      cols.prev.push(body.prev);
      more.hash.push(hash);
      more.type.push(e.type);
      more.body.push(canonical);
      prev.set(chain, hash);
      events++;
      bodyBytes += Buffer.byteLength(canonical);
      if (cols.st.length >= 10_000) await flush();
    }
  }
  await flush();
  return { events, bodyBytes };
}

/** Builds the investigation, its blobs and its (pending) chains of custody. */
export async function buildExportFixture(
  pool: pg.Pool,
  blobs: BlobStore,
  sizes: ExportFixtureSizes,
  userId: string,
  onBlobs?: (seconds: number) => void,
): Promise<ExportFixture> {
  const t = Date.now();
  const evidence = await putRandomBlobs(blobs, sizes.items, sizes.itemSize);
  onBlobs?.((Date.now() - t) / 1000);
  const rows = await insertRows(pool, evidence, Math.max(1, Math.min(sizes.claims, sizes.items)), userId);
  const { events, bodyBytes } = await insertChains(pool, chains(sizes, rows, evidence, userId));
  return {
    investigationId: rows.investigationId,
    claimIds: rows.claimIds,
    sourceIds: rows.sourceIds,
    evidence,
    events,
    bodyBytes,
  };
}

/** Integrates every pending event with the real sequencer batch code, as fast as it goes. */
export async function integrateAll(pool: pg.Pool, deps: Omit<SequencerDeps, 'pool'>): Promise<number> {
  const client = await pool.connect();
  let batches = 0;
  try {
    await ensureInitialCheckpoint(client, { ...deps, pool });
    while (await integrateBatch(client, { ...deps, pool })) batches++;
  } finally {
    client.release();
  }
  const { rows } = await pool.query<{ n: string }>('SELECT count(*)::text AS n FROM log_pending');
  if (rows[0]?.n !== '0') throw new Error(`${rows[0]?.n} events still pending after integration`);
  return batches;
}
