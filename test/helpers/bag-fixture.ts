// Export bags without a database: a few subjects with real chained events (sealBody), a Merkle
// log built in memory over their hashes among other investigations' leaves, a checkpoint signed
// with a fresh key, evidence content — all written through BagWriter in the layout of
// src/exports/bag/export-layout.ts. Plus readBag/rewriteBag to tamper with a bag in tests.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import yauzl from 'yauzl';
import yazl from 'yazl';
import { BagWriter } from '../../src/exports/bag/bag-writer.ts';
import {
  CHECKPOINT_FILE,
  contentPath,
  EXPORT_JSON,
  KEY_FILE,
  ledgerPath,
  PROOFS_FILE,
} from '../../src/exports/bag/export-layout.ts';
import { type EventBody, sealBody } from '../../src/ledger/canonical.ts';
import type { Subject } from '../../src/ledger/event-types.ts';
import { signCheckpoint } from '../../src/log/checkpoint.ts';
import { type HashReader, proveRecord, storedHashesForBatch, treeHash } from '../../src/log/merkle.ts';
import { generateSignerKey } from '../../src/log/note.ts';

export const sha256 = (data: string | Uint8Array): string => createHash('sha256').update(data).digest('hex');

export interface FixtureEvent {
  subject: Subject;
  seq: number;
  canonical: string;
  hash: string;
}

export interface FixtureOptions {
  includeContent?: boolean;
  /** Log origin and key name (default `claimtrail.test/log`). */
  origin?: string;
  /** Adds a video evidence item of this many deterministic bytes, streamed (never held whole). */
  bigContentBytes?: number;
  /** Deflate content files (default false: media does not compress). */
  compressContent?: boolean;
}

export interface FixtureBag {
  path: string;
  bagName: string;
  exportId: string;
  origin: string;
  signerKey: string;
  verifierKey: string;
  /** Events in export order (subjects order, then seq). */
  events: FixtureEvent[];
  subjects: { type: string; id: string; length: number; headHash: string | null }[];
  treeSize: number;
  /** Content by sha256. */
  content: Map<string, Buffer>;
  exportDoc: Record<string, unknown>;
}

const BIG_CHUNK = 256 * 1024;

/** Deterministic bytes, `size` of them, produced chunk by chunk. */
export async function* bigContent(size: number): AsyncGenerator<Buffer> {
  for (let offset = 0, i = 0; offset < size; offset += BIG_CHUNK, i++) {
    const chunk = Buffer.alloc(Math.min(BIG_CHUNK, size - offset), i % 251);
    chunk.writeUInt32BE(i, 0);
    yield chunk;
  }
}

async function hashStream(chunks: AsyncIterable<Buffer>): Promise<string> {
  const h = createHash('sha256');
  for await (const c of chunks) h.update(c);
  return h.digest('hex');
}

/** Builds one subject's chain with sealBody: the same bytes ledger_append assembles in SQL (test/ledger/append-sql.test.ts pins that). */
function chain(subject: Subject, start: Date) {
  const events: FixtureEvent[] = [];
  let prev: string | null = null;
  const add = (type: string, data: unknown, actor = 'worker:capture-1') => {
    const body: EventBody = {
      subject,
      seq: events.length + 1,
      prev,
      type,
      actor,
      at: new Date(start.getTime() + events.length * 61_000).toISOString(),
      data,
    };
    const { canonical, hash } = sealBody(body);
    events.push({ subject, seq: body.seq, canonical, hash });
    prev = hash;
    return hash;
  };
  return { events, add };
}

