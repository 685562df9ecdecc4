// C2SP tlog-cosignature (Ed25519 cosignature/v1) and the tlog-witness request body, without a
// database: key IDs and signatures recomputed with node:crypto from the spec's text, Go's
// published note keys (test/unit/note.test.ts) opening a cosigned note, and every malformed
// input refused.
import { createHash, createPublicKey, verify as cryptoVerify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  AddCheckpointSyntaxError,
  formatAddCheckpoint,
  parseAddCheckpoint,
} from '../../src/anchors/witness/add-checkpoint.ts';
import {
  cosignerSignerKeyFromSeed,
  decodeCosignature,
  formatCosignatureLine,
  generateCosignerKey,
  parseCosignerKey,
  parseCosignerSignerKey,
} from '../../src/anchors/witness/cosignature.ts';
import { parseFollowedLogs, parseWitnesses } from '../../src/anchors/witness/witness-config.ts';
import { signCheckpoint } from '../../src/log/checkpoint.ts';
import { NoteError, openNote, parseSignerKey } from '../../src/log/note.ts';
import { PETER_SKEY, PETER_VKEY } from '../helpers/go-note-keys.ts';

// The Go note test key's seed (test/helpers/go-note-keys.ts) doubles as a cosigner key here.
// The base64 after the last fixed field (it may itself hold '+'), without the algorithm byte.
const keyBytes = (key: string, fields: number) =>
  Buffer.from(key.split('+').slice(fields).join('+'), 'base64').subarray(1);
const SEED = keyBytes(PETER_SKEY, 4);
const PUBLIC = keyBytes(PETER_VKEY, 2);

const checkpoint = signCheckpoint(
  { origin: 'PeterNeumann', size: 5, rootHash: createHash('sha256').update('root').digest() },
  PETER_SKEY,
);
const text = checkpoint.slice(0, checkpoint.indexOf('\n\n') + 1);

describe('Ed25519 cosignature/v1', () => {
  const cosigner = parseCosignerSignerKey(cosignerSignerKeyFromSeed('witness.test/peter', SEED));

  it('derives the key ID with algorithm byte 0x04 and the vkey from it', () => {
    const id = createHash('sha256')
      .update('witness.test/peter\n')
      .update(Buffer.concat([Buffer.from([4]), PUBLIC]))
      .digest()
      .readUInt32BE(0);
    expect(cosigner.keyId).toBe(id);
    expect(cosigner.publicKey).toEqual(PUBLIC);
    expect(cosigner.verifierKey).toBe(
      `witness.test/peter+${id.toString(16).padStart(8, '0')}+${Buffer.concat([Buffer.from([4]), PUBLIC]).toString('base64')}`,
    );
    expect(parseCosignerKey(cosigner.verifierKey).keyHash).toBe(id);
    // The note key of the same Ed25519 key has another ID: neither can stand for the other.
    expect(parseSignerKey(PETER_SKEY).keyHash).not.toBe(id);
    expect(() => parseCosignerKey(PETER_VKEY)).toThrow(NoteError);
  });

  it('signs "cosignature/v1\\ntime T\\n" + the checkpoint body, as node:crypto checks it', () => {
    const c = cosigner.cosign(text, 1679315147n);
    const line = formatCosignatureLine(c);
    const raw = Buffer.from(line.slice(line.lastIndexOf(' ') + 1).trimEnd(), 'base64');
    expect(raw.readUInt32BE(0)).toBe(cosigner.keyId);
    expect(raw.readBigUInt64BE(4)).toBe(1679315147n);
    const spki = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), PUBLIC]);
    const key = createPublicKey({ key: spki, format: 'der', type: 'spki' });
    const message = Buffer.from(`cosignature/v1\ntime 1679315147\n${text}`);
    expect(cryptoVerify(null, message, key, raw.subarray(12))).toBe(true);
    // Deterministic: the same key, text and time give the same line.
    expect(formatCosignatureLine(cosigner.cosign(text, 1679315147n))).toBe(line);
    expect(decodeCosignature('witness.test/peter', raw.toString('base64'))).toEqual(c);
  });

  it('a cosigned note opens with the log key (Go vector) and with the cosigner vkey, not with a tampered time', () => {
    const line = formatCosignatureLine(cosigner.cosign(text));
    const note = checkpoint + line;
    expect(openNote(note, PETER_VKEY).unverifiedSignatures.map((s) => s.name)).toEqual([
      'witness.test/peter',
    ]);
    expect(openNote(note, [parseCosignerKey(cosigner.verifierKey)]).signatures).toHaveLength(1);
    const raw = Buffer.from(line.slice(line.lastIndexOf(' ') + 1).trimEnd(), 'base64');
    raw.writeBigUInt64BE(raw.readBigUInt64BE(4) + 1n, 4);
    const forged = `${checkpoint}\u2014 witness.test/peter ${raw.toString('base64')}\n`;
    expect(() => openNote(forged, [parseCosignerKey(cosigner.verifierKey)])).toThrow(/invalid signature/);
    // A cosignature over another checkpoint does not verify here.
    const other = formatCosignatureLine(cosigner.cosign(text.replace('\n5\n', '\n6\n')));
    expect(() => openNote(checkpoint + other, [parseCosignerKey(cosigner.verifierKey)])).toThrow(
      /invalid signature/,
    );
  });

  it('generated keys round-trip; mismatched or foreign private keys are refused', () => {
    const { signerKey, verifierKey } = generateCosignerKey('witness.test/new');
    expect(parseCosignerSignerKey(signerKey).verifierKey).toBe(verifierKey);
    expect(() => parseCosignerSignerKey(PETER_SKEY)).toThrow(/not an Ed25519 cosigner key/);
    const parts = signerKey.split('+');
    parts[3] = '00000000';
    expect(() => parseCosignerSignerKey(parts.join('+'))).toThrow(/does not match/);
  });
});

