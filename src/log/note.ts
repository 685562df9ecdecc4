// C2SP signed-note (https://c2sp.org/signed-note) with Ed25519 keys, byte-compatible with Go's
// golang.org/x/mod/sumdb/note: same key strings, same key hash, same note encoding, and the
// same acceptance rules as note.Open. Uses node:crypto only (Ed25519 signing is deterministic,
// so a given key and text always give the same note).
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  sign as cryptoSign,
  verify as cryptoVerify,
  type KeyObject,
  randomBytes,
} from 'node:crypto';

export type NoteErrorCode =
  | 'malformed_key'
  | 'malformed_note'
  | 'invalid_signer'
  | 'unverified_note'
  | 'invalid_signature'
  | 'ambiguous_key';

/** Every failure of this module: the code says which, the message says why. */
export class NoteError extends Error {
  constructor(
    readonly code: NoteErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'NoteError';
  }
}

/** A key that verifies signatures of one key name and key hash. */
export interface NoteVerifier {
  readonly name: string;
  /** uint32 key hash (C2SP "key ID"). */
  readonly keyHash: number;
  /** Raw 32-byte Ed25519 public key. */
  readonly publicKey: Buffer;
  verify(message: Uint8Array, signature: Uint8Array): boolean;
}

/** A key that signs notes; holds the private key, keep it secret. */
export interface NoteSigner {
  readonly name: string;
  readonly keyHash: number;
  readonly publicKey: Buffer;
  sign(message: Uint8Array): Buffer;
}

/** One signature line of a note. */
export interface NoteSignature {
  name: string;
  keyHash: number;
  /** base64(4-byte big-endian key hash ‖ signature), exactly as on the line. */
  base64: string;
}

export interface OpenedNote {
  /** Signed text, including its final newline. */
  text: string;
  /** Signatures verified by a known key (at least one). */
  signatures: NoteSignature[];
  /** Signatures by keys not in the verifier list; ignored, as the spec requires. */
  unverifiedSignatures: NoteSignature[];
}

const ALG_ED25519 = 0x01;
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const SIGNATURE_PREFIX = '\u2014 '; // em dash, space
const MAX_SIGNATURES = 100;
const BASE64_STD = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
// Go's unicode.IsSpace: \t \n \v \f \r, space, U+0085, U+00A0 and categories Zs, Zl, Zp.
const UNICODE_SPACE = /[\t\n\v\f\r \u0085\u00a0\p{Z}]/u;
const LONE_SURROGATE = /\p{Cs}/u;
// biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point.
const FORBIDDEN_CONTROL = /[\x00-\x09\x0b-\x1f]/;

/** Strict standard (padded) base64 decoding, as Go's base64.StdEncoding; null if invalid. */
function decodeBase64(s: string): Buffer | null {
  return BASE64_STD.test(s) ? Buffer.from(s, 'base64') : null;
}

/** Splits s at the first sep: [before, after], or [s, ''] when sep is absent (Go's chop). */
function chop(s: string, sep: string): [string, string] {
  const i = s.indexOf(sep);
  return i < 0 ? [s, ''] : [s.slice(0, i), s.slice(i + sep.length)];
}

const hex8 = (h: number): string => h.toString(16).padStart(8, '0');

/** A key name is non-empty, well-formed, and has no Unicode space and no '+'. */
export function isValidKeyName(name: string): boolean {
  return name !== '' && !LONE_SURROGATE.test(name) && !UNICODE_SPACE.test(name) && !name.includes('+');
}

/**
 * Key hash: the first 4 bytes, big-endian, of SHA-256(name ‖ "\n" ‖ key), where key is the
 * algorithm byte followed by the public key (0x01 ‖ 32 bytes for Ed25519).
 */
export function keyHash(name: string, key: Uint8Array): number {
  return createHash('sha256').update(name, 'utf8').update('\n').update(key).digest().readUInt32BE(0);
}

function publicKeyObject(raw: Uint8Array): KeyObject {
  return createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, raw]), format: 'der', type: 'spki' });
}