/** Writes a realistic export bag to `dir` and returns what it holds. */
export async function buildFixtureBag(dir: string, options: FixtureOptions = {}): Promise<FixtureBag> {
  const includeContent = options.includeContent ?? true;
  const origin = options.origin ?? 'claimtrail.test/log';
  const keys = generateSignerKey(origin);
  const exportId = `exp_${randomUUID()}`;
  const bagName = `claimtrail-export-${exportId}`;
  const t0 = new Date('2024-12-17T18:00:00.000Z');

  const inv: Subject = { type: 'investigation', id: `inv_${randomUUID()}` };
  const claim: Subject = { type: 'claim', id: `clm_${randomUUID()}` };
  const post: Subject = { type: 'source', id: `src_${randomUUID()}` };
  const video: Subject = { type: 'source', id: `src_${randomUUID()}` };
  const editor = `user:${randomUUID()}`;

  const postJson = Buffer.from(
    JSON.stringify({
      id_str: '1869067316018880808',
      user: { screen_name: 'ZelenskyyUa' },
      text: 'North Korean soldiers…',
    }),
  );
  const videoBytes = randomBytes(300_000);
  const page = Buffer.from('<!doctype html><title>Zelenskyy on X</title><video src="v.mp4"></video>\n');
  const evidence = [
    {
      id: `ev_${randomUUID()}`,
      sourceId: post.id,
      kind: 'post_metadata',
      mediaType: 'application/json',
      bytes: postJson,
    },
    { id: `ev_${randomUUID()}`, sourceId: post.id, kind: 'page', mediaType: 'text/html', bytes: page },
    {
      id: `ev_${randomUUID()}`,
      sourceId: video.id,
      kind: 'video',
      mediaType: 'video/mp4',
      bytes: videoBytes,
    },
    // A journalist's own copy of the same video: same sha256, one content file.
    {
      id: `ev_${randomUUID()}`,
      sourceId: video.id,
      kind: 'upload',
      mediaType: 'video/mp4',
      bytes: videoBytes,
    },
  ].map((e) => ({ ...e, sha256: sha256(e.bytes), size: e.bytes.length }));
  let big: { id: string; sha256: string; size: number } | undefined;
  if (options.bigContentBytes) {
    big = {
      id: `ev_${randomUUID()}`,
      sha256: await hashStream(bigContent(options.bigContentBytes)),
      size: options.bigContentBytes,
    };
  }

  const ci = chain(inv, t0);
  ci.add('investigation_created', { title: 'Faces burned on the battlefield?', description: null }, editor);
  ci.add('member_added', { userId: editor, role: 'editor' }, editor);
  const cc = chain(claim, new Date(t0.getTime() + 1000));
  cc.add(
    'claim_created',
    {
      investigationId: inv.id,
      claim: { statement: 'Russian troops burned the faces of dead North Korean soldiers' },
    },
    editor,
  );
  for (const [s, relation] of [
    [post, 'origin'],
    [video, 'supporting'],
  ] as const) {
    cc.add(
      'citation_added',
      {
        citationId: `cit_${randomUUID()}`,
        sourceId: s.id,
        relation,
        expected: { durationSeconds: 31 },
        note: null,
      },
      editor,
    );
  }
  cc.add('claim_updated', { before: { status: 'unverified' }, after: { status: 'under_review' } }, editor);
  const sources = [post, video].map((s) => {
    const c = chain(s, new Date(t0.getTime() + 2000));
    const captureId = `cap_${randomUUID()}`;
    const url =
      s === post ? 'https://x.com/ZelenskyyUa/status/1869067316018880808' : 'https://video.example/v.mp4';
    c.add(
      'source_cited',
      { claimId: claim.id, citationId: 'cit', url, normalizedUrl: url, relation: 'origin', expected: {} },
      editor,
    );
    c.add('fetch_started', { captureId, url, worker: 'worker:capture-1' });
    for (const e of evidence.filter((x) => x.sourceId === s.id)) {
      c.add('stored', {
        captureId,
        evidenceId: e.id,
        kind: e.kind,
        sha256: e.sha256,
        size: e.size,
        mediaType: e.mediaType,
        originUrl: url,
      });
    }
    if (s === video && big) {
      c.add('stored', {
        captureId,
        evidenceId: big.id,
        kind: 'video',
        sha256: big.sha256,
        size: big.size,
        mediaType: 'video/mp4',
        originUrl: url,
      });
    }
    c.add('check_passed', {
      evidenceId: evidence[0]!.id,
      check: { name: 'durationSeconds', expected: 31, observed: 31.02, passed: true },
    });
    return c;
  });
  const headOf = (c: ReturnType<typeof chain>) => ({
    type: c.events[0]!.subject.type,
    id: c.events[0]!.subject.id,
    length: c.events.length,
    headHash: c.events.at(-1)!.hash,
  });
  // The export's own chain, ending with the record of what it holds (as buildExport writes it).
  const ce = chain({ type: 'export', id: exportId }, new Date(t0.getTime() + 3_600_000));
  ce.add('export_requested', { scope: { claimId: claim.id }, format: 'bagit', includeContent }, editor);
  ce.add('export_scope', { subjects: [ci, cc, ...sources].map(headOf) }, 'worker:export');
  const chains = [ci, cc, ...sources, ce];
  const events = chains.flatMap((c) => c.events);

  // The log: other investigations' events around ours, ours interleaved across subjects.
  const foreign = () => createHash('sha256').update(randomBytes(16)).digest();
  const leaves: Buffer[] = [foreign(), foreign(), foreign()];
  const byTime = [...events].sort((a, b) => a.seq - b.seq || a.subject.id.localeCompare(b.subject.id));
  for (const e of byTime) {
    leaves.push(Buffer.from(e.hash, 'hex'));
    if (leaves.length % 4 === 0) leaves.push(foreign());
  }
  leaves.push(foreign(), foreign());
  const stored = new Map<number, Buffer>();
  const read: HashReader = async (indexes) => indexes.map((i) => stored.get(i)!);
  for (const { index, hash } of await storedHashesForBatch(0, leaves, read)) stored.set(index, hash);
  const treeSize = leaves.length;
  const rootHash = await treeHash(treeSize, read);
  const leafIndex = new Map(leaves.map((l, i) => [l.toString('hex'), i]));
  const proofLines: string[] = [];
  for (const e of events) {
    const index = leafIndex.get(e.hash)!;
    const proof = (await proveRecord(treeSize, index, read)).map((h) => h.toString('base64'));
    proofLines.push(`${JSON.stringify({ hash: e.hash, index, proof })}\n`);
  }
  const checkpoint = signCheckpoint({ origin, size: treeSize, rootHash }, keys.signerKey);

  const subjects = chains.map(headOf);
  const evidenceDoc = [
    ...evidence.map(({ bytes: _, ...e }) => ({
      ...e,
      metadata: {},
      checks: [],
      capturedAt: t0.toISOString(),
      originUrl: null,
    })),
    ...(big
      ? [
          {
            ...big,
            sourceId: video.id,
            kind: 'video',
            mediaType: 'video/mp4',
            metadata: { durationSeconds: 31 },
          },
        ]
      : []),
  ];
  const exportDoc = {
    exportId,
    scope: { claimId: claim.id },
    createdAt: new Date().toISOString(),
    includeContent,
    claims: [
      { id: claim.id, investigationId: inv.id, statement: 'Russian troops burned…', status: 'under_review' },
    ],
    sources: [post, video].map((s) => ({ id: s.id, investigationId: inv.id, status: 'captured' })),
    evidence: evidenceDoc,
    subjects,
  };

  const path = join(dir, `${bagName}.zip`);
  const out = createWriteStream(path);
  const bag = new BagWriter(out, { bagName, mtime: t0 });
  await bag.addPayload(EXPORT_JSON, `${JSON.stringify(exportDoc, null, 2)}\n`);
  const content = new Map<string, Buffer>();
  if (includeContent) {
    for (const e of evidence) {
      if (content.has(e.sha256)) continue;
      content.set(e.sha256, e.bytes);
      await bag.addPayload(contentPath(e.sha256), e.bytes, { compress: options.compressContent ?? false });
    }
    if (big && options.bigContentBytes) {
      const size = options.bigContentBytes;
      await bag.addPayload(contentPath(big.sha256), () => Readable.from(bigContent(size)), {
        compress: options.compressContent ?? false,
        expectedSha256: big.sha256,
        expectedSize: size,
      });
    }
  }
  for (const c of chains) {
    const lines = c.events.map((e) => `${e.canonical}\n`);
    await bag.addPayload(
      ledgerPath(c.events[0]!.subject),
      (async function* () {
        yield* lines;
      })(),
    );
  }
  await bag.addPayload(CHECKPOINT_FILE, checkpoint);
  await bag.addPayload(KEY_FILE, `${keys.verifierKey}\n`);
  await bag.addPayload(PROOFS_FILE, proofLines.join(''));
  await bag.finish({
    sourceOrganization: 'claimtrail test newsroom',
    externalIdentifier: exportId,
    externalDescription: `Audit export of claim ${claim.id}\nwith its sources, evidence and chain of custody`,
    bagSoftwareAgent: 'claimtrail 0.1.0 (test fixture)',
  });
  return {
    path,
    bagName,
    exportId,
    origin,
    signerKey: keys.signerKey,
    verifierKey: keys.verifierKey,
    events,
    subjects,
    treeSize,
    content,
    exportDoc,
  };
}

