import { createHash, createPublicKey, verify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  CheckpointError,
  formatCheckpoint,
  openCheckpoint,
  parseCheckpoint,
  signCheckpoint,
} from '../../src/log/checkpoint.ts';
import {
  generateSignerKey,
  NoteError,
  openNote,
  parseSignerKey,
  parseVerifierKey,
  signNote,
  verifierKeyFromSigner,
} from '../../src/log/note.ts';
import { PETER_SKEY, PETER_VKEY } from '../helpers/go-note-keys.ts';

// Fixed keys and notes from Go's golang.org/x/mod/sumdb/note (note.go package doc, note_test.go).
const ENOCH_VKEY = 'EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop';
const TEXT =
  "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const PETER_B64 =
  'x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=';
const ENOCH_B64 =
  'rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=';
const PETER_SIG = `\u2014 PeterNeumann ${PETER_B64}\n`;
const ENOCH_SIG = `\u2014 EnochRoot ${ENOCH_B64}\n`;
const peter = { name: 'PeterNeumann', keyHash: 0xc74f20a3, base64: PETER_B64 };
const enoch = { name: 'EnochRoot', keyHash: 0xaf0cfe78, base64: ENOCH_B64 };

// The sum.golang.org verifier key built into the go command, and signed tree heads it issued.
const SUMDB_VKEY = 'sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8';
const SUMDB_NOTES = [
  'go.sum database tree\n15368405\n/g9am3I6YWNKaZX/jkne1fqd9zEyjss+JXyPXG0WfkY=\n\n\u2014 sum.golang.org Az3grqJGUaSGukG9p8nI2vKgiFn7qGHxn0W+mrwyI6Gz3F0t1J3LzmWk/p96Ybf295EjwdSwlzgijq5WA9d1Ded7owM=\n',
  'go.sum database tree\n63512409\nF7eHRPqN/cqPtqti14NKdGGaI1Giw8coWP3KxihFZbg=\n\n\u2014 sum.golang.org Az3gri1OBHKT87Xj8UXU8zjoHGy/X+7Nl94f8TZkELVaasolmGApUsWqwVG9vE6hgqYb/ph/w2vdkLIVRH7bMB/FPQ4=\n',
];

function noteError(fn: () => unknown): NoteError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(NoteError);
    return err as NoteError;
  }
  throw new Error('expected a NoteError');
}