function makeVerifier(name: string, hash: number, raw: Buffer): NoteVerifier {
  let key: KeyObject;
  try {
    key = publicKeyObject(raw);
  } catch {
    throw new NoteError('malformed_key', 'malformed verifier key: not an Ed25519 public key');
  }
  return {
    name,
    keyHash: hash,
    publicKey: raw,
    verify: (message, signature) => signature.length === 64 && cryptoVerify(null, message, key, signature),
  };
}

/** Verifier key string `name+hexkeyhash+base64(alg ‖ key)` for a 32-byte Ed25519 public key
 * under algorithm byte `alg` (0x01 note signatures; 0x04 cosignature/v1). */
export function ed25519VerifierKey(name: string, publicKey: Uint8Array, alg = ALG_ED25519): string {
  if (!isValidKeyName(name)) throw new NoteError('malformed_key', `invalid key name ${JSON.stringify(name)}`);
  if (publicKey.length !== 32) throw new NoteError('malformed_key', 'an Ed25519 public key has 32 bytes');
  const key = Buffer.concat([Buffer.from([alg]), publicKey]);
  return `${name}+${hex8(keyHash(name, key))}+${key.toString('base64')}`;
}

/** A key string's parts once its name, hash and base64 are well-formed and the hash matches. */
export interface DecodedKey {
  name: string;
  keyHash: number;
  /** Algorithm byte followed by the key material. */
  key: Buffer;
}

/**
 * Splits a verifier key `name+hexkeyhash+base64(alg ‖ key)` and checks what every algorithm
 * shares (Go's note.NewVerifier up to the algorithm switch): a valid name, 8 hex digits that
 * equal the key hash of name and key, non-empty standard base64.
 */
export function decodeVerifierKey(verifierKey: string): DecodedKey {
  const [name, rest] = chop(verifierKey, '+');
  const [hash16, key64] = chop(rest, '+');
  const key = decodeBase64(key64);
  if (!/^[0-9a-fA-F]{8}$/.test(hash16) || key === null || !isValidKeyName(name) || key.length === 0) {
    throw new NoteError('malformed_key', 'malformed verifier key: want name+hexkeyhash+base64key');
  }
  const hash = Number.parseInt(hash16, 16);
  if (hash !== keyHash(name, key)) {
    throw new NoteError('malformed_key', `invalid verifier key: key hash ${hash16} does not match the key`);
  }
  return { name, keyHash: hash, key };
}

/**
 * Parses a verifier key `name+hexkeyhash+base64(0x01 ‖ 32-byte public key)` (Go's
 * note.NewVerifier): rejects a bad name, a hash that is not 8 hex digits or does not match
 * the key, an algorithm other than Ed25519, and a key that is not 32 bytes.
 */
export function parseVerifierKey(verifierKey: string): NoteVerifier {
  const { name, keyHash: hash, key } = decodeVerifierKey(verifierKey);
  if (key[0] !== ALG_ED25519) throw new NoteError('malformed_key', `unknown verifier algorithm ${key[0]}`);
  if (key.length !== 33)
    throw new NoteError('malformed_key', 'malformed verifier key: bad Ed25519 key length');
  return makeVerifier(name, hash, key.subarray(1));
}

/** The Ed25519 key pair of a 32-byte seed (RFC 8032 private key), as node:crypto objects. */
export function ed25519FromSeed(seed: Uint8Array): { privateKey: KeyObject; publicKey: Buffer } {
  const privateKey = createPrivateKey({
    key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]),
    format: 'der',
    type: 'pkcs8',
  });
  const publicKey = createPublicKey(privateKey).export({ format: 'der', type: 'spki' }).subarray(12);
  return { privateKey, publicKey };
}

/** Verifies an Ed25519 signature by a raw 32-byte public key; false (never throws) on bad input. */
export function ed25519Verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  try {
    return signature.length === 64 && cryptoVerify(null, message, publicKeyObject(publicKey), signature);
  } catch {
    return false;
  }
}

function signerFromSeed(name: string, seed: Buffer): NoteSigner {
  const { privateKey, publicKey } = ed25519FromSeed(seed);
  const hash = keyHash(name, Buffer.concat([Buffer.from([ALG_ED25519]), publicKey]));
  return {
    name,
    keyHash: hash,
    publicKey,
    sign: (message) => cryptoSign(null, message, privateKey),
  };
}