/** A bag held in memory: its name and its files by path relative to the bag directory, in ZIP order. */
export interface BagContents {
  bagName: string;
  files: Map<string, Buffer>;
}

/** Reads a (small) zipped bag into memory. */
export async function readBag(path: string): Promise<BagContents> {
  const zip = await yauzl.openPromise(path, { lazyEntries: true, autoClose: false });
  const files = new Map<string, Buffer>();
  let bagName = '';
  try {
    for await (const entry of zip.eachEntry()) {
      if (entry.fileName.endsWith('/')) continue;
      const [top, ...rest] = entry.fileName.split('/');
      bagName = top!;
      const parts: Buffer[] = [];
      for await (const c of await zip.openReadStreamPromise(entry)) parts.push(c as Buffer);
      files.set(rest.join('/'), Buffer.concat(parts));
    }
  } finally {
    zip.close();
  }
  return { bagName, files };
}

/** Zips `contents` to `path` under the bag directory; a name `../x` goes to the ZIP root as `x`. */
export async function writeBag(path: string, contents: BagContents): Promise<void> {
  const zip = new yazl.ZipFile();
  for (const [name, data] of contents.files) {
    zip.addBuffer(data, name.startsWith('../') ? name.slice(3) : `${contents.bagName}/${name}`);
  }
  zip.end();
  await pipeline(zip.outputStream, createWriteStream(path));
}

