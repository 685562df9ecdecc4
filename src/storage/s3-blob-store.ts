// Evidence bytes in an S3-compatible bucket (AWS S3, MinIO, Ceph, R2…), same contract as the
// local store: objects at <prefix>sha256/ab/cd/<hash>. A put streams the bytes to a temporary
// object <prefix>tmp/[<tmpKey>.]<uuid>.part (multipart above one part, through lib-storage's
// Upload) while hashing them; only once the hash is known is the object copied server-side to
// its final key (copies are atomic: a reader never sees a partial blob), and the temporary is
// deleted. An object already at the final key is never rewritten (HEAD first, then a copy with
// If-None-Match: * where the server supports it).
import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, unlink } from 'node:fs/promises';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { type ByteSource, pump } from '../lib/byte-sink.ts';
import {
  type BlobStore,
  BlobTooLargeError,
  type BlobWriteResult,
  type ByteRange,
  checkTmpKey,
  HEAD_BYTES,
  type PutOptions,
  SHA256_HEX,
} from './blob-store.ts';
import { verifiedRead } from './verified-read.ts';

const MiB = 1 << 20;
/** The largest object one CopyObject may copy; bigger ones are copied in parts. */
const SINGLE_COPY_MAX = 5 * 1024 * MiB;

export interface S3BlobStoreOptions {
  client: S3Client;
  bucket: string;
  /** Key prefix, '' or ending in '/'. */
  prefix?: string;
  /** Where withLocalFile puts its local copies. */
  scratchDir: string;
  /** Multipart part size of uploads (at least 5 MiB on AWS). */
  partBytes?: number;
  /** Parts uploaded at once per put. */
  queueSize?: number;
  /** Objects larger than this are copied to their final key part by part. */
  copyPartBytes?: number;
}

/** The bytes are gone: same code as the local store's missing file. */
export class BlobNotFoundError extends Error {
  override name = 'BlobNotFoundError';
  readonly code = 'ENOENT';
}

export class S3BlobStore implements BlobStore {
  readonly bucket: string;
  readonly prefix: string;
  private readonly client: S3Client;
  private readonly tmpPrefix: string;
  private readonly scratchDir: string;
  private readonly partBytes: number;
  private readonly queueSize: number;
  private readonly copyPartBytes: number;

  constructor(opts: S3BlobStoreOptions) {
    this.client = opts.client;
    this.bucket = opts.bucket;
    this.prefix = opts.prefix ?? '';
    if (this.prefix !== '' && !this.prefix.endsWith('/')) throw new Error('S3 prefix must end with /');
    this.tmpPrefix = `${this.prefix}tmp/`;
    this.scratchDir = opts.scratchDir;
    this.partBytes = opts.partBytes ?? 8 * MiB;
    this.queueSize = opts.queueSize ?? 4;
    this.copyPartBytes = opts.copyPartBytes ?? SINGLE_COPY_MAX;
  }

  keyOf(sha256: string): string {
    if (!SHA256_HEX.test(sha256)) throw new Error(`not a sha256: ${JSON.stringify(sha256)}`);
    return `${this.prefix}sha256/${sha256.slice(0, 2)}/${sha256.slice(2, 4)}/${sha256}`;
  }

