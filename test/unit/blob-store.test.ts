// The blob store contract, one suite run against both stores: LocalBlobStore on real
// directories and S3BlobStore against a real S3-compatible server (s3rver, a child process on
// loopback). Round trips across the head / block / part boundaries with pulled and pushed
// sources (inline hash and hash worker), ranges, concurrent puts, dedup, maxBytes, failing
// sources, beforeCommit, tmpKey, sweepTemporary; every stored blob is checked byte for byte
// where the store keeps it. Then what only one store has: tmpfs and a file size limit for the
// local store; the server killed mid-upload for S3.
import { execFile } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { ByteSink, ByteSource, PushSource } from '../../src/lib/byte-sink.ts';
import {
  type BlobStore,
  BlobTooLargeError,
  type BlobWriteResult,
  HEAD_BYTES,
} from '../../src/storage/blob-store.ts';
import { BLOCK_BYTES } from '../../src/storage/blocks.ts';
import { LocalBlobStore } from '../../src/storage/local-blob-store.ts';
import { S3BlobStore } from '../../src/storage/s3-blob-store.ts';
import { mulberry32 } from '../helpers/prng.ts';
import { listKeys as listS3Keys, s3ClientFor, useS3Server } from '../helpers/s3-server.ts';

const MiB = 1 << 20;
/** expectedBytes from which the store hashes on the worker (local-blob-store.ts). */
const WORKER_FROM = 8 * MiB;

// ---------------------------------------------------------------------------------------------
// Deterministic data and sources.

const prng = mulberry32;

/** `size` pseudo-random bytes (allocUnsafe: small ones sit at an offset in Node's shared pool). */
function bytes(size: number, seed: number): Buffer {
  const next = prng(seed);
  const buf = Buffer.allocUnsafe(size);
  let i = 0;
  for (; i + 4 <= size; i += 4) buf.writeUInt32LE(next(), i);
  for (; i < size; i++) buf[i] = next() & 0xff;
  return buf;
}

const MAX_CHUNK = (3 * MiB) >> 1;

/** Random chunk lengths: some empty, many tiny, some spanning a whole block. */
function chunkLengths(size: number, seed: number): number[] {
  const next = prng(seed);
  const lengths: number[] = [];
  for (let at = 0; at < size; ) {
    const r = next() % 100;
    const n =
      r < 5
        ? 0
        : r < 25
          ? 1 + (next() % 64)
          : r < 50
            ? 1 + (next() % 4096)
            : r < 90
              ? 1 + (next() % 300_000)
              : 1 + (next() % MAX_CHUNK);
    const len = Math.min(n, size - at);
    lengths.push(len);
    at += len;
  }
  return lengths;
}

interface SourceOptions {
  seed?: number;
  /** Every this many chunks, yield to the event loop (lets the writes and other puts run). */
  yieldEvery?: number;
  /** Throw this error once at least this many bytes were handed over. */
  failAt?: { bytes: number; error: Error };
  /** Stop after handing over this many bytes and wait for `gate` (then go on). */
  pauseAt?: { bytes: number; gate: Promise<void>; paused: () => void };
}

interface SourceStats {
  chunks: number;
  drainedCalls: number;
}

/** A pulled source: an async generator of random-sized slices (alternately Buffer / Uint8Array). */
function pulledSource(data: Buffer, opts: SourceOptions = {}): AsyncIterable<Buffer | Uint8Array> {
  const lengths = chunkLengths(data.length, opts.seed ?? 1);
  return (async function* () {
    let at = 0;
    for (const [i, n] of lengths.entries()) {
      if (opts.failAt && at >= opts.failAt.bytes) throw opts.failAt.error;
      if (opts.yieldEvery && i % opts.yieldEvery === 0) await nextTurn();
      yield i % 2 === 0 ? data.subarray(at, at + n) : new Uint8Array(data.buffer, data.byteOffset + at, n);
      at += n;
    }
  })();
}

/**
 * A pushed source whose producer copies every chunk into ONE reused buffer and overwrites it as
 * soon as write() returns (as a socket reader with `onread` does): the store must copy during
 * write(). Honours backpressure; `stats` counts the waits.
 */
function pushedSource(data: Buffer, opts: SourceOptions = {}, stats?: SourceStats): { pipeTo: PushSource } {
  const lengths = chunkLengths(data.length, opts.seed ?? 1);
  return {
    async pipeTo(sink: ByteSink) {
      const buf = Buffer.alloc(MAX_CHUNK);
      let at = 0;
      for (const [i, n] of lengths.entries()) {
        if (opts.failAt && at >= opts.failAt.bytes) throw opts.failAt.error;
        if (opts.pauseAt && at >= opts.pauseAt.bytes) {
          const { gate, paused } = opts.pauseAt;
          opts.pauseAt = undefined;
          paused();
          await gate;
        }
        if (opts.yieldEvery && i % opts.yieldEvery === 0) await nextTurn();
        data.copy(buf, 0, at, at + n);
        const more = sink.write(buf.subarray(0, n));
        buf.fill(0xa5 ^ (i & 0xff), 0, n); // the chunk is dead once write() returned
        at += n;
        if (stats) stats.chunks++;
        if (!more) {
          if (stats) stats.drainedCalls++;
          await sink.drained();
        }
      }
    },
  };
}