/**
 * Splits a signer key `PRIVATE+KEY+name+hexkeyhash+base64(alg ‖ key)` and checks its form (the
 * hash is checked by the caller, who derives the public key for its algorithm).
 */
export function decodeSignerKey(signerKey: string): DecodedKey {
  const [priv1, r1] = chop(signerKey, '+');
  const [priv2, r2] = chop(r1, '+');
  const [name, r3] = chop(r2, '+');
  const [hash16, key64] = chop(r3, '+');
  const key = decodeBase64(key64);
  if (
    priv1 !== 'PRIVATE' ||
    priv2 !== 'KEY' ||
    !/^[0-9a-fA-F]{8}$/.test(hash16) ||
    key === null ||
    !isValidKeyName(name) ||
    key.length === 0
  ) {
    throw new NoteError('malformed_key', 'malformed signer key: want PRIVATE+KEY+name+hexkeyhash+base64key');
  }
  return { name, keyHash: Number.parseInt(hash16, 16), key };
}

/**
 * Parses a signer key `PRIVATE+KEY+name+hexkeyhash+base64(0x01 ‖ 32-byte seed)` (Go's
 * note.NewSigner); the key hash must match the public key derived from the seed.
 */
export function parseSignerKey(signerKey: string): NoteSigner {
  const { name, keyHash: hash, key } = decodeSignerKey(signerKey);
  if (key[0] !== ALG_ED25519) throw new NoteError('malformed_key', `unknown signer algorithm ${key[0]}`);
  if (key.length !== 33)
    throw new NoteError('malformed_key', 'malformed signer key: bad Ed25519 seed length');
  const signer = signerFromSeed(name, key.subarray(1));
  if (signer.keyHash !== hash) {
    throw new NoteError('malformed_key', `invalid signer key: key hash ${hex8(hash)} does not match the key`);
  }
  return signer;
}

/** The verifier key string matching a signer key string. */
export function verifierKeyFromSigner(signerKey: string): string {
  const signer = parseSignerKey(signerKey);
  return ed25519VerifierKey(signer.name, signer.publicKey);
}

/** A fresh Ed25519 key pair for `name`, as signer and verifier key strings (Go's GenerateKey). */
export function generateSignerKey(name: string): { signerKey: string; verifierKey: string } {
  if (!isValidKeyName(name)) throw new NoteError('malformed_key', `invalid key name ${JSON.stringify(name)}`);
  const seed = randomBytes(32);
  const signer = signerFromSeed(name, seed);
  const seedKey = Buffer.concat([Buffer.from([ALG_ED25519]), seed]).toString('base64');
  return {
    signerKey: `PRIVATE+KEY+${name}+${hex8(signer.keyHash)}+${seedKey}`,
    verifierKey: ed25519VerifierKey(name, signer.publicKey),
  };
}

function checkNoteChars(s: string, what: string): void {
  if (LONE_SURROGATE.test(s))
    throw new NoteError('malformed_note', `malformed note: ${what} is not valid UTF-8`);
  if (FORBIDDEN_CONTROL.test(s)) {
    throw new NoteError('malformed_note', `malformed note: ${what} contains a control character`);
  }
}

/**
 * Signs `text` (which must end with "\n" and contain no control character but newline) and
 * returns the note: text, a blank line, then one line `— name base64(keyhash ‖ signature)` per
 * signer, in order. Signers may be NoteSigner objects or signer key strings.
 */
export function signNote(
  text: string,
  signers: NoteSigner | string | ReadonlyArray<NoteSigner | string>,
): string {
  if (!text.endsWith('\n'))
    throw new NoteError('malformed_note', 'malformed note: text must end with a newline');
  checkNoteChars(text, 'text');
  const list = (Array.isArray(signers) ? signers : [signers]) as ReadonlyArray<NoteSigner | string>;
  if (list.length === 0) throw new NoteError('invalid_signer', 'signNote needs at least one signer');
  const message = Buffer.from(text, 'utf8');
  let lines = '';
  for (const s of list) {
    const signer = typeof s === 'string' ? parseSignerKey(s) : s;
    if (!isValidKeyName(signer.name)) {
      throw new NoteError('invalid_signer', `invalid signer name ${JSON.stringify(signer.name)}`);
    }
    const head = Buffer.alloc(4);
    head.writeUInt32BE(signer.keyHash >>> 0);
    const sig = Buffer.concat([head, signer.sign(message)]).toString('base64');
    lines += `${SIGNATURE_PREFIX}${signer.name} ${sig}\n`;
  }
  return `${text}\n${lines}`;
}

