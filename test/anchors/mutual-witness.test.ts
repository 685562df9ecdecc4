// Two claimtrail instances witness each other (issue 15 part 3): newsroom A and newsroom B each
// have a database, a log of their own (origins a.test/log and b.test/log) with its sequencer, and
// run `claimtrail witness` — the real command, as a separate process — following the other's
// log. Each log obtains the other's cosignature, and each serves a checkpoint that opens with
// its own key and with the other's witness key.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import request from 'supertest';
import { afterAll, describe, expect, it } from 'vitest';
import { generateCosignerKey, parseCosignerKey } from '../../src/anchors/witness/cosignature.ts';
import { createApp } from '../../src/http/app.ts';
import { latestCheckpoint } from '../../src/log/log.repository.ts';
import { generateSignerKey, openNote } from '../../src/log/note.ts';
import { useTestContext, waitFor } from '../helpers/context.ts';
import { createIsolatedDatabase } from '../helpers/isolated-db.ts';
import { appendMany, newSubject } from '../helpers/ledger-fixtures.ts';
import { freePort } from '../helpers/net.ts';
import { useSequencer, waitForIntegration } from '../helpers/sequencer.ts';
import { scratchDir } from './witness-support.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const dir = await scratchDir('mutual-witness');

interface Newsroom {
  origin: string;
  logKeys: { signerKey: string; verifierKey: string };
  witnessKeys: { signerKey: string; verifierKey: string };
  databaseUrl: string;
  port: number;
}

async function newsroom(name: 'a' | 'b'): Promise<Newsroom> {
  return {
    origin: `${name}.test/log`,
    logKeys: generateSignerKey(`${name}.test/log`),
    witnessKeys: generateCosignerKey(`${name}.test/witness`),
    databaseUrl: await createIsolatedDatabase(`mutual_${name}`),
    port: await freePort(),
  };
}
const a = await newsroom('a');
const b = await newsroom('b');
const url = (n: Newsroom) => `http://127.0.0.1:${n.port}`;

/** `claimtrail witness` for `self`, following `other`'s log, as its own process. */
async function runWitness(self: Newsroom, other: Newsroom, label: string): Promise<ChildProcess> {
  const keyFile = join(dir, `${label}-witness.key`);
  await writeFile(keyFile, `${self.witnessKeys.signerKey}\n`, { mode: 0o600 });
  const child = spawn(process.execPath, ['bin/claimtrail.mjs', 'witness'], {
    cwd: root,
    env: {
      ...process.env,
      DATABASE_URL: self.databaseUrl,
      WITNESS_KEY_FILE: keyFile,
      WITNESS_NAME: self.witnessKeys.verifierKey.split('+')[0],
      WITNESS_PORT: String(self.port),
      WITNESS_LOGS: other.logKeys.verifierKey,
      HOST: '127.0.0.1',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  afterAll(async () => {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
  });
  await waitFor(
    () =>
      fetch(`${url(self)}/healthz`).then(
        (r) => r.ok,
        () => false,
      ),
    60_000,
    250,
  );
  return child;
}
await Promise.all([runWitness(a, b, 'a'), runWitness(b, a, 'b')]);

/** `self`'s log and sequencer, asking `other`'s witness for cosignatures. */
async function runLog(self: Newsroom, other: Newsroom, label: string) {
  const keyFile = join(dir, `${label}-log.key`);
  await writeFile(keyFile, `${self.logKeys.signerKey}\n`, { mode: 0o600 });
  const ctx = useTestContext({
    DATABASE_URL: self.databaseUrl,
    LOG_SIGNING_KEY_FILE: keyFile,
    LOG_ORIGIN: self.origin,
    SEQUENCER_INTERVAL_MS: '100',
    WITNESSES: `${other.witnessKeys.verifierKey} ${url(other)}`,
    FETCH_ALLOWLIST: '127.0.0.1',
    REDIS_PREFIX: `${process.env.REDIS_PREFIX}:mutual-${label}`,
  });
  await useSequencer(ctx);
  return ctx;
}
const ctxA = await runLog(a, b, 'a');
const ctxB = await runLog(b, a, 'b');

describe('two claimtrail instances witness each other', () => {
  it('each log is cosigned by the other newsroom’s witness, and serves the cosigned checkpoint', async () => {
    for (const [ctx, self, other, otherCtx] of [
      [ctxA, a, b, ctxB],
      [ctxB, b, a, ctxA],
    ] as const) {
      await appendMany(ctx.pool, newSubject(), 4);
      await waitForIntegration(ctx);
      const size = (await latestCheckpoint(ctx.pool))!.size;
      await waitFor(async () => {
        const { rows } = await ctx.pool.query('SELECT 1 FROM log_cosignatures WHERE size = $1', [size]);
        return rows.length === 1;
      }, 30_000);
      const note = (await request(createApp(ctx).app).get('/v1/log/checkpoint')).text;
      expect(openNote(note, self.logKeys.verifierKey).unverifiedSignatures.map((s) => s.name)).toEqual([
        other.witnessKeys.verifierKey.split('+')[0],
      ]);
      expect(openNote(note, [parseCosignerKey(other.witnessKeys.verifierKey)]).signatures).toHaveLength(1);
      // The other newsroom's witness keeps our head in its own database.
      const { rows } = await otherCtx.pool.query<{ size: string }>(
        'SELECT size FROM witness_logs WHERE origin = $1',
        [self.origin],
      );
      expect(rows[0]?.size).toBe(String(size));
    }
  }, 120_000);
});
