// The public log routes (/v1/log/*) in-process with supertest, on the run's shared database
// with the real sequencer: the verifier key and the signed checkpoint are checked with
// node:crypto alone (no code from src/log/note.ts), inclusion and consistency proofs with both
// src/log/merkle.ts and a small RFC 9162 verifier written here, and bad queries get problems.
// No Authorization header is ever sent: the log is public.
import { createHash, createPublicKey, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { createContext } from '../../src/context.ts';
import { createApp } from '../../src/http/app.ts';
import { readSubjectEvents } from '../../src/ledger/ledger.repository.ts';
import { openCheckpoint } from '../../src/log/checkpoint.ts';
import { checkRecord, checkTree, hashLeaf } from '../../src/log/merkle.ts';
import { testConfig, useTestContext } from '../helpers/context.ts';
import { appendMany, newSubject } from '../helpers/ledger-fixtures.ts';
import { useSequencer, waitForIntegration } from '../helpers/sequencer.ts';

const ctx = useTestContext();
await useSequencer(ctx);
const { app } = createApp(ctx);

// ---------------------------------------------------------------------------------------------
// Independent verifiers: node:crypto only, written from C2SP signed-note / tlog-checkpoint and
// RFC 9162 sections 2.1.3.2 (inclusion) and 2.1.4.2 (consistency).
const sha256 = (...parts: Uint8Array[]): Buffer => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
};
const refLeaf = (data: Uint8Array) => sha256(Uint8Array.of(0x00), data);
const refNode = (l: Uint8Array, r: Uint8Array) => sha256(Uint8Array.of(0x01), l, r);
const lsb = (n: number) => n % 2 === 1;
const half = (n: number) => Math.floor(n / 2);

/** RFC 9162 2.1.3.2: verifying an inclusion proof. */
function refVerifyInclusion(
  index: number,
  size: number,
  leafHash: Buffer,
  path: readonly Buffer[],
  root: Buffer,
): boolean {
  if (index >= size) return false;
  let fn = index;
  let sn = size - 1;
  let r = leafHash;
  for (const p of path) {
    if (sn === 0) return false;
    if (lsb(fn) || fn === sn) {
      r = refNode(p, r);
      while (!lsb(fn) && fn !== 0) {
        fn = half(fn);
        sn = half(sn);
      }
    } else {
      r = refNode(r, p);
    }
    fn = half(fn);
    sn = half(sn);
  }
  return sn === 0 && r.equals(root);
}

/** RFC 9162 2.1.4.2: verifying a consistency proof (first ≥ 1). */
function refVerifyConsistency(
  first: number,
  second: number,
  firstHash: Buffer,
  secondHash: Buffer,
  proof: readonly Buffer[],
): boolean {
  if (first < 1 || first > second) return false;
  if (first === second) return proof.length === 0 && firstHash.equals(secondHash);
  if (proof.length === 0) return false;
  let pow2 = 1;
  while (pow2 < first) pow2 *= 2;
  const path = pow2 === first ? [firstHash, ...proof] : [...proof];
  let fn = first - 1;
  let sn = second - 1;
  while (lsb(fn)) {
    fn = half(fn);
    sn = half(sn);
  }
  let fr = path[0]!;
  let sr = path[0]!;
  for (const c of path.slice(1)) {
    if (sn === 0) return false;
    if (lsb(fn) || fn === sn) {
      fr = refNode(c, fr);
      sr = refNode(c, sr);
      while (!lsb(fn) && fn !== 0) {
        fn = half(fn);
        sn = half(sn);
      }
    } else {
      sr = refNode(sr, c);
    }
    fn = half(fn);
    sn = half(sn);
  }
  return fr.equals(firstHash) && sr.equals(secondHash) && sn === 0;
}

const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

interface PublishedKey {
  name: string;
  keyHash: Buffer; // 4 bytes
  publicKey: KeyObject;
}

/** Decodes `name+hexhash+base64(0x01 ‖ key)` and checks its key hash. */
function decodeVerifierKey(text: string): PublishedKey {
  // The name holds no '+'; the base64 key may.
  const first = text.indexOf('+');
  const second = text.indexOf('+', first + 1);
  expect(first).toBeGreaterThan(0);
  expect(second).toBe(first + 9);
  const name = text.slice(0, first);
  const hashHex = text.slice(first + 1, second);
  const key64 = text.slice(second + 1);
  expect(hashHex).toMatch(/^[0-9a-f]{8}$/);
  const key = Buffer.from(key64, 'base64');
  expect(key.toString('base64')).toBe(key64);
  expect(key).toHaveLength(33);
  expect(key[0]).toBe(0x01);
  const keyHash = sha256(Buffer.from(`${name}\n`, 'utf8'), key).subarray(0, 4);
  expect(keyHash.toString('hex')).toBe(hashHex);
  const publicKey = createPublicKey({
    key: Buffer.concat([SPKI_ED25519_PREFIX, key.subarray(1)]),
    format: 'der',
    type: 'spki',
  });
  return { name, keyHash, publicKey };
}