const sha256Of = (data: Buffer) => createHash('sha256').update(data).digest('hex');

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

// ---------------------------------------------------------------------------------------------
// Store fixtures: one suite, two backends. A fixture looks at what a store left behind around
// the store itself: files in the local store's directory; for S3, s3rver's own files (exactly
// the bytes the server stored: SDK framing would show here) and a listing of the bucket.

interface Fixture {
  store: BlobStore;
  /** Where the blob of `sha256` must be: a path, or an object key. */
  location(sha256: string): string;
  /** The bytes kept at `location(sha256)`, read around the store. */
  storedBytes(sha256: string): Promise<Buffer>;
  /** Temporary files (`*.part`) in the store's tmp area. */
  tmpFiles(): Promise<string[]>;
  /** Names (hashes) of the stored blobs. */
  blobFiles(): Promise<string[]>;
  /** The store's top-level names (directories; first key segments under the prefix). */
  topLevel(): Promise<string[]>;
  /** Leaves a temporary file as a dead writer would have, last modified `ageMs` ago. */
  plantTemporary(name: string, ageMs?: number): Promise<void>;
  removeTemporary(name: string): Promise<void>;
  /** Makes a stored blob look `ageMs` old. */
  ageBlob(sha256: string, ageMs: number): Promise<void>;
  /** Whether a writer's temporary file exists while bytes still arrive (S3: the upload
   * holds up to one part in memory first). */
  tmpWhileWriting: boolean;
}

const roots: string[] = [];

afterAll(async () => {
  for (const root of roots) await rm(root, { recursive: true, force: true });
});

async function newLocalStore(base = tmpdir()): Promise<LocalBlobStore> {
  const root = await mkdtemp(path.join(base, 'claimtrail-blobstore-'));
  roots.push(root);
  return new LocalBlobStore(root);
}

const setAge = (file: string, ageMs: number) => {
  const then = new Date(Date.now() - ageMs);
  return utimes(file, then, then);
};

async function localFixture(base = tmpdir()): Promise<Fixture> {
  const store = await newLocalStore(base);
  const tmp = path.join(store.root, 'tmp');
  return {
    store,
    location: (sha256) => {
      const file = store.pathOf(sha256);
      expect(file).toBe(path.join(store.root, 'sha256', sha256.slice(0, 2), sha256.slice(2, 4), sha256));
      return file;
    },
    storedBytes: (sha256) => readFile(store.pathOf(sha256)),
    tmpFiles: () => readdir(tmp),
    async blobFiles() {
      const dir = path.join(store.root, 'sha256');
      if (!existsSync(dir)) return [];
      const entries = await readdir(dir, { recursive: true, withFileTypes: true });
      return entries.filter((e) => e.isFile()).map((e) => e.name);
    },
    topLevel: () => readdir(store.root),
    async plantTemporary(name, ageMs) {
      await mkdir(tmp, { recursive: true });
      await writeFile(path.join(tmp, name), 'partial bytes');
      if (ageMs !== undefined) await setAge(path.join(tmp, name), ageMs);
    },
    removeTemporary: (name) => rm(path.join(tmp, name)),
    ageBlob: (sha256, ageMs) => setAge(store.pathOf(sha256), ageMs),
    tmpWhileWriting: true,
  };
}

const s3 = await useS3Server();
const s3Client = s3ClientFor(s3);
let s3Stores = 0;

const listKeys = (prefix: string) => listS3Keys(s3, prefix);

/** An S3 store under a prefix of its own in the shared test bucket (5 MiB parts: multipart
 * from 5 MiB on, the smallest part S3 allows). */
async function s3Fixture(): Promise<Fixture> {
  const prefix = `store-${++s3Stores}/`;
  const scratchDir = await mkdtemp(path.join(tmpdir(), 'claimtrail-s3-scratch-'));
  roots.push(scratchDir);
  const store = new S3BlobStore({
    client: s3Client,
    bucket: s3.bucket,
    prefix,
    scratchDir,
    partBytes: 5 * MiB,
  });
  const tmp = `${prefix}tmp/`;
  const location = (sha256: string) => {
    const key = store.keyOf(sha256);
    expect(key).toBe(`${prefix}sha256/${sha256.slice(0, 2)}/${sha256.slice(2, 4)}/${sha256}`);
    return key;
  };
  return {
    store,
    location,
    storedBytes: (sha256) => readFile(s3.objectFile(location(sha256))),
    tmpFiles: async () =>
      (await listKeys(tmp)).map((k) => k.slice(tmp.length)).filter((n) => n.endsWith('.part')),
    blobFiles: async () => (await listKeys(`${prefix}sha256/`)).map((k) => k.slice(k.lastIndexOf('/') + 1)),
    topLevel: async () => [
      ...new Set((await listKeys(prefix)).map((k) => k.slice(prefix.length).split('/')[0]!)),
    ],
    async plantTemporary(name, ageMs) {
      await s3Client.send(
        new PutObjectCommand({ Bucket: s3.bucket, Key: `${tmp}${name}`, Body: 'partial bytes' }),
      );
      if (ageMs !== undefined) await setAge(s3.objectFile(`${tmp}${name}`), ageMs);
    },
    removeTemporary: async (name) => {
      await s3Client.send(new DeleteObjectCommand({ Bucket: s3.bucket, Key: `${tmp}${name}` }));
    },
    ageBlob: (sha256, ageMs) => setAge(s3.objectFile(store.keyOf(sha256)), ageMs),
    tmpWhileWriting: false,
  };
}

