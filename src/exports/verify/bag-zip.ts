// Read access to a zipped bag for the verifier: lists the entries once (yauzl, lazyEntries),
// checks there is exactly one top-level directory, and streams any file — hashing it on the
// way and remembering only its SHA-256 and size — whole, line by line or as raw chunks.
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import yauzl from 'yauzl';
import { payloadPathProblem } from '../bag/bag-paths.ts';
import type { Problems } from './problems.ts';
import { centralDirectoryStart, checkZipTiling } from './zip-tiling.ts';

export interface Digest {
  sha256: string;
  size: number;
}

/** One line of a file, without its "\n"; `bytes` is null when the line exceeded the limit. */
export interface Line {
  no: number;
  bytes: Buffer | null;
  terminated: boolean;
}

/** What the content checks read: a bag's files by path (a ZIP, or a JSON export laid out as one). */
export interface ExportFiles {
  readonly files: ReadonlyMap<string, unknown>;
  has(path: string): boolean;
  /** The whole file, or null when it exceeds `max` bytes. */
  read(path: string, max: number): Promise<Buffer | null>;
  /** The file's lines split at "\n"; a line longer than `maxLine` bytes comes with bytes null. */
  lines(path: string, maxLine: number): AsyncGenerator<Line>;
}

export class BagZip implements ExportFiles {
  /** Files of the bag by path relative to the bag directory (e.g. `data/export.json`). */
  readonly files = new Map<string, yauzl.Entry>();
  /** SHA-256 and size of every file streamed so far. */
  readonly digests = new Map<string, Digest>();

  private constructor(
    private readonly zip: yauzl.ZipFile,
    readonly bagName: string | null,
  ) {}

  /**
   * Opens the ZIP and lists its entries. Throws when it is not a ZIP that yauzl can read
   * (including an entry with an absolute or `..` path); records structural problems.
   */
  static async open(path: string, problems: Problems): Promise<BagZip> {
    const zip = await yauzl.openPromise(path, { lazyEntries: true, autoClose: false });
    try {
      const entries: yauzl.Entry[] = [];
      for await (const entry of zip.eachEntry()) entries.push(entry);
      const tops = new Set(entries.map((e) => e.fileName.split('/')[0]!));
      const bagName =
        entries.find((e) => /^[^/]+\/bagit\.txt$/.test(e.fileName))?.fileName.split('/')[0] ??
        [...tops][0] ??
        null;
      if (tops.size !== 1) {
        const names = [...tops].map((t) => JSON.stringify(t)).join(', ');
        problems.add(`ZIP: a bag has exactly one top-level directory; this one has ${tops.size} (${names})`);
      }
      await checkZipTiling(path, entries, centralDirectoryStart(zip, entries), problems);
      const bag = new BagZip(zip, bagName);
      for (const entry of entries) bag.addEntry(entry, problems);
      return bag;
    } catch (err) {
      zip.close();
      throw err;
    }
  }

  private addEntry(entry: yauzl.Entry, problems: Problems): void {
    const name = entry.fileName;
    const prefix = `${this.bagName}/`;
    if (!name.startsWith(prefix)) {
      if (name !== this.bagName) problems.add(`ZIP: ${JSON.stringify(name)} lies outside the bag directory`);
      return;
    }
    if (name.endsWith('/')) return; // a directory entry
    const path = name.slice(prefix.length);
    if (path.startsWith('data/')) {
      const bad = payloadPathProblem(path);
      if (bad) problems.add(`ZIP: ${JSON.stringify(path)} is not a valid payload path: ${bad}`);
    }
    if (this.files.has(path)) {
      problems.add(`ZIP: ${path} appears twice`);
      return;
    }
    if (entry.isEncrypted() || !entry.canDecodeFileData()) {
      problems.add(`ZIP: ${path} is encrypted or uses an unsupported compression method`);
      return;
    }
    this.files.set(path, entry);
  }

  has(path: string): boolean {
    return this.files.has(path);
  }

  close(): void {
    this.zip.close();
  }

  /** The file's bytes as chunks; records its digest once fully read. */
  async *chunks(path: string): AsyncGenerator<Buffer> {
    const entry = this.files.get(path);
    if (!entry) throw new Error(`${path} is not in the bag`);
    let stream: Readable | undefined;
    const hash = createHash('sha256');
    let size = 0;
    try {
      stream = await this.zip.openReadStreamPromise(entry);
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        hash.update(chunk);
        size += chunk.length;
        yield chunk;
      }
    } catch (err) {
      throw new Error(`${path}: cannot read it from the ZIP: ${(err as Error).message}`, { cause: err });
    } finally {
      stream?.destroy();
    }
    this.digests.set(path, { sha256: hash.digest('hex'), size });
  }

  /** Streams the file only to hash it (unless already hashed). */
  async digest(path: string): Promise<Digest> {
    const known = this.digests.get(path);
    if (known) return known;
    for await (const _ of this.chunks(path)) {
      // hashing happens in chunks()
    }
    return this.digests.get(path)!;
  }

  /** The whole file, or null (after streaming and hashing it all) when it exceeds `max` bytes. */
  async read(path: string, max: number): Promise<Buffer | null> {
    const parts: Buffer[] = [];
    let size = 0;
    for await (const chunk of this.chunks(path)) {
      size += chunk.length;
      if (size <= max) parts.push(chunk);
      else parts.length = 0;
    }
    return size <= max ? Buffer.concat(parts) : null;
  }

  /** The file's lines split at "\n"; a line longer than `maxLine` bytes comes with bytes null. */
  async *lines(path: string, maxLine: number): AsyncGenerator<Line> {
    let parts: Buffer[] = [];
    let length = 0;
    let overflow = false;
    let no = 0;
    for await (const chunk of this.chunks(path)) {
      let start = 0;
      for (let nl = chunk.indexOf(0x0a); nl !== -1; nl = chunk.indexOf(0x0a, start)) {
        const piece = chunk.subarray(start, nl);
        const tooLong = overflow || length + piece.length > maxLine;
        yield { no: ++no, bytes: tooLong ? null : Buffer.concat([...parts, piece]), terminated: true };
        parts = [];
        length = 0;
        overflow = false;
        start = nl + 1;
      }
      const rest = chunk.subarray(start);
      if (rest.length === 0) continue;
      if (overflow || length + rest.length > maxLine) {
        overflow = true;
        parts = [];
      } else {
        parts.push(rest);
      }
      length += rest.length;
    }
    if (length > 0 || overflow) {
      yield { no: ++no, bytes: overflow ? null : Buffer.concat(parts), terminated: false };
    }
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Strict UTF-8 decoding; null for invalid bytes. */
export function decodeUtf8(bytes: Uint8Array): string | null {
  try {
    return utf8.decode(bytes);
  } catch {
    return null;
  }
}