/** Whether `note` carries a valid signature by `key` over its text (node:crypto only). */
function independentlyVerified(note: string, key: PublishedKey): boolean {
  const split = note.lastIndexOf('\n\n');
  if (split < 0) return false;
  const text = note.slice(0, split + 1);
  const lines = note.slice(split + 2).split('\n');
  if (lines.pop() !== '') return false; // the signature block ends with a newline
  for (const line of lines) {
    const m = /^\u2014 (\S+) ([A-Za-z0-9+/=]+)$/.exec(line);
    if (!m || m[1] !== key.name) continue;
    const blob = Buffer.from(m[2]!, 'base64');
    if (blob.length !== 68 || !blob.subarray(0, 4).equals(key.keyHash)) continue;
    if (cryptoVerify(null, Buffer.from(text, 'utf8'), key.publicKey, blob.subarray(4))) return true;
  }
  return false;
}

interface ParsedCheckpoint {
  origin: string;
  size: number;
  root: Buffer;
  note: string;
}

/** C2SP tlog-checkpoint shape: origin, decimal size, base64 root, blank line, signature lines. */
function parseCheckpointNote(note: string): ParsedCheckpoint {
  const m =
    /^([^\n]+)\n(0|[1-9][0-9]*)\n([A-Za-z0-9+/]{43}=)\n\n((?:\u2014 \S+ [A-Za-z0-9+/]+={0,2}\n)+)$/.exec(
      note,
    );
  expect(m, `not a C2SP checkpoint note:\n${note}`).not.toBeNull();
  const root = Buffer.from(m![3]!, 'base64');
  expect(root).toHaveLength(32);
  return { origin: m![1]!, size: Number(m![2]), root, note };
}

const b64 = (proof: readonly string[]) => proof.map((h) => Buffer.from(h, 'base64'));

async function getCheckpoint(): Promise<ParsedCheckpoint> {
  const res = await request(app).get('/v1/log/checkpoint');
  expect(res.status).toBe(200);
  expect(res.headers['content-type']).toMatch(/^text\/plain/);
  return parseCheckpointNote(res.text);
}

async function getKey(): Promise<string> {
  const res = await request(app).get('/v1/log/key');
  expect(res.status).toBe(200);
  expect(res.headers['content-type']).toMatch(/^text\/plain/);
  expect(res.text.endsWith('\n')).toBe(true);
  return res.text.slice(0, -1);
}

/** An RFC 9457 problem from our catalogue. */
function expectProblem(res: request.Response, status: number, code: string) {
  expect(res.status, res.text).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  const body = JSON.parse(res.text) as {
    type: string;
    status: number;
    errors?: { path: string; message: string }[];
  };
  expect(body).toMatchObject({ type: `urn:claimtrail:problem:${code}`, status });
  return body;
}

/** A 400 whose `errors` name `field` (in the path, or in the message for unknown keys). */
function expectFieldError(res: request.Response, field: string) {
  const body = expectProblem(res, 400, 'validation_failed');
  expect(body.errors, res.text).toBeDefined();
  expect(
    body.errors!.some(
      (e) => e.path === `query.${field}` || (e.path === 'query' && e.message.includes(field)),
    ),
    `errors should name ${field}: ${res.text}`,
  ).toBe(true);
}
// ---------------------------------------------------------------------------------------------

// A few events of our own, integrated before any test looks at the log.
const subject = newSubject();
await appendMany(ctx.pool, subject, 5);
await waitForIntegration(ctx);