/** Everything a put of `data` must have produced: result, stored file, reads, size. */
async function expectStored(fx: Fixture, data: Buffer, result: BlobWriteResult, created = true) {
  const { store } = fx;
  const sha256 = sha256Of(data);
  expect(result.sha256).toBe(sha256);
  expect(result.size).toBe(data.length);
  expect(result.created).toBe(created);
  expect(result.head.length).toBe(Math.min(data.length, HEAD_BYTES));
  expect(result.head.equals(data.subarray(0, HEAD_BYTES))).toBe(true);

  const where = fx.location(sha256);
  const stored = await fx.storedBytes(sha256);
  expect(stored.length).toBe(data.length);
  expect(stored.equals(data)).toBe(true);
  // The local store hands out the blob's own path; the S3 store a checked copy, removed after.
  const local = await store.withLocalFile(sha256, async (p) => ({ p, bytes: await readFile(p) }));
  expect(local.bytes.equals(data)).toBe(true);
  if (store instanceof LocalBlobStore) expect(local.p).toBe(where);
  else expect(existsSync(local.p)).toBe(false);
  expect(await store.size(sha256)).toBe(data.length);

  const all = await collect(store.read(sha256));
  expect(all.length).toBe(data.length);
  expect(sha256Of(all)).toBe(sha256);
  expect(all.equals(data)).toBe(true);

  if (data.length > 0) {
    const last = data.length - 1;
    const ranges = [
      { start: 0, end: 0 },
      { start: last, end: last },
      { start: 0, end: last },
      { start: Math.floor(last / 3), end: Math.floor((2 * last) / 3) },
      { start: Math.min(HEAD_BYTES - 1, last), end: Math.min(HEAD_BYTES, last) },
      { start: Math.max(0, BLOCK_BYTES - 2), end: Math.min(BLOCK_BYTES + 1, last) },
    ];
    for (const r of ranges) {
      if (r.start > r.end) continue;
      const slice = await collect(store.read(sha256, r));
      expect(slice.equals(data.subarray(r.start, r.end + 1)), `range ${r.start}-${r.end}`).toBe(true);
    }
  }
  expect(await fx.tmpFiles()).toEqual([]);
}

// ---------------------------------------------------------------------------------------------

const SIZES = [
  0,
  1,
  HEAD_BYTES - 1,
  HEAD_BYTES,
  HEAD_BYTES + 1,
  MiB - 1,
  MiB,
  MiB + 1,
  8 * MiB + 123,
  20 * MiB + 7,
];

type Mode = {
  name: string;
  source: (data: Buffer, stats: SourceStats) => ByteSource;
  expectedBytes?: (size: number) => number;
};

const MODES: Mode[] = [
  { name: 'pulled', source: (d) => pulledSource(d, { seed: d.length + 11 }) },
  { name: 'pushed (one reused buffer)', source: (d, s) => pushedSource(d, { seed: d.length + 12 }, s) },
  {
    name: 'pulled, expectedBytes = size',
    source: (d) => pulledSource(d, { seed: d.length + 13, yieldEvery: 7 }),
    expectedBytes: (n) => n,
  },
  {
    name: 'pushed, expectedBytes = size',
    source: (d, s) => pushedSource(d, { seed: d.length + 14 }, s),
    expectedBytes: (n) => n,
  },
  {
    // An overstated Content-Length: the worker hashes even the tiny blobs.
    name: 'pushed, expectedBytes = 64 MiB (worker whatever the size)',
    source: (d, s) => pushedSource(d, { seed: d.length + 15, yieldEvery: 5 }, s),
    expectedBytes: () => 64 * MiB,
  },
];

// expectedBytes only picks the local store's hashing thread: S3 runs the two plain source kinds
// (every size, pulled and pushed through one reused buffer), and one of each local-only pair.
const BACKENDS = [
  { name: 'local', newStore: localFixture, modes: MODES, full: true },
  { name: 's3', newStore: s3Fixture, modes: MODES.slice(0, 2), full: false },
];

