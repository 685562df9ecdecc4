// A real S3-compatible server on loopback for blob store tests (no Docker here): s3rver in a
// child process over a temporary directory. `kill()` is a crash (SIGKILL), `restart()` brings
// it back on the same port over the same directory.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { afterAll } from 'vitest';
import { parseConfig } from '../../src/config/env.ts';
import { createS3Client } from '../../src/storage/create-blob-store.ts';

const CHILD = fileURLToPath(new URL('./s3-server-child.mjs', import.meta.url));

/** One request the server received: `key` is the object's key (the path after the bucket). */
export interface S3Request {
  method: string;
  key: string;
  /** The Range header, if any. */
  range: string | null;
}

export interface S3TestServer {
  endpoint: string;
  bucket: string;
  /** s3rver's own files: <directory>/<bucket>/<key>._S3rver_object holds an object's bytes. */
  directory: string;
  /** The configuration that points claimtrail at this server (BLOB_STORE=s3 and friends). */
  env: Record<string, string>;
  /** The file s3rver keeps `key`'s bytes in (read around the S3 API: exactly what is stored). */
  objectFile(key: string): string;
  /** Every request received so far (across restarts), in arrival order. */
  requests(): readonly S3Request[];
  /** The server process's pid. */
  pid(): number | undefined;
  kill(): Promise<void>;
  restart(): Promise<void>;
  stop(): Promise<void>;
}

async function spawnServer(directory: string, bucket: string, port: number, seen: S3Request[]) {
  const child = spawn(process.execPath, [CHILD], {
    env: { ...process.env, S3_DIR: directory, S3_BUCKET: bucket, S3_PORT: String(port) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout! });
  const first = await Promise.race([
    once(lines, 'line').then(([line]) => line as string),
    once(child, 'exit').then(([code]) => {
      throw new Error(`s3rver exited with ${code} before listening`);
    }),
  ]);
  // Each later line is a request the server received (s3-server-child.mjs).
  lines.on('line', (line) => {
    const { request } = JSON.parse(line) as {
      request?: { method: string; path: string; range: string | null };
    };
    if (!request) return;
    const prefix = `/${bucket}/`;
    const key = request.path.startsWith(prefix) ? request.path.slice(prefix.length) : request.path;
    seen.push({ method: request.method, key, range: request.range });
  });
  return { child, port: (JSON.parse(first) as { port: number }).port };
}

async function end(child: ChildProcess, signal: NodeJS.Signals) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill(signal);
  await exited;
}

/** Starts a server for this test file (stopped and its files removed after the file's tests). */
export async function useS3Server(opts: { bucket?: string; prefix?: string } = {}): Promise<S3TestServer> {
  const server = await startS3Server(opts);
  afterAll(() => server.stop());
  return server;
}

/** Starts a server the caller stops (code that runs outside vitest too: the scale run). */
export async function startS3Server(opts: { bucket?: string; prefix?: string } = {}): Promise<S3TestServer> {
  const directory = await mkdtemp(path.join(tmpdir(), 'claimtrail-s3rver-'));
  const bucket = opts.bucket ?? 'claimtrail-test';
  const seen: S3Request[] = [];
  let { child, port } = await spawnServer(directory, bucket, 0, seen);
  const endpoint = `http://127.0.0.1:${port}`;
  const server: S3TestServer = {
    endpoint,
    bucket,
    directory,
    env: {
      BLOB_STORE: 's3',
      S3_ENDPOINT: endpoint,
      S3_BUCKET: bucket,
      S3_REGION: 'us-east-1',
      S3_PREFIX: opts.prefix ?? '',
      AWS_ACCESS_KEY_ID: 'S3RVER',
      AWS_SECRET_ACCESS_KEY: 'S3RVER',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    },
    objectFile(key) {
      const parts = key.split('/');
      return path.join(directory, bucket, ...parts.slice(0, -1), `${parts.at(-1)}._S3rver_object`);
    },
    requests: () => seen,
    pid: () => child.pid,
    kill: () => end(child, 'SIGKILL'),
    async restart() {
      await end(child, 'SIGKILL');
      ({ child } = await spawnServer(directory, bucket, port, seen));
    },
    async stop() {
      await end(child, 'SIGTERM');
      await rm(directory, { recursive: true, force: true });
    },
  };
  return server;
}

/** A client for `server` exactly as claimtrail builds one (src/storage/create-blob-store.ts). */
export function s3ClientFor(server: S3TestServer): S3Client {
  return createS3Client(parseConfig(server.env));
}

/** Every key under `prefix` in the server's bucket, listed through the S3 API. */
export async function listKeys(server: S3TestServer, prefix: string): Promise<string[]> {
  const client = clients.get(server) ?? s3ClientFor(server);
  clients.set(server, client);
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await client.send(
      new ListObjectsV2Command({ Bucket: server.bucket, Prefix: prefix, ContinuationToken: token }),
    );
    for (const o of page.Contents ?? []) keys.push(o.Key!);
    token = page.NextContinuationToken;
  } while (token);
  return keys;
}

const clients = new WeakMap<S3TestServer, S3Client>();
