// `claimtrail blobs copy` and `claimtrail blobs check` as an operator runs them (separate
// processes): evidence captured into the local store is copied to an S3-compatible server
// (s3rver on loopback), every copy verified where the server keeps it; an interrupted copy
// resumes; check tells intact, orphaned, missing and corrupt bytes apart by exit code; a copy
// back to an empty local store refuses the corrupt object and copies the rest.
//
// A database of this file's own: `blobs check` reads every evidence row of its database.
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { LocalBlobStore } from '../../src/storage/local-blob-store.ts';
import { S3BlobStore } from '../../src/storage/s3-blob-store.ts';
import { useCaptureEnv } from '../helpers/capture-env.ts';
import { runClaimtrail } from '../helpers/cli.ts';
import { serveBytes, useFixtureServer } from '../helpers/fixture-server.ts';
import { createIsolatedDatabase } from '../helpers/isolated-db.ts';
import { listKeys, s3ClientFor, useS3Server } from '../helpers/s3-server.ts';
import { ownBlobDir, storedBlobs } from './support.ts';

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
const MiB = 1 << 20;

const databaseUrl = await createIsolatedDatabase('blobscli');
const s3 = await useS3Server({ prefix: 'migrated' });
const server = await useFixtureServer();
const bodies = [randomBytes(9 * MiB + 1), randomBytes(70_000), Buffer.from('a small page\n')];
bodies.forEach((b, i) => {
  server.routes.set(`/item-${i}.bin`, serveBytes(b));
});

const localDir = ownBlobDir('blobs-cli');
const env = await useCaptureEnv({
  DATABASE_URL: databaseUrl,
  FETCH_ALLOWLIST: server.host,
  BLOB_DIR: localDir,
});
const local = env.ctx.blobs as LocalBlobStore;
const remote = new S3BlobStore({
  client: s3ClientFor(s3),
  bucket: s3.bucket,
  prefix: 'migrated/',
  scratchDir: localDir,
});
const objectOf = (sha: string) => s3.objectFile(remote.keyOf(sha));

const claimtrail = (args: string[], extra: Record<string, string>) =>
  runClaimtrail(
    ['blobs', ...args],
    { DATABASE_URL: databaseUrl, BLOB_DIR: localDir, ...s3.env, BLOB_STORE: 'local', ...extra },
    60_000,
  );

const onS3 = { BLOB_STORE: 's3' };

describe('claimtrail blobs', () => {
  it('copies to S3 verified, resumes, checks, and copies back', async () => {
    const hashes = bodies.map(sha256);
    for (const [i] of bodies.entries()) {
      const cited = await env.cite(`${server.origin}/item-${i}.bin`);
      expect((await env.settled(cited.source.id)).status).toBe('captured');
    }
    // Bytes no row names: an orphan.
    const orphan = Buffer.from('bytes nobody cites');
    await local.put(
      (async function* () {
        yield orphan;
      })(),
    );
    expect(storedBlobs(localDir).sort()).toEqual([...hashes, sha256(orphan)].sort());

    // The local store: every item intact, one orphan.
    const localCheck = await claimtrail(['check'], {});
    expect(localCheck.stdout).toContain(`orphan ${sha256(orphan)} (${orphan.length} bytes)`);
    expect(localCheck.stdout).toMatch(/^blobs OK, with orphans: 3\/3 named blobs intact in the local store/m);
    expect(localCheck.code).toBe(3);

    // Copy everything to S3: each object's bytes as the server keeps them hash to its name.
    const copy = await claimtrail(['copy', '--to', 's3'], {});
    expect(copy.stdout).toContain('copy OK: 4 copied and verified, 0 already there (verified), 0 failed');
    expect(copy.stderr).toMatch(/copy \[#+\] 100% 4\/4 blobs/);
    expect(copy.code).toBe(0);
    for (const h of [...hashes, sha256(orphan)]) expect(sha256(readFileSync(objectOf(h)))).toBe(h);
    expect((await listKeys(s3, 'migrated/tmp/')).filter((k) => k.endsWith('.part'))).toEqual([]);

    // Interrupted half-way (one object never arrived): the next run copies only that one.
    await s3ClientFor(s3).send(new DeleteObjectCommand({ Bucket: s3.bucket, Key: remote.keyOf(hashes[0]!) }));
    const resumed = await claimtrail(['copy', '--to', 's3'], {});
    expect(resumed.stdout).toContain('copy OK: 1 copied and verified, 3 already there (verified), 0 failed');
    expect(resumed.code).toBe(0);
    expect(sha256(readFileSync(objectOf(hashes[0]!)))).toBe(hashes[0]);

    // Checked in S3: intact plus the orphan; without the orphan, OK.
    expect((await claimtrail(['check'], onS3)).code).toBe(3);
    await s3ClientFor(s3).send(
      new DeleteObjectCommand({ Bucket: s3.bucket, Key: remote.keyOf(sha256(orphan)) }),
    );
    const clean = await claimtrail(['check'], onS3);
    expect(clean.stdout).toMatch(/^blobs OK: 3\/3 named blobs intact in the s3 store/m);
    expect(clean.code).toBe(0);

    // One object's bytes changed behind our back (same size), another gone.
    const corrupt = Buffer.from(readFileSync(objectOf(hashes[1]!)));
    corrupt[1234] = corrupt[1234]! ^ 0xff;
    writeFileSync(objectOf(hashes[1]!), corrupt);
    await s3ClientFor(s3).send(new DeleteObjectCommand({ Bucket: s3.bucket, Key: remote.keyOf(hashes[2]!) }));
    const bad = await claimtrail(['check'], onS3);
    expect(bad.stdout).toContain(`corrupt ${hashes[1]}: the bytes hash to ${sha256(corrupt)}`);
    expect(bad.stdout).toMatch(new RegExp(`^missing ${hashes[2]} \\(1 row\\(s\\), e\\.g\\. evidence `, 'm'));
    expect(bad.stdout).toMatch(/^blobs INVALID: 1\/3 named blobs intact/m);
    expect(bad.code).toBe(1);

    // Back to an empty local store: the corrupt object is refused, the intact one copied.
    const fresh = ownBlobDir('blobs-cli-back');
    const back = await claimtrail(['copy', '--to', 'local'], { BLOB_DIR: fresh });
    expect(back.stdout).toContain(`failed ${hashes[1]}: stored bytes hash to ${sha256(corrupt)}`);
    expect(back.stdout).toContain(
      'copy INCOMPLETE: 1 copied and verified, 0 already there (verified), 1 failed',
    );
    expect(back.code).toBe(1);
    expect(storedBlobs(fresh)).toEqual([hashes[0]]);
    expect(sha256(readFileSync(new LocalBlobStore(fresh).pathOf(hashes[0]!)))).toBe(hashes[0]);
  }, 120_000);

  it('refuses to run without a bucket (exit 2)', async () => {
    const res = await claimtrail(['copy', '--to', 's3'], { S3_BUCKET: '' });
    expect(res.stderr).toContain('S3_BUCKET is not set');
    expect(res.code).toBe(2);
  });
});