describe.each(BACKENDS)('$name store: round trips', (backend) => {
  const stores = new Map<string, Fixture>();
  beforeAll(async () => {
    for (const mode of MODES) stores.set(mode.name, await backend.newStore());
  });

  describe.each(SIZES)('%i bytes', (size) => {
    const data = bytes(size, 0x5eed + size);
    const expected = {
      sha256: sha256Of(data),
      size,
      head: Buffer.from(data.subarray(0, HEAD_BYTES)),
      created: true,
    };

    it.each(backend.modes)('$name', async (mode) => {
      const fx = stores.get(mode.name)!;
      const { store } = fx;
      const stats: SourceStats = { chunks: 0, drainedCalls: 0 };
      const result = await store.put(mode.source(data, stats), { expectedBytes: mode.expectedBytes?.(size) });
      // Identical in every mode.
      expect(result).toEqual(expected);
      await expectStored(fx, data, result);
      // A producer that never yields fills 16 blocks and must then be asked to wait.
      if (mode.name === 'pushed (one reused buffer)' && size > 16 * MiB) {
        expect(stats.drainedCalls).toBeGreaterThan(0);
      }
    });
  });

  it.each([false, true])('one single 20 MiB chunk (expectedBytes: %s)', async (worker) => {
    const fx = await backend.newStore();
    const { store } = fx;
    const data = bytes(20 * MiB + 3, 77);
    const result = await store.put(
      (async function* () {
        yield data;
      })(),
      { expectedBytes: worker ? data.length : undefined },
    );
    await expectStored(fx, data, result);
  });

  // Past 64 MiB the writer datasyncs mid-stream (block-writer.ts, SYNC_EVERY_BYTES).
  it.each(
    [
      { name: 'pushed, inline hash', worker: false },
      { name: 'pulled, hash worker', worker: true },
    ].slice(0, backend.full ? 2 : 1),
  )('72 MiB + 1 ($name): past the periodic datasync, 15 S3 parts', async ({ worker }) => {
    const fx = await backend.newStore();
    const { store } = fx;
    const data = bytes(72 * MiB + 1, worker ? 78 : 79);
    const source = worker ? pulledSource(data, { seed: 3, yieldEvery: 9 }) : pushedSource(data, { seed: 4 });
    const result = await store.put(source, { expectedBytes: worker ? data.length : undefined });
    await expectStored(fx, data, result);
  });
});

describe.each(BACKENDS)('$name store: lookups', (backend) => {
  it('size, read and pathOf of absent or malformed hashes', async () => {
    const fx = await backend.newStore();
    const { store } = fx;
    const absent = sha256Of(Buffer.from('never stored'));
    expect(await store.size(absent)).toBeUndefined();
    await expect(collect(store.read(absent))).rejects.toMatchObject({ code: 'ENOENT' });
    for (const bad of ['', '../../etc/passwd', absent.toUpperCase(), `${absent}0`, absent.slice(1)]) {
      expect(() => fx.location(bad)).toThrow('not a sha256');
      expect(() => store.read(bad)).toThrow('not a sha256');
      await expect(store.size(bad)).rejects.toThrow('not a sha256');
    }
  });
});

describe.each(BACKENDS)('$name store: concurrency and dedup', (backend) => {
  it('6 concurrent 12 MiB puts, mixed sources, some on the hash worker', async () => {
    const fx = await backend.newStore();
    const { store } = fx;
    const datas = Array.from({ length: 6 }, (_, i) => bytes(12 * MiB + i * 1001, 900 + i));
    const results = await Promise.all(
      datas.map((data, i) => {
        const opts = { seed: 40 + i, yieldEvery: 2 };
        const source = i % 3 === 0 ? pulledSource(data, opts) : pushedSource(data, opts);
        return store.put(source, { expectedBytes: i % 2 === 1 ? data.length : undefined });
      }),
    );
    for (const [i, data] of datas.entries()) await expectStored(fx, data, results[i]!);
    expect((await fx.blobFiles()).sort()).toEqual(datas.map(sha256Of).sort());
  });

  it('40 concurrent small puts (locally each one round trip to a file worker), some the same bytes, keyed', async () => {
    const fx = await backend.newStore();
    const { store } = fx;
    const datas = Array.from({ length: 30 }, (_, i) => bytes(100_000 + i * 7, 1200 + i));
    const puts = [...datas, ...datas.slice(0, 10)].map((data, i) =>
      store.put(pushedSource(data, { seed: 60 + i }), {
        tmpKey: `small-${i}`,
        expectedBytes: i % 2 ? data.length : undefined,
      }),
    );
    const results = await Promise.all(puts);
    for (const [i, r] of results.entries()) await expectStored(fx, datas[i % 30]!, r, r.created);
    // Each repeated content was created by at least one of its two puts (both, when they
    // raced past each other's check: the same bytes renamed over the same bytes).
    for (let i = 0; i < 10; i++) expect(results[i]!.created || results[30 + i]!.created).toBe(true);
    expect((await fx.blobFiles()).sort()).toEqual(datas.map(sha256Of).sort());
  });

  it('identical content put 4 times at once: one blob, nothing left in tmp', async () => {
    const fx = await backend.newStore();
    const { store } = fx;
    const data = bytes(6 * MiB + 1, 4343);
    const results = await Promise.all(
      [0, 1, 2, 3].map((i) =>
        store.put(pushedSource(data, { seed: i, yieldEvery: 2 }), {
          expectedBytes: i % 2 ? data.length * 2 : undefined,
        }),
      ),
    );
    // Which of them finds the blob already in place depends on timing; at least one creates it.
    expect(results.some((r) => r.created)).toBe(true);
    for (const r of results) await expectStored(fx, data, r, r.created);
    expect(await fx.blobFiles()).toEqual([sha256Of(data)]);
  });

  it('identical content twice: stored once, the second put reports created: false', async () => {
    const fx = await backend.newStore();
    const { store } = fx;
    const data = bytes(3 * MiB + 17, 4242);
    const first = await store.put(pulledSource(data, { seed: 1 }));
    await expectStored(fx, data, first, true);
    // Different chunking, on the worker this time: same blob.
    const second = await store.put(pushedSource(data, { seed: 2 }), { expectedBytes: 32 * MiB });
    await expectStored(fx, data, second, false);
    expect(second).toEqual({ ...first, created: false });
    expect(await fx.blobFiles()).toEqual([first.sha256]);
    const empty1 = await store.put(pulledSource(Buffer.alloc(0)));
    const empty2 = await store.put(pushedSource(Buffer.alloc(0)));
    expect([empty1.created, empty2.created]).toEqual([true, false]);
    expect(await fx.blobFiles()).toHaveLength(2);
  });
});