describe('Go sumdb/note compatibility', () => {
  it('derives the published verifier key from the published signer key', () => {
    expect(verifierKeyFromSigner(PETER_SKEY)).toBe(PETER_VKEY);
    expect(parseSignerKey(PETER_SKEY).keyHash).toBe(0xc74f20a3);
    expect(parseVerifierKey(ENOCH_VKEY).keyHash).toBe(0xaf0cfe78);
  });

  it("reproduces Go's signature byte for byte (Ed25519 is deterministic)", () => {
    expect(signNote(TEXT, PETER_SKEY)).toBe(`${TEXT}\n${PETER_SIG}`);
    expect(signNote(TEXT, parseSignerKey(PETER_SKEY))).toBe(`${TEXT}\n${PETER_SIG}`);
  });

  it('opens Go-signed notes (TestOpen)', () => {
    const msg = `${TEXT}\n${PETER_SIG}${ENOCH_SIG}`;
    const one = openNote(msg, [PETER_VKEY]);
    expect(one).toEqual({ text: TEXT, signatures: [peter], unverifiedSignatures: [enoch] });
    const both = openNote(Buffer.from(msg, 'utf8'), [PETER_VKEY, parseVerifierKey(ENOCH_VKEY)]);
    expect(both).toEqual({ text: TEXT, signatures: [peter, enoch], unverifiedSignatures: [] });

    const none = noteError(() => openNote(msg, []));
    expect(none.code).toBe('unverified_note');
    expect(none.message).toContain('PeterNeumann+c74f20a3, EnochRoot+af0cfe78');

    expect(
      noteError(() => openNote(`${TEXT}\n${ENOCH_SIG}`, [ENOCH_VKEY, PETER_VKEY, ENOCH_VKEY])).message,
    ).toBe('ambiguous key EnochRoot+af0cfe78');
    expect(openNote(`${TEXT}\n${PETER_SIG}`, [ENOCH_VKEY, PETER_VKEY, ENOCH_VKEY]).signatures).toEqual([
      peter,
    ]);

    expect(noteError(() => openNote(`${TEXT}\n${PETER_SIG.repeat(101)}`, [PETER_VKEY])).code).toBe(
      'malformed_note',
    );
    expect(noteError(() => openNote(`${TEXT}\n${PETER_SIG.repeat(101)}`, [])).code).toBe('malformed_note');
    expect(openNote(`${TEXT}\n${PETER_SIG.repeat(100)}`, [PETER_VKEY]).signatures).toEqual([peter]);

    // Go inserts "ABCD" at byte 60 of the line, i.e. 43 characters into the base64.
    const insert = (b64: string) => `${b64.slice(0, 43)}ABCD${b64.slice(43)}`;
    const bad = noteError(() =>
      openNote(`${TEXT}\n\u2014 PeterNeumann ${insert(PETER_B64)}\n`, [PETER_VKEY]),
    );
    expect(bad.code).toBe('invalid_signature');
    expect(bad.message).toBe('invalid signature for key PeterNeumann+c74f20a3');

    const enochABCD = `\u2014 EnochRoot ${insert(ENOCH_B64)}\n`;
    const dup = openNote(`${TEXT}\n${PETER_SIG}${PETER_SIG}${ENOCH_SIG}${ENOCH_SIG}${enochABCD}`, [
      PETER_VKEY,
    ]);
    expect(dup.signatures).toEqual([peter]);
    expect(dup.unverifiedSignatures).toEqual([enoch, { ...enoch, base64: insert(ENOCH_B64) }]);
  });

  it('rejects malformed notes like note.Open', () => {
    const badMsgs: (string | Uint8Array)[] = [
      TEXT,
      `${TEXT}\n`,
      `${TEXT}\n${PETER_SIG.slice(0, -1)}`,
      `\x01${TEXT}\n${PETER_SIG}`,
      Buffer.concat([Buffer.from([0xff]), Buffer.from(`${TEXT}\n${PETER_SIG}`)]),
      `\ud800${TEXT}\n${PETER_SIG}`,
      `${TEXT}\n\u2014 Bad Name ${PETER_B64}`,
      `${TEXT}\n\u2014 Bad Name ${PETER_B64}\n`,
      `${TEXT}\n${PETER_SIG}Unexpected line.\n`,
      `${TEXT}\n- PeterNeumann ${PETER_B64}\n`,
      `${TEXT}\n\u2014 PeterNeumann ${PETER_B64.slice(0, -1)}\n`,
      `${TEXT}\n\u2014 PeterNeumann AAAAAA==\n`,
      `${TEXT.replace('\n', '\r\n')}\n${PETER_SIG}`,
    ];
    for (const msg of badMsgs)
      expect(noteError(() => openNote(msg, [PETER_VKEY])).code).toBe('malformed_note');
  });

  it('rejects every mangling of the published keys (TestNewVerifier, TestNewSigner)', () => {
    for (const [key, parse] of [
      [PETER_VKEY, parseVerifierKey],
      [PETER_SKEY, parseSignerKey],
    ] as const) {
      for (let i = 0; i <= key.length; i++) {
        for (let j = i + 1; j <= key.length; j++) {
          if (i !== 0 || j !== key.length)
            expect(() => parse(key.slice(i, j)), key.slice(i, j)).toThrow(NoteError);
        }
      }
      for (let i = 0; i < key.length; i++) {
        const mangled = key.slice(0, i) + String.fromCharCode(key.charCodeAt(i) + 1) + key.slice(i + 1);
        expect(() => parse(mangled), mangled).toThrow(NoteError);
      }
    }
    // Wrong key length and unknown algorithm, each with a key hash adjusted to match.
    expect(() =>
      parseVerifierKey('PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY=='),
    ).toThrow(/key length/);
    expect(() =>
      parseVerifierKey('PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW'),
    ).toThrow(/unknown verifier algorithm/);
  });

  it('verifies signed tree heads issued by sum.golang.org', () => {
    for (const note of SUMDB_NOTES) {
      const { checkpoint, note: opened } = openCheckpoint(note, SUMDB_VKEY, {
        origin: 'go.sum database tree',
      });
      expect(opened.signatures.map((s) => s.name)).toEqual(['sum.golang.org']);
      expect(formatCheckpoint(checkpoint)).toBe(opened.text);
      expect(() => openCheckpoint(note, SUMDB_VKEY)).toThrow(CheckpointError);
      const tampered = note.replace(/\n(\d+)\n/, (_, n: string) => `\n${Number(n) + 1}\n`);
      expect(noteError(() => openNote(tampered, [SUMDB_VKEY])).code).toBe('invalid_signature');
    }
  });
});

