// The migration that copies each perceptual hash's investigation into media_hashes
// (20261205200000_media_hashes_investigation) on a database that already holds hashes: a
// scratch database is migrated up to the one before it, given hashes of items in two
// investigations, then migrated to the end. Every row must carry its own source's
// investigation, and the search filter must then see exactly that investigation's rows.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/env.ts';
import { newId } from '../../src/db/ids.ts';
import { applyMigrations, readMigrations } from '../../src/db/migration-runner.ts';
import { segmentTokens } from '../../src/media/pdq-multi-index.ts';
import { findSimilarHashes } from '../../src/media/pdq-store.ts';
import { dropDatabase, withDatabase } from '../helpers/databases.ts';

const MIGRATION = '20261205200000_media_hashes_investigation';
const ownerUrl = withDatabase(
  parseConfig(process.env).MIGRATION_DATABASE_URL,
  `claimtrail_backfill_${randomBytes(4).toString('hex')}`,
);

afterAll(() => dropDatabase(ownerUrl, ownerUrl));

describe(`migration ${MIGRATION}`, () => {
  it('backfills each stored hash with its source’s investigation', async () => {
    const admin = new pg.Client({ connectionString: withDatabase(ownerUrl, 'postgres') });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(new URL(ownerUrl).pathname.slice(1))}`);
    await admin.end();
    const owner = new pg.Client({ connectionString: ownerUrl });
    await owner.connect();
    try {
      const all = readMigrations();
      expect(all.map((m) => m.name)).toContain(MIGRATION);
      await applyMigrations(
        owner,
        all.filter((m) => m.name < MIGRATION),
      );

      // Two investigations, a source each, three items in the first and two in the second,
      // each with hashes of a few seconds (the same hash everywhere: only the filter differs).
      const hash = 'a5'.repeat(32);
      const user = newId();
      await owner.query(`INSERT INTO users (id, name, role) VALUES ($1, 'backfill', 'admin')`, [user]);
      const expected = new Map<string, string>();
      for (const count of [3, 2]) {
        const [investigation, source] = [newId(), newId()];
        await owner.query(`INSERT INTO investigations (id, title, created_by) VALUES ($1, 'b', $2)`, [
          investigation,
          user,
        ]);
        await owner.query(
          `INSERT INTO sources (id, investigation_id, url, normalized_url) VALUES ($1, $2, $3, $3)`,
          [source, investigation, `https://backfill.example/${source}`],
        );
        for (let i = 0; i < count; i++) {
          const item = newId();
          expected.set(item, investigation);
          await owner.query(
            `INSERT INTO evidence_items (id, source_id, kind, media_type, size, sha256)
             VALUES ($1::uuid, $2, 'video', 'video/mp4', 1, encode(sha256($1::text::bytea), 'hex'))`,
            [item, source],
          );
          await owner.query(
            `INSERT INTO media_hashes (evidence_id, frame_second, hash, quality, segments)
             SELECT $1, s, ('x' || $2)::bit(256), 90, $3::int[] FROM generate_series(0, 2) s`,
            [item, hash, segmentTokens(hash)],
          );
        }
      }

      await applyMigrations(owner, all);
      const { rows } = await owner.query<{ evidence_id: string; investigation_id: string; n: string }>(
        `SELECT evidence_id, investigation_id, count(*) AS n FROM media_hashes
         GROUP BY evidence_id, investigation_id`,
      );
      expect(new Map(rows.map((r) => [r.evidence_id, r.investigation_id]))).toEqual(expected);
      expect(rows.every((r) => r.n === '3')).toBe(true);
      const notNull = await owner.query(
        `SELECT is_nullable FROM information_schema.columns
         WHERE table_name = 'media_hashes' AND column_name = 'investigation_id'`,
      );
      expect(notNull.rows).toEqual([{ is_nullable: 'NO' }]);

      const [first] = [...new Set(expected.values())];
      const hits = await findSimilarHashes(owner, [hash], { investigationIds: [first!] });
      expect(new Set(hits.map((h) => h.evidenceId))).toEqual(
        new Set([...expected].filter(([, inv]) => inv === first).map(([item]) => item)),
      );
    } finally {
      await owner.end();
    }
  }, 120_000);
});
