// Streaming BagIt 1.0 writer (RFC 8493, UTF-8 tag files) producing a ZIP on a Writable.
// One entry at a time: each payload is piped through a SHA-256 pass-through into yazl and the
// call resolves once yazl has consumed it, so memory holds one chunk in flight plus one
// manifest line (and one ZIP central-directory record) per file, whatever the payload size.
// yazl switches to ZIP64 by itself when an entry or the archive passes 4 GiB or 65535 files.
import { createHash } from 'node:crypto';
import { type PassThrough, Readable, Transform, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import yazl from 'yazl';
import { assertBagName, assertPayloadPath, BagPathError } from './bag-paths.ts';
import { BAGIT_TXT, type BagInfo, formatBagInfo, manifestLine, payloadOxum, TAG_FILES } from './bag-tags.ts';

/** Payload bytes: in memory, a stream opened when the entry's turn comes, or any async iterable. */
export type PayloadSource =
  | string
  | Uint8Array
  | (() => NodeJS.ReadableStream)
  | AsyncIterable<Uint8Array | string>;

export interface BagWriterOptions {
  /** Top-level directory inside the ZIP, e.g. `claimtrail-export-<id>`; one path segment. */
  bagName: string;
  /** Modification time of every entry (default: now); fix it for byte-identical bags. */
  mtime?: Date;
  /** Deflate payload entries unless addPayload says otherwise (default true). */
  compress?: boolean;
}

export interface PayloadOptions {
  /** Deflate this entry (default: the writer's `compress`). Already-compressed media gains nothing. */
  compress?: boolean;
  /** When given, the bytes streamed must hash to this (lowercase hex); otherwise the bag is aborted. */
  expectedSha256?: string;
  /** When given, exactly this many bytes must be streamed; otherwise the bag is aborted. */
  expectedSize?: number;
}

export interface WrittenFile {
  path: string;
  sha256: string;
  size: number;
}

export interface FinishedBag {
  bagName: string;
  payloadOxum: string;
  payloadBytes: number;
  payloadFiles: number;
  /** SHA-256 of each tag file, by name. */
  tagSha256: Record<string, string>;
}

/** The bag can take no more entries: it failed or was aborted earlier. */
export class BagWriterError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BagWriterError';
  }
}

const SLICE = 64 * 1024;

/** In-memory bytes in 64 KiB slices, so even they flow at the pace `out` accepts. */
function* slices(bytes: Buffer): Generator<Buffer> {
  for (let i = 0; i < bytes.length; i += SLICE) yield bytes.subarray(i, i + SLICE);
}

function toStream(data: PayloadSource): NodeJS.ReadableStream {
  if (typeof data === 'string') return Readable.from(slices(Buffer.from(data, 'utf8')));
  if (data instanceof Uint8Array) {
    return Readable.from(slices(Buffer.from(data.buffer, data.byteOffset, data.length)));
  }
  if (typeof data === 'function') return data();
  return Readable.from(data, { objectMode: false });
}

/**
 * Writes a zipped bag `<bagName>/{bagit.txt, bag-info.txt, manifest-sha256.txt,
 * tagmanifest-sha256.txt, data/...}` to `out`, which it ends. Calls are sequential: await each
 * addPayload before the next, then finish(). Any failure (a source stream error, `out` failing,
 * an expectation not met) aborts the bag: `out` is destroyed and every later call rejects.
 */
export class BagWriter {
  private readonly zip = new yazl.ZipFile();
  private readonly bagName: string;
  private readonly mtime: Date;
  private readonly compress: boolean;
  private readonly written: Promise<void>;
  /** Settles the entry being streamed, so an abort rejects the call waiting on it. */
  private pending: ((err?: Error) => void) | undefined;
  private error: Error | undefined;
  private busy = false;
  private finished = false;
  private readonly files = new Set<string>();
  private readonly dirs = new Set<string>();
  private manifest: string[] = [];
  private bytes = 0;
  private count = 0;

  constructor(
    private readonly out: NodeJS.WritableStream,
    options: BagWriterOptions,
  ) {
    assertBagName(options.bagName);
    this.bagName = options.bagName;
    this.mtime = options.mtime ?? new Date();
    this.compress = options.compress ?? true;
    this.zip.on('error', (err: Error) => this.abort(err));
    this.written = pipeline(this.zip.outputStream, out);
    this.written.catch((err: Error) => this.abort(err));
    // bagit.txt first, so the archive identifies itself from its first entry.
    this.zip.addBuffer(Buffer.from(BAGIT_TXT, 'utf8'), this.entryName(TAG_FILES.bagit), {
      mtime: this.mtime,
    });
  }

  /** Payload octets streamed so far (for progress). */
  get payloadBytes(): number {
    return this.bytes;
  }

  get payloadFiles(): number {
    return this.count;
  }

  /**
   * Streams one payload file to `data/...` (`path` includes the `data/` prefix), hashing and
   * counting its bytes on the way; resolves when the ZIP has consumed it. Rejects a path that
   * is not a clean relative path under data/, a duplicate, or one that clashes with a directory.
   */
  async addPayload(path: string, data: PayloadSource, options: PayloadOptions = {}): Promise<WrittenFile> {
    this.enter('addPayload');
    try {
      assertPayloadPath(path);
      this.claim(path);
      const { sha256, size } = await this.writeEntry(path, data, options.compress ?? this.compress);
      if (options.expectedSha256 !== undefined && options.expectedSha256 !== sha256) {
        throw this.abort(
          new BagWriterError(`${path}: content hashes to ${sha256}, expected ${options.expectedSha256}`),
        );
      }
      if (options.expectedSize !== undefined && options.expectedSize !== size) {
        throw this.abort(
          new BagWriterError(`${path}: ${size} bytes streamed, expected ${options.expectedSize}`),
        );
      }
      this.manifest.push(manifestLine(sha256, path));
      this.bytes += size;
      this.count++;
      return { path, sha256, size };
    } finally {
      this.busy = false;
    }
  }

