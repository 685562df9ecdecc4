// C2SP tlog-cosignature, Ed25519 `cosignature/v1` (https://c2sp.org/tlog-cosignature): a note
// signature line `— <name> base64(key ID ‖ u64 timestamp ‖ Ed25519 signature)` over
// "cosignature/v1\ntime <t>\n" followed by the whole checkpoint body. Key IDs use algorithm
// byte 0x04, so a cosigner's key can never be mistaken for a note signer's (0x01), and its
// verifier key is the signed-note vkey `name+hexkeyid+base64(0x04 ‖ public key)`.
import { sign as cryptoSign, randomBytes } from 'node:crypto';
import {
  decodeSignerKey,
  decodeVerifierKey,
  ed25519FromSeed,
  ed25519VerifierKey,
  ed25519Verify,
  isValidKeyName,
  keyHash,
  NoteError,
  type NoteVerifier,
} from '../../log/note.ts';

export const ALG_COSIGNATURE_V1 = 0x04;
const SIGNATURE_PREFIX = '\u2014 ';
const MAX_TIMESTAMP = 2n ** 63n - 1n;

const hex8 = (h: number): string => h.toString(16).padStart(8, '0');

/** The message an Ed25519 cosignature signs: header, time line, then the checkpoint body
 * exactly (every line of the note's text, extension lines included, with its final newline). */
export function cosignedMessage(checkpointText: string, timestamp: bigint): Buffer {
  return Buffer.from(`cosignature/v1\ntime ${timestamp}\n${checkpointText}`, 'utf8');
}

/** Key ID of an Ed25519 cosigner: SHA-256(name ‖ "\n" ‖ 0x04 ‖ public key)[:4]. */
export function cosignerKeyId(name: string, publicKey: Uint8Array): number {
  return keyHash(name, Buffer.concat([Buffer.from([ALG_COSIGNATURE_V1]), publicKey]));
}

/** A cosigner's verifier key string `name+hexkeyid+base64(0x04 ‖ key)`. */
export const cosignerVerifierKey = (name: string, publicKey: Uint8Array): string =>
  ed25519VerifierKey(name, publicKey, ALG_COSIGNATURE_V1);

/** What a cosignature line holds once decoded. */
export interface Cosignature {
  name: string;
  keyId: number;
  /** POSIX seconds at which the cosigner signed. */
  timestamp: bigint;
  /** The 64-byte Ed25519 signature. */
  signature: Buffer;
}

/** The note signature line of a cosignature, "\n"-terminated. */
export function formatCosignatureLine(c: Cosignature): string {
  const head = Buffer.alloc(12);
  head.writeUInt32BE(c.keyId >>> 0, 0);
  head.writeBigUInt64BE(c.timestamp, 4);
  return `${SIGNATURE_PREFIX}${c.name} ${Buffer.concat([head, c.signature]).toString('base64')}\n`;
}

/**
 * A NoteVerifier for one Ed25519 cosigner, usable with openNote exactly as Go's sumdb/note
 * uses torchwood's CosignatureVerifier: the signature handed to verify() is timestamp ‖
 * signature (the key ID already stripped). Timestamps of 0 and above 2^63-1 are refused.
 */
export interface CosignatureVerifier extends NoteVerifier {
  /** The vkey string this verifier was made from. */
  readonly verifierKey: string;
}

/** Parses a cosigner verifier key (algorithm 0x04, 32-byte Ed25519 key). */
export function parseCosignerKey(verifierKey: string): CosignatureVerifier {
  const { name, keyHash: keyId, key } = decodeVerifierKey(verifierKey);
  if (key[0] !== ALG_COSIGNATURE_V1) {
    throw new NoteError(
      'malformed_key',
      `not an Ed25519 cosignature/v1 key (algorithm ${key[0]}, want ${ALG_COSIGNATURE_V1})`,
    );
  }
  if (key.length !== 33)
    throw new NoteError('malformed_key', 'malformed cosigner key: bad Ed25519 key length');
  const publicKey = key.subarray(1);
  return {
    name,
    keyHash: keyId,
    publicKey,
    verifierKey,
    verify(message, sig) {
      if (sig.length !== 72) return false;
      const timestamp = Buffer.from(sig.buffer, sig.byteOffset, 8).readBigUInt64BE(0);
      if (timestamp === 0n || timestamp > MAX_TIMESTAMP) return false;
      const text = Buffer.from(message).toString('utf8');
      return ed25519Verify(publicKey, cosignedMessage(text, timestamp), sig.subarray(8));
    },
  };
}

