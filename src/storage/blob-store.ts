// Where evidence bytes live (DESIGN.md, "Processes"). Content-addressed by SHA-256: the hash is
// computed while the bytes stream in, in the same pass that writes them, and identical content
// is stored once. Jobs and routes see only this interface, so an S3-compatible store can be
// added beside the local one without touching them.
import type { Readable } from 'node:stream';
import type { ByteSource } from '../lib/byte-sink.ts';

export interface BlobWriteResult {
  sha256: string;
  size: number;
  /** The first bytes (up to 4 KiB), for sniffing the media type without a second read. */
  head: Buffer;
  /** false when these bytes were already stored. */
  created: boolean;
}

export interface PutOptions {
  /** Stop and store nothing once more than this many bytes arrived. */
  maxBytes?: number;
  /**
   * How many bytes are expected (a Content-Length), if known: a big blob is hashed on a
   * worker thread while it is written. Only a hint; maxBytes is the limit.
   */
  expectedBytes?: number;
  /**
   * Names the temporary file (`<tmpKey>.<uuid>.part`). A retried job passes the same key, so a
   * worker killed mid-write leaves a partial file that the retry removes instead of a stray one.
   */
  tmpKey?: string;
  /**
   * Called with the hash once every byte is written, before the blob is put in place; when it
   * throws, nothing is stored. (An upload is known to be well-formed only after its last part.)
   */
  beforeCommit?: (blob: { sha256: string; size: number }) => Promise<void>;
}

export interface ByteRange {
  start: number;
  /** Inclusive, as in HTTP Range. */
  end: number;
}

export class BlobTooLargeError extends Error {
  override name = 'BlobTooLargeError';
  constructor(readonly maxBytes: number) {
    super(`content is larger than ${maxBytes} bytes`);
  }
}

export interface BlobStore {
  /** Streams `source` (pulled or pushed) into the store, hashing it in the same pass. */
  put(source: ByteSource, opts?: PutOptions): Promise<BlobWriteResult>;
  /** Size in bytes, or undefined when the blob is absent. */
  size(sha256: string): Promise<number | undefined>;
  read(sha256: string, range?: ByteRange): Readable;
  /** Runs fn with a local path of the blob (for ffprobe and friends). */
  withLocalFile<T>(sha256: string, fn: (path: string) => Promise<T>): Promise<T>;
  /** Temporary files left by writers that died more than `olderThanMs` ago. */
  sweepTemporary(olderThanMs: number): Promise<number>;
}

export const SHA256_HEX = /^[0-9a-f]{64}$/;
export const HEAD_BYTES = 4096;

/** What a PutOptions.tmpKey may hold: it becomes part of a file name or an object key. */
const TMP_KEY = /^[A-Za-z0-9_.-]{1,128}$/;

/** Refuses a tmpKey that could leave its directory or prefix (every store checks it alike). */
export function checkTmpKey(tmpKey: string | undefined): void {
  if (tmpKey !== undefined && !TMP_KEY.test(tmpKey)) throw new Error('bad tmpKey');
}
