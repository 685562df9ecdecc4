// The write path's transaction helper on the pg pool: commit, rollback, after-commit work,
// retry of a deadlock victim, and the advisory lock that serializes two writers.
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { createPgPool } from '../../src/db/pg-pool.ts';
import { hotStatement, queryConfig, writeStatement, writeTransaction } from '../../src/db/unit-of-work.ts';
import { useTestContext } from '../helpers/context.ts';

const ctx = { ...useTestContext(), ownerPool: createPgPool(process.env.MIGRATION_DATABASE_URL!) };
afterAll(() => ctx.ownerPool.end());
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function withScratch<T>(fn: (table: string) => Promise<T>): Promise<T> {
  const table = `uow_${randomUUID().replaceAll('-', '')}`;
  await ctx.ownerPool.query(`CREATE TABLE ${table} (id int PRIMARY KEY, v text)`);
  try {
    return await fn(table);
  } finally {
    await ctx.ownerPool.query(`DROP TABLE ${table}`);
  }
}

describe('writeTransaction', () => {
  it('commits, then runs after-commit work in order', async () => {
    await withScratch(async (t) => {
      const order: string[] = [];
      const n = await writeTransaction(ctx.ownerPool, async (tx) => {
        await tx.exec(`INSERT INTO ${t} VALUES (1, 'a')`);
        tx.afterCommit(() => order.push('first'));
        tx.afterCommit(async () => {
          const { rows } = await ctx.ownerPool.query(`SELECT v FROM ${t}`);
          order.push(`second saw ${rows.length}`); // committed before it ran
        });
        return (await tx.one<{ n: number }>(`SELECT count(*)::int AS n FROM ${t}`)).n;
      });
      expect(n).toBe(1);
      expect(order).toEqual(['first', 'second saw 1']);
    });
  });

  it('rolls back on a throw and never runs after-commit work', async () => {
    await withScratch(async (t) => {
      let ran = false;
      await expect(
        writeTransaction(ctx.ownerPool, async (tx) => {
          await tx.exec(`INSERT INTO ${t} VALUES (1, 'a')`);
          tx.afterCommit(() => {
            ran = true;
          });
          throw new Error('nope');
        }),
      ).rejects.toThrow('nope');
      expect(ran).toBe(false);
      expect((await ctx.ownerPool.query(`SELECT 1 FROM ${t}`)).rows).toEqual([]);
    });
  });

  it('a failing after-commit step does not undo or fail the committed work', async () => {
    await withScratch(async (t) => {
      await expect(
        writeTransaction(ctx.ownerPool, async (tx) => {
          await tx.exec(`INSERT INTO ${t} VALUES (1, 'a')`);
          tx.afterCommit(() => {
            throw new Error('queue down');
          });
          return 'ok';
        }),
      ).resolves.toBe('ok');
      expect((await ctx.ownerPool.query(`SELECT v FROM ${t}`)).rows).toEqual([{ v: 'a' }]);
    });
  });

  it('runs a deadlock victim again, so both writers commit', async () => {
    await withScratch(async (t) => {
      await ctx.ownerPool.query(`INSERT INTO ${t} VALUES (1, 'x'), (2, 'x')`);
      let runs = 0;
      // Two transactions update the rows in opposite order; Postgres aborts one (40P01).
      const writer = (first: number, second: number, v: string) =>
        writeTransaction(ctx.ownerPool, async (tx) => {
          runs++;
          await tx.exec(`UPDATE ${t} SET v = $2 WHERE id = $1`, [first, v]);
          await sleep(200);
          await tx.exec(`UPDATE ${t} SET v = $2 WHERE id = $1`, [second, v]);
        });
      await Promise.all([writer(1, 2, 'a'), writer(2, 1, 'b')]);
      expect(runs).toBeGreaterThanOrEqual(3); // a victim ran again (under load, maybe more than once)
      const { rows } = await ctx.ownerPool.query<{ v: string }>(`SELECT v FROM ${t} ORDER BY id`);
      expect(new Set(rows.map((r) => r.v)).size).toBe(1); // the retry's writes are whole
    });
  });

  it('tx.lock serializes two transactions taking the same key', async () => {
    const key = `test:${randomUUID()}`;
    const events: string[] = [];
    const holder = (name: string) =>
      writeTransaction(ctx.pool, async (tx) => {
        await tx.lock(key);
        events.push(`${name} in`);
        await sleep(150);
        events.push(`${name} out`);
      });
    await Promise.all([holder('a'), holder('b')]);
    expect(events[1]).toBe(`${events[0]!.split(' ')[0]} out`);
  });
});

describe('writeStatement', () => {
  it('runs one autocommitted statement, then after-commit work', async () => {
    await withScratch(async (t) => {
      const order: string[] = [];
      await writeStatement(ctx.ownerPool, async (tx) => {
        tx.afterCommit(() => order.push('after'));
        await tx.exec(`INSERT INTO ${t} VALUES (1, 'a')`);
      });
      expect(order).toEqual(['after']);
      expect((await ctx.ownerPool.query(`SELECT v FROM ${t}`)).rows).toEqual([{ v: 'a' }]);
    });
  });

  it('refuses a second statement before sending it, and any advisory lock', async () => {
    await withScratch(async (t) => {
      await expect(
        writeStatement(ctx.ownerPool, async (tx) => {
          await tx.exec(`INSERT INTO ${t} VALUES (1, 'a')`);
          await tx.exec(`INSERT INTO ${t} VALUES (2, 'b')`);
        }),
      ).rejects.toThrow(/one statement/);
      // The first statement had committed on its own; the second never reached the server.
      expect((await ctx.ownerPool.query(`SELECT id FROM ${t}`)).rows).toEqual([{ id: 1 }]);
      await expect(writeStatement(ctx.ownerPool, (tx) => tx.lock('x'))).rejects.toThrow(/advisory lock/);
    });
  });
});

describe('hotStatement', () => {
  it('runs a marked text as a prepared statement, parsed once per connection', async () => {
    const text = hotStatement(`SELECT $1::int + 1 AS n, '${randomUUID()}' AS marker`);
    const name = queryConfig(text).name;
    expect(name).toMatch(/^hot_[0-9a-f]{24}$/);
    expect(queryConfig('SELECT 1').name).toBeUndefined(); // unmarked: unnamed, parsed every time
    // One connection, so every query below sees the same session's prepared statements.
    const pool = createPgPool(process.env.MIGRATION_DATABASE_URL!, 1);
    try {
      const prepared = async () =>
        (
          await pool.query<{ n: number }>(
            'SELECT count(*)::int AS n FROM pg_prepared_statements WHERE name = $1',
            [name],
          )
        ).rows[0]!.n;
      expect(await prepared()).toBe(0);
      // In a unit of work, then on the pool itself: the same server-side statement.
      const row = await writeTransaction(pool, (tx) => tx.one<{ n: number }>(text, [1]));
      expect(row.n).toBe(2);
      expect(await prepared()).toBe(1);
      expect((await pool.query<{ n: number }>(queryConfig(text, [41]))).rows[0]!.n).toBe(42);
      expect(await writeStatement(pool, (tx) => tx.one<{ n: number }>(text, [9]))).toMatchObject({ n: 10 });
      expect(await prepared()).toBe(1);
    } finally {
      await pool.end();
    }
  });
});