  /**
   * Writes bag-info.txt (with Payload-Oxum and Bagging-Date), manifest-sha256.txt and
   * tagmanifest-sha256.txt (covering bagit.txt, bag-info.txt and the manifest), ends the ZIP and
   * resolves once `out` has received and flushed every byte.
   */
  async finish(info: BagInfo): Promise<FinishedBag> {
    this.enter('finish');
    this.finished = true;
    try {
      const oxum = payloadOxum(this.bytes, this.count);
      const bagit = { sha256: createHash('sha256').update(BAGIT_TXT).digest('hex') };
      const bagInfo = await this.writeEntry(TAG_FILES.bagInfo, formatBagInfo(info, oxum), true);
      const lines = this.manifest;
      this.manifest = [];
      const manifest = await this.writeEntry(TAG_FILES.manifest, Readable.from(lines), true);
      const tagLines =
        manifestLine(bagit.sha256, TAG_FILES.bagit) +
        manifestLine(bagInfo.sha256, TAG_FILES.bagInfo) +
        manifestLine(manifest.sha256, TAG_FILES.manifest);
      const tagManifest = await this.writeEntry(TAG_FILES.tagManifest, tagLines, true);
      this.zip.end();
      await this.written;
      return {
        bagName: this.bagName,
        payloadOxum: oxum,
        payloadBytes: this.bytes,
        payloadFiles: this.count,
        tagSha256: {
          [TAG_FILES.bagit]: bagit.sha256,
          [TAG_FILES.bagInfo]: bagInfo.sha256,
          [TAG_FILES.manifest]: manifest.sha256,
          [TAG_FILES.tagManifest]: tagManifest.sha256,
        },
      };
    } finally {
      this.busy = false;
    }
  }

  /** Stops the bag: destroys the ZIP stream (and with it `out`). Returns the error for `throw`. */
  abort(reason: Error = new BagWriterError('bag aborted')): Error {
    if (!this.error) {
      this.error = reason;
      this.pending?.(reason);
      (this.zip.outputStream as PassThrough).destroy(reason);
      // Destroy `out` now too (pipeline would on its next tick): a cut bag must not look whole.
      const out = this.out as Partial<Writable>;
      if (typeof out.destroy === 'function') out.destroy(reason);
    }
    return reason;
  }

  private enter(what: string): void {
    if (this.error) throw new BagWriterError(`${what}: the bag failed earlier`, { cause: this.error });
    if (this.finished) throw new BagWriterError(`${what}: the bag is already finished`);
    if (this.busy) throw new BagWriterError(`${what}: await the previous call first (calls are sequential)`);
    this.busy = true;
  }

  private entryName(path: string): string {
    return `${this.bagName}/${path}`;
  }

  /** Records `path`, rejecting a duplicate or a file/directory clash (data/a and data/a/b). */
  private claim(path: string): void {
    if (this.files.has(path)) throw new BagPathError(`duplicate payload path ${JSON.stringify(path)}`);
    if (this.dirs.has(path)) {
      throw new BagPathError(`payload path ${JSON.stringify(path)} is already a directory of the bag`);
    }
    const segments = path.split('/');
    for (let i = 1; i < segments.length; i++) {
      const dir = segments.slice(0, i).join('/');
      if (this.files.has(dir)) {
        throw new BagPathError(
          `payload path ${JSON.stringify(path)} lies under the file ${JSON.stringify(dir)}`,
        );
      }
    }
    for (let i = 1; i < segments.length; i++) this.dirs.add(segments.slice(0, i).join('/'));
    this.files.add(path);
  }

  /** Streams one entry through a hashing pass-through; resolves when yazl has read all of it. */
  private async writeEntry(
    path: string,
    data: PayloadSource,
    compress: boolean,
  ): Promise<{ sha256: string; size: number }> {
    const hash = createHash('sha256');
    let size = 0;
    const hasher = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        hash.update(chunk);
        size += chunk.length;
        callback(null, chunk);
      },
    });
    let source: NodeJS.ReadableStream | undefined;
    try {
      source = toStream(data);
      const input = source;
      // Plain pipe and listeners rather than stream/promises: this runs once per file, and
      // pipeline()/finished() allocate an AbortController (and a DOMException) per call.
      await new Promise<void>((resolve, reject) => {
        const settle = (err?: Error) => {
          this.pending = undefined;
          input.removeListener('error', settle);
          hasher.removeListener('error', settle);
          hasher.removeListener('end', settle);
          if (err) reject(err);
          else resolve();
        };
        this.pending = settle;
        input.on('error', settle);
        hasher.on('error', settle);
        hasher.on('end', () => settle());
        this.zip.addReadStream(hasher, this.entryName(path), { compress, mtime: this.mtime });
        input.pipe(hasher);
      });
    } catch (err) {
      (source as Partial<Readable> | undefined)?.destroy?.();
      const error = err instanceof Error ? err : new Error(String(err));
      throw this.abort(new BagWriterError(`${path}: ${error.message}`, { cause: error }));
    }
    return { sha256: hash.digest('hex'), size };
  }
}
