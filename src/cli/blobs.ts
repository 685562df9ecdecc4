// `claimtrail blobs copy --to s3|local` and `claimtrail blobs check`: moving evidence bytes
// between the local and the S3 store, and checking that every row's bytes are where the
// configured store keeps them. Results on stdout, progress on stderr.
//
// copy: every blob of the other store is read (its hash checked as it streams), written to
// the target and read back from there and hashed again. A blob already in the target with the
// right hash is skipped, so an interrupted copy just runs again. Exit 0 when every blob is in
// the target and verified, 1 when any failed (each listed), 2 on a configuration problem.
//
// check: exit 0 when every evidence item's and export's bytes are stored with the right size
// and hash and no blob is unnamed; 1 when bytes are missing or wrong (each listed); 3 when
// everything named is intact but some blobs no row names (orphans, listed).
import type pg from 'pg';
import type { Config } from '../config/env.ts';
import { createPgPool } from '../db/pg-pool.ts';
import { type ListedBlob, listBlobs } from '../storage/blob-listing.ts';
import { createBlobStore } from '../storage/create-blob-store.ts';
import { hashStored, verifiedRead } from '../storage/verified-read.ts';

type Kind = 'local' | 's3';
type Out = Pick<NodeJS.WriteStream, 'write'> & { isTTY?: boolean };

/** Counts done against a total, on stderr: rewritten in place on a terminal, else a line at most every 2 s. */
class Progress {
  private done = 0;
  private bytes = 0;
  private lastLine = 0;
  constructor(
    private readonly out: Out,
    private readonly what: string,
    private readonly total: number,
    private readonly totalBytes: number,
  ) {}

  tick(bytes: number): void {
    this.done++;
    this.bytes += bytes;
    const now = Date.now();
    if (this.out.isTTY) this.out.write(`\r${this.line()}`);
    else if (now - this.lastLine >= 2_000 || this.done === this.total) {
      this.lastLine = now;
      this.out.write(`${this.line()}\n`);
    }
  }

  end(): void {
    if (this.out.isTTY && this.total > 0) this.out.write('\n');
  }

  private line(): string {
    const pct = this.totalBytes === 0 ? 100 : Math.floor((100 * this.bytes) / this.totalBytes);
    const width = 30;
    const bar = '#'.repeat(Math.floor((pct * width) / 100)).padEnd(width, '.');
    return `${this.what} [${bar}] ${pct}% ${this.done}/${this.total} blobs, ${mib(this.bytes)}/${mib(this.totalBytes)} MiB`;
  }
}

const mib = (n: number) => (n / (1 << 20)).toFixed(1);
const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

function s3Configured(cfg: Config, err: Out): boolean {
  if (cfg.S3_BUCKET) return true;
  err.write('claimtrail: blobs: S3_BUCKET is not set (and S3_ENDPOINT, unless the bucket is on AWS)\n');
  return false;
}

/** Runs `fn` over `items`, `concurrency` at a time. */
async function eachLimited<T>(items: T[], concurrency: number, fn: (item: T) => Promise<void>) {
  let next = 0;
  const lanes = Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]!);
  });
  await Promise.all(lanes);
}

export async function copyBlobs(
  cfg: Config,
  to: Kind,
  opts: { concurrency: number },
  out: Out = process.stdout,
  err: Out = process.stderr,
): Promise<number> {
  if (!s3Configured(cfg, err)) return 2;
  const from: Kind = to === 's3' ? 'local' : 's3';
  const source = createBlobStore(cfg, from);
  const target = createBlobStore(cfg, to);
  const blobs: ListedBlob[] = [];
  for await (const b of listBlobs(source)) blobs.push(b);
  const totalBytes = blobs.reduce((n, b) => n + b.size, 0);
  out.write(
    `copying ${blobs.length} blobs (${mib(totalBytes)} MiB) from the ${from} store to the ${to} store\n`,
  );
  const progress = new Progress(err, 'copy', blobs.length, totalBytes);
  let copied = 0;
  let present = 0;
  const failures: string[] = [];
  await eachLimited(blobs, opts.concurrency, async (b) => {
    try {
      if (
        (await target.size(b.sha256)) === b.size &&
        (await hashStored(target, b.sha256)).sha256 === b.sha256
      ) {
        present++;
      } else {
        // Read with its hash checked: a corrupt source blob fails here and is not copied.
        await target.put(verifiedRead(source, b.sha256), { expectedBytes: b.size });
        const back = await hashStored(target, b.sha256);
        if (back.sha256 !== b.sha256 || back.size !== b.size)
          throw new Error(
            `the ${to} store holds other bytes under this name (${back.size} bytes hashing to ${back.sha256}); it is never overwritten: remove it and copy again`,
          );
        copied++;
      }
    } catch (e) {
      failures.push(`failed ${b.sha256}: ${message(e)}`);
    }
    progress.tick(b.size);
  });
  progress.end();
  for (const f of failures.sort()) out.write(`${f}\n`);
  out.write(
    `${failures.length === 0 ? 'copy OK' : 'copy INCOMPLETE'}: ${copied} copied and verified, ${present} already there (verified), ${failures.length} failed\n`,
  );
  return failures.length === 0 ? 0 : 1;
}