describe('our own keys and notes', () => {
  const { signerKey, verifierKey } = generateSignerKey('claimtrail.test/log');

  it('formats keys like Go', () => {
    expect(verifierKey).toMatch(/^[^+]+\+[0-9a-f]{8}\+[A-Za-z0-9+/=]+$/);
    expect(signerKey).toMatch(/^PRIVATE\+KEY\+claimtrail\.test\/log\+[0-9a-f]{8}\+[A-Za-z0-9+/=]{44}$/);
    expect(verifierKeyFromSigner(signerKey)).toBe(verifierKey);
    expect(signerKey.split('+')[3]).toBe(verifierKey.split('+')[1]);
    expect(() => generateSignerKey('bad name')).toThrow(NoteError);
    expect(() => generateSignerKey('a+b')).toThrow(NoteError);
  });

  it('round-trips and is checked by an independent Ed25519 verifier', () => {
    const text = 'claimtrail.test/log\n42\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n';
    const note = signNote(text, signerKey);
    expect(openNote(note, verifierKey).text).toBe(text);

    // Independent check: key hash and signature computed from the raw key, with node:crypto only.
    const [name, hashHex] = verifierKey.split('+') as [string, string];
    const key64 = verifierKey.slice(name.length + 1 + hashHex.length + 1);
    const keyBytes = Buffer.from(key64, 'base64');
    expect(keyBytes[0]).toBe(1);
    expect(keyBytes).toHaveLength(33);
    const idHash = createHash('sha256').update(`${name}\n`).update(keyBytes).digest();
    expect(idHash.subarray(0, 4).toString('hex')).toBe(hashHex);
    const spki = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), keyBytes.subarray(1)]);
    const publicKey = createPublicKey({ key: spki, format: 'der', type: 'spki' });
    const lines = note.split('\n');
    expect(lines.at(-1)).toBe('');
    const sigLine = lines.at(-2)!;
    expect(sigLine.startsWith(`\u2014 ${name} `)).toBe(true);
    const sig = Buffer.from(sigLine.slice(`\u2014 ${name} `.length), 'base64');
    expect(sig).toHaveLength(68);
    expect(sig.subarray(0, 4).toString('hex')).toBe(hashHex);
    expect(verify(null, Buffer.from(text), publicKey, sig.subarray(4))).toBe(true);
    expect(verify(null, Buffer.from(`${text}x`), publicKey, sig.subarray(4))).toBe(false);
  });

  it('fails on one changed byte in the text or the signature', () => {
    const text = 'origin\n7\nhello\n';
    const note = signNote(text, signerKey);
    const textTampered = note.replace('hello', 'hellp');
    expect(noteError(() => openNote(textTampered, verifierKey)).code).toBe('invalid_signature');
    const sigStart = note.lastIndexOf(' ') + 1;
    for (const pos of [sigStart + 6, sigStart + 50, note.length - 4]) {
      const c = note[pos] === 'A' ? 'B' : 'A';
      const tampered = note.slice(0, pos) + c + note.slice(pos + 1);
      expect(noteError(() => openNote(tampered, verifierKey)).code).toBe('invalid_signature');
    }
    // Changing the key hash bytes makes the signature unknown rather than invalid.
    const unknown = note.slice(0, sigStart) + (note[sigStart] === 'A' ? 'B' : 'A') + note.slice(sigStart + 1);
    expect(noteError(() => openNote(unknown, verifierKey)).code).toBe('unverified_note');
    const other = generateSignerKey('claimtrail.test/log');
    expect(noteError(() => openNote(note, other.verifierKey)).code).toBe('unverified_note');
  });

  it('signs with several keys and refuses unsignable text', () => {
    const other = generateSignerKey('witness.test');
    const note = signNote('hi\n', [signerKey, other.signerKey]);
    expect(openNote(note, [verifierKey, other.verifierKey]).signatures.map((s) => s.name)).toEqual([
      'claimtrail.test/log',
      'witness.test',
    ]);
    expect(openNote(note, other.verifierKey).unverifiedSignatures.map((s) => s.name)).toEqual([
      'claimtrail.test/log',
    ]);
    expect(noteError(() => signNote('no newline', signerKey)).code).toBe('malformed_note');
    expect(noteError(() => signNote('tab\there\n', signerKey)).code).toBe('malformed_note');
    expect(noteError(() => signNote('hi\n', [])).code).toBe('invalid_signer');
  });
});