/** Rewrites manifest-sha256.txt and Payload-Oxum for the current payload, then the tag manifest. */
export function recomputeManifests(contents: BagContents): void {
  const { files } = contents;
  let octets = 0;
  let count = 0;
  let manifest = '';
  for (const [name, data] of files) {
    if (!name.startsWith('data/')) continue;
    manifest += `${sha256(data)} ${name}\n`;
    octets += data.length;
    count++;
  }
  files.set('manifest-sha256.txt', Buffer.from(manifest));
  const info = files
    .get('bag-info.txt')!
    .toString()
    .replace(/^Payload-Oxum: .*$/m, `Payload-Oxum: ${octets}.${count}`);
  files.set('bag-info.txt', Buffer.from(info));
  const tags = ['bagit.txt', 'bag-info.txt', 'manifest-sha256.txt'];
  files.set(
    'tagmanifest-sha256.txt',
    Buffer.from(tags.map((t) => `${sha256(files.get(t)!)} ${t}\n`).join('')),
  );
}

/**
 * Copies the bag at `src` to `dst` through `mutate` (which edits the files in memory), optionally
 * recomputing the manifests afterwards as a careful forger would. Returns `dst`.
 */
export async function rewriteBag(
  src: string,
  dst: string,
  mutate: (contents: BagContents) => void | Promise<void>,
  options: { recomputeManifests?: boolean } = {},
): Promise<string> {
  const contents = await readBag(src);
  await mutate(contents);
  if (options.recomputeManifests) recomputeManifests(contents);
  await writeBag(dst, contents);
  return dst;
}

/** Replaces the lines of a text file in a bag held in memory. */
export function editLines(contents: BagContents, name: string, edit: (lines: string[]) => string[]): void {
  const text = contents.files.get(name);
  if (!text) throw new Error(`${name} is not in the bag`);
  const lines = text.toString('utf8').split('\n');
  const last = lines.pop(); // '' after the final newline
  if (last !== '') throw new Error(`${name} does not end with a newline`);
  contents.files.set(
    name,
    Buffer.from(
      edit(lines)
        .map((l) => `${l}\n`)
        .join(''),
    ),
  );
}
