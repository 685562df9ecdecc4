// The one place that picks the blob store from the configuration: api, workers, exports and
// the CLI all get theirs from here (through src/context.ts or directly).
import path from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import type { Config } from '../config/env.ts';
import { LocalBlobStore } from './local-blob-store.ts';
import { S3BlobStore } from './s3-blob-store.ts';

type StoreConfig = Pick<
  Config,
  | 'BLOB_STORE'
  | 'BLOB_DIR'
  | 'S3_ENDPOINT'
  | 'S3_BUCKET'
  | 'S3_REGION'
  | 'S3_PREFIX'
  | 'AWS_ACCESS_KEY_ID'
  | 'AWS_SECRET_ACCESS_KEY'
  | 'AWS_SESSION_TOKEN'
>;

export function createBlobStore(config: StoreConfig, kind = config.BLOB_STORE): LocalBlobStore | S3BlobStore {
  if (kind === 'local') return new LocalBlobStore(config.BLOB_DIR);
  if (!config.S3_BUCKET) throw new Error('S3_BUCKET is not set');
  return new S3BlobStore({
    client: createS3Client(config),
    bucket: config.S3_BUCKET,
    prefix: config.S3_PREFIX,
    // Local copies for ffprobe and friends; never the place blobs are kept.
    scratchDir: path.join(config.BLOB_DIR, 'scratch'),
  });
}

export function createS3Client(config: StoreConfig): S3Client {
  const credentials =
    config.AWS_ACCESS_KEY_ID && config.AWS_SECRET_ACCESS_KEY
      ? {
          accessKeyId: config.AWS_ACCESS_KEY_ID,
          secretAccessKey: config.AWS_SECRET_ACCESS_KEY,
          sessionToken: config.AWS_SESSION_TOKEN,
        }
      : undefined; // the SDK's default chain (instance role, web identity, profile)
  return new S3Client({
    region: config.S3_REGION,
    endpoint: config.S3_ENDPOINT,
    // MinIO-like endpoints have no per-bucket host names.
    forcePathStyle: config.S3_ENDPOINT !== undefined,
    credentials,
    // Checksums only where S3 requires them: the SDK's default frames streamed bodies as
    // aws-chunked with a trailing checksum, which some S3-compatible servers store verbatim.
    // Our own SHA-256 of every byte is what proves a blob (checked on copy and on demand).
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}