describe('checkpoints (C2SP tlog-checkpoint)', () => {
  const origin = 'claimtrail.test/log';
  const { signerKey, verifierKey } = generateSignerKey(origin);
  const rootHash = createHash('sha256').update('root').digest();

  it('formats, signs, opens and parses', () => {
    const body = formatCheckpoint({ origin, size: 1234, rootHash });
    expect(body).toBe(`${origin}\n1234\n${rootHash.toString('base64')}\n`);
    const signed = signCheckpoint({ origin, size: 1234, rootHash }, signerKey);
    const { checkpoint } = openCheckpoint(signed, verifierKey);
    expect(checkpoint).toEqual({ origin, size: 1234, rootHash });
    expect(parseCheckpoint(`${body}ext one\n`).extensions).toEqual(['ext one']);
    expect(parseCheckpoint(`${origin}\n0\n${rootHash.toString('base64')}\n`).size).toBe(0);
    expect(() => openCheckpoint(signed, verifierKey, { origin: 'elsewhere' })).toThrow(CheckpointError);
    expect(() => openCheckpoint(signed, generateSignerKey(origin).verifierKey)).toThrow(NoteError);
  });

  it('rejects anything not strictly canonical', () => {
    const root = rootHash.toString('base64');
    const last = root.at(-2)!;
    const nonCanonical = `${root.slice(0, -2)}${String.fromCharCode(last.charCodeAt(0) + 1)}=`;
    const bad = [
      `${origin}\n1234\n${root}`,
      `${origin}\n1234\n`,
      `\n1234\n${root}\n`,
      `${origin}\n01234\n${root}\n`,
      `${origin}\n+1234\n${root}\n`,
      `${origin}\n-1\n${root}\n`,
      `${origin}\n 1234\n${root}\n`,
      `${origin}\n1e3\n${root}\n`,
      `${origin}\n9007199254740992\n${root}\n`,
      `${origin}\n1234\n${root.slice(0, -1)}\n`,
      `${origin}\n1234\n${nonCanonical}\n`,
      `${origin}\n1234\n${root.replace(/\+/g, '-').replace(/\//g, '_')}x\n`,
      `${origin}\n1234\n${Buffer.alloc(31).toString('base64')}\n`,
      `${origin}\n1234\n${root}\n\n`,
      `${origin}\r\n1234\n${root}\n`,
    ];
    for (const text of bad)
      expect(() => parseCheckpoint(text), JSON.stringify(text)).toThrow(CheckpointError);
    expect(() => formatCheckpoint({ origin: '', size: 1, rootHash })).toThrow(CheckpointError);
    expect(() => formatCheckpoint({ origin, size: -1, rootHash })).toThrow(CheckpointError);
    expect(() => formatCheckpoint({ origin, size: 1.5, rootHash })).toThrow(CheckpointError);
    expect(() => formatCheckpoint({ origin, size: 1, rootHash: Buffer.alloc(31) })).toThrow(CheckpointError);
    expect(() => formatCheckpoint({ origin: 'a\nb', size: 1, rootHash })).toThrow(CheckpointError);
  });
});