function decodeUtf8(bytes: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    throw new NoteError('malformed_note', 'malformed note: not valid UTF-8');
  }
}

/**
 * Parses a signed note and verifies its signatures, following Go's note.Open: valid UTF-8 with
 * no control character but newline; the last blank line separates the text from one or more
 * `— name base64` lines (at most 100), each decoding to a 4-byte key hash and a signature.
 * Signatures from keys not in `verifiers` (matched by name and key hash) are set aside; a
 * signature from a known key must verify, else NoteError 'invalid_signature'; at least one
 * must verify, else 'unverified_note'. A name and hash matching two verifiers is
 * 'ambiguous_key'. Repeated signatures are reported once.
 */
export function openNote(
  note: string | Uint8Array,
  verifiers: NoteVerifier | string | ReadonlyArray<NoteVerifier | string>,
): OpenedNote {
  const msg = typeof note === 'string' ? note : decodeUtf8(note);
  checkNoteChars(msg, 'note');
  const known = (
    (Array.isArray(verifiers) ? verifiers : [verifiers]) as ReadonlyArray<NoteVerifier | string>
  ).map((v) => (typeof v === 'string' ? parseVerifierKey(v) : v));
  const split = msg.lastIndexOf('\n\n');
  if (split < 0) throw new NoteError('malformed_note', 'malformed note: no blank line before the signatures');
  const text = msg.slice(0, split + 1);
  const sigs = msg.slice(split + 2);
  if (sigs === '' || !sigs.endsWith('\n')) {
    throw new NoteError('malformed_note', 'malformed note: signature block must end with a newline');
  }
  const lines = sigs.slice(0, -1).split('\n');
  if (lines.length > MAX_SIGNATURES) {
    throw new NoteError('malformed_note', `malformed note: more than ${MAX_SIGNATURES} signatures`);
  }
  const textBytes = Buffer.from(text, 'utf8');
  const opened: OpenedNote = { text, signatures: [], unverifiedSignatures: [] };
  const seen = new Set<string>();
  const seenUnverified = new Set<string>();
  for (const raw of lines) {
    if (!raw.startsWith(SIGNATURE_PREFIX)) {
      throw new NoteError('malformed_note', 'malformed note: signature line must start with "— "');
    }
    const line = raw.slice(SIGNATURE_PREFIX.length);
    const [name, b64] = chop(line, ' ');
    const sig = decodeBase64(b64);
    if (sig === null || !isValidKeyName(name) || b64 === '' || sig.length < 5) {
      throw new NoteError('malformed_note', `malformed note: bad signature line ${JSON.stringify(raw)}`);
    }
    const hash = sig.readUInt32BE(0);
    const id = `${name}+${hex8(hash)}`;
    const matches = known.filter((v) => v.name === name && v.keyHash === hash);
    if (matches.length === 0) {
      if (!seenUnverified.has(line)) {
        seenUnverified.add(line);
        opened.unverifiedSignatures.push({ name, keyHash: hash, base64: b64 });
      }
      continue;
    }
    if (matches.length > 1) throw new NoteError('ambiguous_key', `ambiguous key ${id}`);
    if (seen.has(id)) continue;
    seen.add(id);
    if (!matches[0]!.verify(textBytes, sig.subarray(4))) {
      throw new NoteError('invalid_signature', `invalid signature for key ${id}`);
    }
    opened.signatures.push({ name, keyHash: hash, base64: b64 });
  }
  if (opened.signatures.length === 0) {
    const unknown = opened.unverifiedSignatures.map((s) => `${s.name}+${hex8(s.keyHash)}`).join(', ');
    throw new NoteError('unverified_note', `note has no verifiable signatures (unknown keys: ${unknown})`);
  }
  return opened;
}
