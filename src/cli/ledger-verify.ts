// `claimtrail ledger verify`: exit 0 when every chain, the tree and the checkpoint hold;
// exit 1 naming the first bad event otherwise.
import type { Config } from '../config/env.ts';
import { createPgPool } from '../db/pg-pool.ts';
import { verifyLedger as verify } from '../ledger/verify-ledger.ts';
import { latestCheckpoint } from '../log/log.repository.ts';
import { publishedVerifierKey } from '../log/published-key.ts';
import { readSigningKey } from '../log/signing-key.ts';

export async function verifyLedger(cfg: Config): Promise<number> {
  const pool = createPgPool(cfg.DATABASE_URL, 2);
  try {
    // The key file is the independent anchor; without it (a host that is not the sequencer's)
    // the key the sequencer published is used, and the output says so. No key is ever created.
    const own = await readSigningKey(cfg.LOG_SIGNING_KEY_FILE, cfg.LOG_ORIGIN);
    const cp = own ? undefined : await latestCheckpoint(pool);
    const verifierKey = own?.verifierKey ?? (cp && (await publishedVerifierKey(pool, cp.note)));
    if (!verifierKey) {
      process.stdout.write(
        `ledger INVALID: no key to check the checkpoint with (no ${cfg.LOG_SIGNING_KEY_FILE}, and no published key verifies the latest checkpoint)\n`,
      );
      return 1;
    }
    if (!own) {
      process.stdout.write(
        `note: ${cfg.LOG_SIGNING_KEY_FILE} is absent; checking with the key published in the database being verified\n`,
      );
    }
    const started = Date.now();
    const report = await verify(pool, verifierKey);
    const seconds = (Date.now() - started) / 1000;
    const summary = `${report.events} events in ${report.subjects} subjects, tree size ${report.treeSize} (${report.pending} pending), checkpoint size ${report.checkpointSize}, ${seconds.toFixed(1)} s`;
    if (report.ok) {
      process.stdout.write(`ledger OK: ${summary}\n`);
      return 0;
    }
    process.stdout.write(`ledger INVALID: ${report.problem}\n(checked so far: ${summary})\n`);
    return 1;
  } finally {
    await pool.end();
  }
}