describe('GET /v1/log/key and /v1/log/checkpoint', () => {
  it('an API process without the key file serves the key the sequencer published, and makes none', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'claimtrail-nokey-'));
    const keyFile = join(dir, 'absent.key');
    const apiOnly = createContext(testConfig({ LOG_SIGNING_KEY_FILE: keyFile }));
    try {
      const res = await request(createApp(apiOnly).app).get('/v1/log/key');
      expect(res.status).toBe(200);
      const { rows } = await ctx.pool.query<{ verifier_key: string }>('SELECT verifier_key FROM log_keys');
      expect(rows.map((r) => r.verifier_key)).toContain(res.text.trim());
      // It verifies the latest checkpoint, and no private key appeared on this "host".
      openCheckpoint((await request(app).get('/v1/log/checkpoint')).text, res.text.trim());
      expect(existsSync(keyFile)).toBe(false);
    } finally {
      await apiOnly.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('the key is name+hexhash+base64key\\n (text/plain), named LOG_ORIGIN, key hash matching', async () => {
    const res = await request(app).get('/v1/log/key');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    expect(res.text).toMatch(/^[^\s+]+\+[0-9a-f]{8}\+[A-Za-z0-9+/]{44}\n$/); // 33 bytes: no padding
    const key = decodeVerifierKey(res.text.slice(0, -1));
    expect(key.name).toBe(ctx.config.LOG_ORIGIN);
  });

  it('the checkpoint is a C2SP signed note whose Ed25519 signature verifies with node:crypto alone', async () => {
    const key = decodeVerifierKey(await getKey());
    const res = await request(app).get('/v1/log/checkpoint');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    const cp = parseCheckpointNote(res.text);
    expect(cp.origin).toBe(ctx.config.LOG_ORIGIN);
    expect(cp.size).toBeGreaterThanOrEqual(5);
    // Every signature line's blob is 4-byte key hash ‖ 64-byte signature; ours is there.
    const sigLines = res.text.slice(res.text.lastIndexOf('\n\n') + 2, -1).split('\n');
    expect(sigLines.some((l) => l.startsWith(`\u2014 ${key.name} `))).toBe(true);
    for (const l of sigLines) expect(Buffer.from(l.split(' ')[2]!, 'base64')).toHaveLength(68);
    expect(independentlyVerified(res.text, key)).toBe(true);
    // And the project's own parser agrees on every field.
    const opened = openCheckpoint(res.text, await getKey());
    expect(opened.checkpoint.origin).toBe(cp.origin);
    expect(opened.checkpoint.size).toBe(cp.size);
    expect(opened.checkpoint.rootHash.equals(cp.root)).toBe(true);
  });

  it('one changed byte (the size, the root or the signature) fails both checks', async () => {
    const keyText = await getKey();
    const key = decodeVerifierKey(keyText);
    const { note } = await getCheckpoint();
    const lines = note.split('\n');
    const size = lines[1]!;
    const bumpLast = (s: string, alphabet: string) => {
      const c = s.at(-1)!;
      const next = alphabet[(alphabet.indexOf(c) + 1) % alphabet.length]!;
      return s.slice(0, -1) + next;
    };
    // The last digit of the size: one byte, still a well-formed checkpoint.
    const sizeEdited = [lines[0], bumpLast(size, '0123456789'), ...lines.slice(2)].join('\n');
    expect(sizeEdited).toHaveLength(note.length);
    // The first character of the root (still canonical base64 of 32 bytes).
    const root = lines[2]!;
    const rootEdited = [
      lines[0],
      lines[1],
      (root[0] === 'A' ? 'B' : 'A') + root.slice(1),
      ...lines.slice(3),
    ].join('\n');
    // A signature byte (inside the 64-byte signature, after the 4-byte key hash).
    const sigStart = note.lastIndexOf(' ') + 1 + 12; // 12 base64 chars = 9 bytes in
    const sigEdited =
      note.slice(0, sigStart) + (note[sigStart] === 'A' ? 'B' : 'A') + note.slice(sigStart + 1);
    expect(independentlyVerified(note, key)).toBe(true);
    for (const edited of [sizeEdited, rootEdited, sigEdited]) {
      expect(edited).not.toBe(note);
      expect(independentlyVerified(edited, key)).toBe(false);
      expect(() => openCheckpoint(edited, keyText)).toThrow(/invalid signature/);
    }
  });
});