  async put(source: ByteSource, opts: PutOptions = {}): Promise<BlobWriteResult> {
    const { tmpKey } = opts;
    checkTmpKey(tmpKey);
    const writer = randomUUID();
    const tmp = `${this.tmpPrefix}${tmpKey === undefined ? '' : `${tmpKey}.`}${writer}.part`;
    // A retry of a keyed write claims the key (an earlier writer still running finds the claim
    // taken and stores nothing) and removes what killed earlier writers left, beside the upload.
    let cleared: Promise<void> = Promise.resolve();
    if (tmpKey !== undefined) {
      await this.client.send(
        new PutObjectCommand({ Bucket: this.bucket, Key: this.markerKey(tmpKey), Body: writer }),
      );
      cleared = this.removeTemporary(tmpKey, tmp);
      cleared.catch(() => {}); // awaited below
    }

    const hash = createHash('sha256');
    const head = Buffer.allocUnsafe(HEAD_BYTES);
    let headLength = 0;
    let size = 0;
    const body = new PassThrough({ highWaterMark: MiB });
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key: tmp, Body: body, ContentType: 'application/octet-stream' },
      partSize: this.partBytes,
      queueSize: this.queueSize,
      leavePartsOnError: false,
    });
    const uploaded = upload.done();
    uploaded.catch(() => {}); // seen by drained() and awaited below
    try {
      await pump(source, {
        write(chunk) {
          size += chunk.length;
          if (opts.maxBytes !== undefined && size > opts.maxBytes) throw new BlobTooLargeError(opts.maxBytes);
          if (headLength < HEAD_BYTES) headLength += chunk.copy(head, headLength);
          hash.update(chunk);
          // The producer may reuse its buffer once write() returns: the upload gets a copy.
          return body.write(Buffer.from(chunk));
        },
        drained: () =>
          new Promise<void>((resolve, reject) => {
            if (!body.writableNeedDrain) return resolve();
            body.once('drain', resolve);
            uploaded.catch(reject); // a failed upload reads no more: stop the producer
          }),
      });
      body.end();
      await uploaded;
    } catch (err) {
      body.destroy();
      await upload.abort().catch(() => {});
      await uploaded.catch(() => {});
      await cleared.catch(() => {});
      await this.deleteQuietly(tmp);
      throw err;
    }
    const sha256 = hash.digest('hex');
    try {
      await cleared;
      if (tmpKey !== undefined) await this.assertStillWriter(tmpKey, writer);
      if (opts.beforeCommit) await opts.beforeCommit({ sha256, size });
      const created = await this.commit(tmp, this.keyOf(sha256), size);
      return { sha256, size, head: Buffer.from(head.subarray(0, headLength)), created };
    } finally {
      await this.deleteQuietly(tmp);
    }
  }

  /** Copies the temporary object to `key` unless an object of that size is there already. */
  private async commit(tmp: string, key: string, size: number): Promise<boolean> {
    if ((await this.headSize(key)) === size) return false;
    try {
      if (size > this.copyPartBytes) await this.copyInParts(tmp, key, size);
      else
        await this.client.send(
          new CopyObjectCommand({
            Bucket: this.bucket,
            Key: key,
            CopySource: this.copySource(tmp),
            IfNoneMatch: '*',
          }),
        );
      return true;
    } catch (err) {
      // 412: another writer put the same bytes in place meanwhile; 409: it is doing so now.
      const status = statusOf(err);
      if ((status === 412 || status === 409) && (await this.headSize(key)) === size) return false;
      throw err;
    }
  }

  /** A server-side copy in parts, for objects larger than one CopyObject may copy. */
  private async copyInParts(tmp: string, key: string, size: number): Promise<void> {
    const { UploadId } = await this.client.send(
      new CreateMultipartUploadCommand({
        Bucket: this.bucket,
        Key: key,
        ContentType: 'application/octet-stream',
      }),
    );
    try {
      const parts: { ETag: string | undefined; PartNumber: number }[] = [];
      for (let start = 0, n = 1; start < size; start += this.copyPartBytes, n++) {
        const end = Math.min(start + this.copyPartBytes, size) - 1;
        const res = await this.client.send(
          new UploadPartCopyCommand({
            Bucket: this.bucket,
            Key: key,
            UploadId,
            PartNumber: n,
            CopySource: this.copySource(tmp),
            CopySourceRange: `bytes=${start}-${end}`,
          }),
        );
        parts.push({ ETag: res.CopyPartResult?.ETag, PartNumber: n });
      }
      await this.client.send(
        new CompleteMultipartUploadCommand({
          Bucket: this.bucket,
          Key: key,
          UploadId,
          MultipartUpload: { Parts: parts },
          IfNoneMatch: '*',
        }),
      );
    } catch (err) {
      await this.client
        .send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId }))
        .catch(() => {});
      throw err;
    }
  }

  private copySource(key: string): string {
    return `${this.bucket}/${key.split('/').map(encodeURIComponent).join('/')}`;
  }

  private markerKey(tmpKey: string): string {
    return `${this.tmpPrefix}${tmpKey}.writer`;
  }

  /** Fails (as the local store's rename does) when a later writer of `tmpKey` took the key. */
  private async assertStillWriter(tmpKey: string, writer: string): Promise<void> {
    const claim = await this.client
      .send(new GetObjectCommand({ Bucket: this.bucket, Key: this.markerKey(tmpKey) }))
      .then((res) => res.Body?.transformToString())
      .catch((err: unknown) => {
        if (statusOf(err) === 404) return undefined; // swept: nobody else claimed it
        throw err;
      });
    if (claim !== undefined && claim !== writer)
      throw new BlobNotFoundError(`a later writer of ${tmpKey} superseded this one; nothing stored`);
  }

  /** Removes the temporary objects of earlier writers of `tmpKey` (not `own`). */
  private async removeTemporary(tmpKey: string, own: string): Promise<void> {
    const prefix = `${this.tmpPrefix}${tmpKey}.`;
    for await (const obj of this.list(prefix)) {
      const rest = obj.key.slice(prefix.length);
      if (obj.key !== own && rest.endsWith('.part') && !rest.slice(0, -5).includes('.'))
        await this.deleteQuietly(obj.key);
    }
  }

  private async *list(prefix: string): AsyncGenerator<{ key: string; size: number; modified: Date }> {
    let token: string | undefined;
    do {
      const page = await this.client.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }),
      );
      for (const o of page.Contents ?? [])
        if (o.Key) yield { key: o.Key, size: o.Size ?? 0, modified: o.LastModified ?? new Date(0) };
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  /** Every stored blob's hash and size (for `claimtrail blobs`). */
  async *listBlobs(): AsyncGenerator<{ sha256: string; size: number }> {
    for await (const obj of this.list(`${this.prefix}sha256/`)) {
      const name = obj.key.slice(obj.key.lastIndexOf('/') + 1);
      if (SHA256_HEX.test(name) && obj.key === this.keyOf(name)) yield { sha256: name, size: obj.size };
    }
  }

  private async deleteQuietly(key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key })).catch(() => {});
  }

  private async headSize(key: string): Promise<number | undefined> {
    try {
      const res = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return res.ContentLength;
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw err;
    }
  }

  async size(sha256: string): Promise<number | undefined> {
    return this.headSize(this.keyOf(sha256));
  }

  read(sha256: string, range?: ByteRange): Readable {
    const key = this.keyOf(sha256);
    const { client, bucket } = this;
    return Readable.from(
      (async function* () {
        const res = await client
          .send(
            new GetObjectCommand({
              Bucket: bucket,
              Key: key,
              Range: range ? `bytes=${range.start}-${range.end}` : undefined,
            }),
          )
          .catch((err: unknown) => {
            throw statusOf(err) === 404 ? new BlobNotFoundError(`no blob ${sha256}`) : err;
          });
        // Leaving early (a client gone) ends this loop, which destroys the response body.
        if (!range) {
          for await (const chunk of res.Body as Readable) yield chunk as Buffer;
          return;
        }
        // Exactly the bytes asked for, whatever the server sent: some answer `bytes=0-0` with
        // everything from 0 on (s3rver), some a whole object with no Content-Range at all.
        const sentFrom = /^bytes (\d+)-/.exec(res.ContentRange ?? '')?.[1];
        if (Number(sentFrom ?? 0) !== range.start) {
          (res.Body as Readable).destroy();
          throw new Error(
            `the server sent ${res.ContentRange ?? 'no Content-Range'} for bytes=${range.start}-${range.end}`,
          );
        }
        let left = range.end - range.start + 1;
        for await (const chunk of res.Body as Readable) {
          const c = chunk as Buffer;
          yield c.length > left ? c.subarray(0, left) : c;
          left -= c.length;
          if (left <= 0) return;
        }
      })(),
      { objectMode: false },
    );
  }

  /** Downloads the blob to the scratch directory, checking its hash, and removes it afterwards. */
  async withLocalFile<T>(sha256: string, fn: (p: string) => Promise<T>): Promise<T> {
    this.keyOf(sha256);
    await mkdir(this.scratchDir, { recursive: true });
    const file = path.join(this.scratchDir, `${sha256}.${randomUUID()}.local`);
    try {
      await pipeline(verifiedRead(this, sha256), createWriteStream(file));
      return await fn(file);
    } finally {
      await unlink(file).catch(() => {});
    }
  }

  /** Closes the client's connections (the process is shutting down). */
  close(): void {
    this.client.destroy();
  }

  /** Temporary objects, claims and multipart uploads left by writers that died long enough ago. */
  async sweepTemporary(olderThanMs: number): Promise<number> {
    const before = Date.now() - olderThanMs;
    let removed = 0;
    for await (const obj of this.list(this.tmpPrefix)) {
      if (obj.modified.getTime() < before) {
        await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: obj.key }));
        removed++;
      }
    }
    return removed + (await this.abortStaleUploads(before));
  }

  /** Multipart uploads under tmp/ begun before `before` (a worker killed mid-upload). */
  private async abortStaleUploads(before: number): Promise<number> {
    let aborted = 0;
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    do {
      const page = await this.client
        .send(
          new ListMultipartUploadsCommand({
            Bucket: this.bucket,
            Prefix: this.tmpPrefix,
            KeyMarker: keyMarker,
            UploadIdMarker: uploadIdMarker,
          }),
        )
        .catch((err: unknown) => {
          // Servers without the call (s3rver) leave it to a bucket lifecycle rule.
          if (statusOf(err) === 501) return undefined;
          throw err;
        });
      if (!page) return aborted;
      for (const u of page.Uploads ?? []) {
        if (u.Key && u.UploadId && (u.Initiated?.getTime() ?? 0) < before) {
          await this.client.send(
            new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: u.Key, UploadId: u.UploadId }),
          );
          aborted++;
        }
      }
      [keyMarker, uploadIdMarker] = page.IsTruncated ? [page.NextKeyMarker, page.NextUploadIdMarker] : [];
    } while (keyMarker);
    return aborted;
  }
}

function statusOf(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
}
