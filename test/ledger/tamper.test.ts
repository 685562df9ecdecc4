// A superuser who disables the triggers and rewrites history is caught: both the custody
// verification (verifyChain over the stored chain) and `claimtrail ledger verify` name the
// first bad event. Each case runs in a database of its own.
import { spawnSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { createContext } from '../../src/context.ts';
import { verifyChain } from '../../src/ledger/chain-verify.ts';
import type { Subject } from '../../src/ledger/event-types.ts';
import { readSubjectEvents } from '../../src/ledger/ledger.repository.ts';
import { testConfig } from '../helpers/context.ts';
import { createIsolatedDatabase } from '../helpers/isolated-db.ts';
import { appendMany, newSubject } from '../helpers/ledger-fixtures.ts';
import { useSequencer, waitForIntegration } from '../helpers/sequencer.ts';

function ledgerVerifyCli(databaseUrl: string) {
  const r = spawnSync(process.execPath, ['bin/claimtrail.mjs', 'ledger', 'verify'], {
    env: { ...process.env, DATABASE_URL: databaseUrl },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

/** A fresh database with one 5-event chain, integrated and checkpointed. Hooks must be
 * registered at file level, so every case's database is made up front, in parallel. */
async function setup(label: string) {
  const url = await createIsolatedDatabase(label);
  const ctx = createContext(testConfig({ DATABASE_URL: url }));
  afterAll(() => ctx.close());
  await useSequencer(ctx);
  const subject = newSubject();
  await appendMany(ctx.prisma, subject, 5);
  await waitForIntegration(ctx);
  return { url, ctx, subject };
}

const cases = await Promise.all(['edit', 'rehash', 'delete', 'swap'].map(setup));
type Case = Awaited<ReturnType<typeof setup>>;
const [editCase, rehashCase, deleteCase, swapCase] = cases as [Case, Case, Case, Case];

async function tamper(ctx: ReturnType<typeof createContext>, sql: string[]) {
  const client = await ctx.pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('ALTER TABLE ledger_events DISABLE TRIGGER ALL');
    await client.query('ALTER TABLE log_entries DISABLE TRIGGER ALL');
    for (const s of sql) await client.query(s);
    await client.query('ALTER TABLE ledger_events ENABLE TRIGGER ALL');
    await client.query('ALTER TABLE log_entries ENABLE TRIGGER ALL');
    await client.query('COMMIT');
  } finally {
    client.release();
  }
}

async function custodyVerdict(ctx: ReturnType<typeof createContext>, subject: Subject) {
  return verifyChain(subject, await readSubjectEvents(ctx.prisma, subject));
}

describe('tampering with the ledger', () => {
  it("an edited event's data is named (seq 3)", async () => {
    const { url, ctx, subject } = editCase;
    expect(ledgerVerifyCli(url)).toMatchObject({ status: 0 });
    await tamper(ctx, [
      `UPDATE ledger_events SET body = replace(body, '"revoked":2', '"revoked":7')
       WHERE subject_id = '${subject.id}' AND seq = 3`,
    ]);
    const verdict = await custodyVerdict(ctx, subject);
    expect(verdict).toMatchObject({ valid: false, firstInvalidSeq: 3 });
    expect(verdict.reason).toMatch(/hash mismatch/);
    const cli = ledgerVerifyCli(url);
    expect(cli.status).toBe(1);
    expect(cli.out).toContain(`subject user:${subject.id} seq 3`);
  }, 120_000);

  it('an edited event whose hash was recomputed is still caught by the next link and the log', async () => {
    const { url, ctx, subject } = rehashCase;
    expect(ledgerVerifyCli(url)).toMatchObject({ status: 0 });
    // Rewrite seq 5 (the head: no next link) and fix its hash: only the Merkle log knows.
    await tamper(ctx, [
      `UPDATE ledger_events SET body = replace(body, '"revoked":4', '"revoked":8')
       WHERE subject_id = '${subject.id}' AND seq = 5`,
      `UPDATE ledger_events SET hash = sha256(convert_to(body, 'UTF8'))
       WHERE subject_id = '${subject.id}' AND seq = 5`,
    ]);
    const verdict = await custodyVerdict(ctx, subject);
    expect(verdict).toMatchObject({ valid: false, firstInvalidSeq: 5 });
    expect(verdict.reason).toMatch(/Merkle log recorded/);
    const cli = ledgerVerifyCli(url);
    expect(cli.status).toBe(1);
    expect(cli.out).toContain(`seq 5`);
  }, 120_000);

  it('a deleted event is named (seq 2 missing)', async () => {
    const { url, ctx, subject } = deleteCase;
    expect(ledgerVerifyCli(url)).toMatchObject({ status: 0 });
    await tamper(ctx, [
      `DELETE FROM log_entries WHERE event_id = (SELECT id FROM ledger_events WHERE subject_id = '${subject.id}' AND seq = 2)`,
      `DELETE FROM ledger_events WHERE subject_id = '${subject.id}' AND seq = 2`,
    ]);
    const verdict = await custodyVerdict(ctx, subject);
    expect(verdict).toMatchObject({ valid: false, firstInvalidSeq: 2 });
    expect(verdict.reason).toMatch(/seq 2 is missing/);
    const cli = ledgerVerifyCli(url);
    expect(cli.status).toBe(1);
    expect(cli.out).toContain(`subject user:${subject.id} seq 2`);
  }, 120_000);

  it('two swapped events are named (seq 2)', async () => {
    const { url, ctx, subject } = swapCase;
    expect(ledgerVerifyCli(url)).toMatchObject({ status: 0 });
    await tamper(ctx, [
      `UPDATE ledger_events SET seq = -2 WHERE subject_id = '${subject.id}' AND seq = 2`,
      `UPDATE ledger_events SET seq = 2 WHERE subject_id = '${subject.id}' AND seq = 3`,
      `UPDATE ledger_events SET seq = 3 WHERE subject_id = '${subject.id}' AND seq = -2`,
    ]);
    const verdict = await custodyVerdict(ctx, subject);
    expect(verdict).toMatchObject({ valid: false, firstInvalidSeq: 2 });
    expect(verdict.reason).toMatch(/body says seq 3/);
    const cli = ledgerVerifyCli(url);
    expect(cli.status).toBe(1);
    expect(cli.out).toContain(`subject user:${subject.id} seq 2`);
  }, 120_000);
});