describe.each(BACKENDS)('$name store: maxBytes', (backend) => {
  const cases = [
    { name: 'pulled', source: (d: Buffer) => pulledSource(d, { seed: 5 }), expectedBytes: undefined },
    { name: 'pushed', source: (d: Buffer) => pushedSource(d, { seed: 6 }), expectedBytes: undefined },
    {
      name: 'pulled on the worker',
      source: (d: Buffer) => pulledSource(d, { seed: 7, yieldEvery: 3 }),
      expectedBytes: 10 * MiB,
    },
    {
      name: 'pushed on the worker',
      source: (d: Buffer) => pushedSource(d, { seed: 8 }),
      expectedBytes: 10 * MiB,
    },
  ];

  it.each(cases)('$name: one byte too many rejects, nothing left; exactly maxBytes is stored', async (c) => {
    const fx = await backend.newStore();
    const { store } = fx;
    const max = 3 * MiB + 5;
    const tooBig = bytes(max + 1, 31);
    const err = await store.put(c.source(tooBig), { maxBytes: max, expectedBytes: c.expectedBytes }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(BlobTooLargeError);
    expect((err as BlobTooLargeError).maxBytes).toBe(max);
    expect(await fx.tmpFiles()).toEqual([]);
    expect(await fx.blobFiles()).toEqual([]);
    expect(await store.size(sha256Of(tooBig))).toBeUndefined();

    const exact = tooBig.subarray(0, max);
    const ok = await store.put(c.source(exact), { maxBytes: max, expectedBytes: c.expectedBytes });
    await expectStored(fx, exact, ok);
  });

  it('maxBytes 0: empty content is fine, one byte is too many', async () => {
    const fx = await backend.newStore();
    const { store } = fx;
    const empty = await store.put(pulledSource(Buffer.alloc(0)), { maxBytes: 0 });
    await expectStored(fx, Buffer.alloc(0), empty);
    await expect(store.put(pushedSource(Buffer.of(1)), { maxBytes: 0 })).rejects.toBeInstanceOf(
      BlobTooLargeError,
    );
    expect(await fx.tmpFiles()).toEqual([]);
    expect(await fx.blobFiles()).toEqual([empty.sha256]);
  });
});

describe.each(BACKENDS)('$name store: failing sources', (backend) => {
  const kinds = [
    { name: 'pulled source throws', source: pulledSource },
    { name: 'pushed source rejects', source: pushedSource },
  ];
  const hashing = [
    { name: 'inline hash', expectedBytes: undefined },
    { name: 'hash worker', expectedBytes: 20 * MiB },
  ];

  describe.each(kinds)('$name', (kind) => {
    it.each(hashing.slice(0, backend.full ? 2 : 1))(
      'midway ($name): put rejects with it, nothing left, store still works',
      async (h) => {
        const fx = await backend.newStore();
        const { store } = fx;
        const data = bytes(12 * MiB, 555);
        const error = new Error('connection reset');
        const err = await store
          .put(kind.source(data, { seed: 3, yieldEvery: 4, failAt: { bytes: 5 * MiB + 3, error } }), {
            expectedBytes: h.expectedBytes,
          })
          .then(
            () => undefined,
            (e: unknown) => e,
          );
        expect(err).toBe(error);
        expect(await fx.tmpFiles()).toEqual([]);
        expect(await fx.blobFiles()).toEqual([]);

        // The pool and the worker are intact: both hashing paths, sequential and concurrent.
        const after = bytes(5 * MiB, 556);
        // An announced size of exactly the threshold goes to the worker.
        const a = await store.put(pushedSource(after, { seed: 9 }), { expectedBytes: WORKER_FROM });
        await expectStored(fx, after, a);
        const more = [bytes(5 * MiB, 557), bytes(5 * MiB + 1, 558), bytes(3 * MiB, 559)];
        const results = await Promise.all(
          more.map((d, i) =>
            store.put(pushedSource(d, { seed: 20 + i, yieldEvery: 3 }), {
              expectedBytes: i === 1 ? undefined : d.length * 4,
            }),
          ),
        );
        for (const [i, d] of more.entries()) await expectStored(fx, d, results[i]!);
      },
    );
  });

  it('a failure beside a concurrent put on the worker does not disturb it', async () => {
    const fx = await backend.newStore();
    const { store } = fx;
    const good = bytes(12 * MiB + 9, 600);
    const bad = bytes(12 * MiB, 601);
    const error = new Error('boom');
    const [okResult, failed] = await Promise.allSettled([
      store.put(pushedSource(good, { seed: 1, yieldEvery: 2 }), { expectedBytes: good.length }),
      store.put(pulledSource(bad, { seed: 2, yieldEvery: 2, failAt: { bytes: 7 * MiB, error } }), {
        expectedBytes: bad.length,
      }),
    ]);
    expect(failed).toEqual({ status: 'rejected', reason: error });
    expect(okResult.status).toBe('fulfilled');
    await expectStored(fx, good, (okResult as PromiseFulfilledResult<BlobWriteResult>).value);
    expect(await fx.blobFiles()).toEqual([sha256Of(good)]);
  });
});

describe.each(BACKENDS)('$name store: beforeCommit', (backend) => {
  it('receives the sha256 and size; when it throws nothing is stored', async () => {
    const fx = await backend.newStore();
    const { store } = fx;
    const data = bytes(2 * MiB + 1, 700);
    const error = new Error('malformed upload');
    const beforeCommit = vi.fn(async () => {
      throw error;
    });
    await expect(store.put(pushedSource(data), { beforeCommit })).rejects.toBe(error);
    expect(beforeCommit).toHaveBeenCalledTimes(1);
    expect(beforeCommit).toHaveBeenCalledWith({ sha256: sha256Of(data), size: data.length });
    expect(await fx.tmpFiles()).toEqual([]);
    expect(await fx.blobFiles()).toEqual([]);
    expect(await store.size(sha256Of(data))).toBeUndefined();

    // On the worker too.
    const big = bytes(9 * MiB, 701);
    const onWorker = vi.fn(async () => {
      throw error;
    });
    await expect(
      store.put(pulledSource(big), { expectedBytes: big.length, beforeCommit: onWorker }),
    ).rejects.toBe(error);
    expect(onWorker).toHaveBeenCalledWith({ sha256: sha256Of(big), size: big.length });
    expect(await fx.tmpFiles()).toEqual([]);
    expect(await fx.blobFiles()).toEqual([]);
  });

  it('stores the blob once it resolves (called before the blob is in place)', async () => {
    const fx = await backend.newStore();
    const { store } = fx;
    const data = bytes(HEAD_BYTES + 1, 702);
    const seen: Array<number | undefined> = [];
    const result = await store.put(pulledSource(data), {
      beforeCommit: async (blob) => {
        seen.push(await store.size(blob.sha256));
      },
    });
    expect(seen).toEqual([undefined]);
    await expectStored(fx, data, result);
  });

  it('throwing for content already stored leaves the stored blob alone', async () => {
    const fx = await backend.newStore();
    const { store } = fx;
    const data = bytes(MiB + 5, 703);
    const first = await store.put(pulledSource(data));
    const error = new Error('no');
    await expect(
      store.put(pushedSource(data), {
        beforeCommit: async () => {
          throw error;
        },
      }),
    ).rejects.toBe(error);
    await expectStored(fx, data, first);
  });
});

describe.each(BACKENDS)('$name store: tmpKey', (backend) => {
  it("removes a killed earlier writer's partial file of the same key, and only that", async () => {
    const fx = await backend.newStore();
    const { store } = fx;
    const leftover = `job-42.${randomUUID()}.part`;
    const others = [
      `job-4.${randomUUID()}.part`, // another key that is a prefix
      `job-42.x.${randomUUID()}.part`, // key "job-42.x"
      `${randomUUID()}.part`, // a writer without a key
    ];
    for (const name of [leftover, ...others]) await fx.plantTemporary(name);

    const data = bytes(2 * MiB + 3, 800);
    const result = await store.put(pushedSource(data), { tmpKey: 'job-42' });
    expect((await fx.tmpFiles()).sort()).toEqual([...others].sort());
    for (const name of others) await fx.removeTemporary(name);
    await expectStored(fx, data, result);
  });

  it('a stalled earlier writer of the key fails at its rename instead of storing anything', async () => {
    const fx = await backend.newStore();
    const { store } = fx;
    const first = bytes(4 * MiB, 801);
    const second = bytes(3 * MiB, 802);
    let open!: () => void;
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    let paused!: () => void;
    const isPaused = new Promise<void>((resolve) => {
      paused = resolve;
    });
    const stalled = store
      .put(pushedSource(first, { pauseAt: { bytes: 2 * MiB, gate, paused } }), {
        tmpKey: 'job-7',
        expectedBytes: 16 * MiB,
      })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    try {
      await isPaused;
      // (An S3 upload holds its first part in memory: nothing in tmp yet.)
      expect(await fx.tmpFiles()).toHaveLength(fx.tmpWhileWriting ? 1 : 0);
      const retry = await store.put(pulledSource(second), { tmpKey: 'job-7' });
      await expectStored(fx, second, retry);
    } finally {
      open();
    }
    expect(await stalled).toMatchObject({ code: 'ENOENT' });
    expect(await fx.tmpFiles()).toEqual([]);
    expect(await fx.blobFiles()).toEqual([sha256Of(second)]);
  });

  it.each(['', '../escape', 'a/b', 'a b', 'é', 'x'.repeat(129)])(
    'rejects the bad tmpKey %j',
    async (tmpKey) => {
      const { store, ...fx } = await backend.newStore();
      await expect(store.put(pulledSource(Buffer.from('abc')), { tmpKey })).rejects.toThrow('bad tmpKey');
      expect(await fx.tmpFiles()).toEqual([]);
      expect(await fx.blobFiles()).toEqual([]);
    },
  );

  it.each(['.', '..', '...'])('the key %j names a file inside <root>/tmp', async (tmpKey) => {
    const fx = await backend.newStore();
    const { store } = fx;
    const data = Buffer.from(`dots ${tmpKey}`);
    const result = await store.put(pulledSource(data), { tmpKey });
    await expectStored(fx, data, result);
    expect((await fx.topLevel()).sort()).toEqual(['sha256', 'tmp']);
  });

  it('accepts a 128-character key of letters, digits, _ . -', async () => {
    const fx = await backend.newStore();
    const { store } = fx;
    const data = Buffer.from('keyed');
    const tmpKey = `${'a'.repeat(120)}_.-Z9xyz`;
    expect(tmpKey).toHaveLength(128);
    const result = await store.put(pulledSource(data), { tmpKey });
    await expectStored(fx, data, result);
  });
});

describe.each(BACKENDS)('$name store: sweepTemporary', (backend) => {
  it('removes temporary files older than the limit, keeps fresh ones and blobs', async () => {
    const fx = await backend.newStore();
    const { store } = fx;
    const data = bytes(1000, 900);
    const blob = await store.put(pulledSource(data));
    const old = `${randomUUID()}.part`;
    const fresh = `job-1.${randomUUID()}.part`;
    const anHour = 60 * 60 * 1000;
    await fx.plantTemporary(old, anHour);
    await fx.plantTemporary(fresh);
    await fx.ageBlob(blob.sha256, anHour); // blobs are not swept

    expect(await store.sweepTemporary(10 * 60 * 1000)).toBe(1);
    expect(await fx.tmpFiles()).toEqual([fresh]);
    await fx.removeTemporary(fresh);
    await expectStored(fx, data, blob);
    expect(await store.sweepTemporary(10 * 60 * 1000)).toBe(0);
  });

  // (A failed unlink — a directory here; in production a file renamed into place or removed by
  // a concurrent sweep between stat and unlink — removes nothing and counts nothing.)
  it.skipIf(backend.name !== 'local')(
    'counts only what it removed (an old directory in tmp is not removed, so not counted)',
    async () => {
      const store = await newLocalStore();
      await store.sweepTemporary(0);
      const dir = path.join(store.root, 'tmp', `${randomUUID()}.part`);
      await mkdir(dir);
      const anHourAgo = new Date(Date.now() - 60 * 60 * 1000);
      await utimes(dir, anHourAgo, anHourAgo);
      const removed = await store.sweepTemporary(10 * 60 * 1000);
      expect(existsSync(dir)).toBe(true);
      expect(removed).toBe(0);
    },
  );

  it('works on a store that has not written anything yet', async () => {
    const fx = await backend.newStore();
    const { store } = fx;
    expect(await store.sweepTemporary(0)).toBe(0);
    expect(await fx.tmpFiles()).toEqual([]);
  });
});

describe('S3BlobStore when the server dies mid-upload', () => {
  it('put rejects; nothing at the final key, then or once the server is back; puts work again', async () => {
    const fx = await s3Fixture();
    const { store } = fx;
    const data = bytes(14 * MiB + 1, 1100); // three 5 MiB parts
    let open!: () => void;
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    // Once two parts' worth has been handed over, the server is killed (SIGKILL), then the
    // source goes on.
    const paused = () => void s3.kill().then(open);
    const err = await store
      .put(pushedSource(data, { seed: 8, pauseAt: { bytes: 11 * MiB, gate, paused } }), { tmpKey: 'job-s3' })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err).toBeInstanceOf(Error);
    const key = fx.location(sha256Of(data));
    expect(existsSync(s3.objectFile(key))).toBe(false);

    await s3.restart();
    expect(await store.size(sha256Of(data))).toBeUndefined();
    expect(await fx.blobFiles()).toEqual([]);
    const again = await store.put(pulledSource(data, { seed: 9 }), { tmpKey: 'job-s3' });
    await expectStored(fx, data, again);
  }, 90_000);
});