describe('GET /v1/log/proof/inclusion', () => {
  it('proves every appended event at its logIndex, checked by checkRecord and an RFC 9162 verifier', async () => {
    const cp = await getCheckpoint();
    const events = await readSubjectEvents(ctx.prisma, subject);
    expect(events).toHaveLength(5);
    for (const e of events) {
      expect(e.logIndex).not.toBeNull();
      const index = e.logIndex!;
      expect(index).toBeLessThan(cp.size);
      const res = await request(app).get(`/v1/log/proof/inclusion?index=${index}&size=${cp.size}`);
      expect(res.status, res.text).toBe(200);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(res.body).toMatchObject({ index, size: cp.size });
      const proof = b64(res.body.proof as string[]);
      for (const h of proof) expect(h).toHaveLength(32);
      const eventHash = Buffer.from(e.hash, 'hex');
      const leaf = hashLeaf(eventHash);
      expect(leaf.equals(refLeaf(eventHash))).toBe(true);
      expect(checkRecord(proof, cp.size, cp.root, index, leaf)).toBe(true);
      expect(refVerifyInclusion(index, cp.size, refLeaf(eventHash), proof, cp.root)).toBe(true);
      // A wrong leaf (another event's hash, or the raw event hash without the 0x00 prefix) fails.
      const other = Buffer.from(events.find((x) => x !== e)!.hash, 'hex');
      expect(checkRecord(proof, cp.size, cp.root, index, hashLeaf(other))).toBe(false);
      expect(refVerifyInclusion(index, cp.size, refLeaf(other), proof, cp.root)).toBe(false);
      expect(checkRecord(proof, cp.size, cp.root, index, eventHash)).toBe(false);
      expect(refVerifyInclusion(index, cp.size, eventHash, proof, cp.root)).toBe(false);
      // So does the right leaf at the wrong index, when the tree has more than one leaf.
      if (cp.size > 1) {
        const wrongIndex = index === 0 ? 1 : index - 1;
        expect(refVerifyInclusion(wrongIndex, cp.size, leaf, proof, cp.root)).toBe(false);
      }
    }
  });
});

describe('GET /v1/log/proof/consistency', () => {
  it('proves an older checkpoint is a prefix of a newer one (checkTree and RFC 9162 2.1.4.2)', async () => {
    const cp1 = await getCheckpoint();
    await appendMany(ctx.pool, newSubject(), 3);
    await waitForIntegration(ctx);
    const cp2 = await getCheckpoint();
    expect(cp2.size).toBeGreaterThanOrEqual(cp1.size + 3);
    // Both checkpoints are signed by the published key.
    const key = decodeVerifierKey(await getKey());
    expect(independentlyVerified(cp1.note, key)).toBe(true);
    expect(independentlyVerified(cp2.note, key)).toBe(true);

    const res = await request(app).get(`/v1/log/proof/consistency?from=${cp1.size}&to=${cp2.size}`);
    expect(res.status, res.text).toBe(200);
    expect(res.body).toMatchObject({ from: cp1.size, to: cp2.size });
    const proof = b64(res.body.proof as string[]);
    expect(proof.length).toBeGreaterThan(0);
    expect(checkTree(proof, cp2.size, cp2.root, cp1.size, cp1.root)).toBe(true);
    expect(refVerifyConsistency(cp1.size, cp2.size, cp1.root, cp2.root, proof)).toBe(true);
    // A wrong old root or new root fails both.
    const wrong = sha256(Buffer.from('not a root'));
    expect(checkTree(proof, cp2.size, cp2.root, cp1.size, wrong)).toBe(false);
    expect(checkTree(proof, cp2.size, wrong, cp1.size, cp1.root)).toBe(false);
    expect(refVerifyConsistency(cp1.size, cp2.size, wrong, cp2.root, proof)).toBe(false);
    expect(refVerifyConsistency(cp1.size, cp2.size, cp1.root, wrong, proof)).toBe(false);

    // from = to: an empty proof, which verifies against equal roots.
    const same = await request(app).get(`/v1/log/proof/consistency?from=${cp2.size}&to=${cp2.size}`);
    expect(same.status).toBe(200);
    expect(same.body).toEqual({ from: cp2.size, to: cp2.size, proof: [] });
    expect(checkTree([], cp2.size, cp2.root, cp2.size, cp2.root)).toBe(true);
  });
});