/** Decodes the base64 of a cosignature line (key ID ‖ timestamp ‖ signature); null if malformed. */
export function decodeCosignature(name: string, base64: string): Cosignature | null {
  const raw = Buffer.from(base64, 'base64');
  if (raw.length !== 76 || raw.toString('base64') !== base64) return null;
  return {
    name,
    keyId: raw.readUInt32BE(0),
    timestamp: raw.readBigUInt64BE(4),
    signature: raw.subarray(12),
  };
}

/** Signs checkpoints as one Ed25519 cosigner; holds the private key. */
export interface Cosigner {
  readonly name: string;
  readonly keyId: number;
  readonly publicKey: Buffer;
  /** The vkey others configure to verify this cosigner. */
  readonly verifierKey: string;
  /** The cosignature of `checkpointText` (a checkpoint note's text) at `timestamp` (default now). */
  cosign(checkpointText: string, timestamp?: bigint): Cosignature;
}

/**
 * Parses a cosigner's private key `PRIVATE+KEY+name+hexkeyid+base64(0x04 ‖ 32-byte seed)` —
 * Go's signer key format with the cosignature algorithm byte, so the file can never be used as
 * a note (0x01) signing key by mistake — and checks the key ID against the derived public key.
 */
export function parseCosignerSignerKey(signerKey: string): Cosigner {
  const { name, keyHash: keyId, key } = decodeSignerKey(signerKey);
  if (key[0] !== ALG_COSIGNATURE_V1) {
    throw new NoteError('malformed_key', `not an Ed25519 cosigner key (algorithm ${key[0]})`);
  }
  if (key.length !== 33) throw new NoteError('malformed_key', 'malformed cosigner key: bad seed length');
  const { privateKey, publicKey } = ed25519FromSeed(key.subarray(1));
  if (cosignerKeyId(name, publicKey) !== keyId) {
    throw new NoteError(
      'malformed_key',
      `invalid cosigner key: key ID ${hex8(keyId)} does not match the key`,
    );
  }
  return {
    name,
    keyId,
    publicKey,
    verifierKey: cosignerVerifierKey(name, publicKey),
    cosign(checkpointText, timestamp = BigInt(Math.floor(Date.now() / 1000))) {
      if (timestamp <= 0n || timestamp > MAX_TIMESTAMP)
        throw new RangeError('cosignature timestamp out of range');
      const signature = cryptoSign(null, cosignedMessage(checkpointText, timestamp), privateKey);
      return { name, keyId, timestamp, signature };
    },
  };
}

/** A cosigner private key string for a 32-byte seed (tests derive one from a known seed). */
export function cosignerSignerKeyFromSeed(name: string, seed: Uint8Array): string {
  if (!isValidKeyName(name)) throw new NoteError('malformed_key', `invalid key name ${JSON.stringify(name)}`);
  if (seed.length !== 32) throw new NoteError('malformed_key', 'an Ed25519 seed has 32 bytes');
  const { publicKey } = ed25519FromSeed(seed);
  const key = Buffer.concat([Buffer.from([ALG_COSIGNATURE_V1]), seed]).toString('base64');
  return `PRIVATE+KEY+${name}+${hex8(cosignerKeyId(name, publicKey))}+${key}`;
}

/** A fresh cosigner key pair for `name`: the private key string and its vkey. */
export function generateCosignerKey(name: string): { signerKey: string; verifierKey: string } {
  const signerKey = cosignerSignerKeyFromSeed(name, randomBytes(32));
  return { signerKey, verifierKey: parseCosignerSignerKey(signerKey).verifierKey };
}