describe('LocalBlobStore on tmpfs', () => {
  it.skipIf(!existsSync('/dev/shm'))('works the same under /dev/shm', async () => {
    const fx = await localFixture('/dev/shm');
    const { store } = fx;
    const small = bytes(MiB + 1, 1000);
    const big = bytes(8 * MiB + 123, 1001);
    const a = await store.put(pulledSource(small, { seed: 4 }));
    await expectStored(fx, small, a);
    const b = await store.put(pushedSource(big, { seed: 5 }), { expectedBytes: big.length });
    await expectStored(fx, big, b);
    const again = await store.put(pulledSource(big, { seed: 6 }));
    await expectStored(fx, big, again, false);
    await expect(store.put(pushedSource(big), { maxBytes: 8 * MiB })).rejects.toBeInstanceOf(
      BlobTooLargeError,
    );
    expect(await fx.tmpFiles()).toEqual([]);
    expect((await fx.blobFiles()).sort()).toEqual([a.sha256, b.sha256].sort());
  });
});

// ---------------------------------------------------------------------------------------------
// In a child process: what an in-process test cannot arrange (a file size limit, a crash).

const STORE_MODULE = new URL('../../src/storage/local-blob-store.ts', import.meta.url).href;
const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Runs `script` (ES module, JavaScript) under `node --import tsx`, with a file size limit if given. */
async function runChild(
  script: string,
  env: Record<string, string>,
  fileSizeLimitKiB?: number,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'claimtrail-blobstore-child-'));
  roots.push(dir);
  const file = path.join(dir, 'child.mjs');
  await writeFile(file, script);
  const [cmd, args] =
    fileSizeLimitKiB === undefined
      ? [process.execPath, ['--import', 'tsx', file]]
      : [
          'bash',
          // bash counts ulimit -f in KiB (outside POSIX mode); Node ignores SIGXFSZ, so an
          // oversized write fails with EFBIG instead of killing the process.
          ['-c', `ulimit -f ${fileSizeLimitKiB} && exec "$0" --import tsx "$1"`, process.execPath, file],
        ];
  return new Promise((resolve) => {
    execFile(
      cmd as string,
      args as string[],
      { cwd: REPO_ROOT, env: { ...process.env, ...env, STORE_MODULE }, timeout: 60_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

describe('LocalBlobStore in a child process', () => {
  it.skipIf(process.platform !== 'linux')(
    'the file write fails midway (EFBIG): put rejects with it, nothing left, the store still works',
    async () => {
      const root = path.join(await mkdtemp(path.join(tmpdir(), 'claimtrail-blobstore-')), 'store');
      roots.push(path.dirname(root));
      const script = `
        import { createHash, randomBytes } from 'node:crypto';
        import { readdir, readFile } from 'node:fs/promises';
        import path from 'node:path';
        const { LocalBlobStore } = await import(process.env.STORE_MODULE);
        const MiB = 1 << 20;
        const root = process.env.STORE_ROOT;
        const store = new LocalBlobStore(root);
        const out = { failures: [], after: [] };
        for (const worker of [false, true]) {
          for (const kind of ['pushed', 'pulled']) {
            const data = randomBytes(24 * MiB);
            const step = 200_000;
            const source = kind === 'pushed'
              ? { async pipeTo(sink) {
                    for (let at = 0; at < data.length; at += step)
                      if (!sink.write(data.subarray(at, at + step))) await sink.drained();
                  } }
              : (async function* () {
                  for (let at = 0; at < data.length; at += step) yield data.subarray(at, at + step);
                })();
            const error = await store.put(source, { expectedBytes: worker ? data.length : undefined })
              .then(() => 'stored', (e) => e.code ?? String(e));
            out.failures.push({ kind, worker, error, tmp: await readdir(path.join(root, 'tmp')) });
          }
        }
        for (const expectedBytes of [undefined, 64 * MiB]) {
          const data = randomBytes(3 * MiB + 1);
          const r = await store.put((async function* () { yield data; })(), { expectedBytes });
          const want = createHash('sha256').update(data).digest('hex');
          out.after.push({ ok: r.sha256 === want && (await readFile(store.pathOf(want))).equals(data) });
        }
        console.log(JSON.stringify(out));
      `;
      const child = await runChild(script, { STORE_ROOT: root }, 10 * 1024);
      expect(child.stderr).toBe('');
      expect(child.code).toBe(0);
      const out = JSON.parse(child.stdout);
      expect(out.failures).toEqual([
        { kind: 'pushed', worker: false, error: 'EFBIG', tmp: [] },
        { kind: 'pulled', worker: false, error: 'EFBIG', tmp: [] },
        { kind: 'pushed', worker: true, error: 'EFBIG', tmp: [] },
        { kind: 'pulled', worker: true, error: 'EFBIG', tmp: [] },
      ]);
      expect(out.after).toEqual([{ ok: true }, { ok: true }]);
      const stored = await readdir(path.join(root, 'sha256'), { recursive: true, withFileTypes: true });
      expect(stored.filter((e) => e.isFile())).toHaveLength(2);
    },
  );

  it('a process whose only work left is the idle hash worker exits on its own', async () => {
    const root = path.join(await mkdtemp(path.join(tmpdir(), 'claimtrail-blobstore-')), 'store');
    roots.push(path.dirname(root));
    // A put big enough for the hash worker, then nothing: the unref'd worker must not hold the
    // process (runChild's timeout would kill a hanging child, which then fails the test).
    const script = `
      const { LocalBlobStore } = await import(process.env.STORE_MODULE);
      const store = new LocalBlobStore(process.env.STORE_ROOT);
      const data = Buffer.alloc(9 << 20, 7);
      const r = await store.put((async function* () { yield data; })(), { expectedBytes: data.length });
      console.log(r.size);
    `;
    const child = await runChild(script, { STORE_ROOT: root });
    expect({ code: child.code, stdout: child.stdout.trim(), stderr: child.stderr }).toEqual({
      code: 0,
      stdout: String(9 << 20),
      stderr: '',
    });
  });

  // (src/context.ts builds a store for every context: a root that cannot be created must fail
  // the store's calls, not crash the process with an unhandled rejection at construction.)
  it('a store whose root cannot be created fails its calls instead of crashing the process', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'claimtrail-blobstore-'));
    roots.push(dir);
    await writeFile(path.join(dir, 'a-file'), 'not a directory');
    const script = `
      const { LocalBlobStore } = await import(process.env.STORE_MODULE);
      const store = new LocalBlobStore(process.env.STORE_ROOT);
      await new Promise((resolve) => setTimeout(resolve, 200)); // the mkdir has failed by now
      const error = await store.put((async function* () { yield Buffer.from('x'); })()).then(() => 'stored', (e) => e.code);
      console.log('put: ' + error);
    `;
    const child = await runChild(script, { STORE_ROOT: path.join(dir, 'a-file', 'store') });
    expect({ code: child.code, stdout: child.stdout.trim() }).toEqual({ code: 0, stdout: 'put: ENOTDIR' });
  });
});