describe('the add-checkpoint body', () => {
  const hash = createHash('sha256').update('x').digest();

  it('round-trips old size, proof and note', () => {
    const body = formatAddCheckpoint(3, [hash, hash], checkpoint);
    expect(body.startsWith(`old 3\n${hash.toString('base64')}\n${hash.toString('base64')}\n\n`)).toBe(true);
    expect(parseAddCheckpoint(body)).toEqual({ oldSize: 3, proof: [hash, hash], note: checkpoint });
    expect(parseAddCheckpoint(`old 0\n\n${checkpoint}`).proof).toEqual([]);
  });

  it('refuses what the spec forbids', () => {
    const b64 = hash.toString('base64');
    for (const body of [
      checkpoint,
      `old 01\n\n${checkpoint}`,
      `old -1\n\n${checkpoint}`,
      `old 1 \n\n${checkpoint}`,
      `new 1\n\n${checkpoint}`,
      `old 1\n${b64.slice(0, -1)}\n\n${checkpoint}`,
      `old 1\n${b64.replace(/.$/, 'A')}\n\n${checkpoint}`,
      `old 1\n${`${b64}\n`.repeat(64)}\n${checkpoint}`,
    ]) {
      expect(() => parseAddCheckpoint(body), body.slice(0, 20)).toThrow(AddCheckpointSyntaxError);
    }
  });
});

describe('WITNESSES and WITNESS_LOGS', () => {
  const w = generateCosignerKey('witness.test/one').verifierKey;
  const v = generateCosignerKey('witness.test/two').verifierKey;

  it('parses entries separated by commas or newlines', () => {
    expect(parseWitnesses(` ${w} https://w1.example/prefix/ ,\n${v}   http://127.0.0.1:8080\n`)).toEqual([
      { name: 'witness.test/one', verifierKey: w, url: 'https://w1.example/prefix' },
      { name: 'witness.test/two', verifierKey: v, url: 'http://127.0.0.1:8080' },
    ]);
    expect(parseWitnesses('')).toEqual([]);
    expect(parseFollowedLogs(`${PETER_VKEY}, other.example/log ${PETER_VKEY}`)).toEqual([
      { origin: 'PeterNeumann', verifierKey: PETER_VKEY },
      { origin: 'other.example/log', verifierKey: PETER_VKEY },
    ]);
  });

  it('names the bad entry', () => {
    expect(() => parseWitnesses(`${w}`)).toThrow(/entry 1/);
    expect(() => parseWitnesses(`${w} ftp://x`)).toThrow(/entry 1.*not an http/);
    expect(() => parseWitnesses(`${w} https://a, ${PETER_VKEY} https://b`)).toThrow(/entry 2.*algorithm 1/);
    expect(() => parseWitnesses(`${w} https://a, ${w} https://b`)).toThrow(/same witness/);
    expect(() => parseFollowedLogs(w)).toThrow(/entry 1.*unknown verifier algorithm/);
  });
});