describe('bad proof queries', () => {
  it('inclusion: index >= size → 422; size beyond the tree → 422 (problem+json)', async () => {
    const { size } = await getCheckpoint();
    expectProblem(
      await request(app).get(`/v1/log/proof/inclusion?index=${size}&size=${size}`),
      422,
      'unprocessable',
    );
    expectProblem(
      await request(app).get(`/v1/log/proof/inclusion?index=${size + 5}&size=${size}`),
      422,
      'unprocessable',
    );
    expectProblem(
      await request(app).get(`/v1/log/proof/inclusion?index=0&size=${size + 1_000_000_000}`),
      422,
      'unprocessable',
    );
    expectProblem(
      await request(app).get(`/v1/log/proof/inclusion?index=0&size=${Number.MAX_SAFE_INTEGER}`),
      422,
      'unprocessable',
    );
  });

  it('inclusion: non-numeric, negative or fractional index, missing params, unknown params → 400 naming the field', async () => {
    expectFieldError(await request(app).get('/v1/log/proof/inclusion?index=abc&size=3'), 'index');
    expectFieldError(await request(app).get('/v1/log/proof/inclusion?index=-1&size=3'), 'index');
    expectFieldError(await request(app).get('/v1/log/proof/inclusion?index=1.5&size=3'), 'index');
    expectFieldError(await request(app).get('/v1/log/proof/inclusion?index=0&size=abc'), 'size');
    expectFieldError(await request(app).get('/v1/log/proof/inclusion?size=3'), 'index');
    expectFieldError(await request(app).get('/v1/log/proof/inclusion?index=0'), 'size');
    const none = expectProblem(await request(app).get('/v1/log/proof/inclusion'), 400, 'validation_failed');
    expect(none.errors!.map((e) => e.path).sort()).toEqual(['query.index', 'query.size']);
    expectFieldError(await request(app).get('/v1/log/proof/inclusion?index=0&size=1&foo=1'), 'foo');
    expectFieldError(await request(app).get('/v1/log/proof/inclusion?index=0&index=1&size=3'), 'index');
  });

  it('refuses an empty value (index=, from=) with 400 like a missing param', async () => {
    // z.coerce.number() turns '' into 0, so `?index=&size=1` answers 200 with the proof of leaf 0.
    expectFieldError(await request(app).get('/v1/log/proof/inclusion?index=&size=1'), 'index');
    expectFieldError(await request(app).get('/v1/log/proof/consistency?from=&to=1'), 'from');
  });

  it('refuses non-decimal spellings 0x1, 1e0, " 1", +1 with 400', async () => {
    for (const v of ['0x1', '1e0', '%201', '%2B1']) {
      expectFieldError(await request(app).get(`/v1/log/proof/inclusion?index=${v}&size=3`), 'index');
    }
  });

  it('consistency: from > to → 422; to beyond the tree → 422; from = 0 → 200 empty; bad params → 400', async () => {
    const { size } = await getCheckpoint();
    expectProblem(
      await request(app).get(`/v1/log/proof/consistency?from=${size}&to=${size - 1}`),
      422,
      'unprocessable',
    );
    expectProblem(
      await request(app).get(`/v1/log/proof/consistency?from=1&to=${size + 1_000_000_000}`),
      422,
      'unprocessable',
    );
    const zero = await request(app).get(`/v1/log/proof/consistency?from=0&to=${size}`);
    expect(zero.status, zero.text).toBe(200);
    expect(zero.body).toEqual({ from: 0, to: size, proof: [] });

    expectFieldError(await request(app).get('/v1/log/proof/consistency?from=abc&to=3'), 'from');
    expectFieldError(await request(app).get('/v1/log/proof/consistency?from=-1&to=3'), 'from');
    expectFieldError(await request(app).get('/v1/log/proof/consistency?from=1&to=-3'), 'to');
    expectFieldError(await request(app).get('/v1/log/proof/consistency?to=3'), 'from');
    expectFieldError(await request(app).get('/v1/log/proof/consistency?from=1'), 'to');
    expectFieldError(await request(app).get('/v1/log/proof/consistency?from=1&to=2&index=1'), 'index');
  });
});

describe('GET /v1/log/checkpoint freshness', () => {
  it('serves the largest checkpoint, not the largest size in text order (regression)', async () => {
    const maxSize = async () => {
      const { rows } = await ctx.pool.query<{ size: string }>(
        'SELECT coalesce(max(size), 0)::text AS size FROM log_checkpoints',
      );
      return Number(rows[0]!.size);
    };
    // Cross the next power of ten when that is cheap (e.g. 8 → 10), so that the stored sizes'
    // numeric and text orders disagree ('8' > '10').
    const before = await maxSize();
    let pow10 = 10;
    while (pow10 <= before) pow10 *= 10;
    if (pow10 - before <= 50) {
      await appendMany(ctx.pool, newSubject(), pow10 - before);
      await waitForIntegration(ctx);
    }
    const largest = await maxSize();
    expect(largest).toBeGreaterThanOrEqual(10);
    const cp = await getCheckpoint();
    // Other files may append meanwhile: the served size may be larger, never smaller.
    expect(cp.size, `served checkpoint size ${cp.size}, largest stored ${largest}`).toBeGreaterThanOrEqual(
      largest,
    );
  });
});
