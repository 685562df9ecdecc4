// `claimtrail ledger verify`: exit 0 when every chain, the tree and the checkpoint hold;
// exit 1 naming the first bad event otherwise.
import type { Config } from '../config/env.ts';
import { createPgPool } from '../db/pg-pool.ts';
import { verifyLedger as verify } from '../ledger/verify-ledger.ts';
import { logger } from '../lib/logger.ts';
import { loadOrCreateSigningKey } from '../log/signing-key.ts';

export async function verifyLedger(cfg: Config): Promise<number> {
  const pool = createPgPool(cfg.DATABASE_URL, 2);
  try {
    const { verifierKey } = await loadOrCreateSigningKey(cfg.LOG_SIGNING_KEY_FILE, cfg.LOG_ORIGIN, logger());
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