interface Named {
  sha256: string;
  size: number;
  /** Evidence items and exports whose bytes these are. */
  items: number;
  example: string;
}

/** Every blob the database names: evidence items' bytes and completed exports' files. */
async function namedBlobs(pool: pg.Pool): Promise<Map<string, Named>> {
  const { rows } = await pool.query<{ sha256: string; size: string; items: string; example: string }>(
    `SELECT sha256, size::text, count(*)::text AS items, min(what) AS example FROM (
       SELECT sha256, size, 'evidence ' || id AS what FROM evidence_items
       UNION ALL
       SELECT sha256, size, 'export ' || id FROM exports WHERE sha256 IS NOT NULL
     ) named GROUP BY sha256, size ORDER BY sha256`,
  );
  const named = new Map<string, Named>();
  for (const r of rows) {
    const row = { sha256: r.sha256, size: Number(r.size), items: Number(r.items), example: r.example };
    // The same name with two sizes is itself a fault: both are checked, the second reported.
    if (named.has(r.sha256)) named.set(`${r.sha256}#${r.size}`, row);
    else named.set(r.sha256, row);
  }
  return named;
}

export async function checkBlobs(
  cfg: Config,
  opts: { concurrency: number },
  out: Out = process.stdout,
  err: Out = process.stderr,
): Promise<number> {
  if (cfg.BLOB_STORE === 's3' && !s3Configured(cfg, err)) return 2;
  const store = createBlobStore(cfg);
  const pool = createPgPool(cfg.DATABASE_URL, 2);
  let named: Map<string, Named>;
  try {
    named = await namedBlobs(pool);
  } finally {
    await pool.end();
  }
  const wanted = [...named.values()];
  const totalBytes = wanted.reduce((n, b) => n + b.size, 0);
  const progress = new Progress(err, 'check', wanted.length, totalBytes);
  const problems: string[] = [];
  await eachLimited(wanted, opts.concurrency, async (b) => {
    const whose = `${b.items} row(s), e.g. ${b.example}`;
    try {
      const size = await store.size(b.sha256);
      if (size === undefined) problems.push(`missing ${b.sha256} (${whose})`);
      else if (size !== b.size)
        problems.push(`wrong size ${b.sha256}: ${size} bytes stored, ${b.size} recorded (${whose})`);
      else {
        const stored = await hashStored(store, b.sha256);
        if (stored.sha256 !== b.sha256)
          problems.push(`corrupt ${b.sha256}: the bytes hash to ${stored.sha256} (${whose})`);
      }
    } catch (e) {
      problems.push(`unreadable ${b.sha256}: ${message(e)} (${whose})`);
    }
    progress.tick(b.size);
  });
  progress.end();
  const orphans: ListedBlob[] = [];
  for await (const b of listBlobs(store)) if (!named.has(b.sha256)) orphans.push(b);

  for (const p of problems.sort()) out.write(`${p}\n`);
  for (const o of orphans)
    out.write(`orphan ${o.sha256} (${o.size} bytes): no evidence item or export names it\n`);
  const verdict =
    problems.length > 0 ? 'blobs INVALID' : orphans.length > 0 ? 'blobs OK, with orphans' : 'blobs OK';
  out.write(
    `${verdict}: ${wanted.length - problems.length}/${wanted.length} named blobs intact in the ${cfg.BLOB_STORE} store (${mib(totalBytes)} MiB), ${problems.length} missing or wrong, ${orphans.length} orphans\n`,
  );
  return problems.length > 0 ? 1 : orphans.length > 0 ? 3 : 0;
}
