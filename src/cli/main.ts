// The `claimtrail` command: processes, migrations, users and verification.
import { Command, InvalidArgumentError } from 'commander';
import { type Config, ConfigError, config } from '../config/env.ts';

function loadConfig(): Config {
  try {
    return config();
  } catch (err) {
    if (err instanceof ConfigError) {
      // One line naming each bad variable, then stop: nothing starts half-configured.
      process.stderr.write(`claimtrail: configuration error: ${err.problems.join('; ')}\n`);
      process.exit(2);
    }
    throw err;
  }
}

type Kind = 'api' | 'worker' | 'sequencer' | 'witness';

async function run(kinds: Kind[], { migrateFirst }: { migrateFirst: boolean }) {
  const cfg = loadConfig();
  const { logger } = await import('../lib/logger.ts');
  if (migrateFirst) {
    const { describeGrants, migrateConfigured } = await import('../db/migrate.ts');
    const result = await migrateConfigured(cfg);
    logger().info({ created: result.created, grants: describeGrants(result) }, 'database migrated');
  }
  const { runComponents } = await import('../processes/run.ts');
  const starters = await Promise.all(
    kinds.map(async (k) => {
      if (k === 'api') return (await import('../processes/api.ts')).startApi;
      if (k === 'worker') {
        const { startWorkers } = await import('../../workers/worker-runner.ts');
        const { handlers } = await import('../../workers/handlers.ts');
        return (ctx: Parameters<typeof startWorkers>[0]) => startWorkers(ctx, { handlers });
      }
      if (k === 'witness') return (await import('../anchors/witness/witness-server.ts')).startWitness;
      return (await import('../processes/sequencer.ts')).startSequencer;
    }),
  );
  await runComponents(cfg, starters);
}

const program = new Command('claimtrail').description(
  'Provenance and chain-of-custody tracker for media claims',
);

program
  .command('start')
  .description('migrate the database, then run API, workers and sequencer in this process')
  .action(() => run(['sequencer', 'worker', 'api'], { migrateFirst: true }));
program
  .command('api')
  .description('run the HTTP API')
  .action(() => run(['api'], { migrateFirst: false }));
program
  .command('worker')
  .description('run the job workers')
  .action(() => run(['worker'], { migrateFirst: false }));
program
  .command('sequencer')
  .description('run the Merkle log sequencer')
  .action(() => run(['sequencer'], { migrateFirst: false }));
program
  .command('witness')
  .description(
    'run a C2SP tlog-witness for the logs in WITNESS_LOGS (key in WITNESS_KEY_FILE, port WITNESS_PORT)',
  )
  .action(() => run(['witness'], { migrateFirst: false }));

const db = program.command('db').description('database');
db.command('migrate')
  .description('create the database if missing and apply every pending migration')
  .action(async () => {
    const cfg = loadConfig();
    const { describeGrants, migrateConfigured } = await import('../db/migrate.ts');
    const result = await migrateConfigured(cfg);
    const last = result.output.trim().split('\n').at(-1);
    process.stdout.write(
      `${result.created ? 'created the database; ' : ''}${last}\n${describeGrants(result)}\n`,
    );
  });

db.command('generate')
  .description('generate the Prisma client (src/generated/prisma)')
  .action(async () => {
    const cfg = loadConfig();
    const { runPrismaCli } = await import('../db/migrate.ts');
    process.stdout.write(await runPrismaCli(['generate'], cfg.MIGRATION_DATABASE_URL));
  });

const user = program.command('user').description('users');
user
  .command('add')
  .description('create a user and print {id, name, role, token} as JSON (the token is shown only here)')
  .requiredOption('--name <name>', 'display name')
  .requiredOption('--role <role>', 'admin | editor | auditor | viewer', (v) => {
    if (!['admin', 'editor', 'auditor', 'viewer'].includes(v)) {
      throw new InvalidArgumentError('must be admin, editor, auditor or viewer');
    }
    return v;
  })
  .action(async (opts: { name: string; role: 'admin' | 'editor' | 'auditor' | 'viewer' }) => {
    const cfg = loadConfig();
    const { createPgPool } = await import('../db/pg-pool.ts');
    const { createUser } = await import('../users/users.service.ts');
    const pool = createPgPool(cfg.DATABASE_URL, 1);
    try {
      const created = await createUser({ pool }, { name: opts.name.trim(), role: opts.role }, 'system:cli');
      process.stdout.write(`${JSON.stringify(created)}\n`);
    } finally {
      await pool.end();
    }
  });

const ledger = program.command('ledger').description('the chain of custody');
ledger
  .command('verify')
  .description('recompute every chain and the Merkle tree, compare with the latest checkpoint')
  .action(async () => {
    const cfg = loadConfig();
    const { verifyLedger } = await import('./ledger-verify.ts');
    process.exitCode = await verifyLedger(cfg);
  });

const concurrency = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 64)
    throw new InvalidArgumentError('must be an integer from 1 to 64');
  return n;
};
const blobs = program.command('blobs').description('evidence bytes in the blob store (BLOB_STORE)');
blobs
  .command('copy')
  .description(
    'copy every blob from the other store into the one named, verifying each by hash; resumable (exit 0 all copied, 1 some failed)',
  )
  .requiredOption('--to <store>', 'local | s3', (v) => {
    if (v !== 'local' && v !== 's3') throw new InvalidArgumentError('must be local or s3');
    return v;
  })
  .option('--concurrency <n>', 'blobs copied at once', concurrency, 4)
  .action(async (opts: { to: 'local' | 's3'; concurrency: number }) => {
    const cfg = loadConfig();
    const { copyBlobs } = await import('./blobs.ts');
    process.exitCode = await copyBlobs(cfg, opts.to, opts);
  });
blobs
  .command('check')
  .description(
    "check every evidence item's and export's bytes in the configured store by hash, list orphans (exit 0 OK, 1 missing or wrong, 3 orphans only)",
  )
  .option('--concurrency <n>', 'blobs hashed at once', concurrency, 4)
  .action(async (opts: { concurrency: number }) => {
    const cfg = loadConfig();
    const { checkBlobs } = await import('./blobs.ts');
    process.exitCode = await checkBlobs(cfg, opts);
  });

program
  .command('verify-export')
  .description('check an export bag offline (no database, no network); exit 0 only when everything holds')
  .argument('<file>', 'the exported .zip')
  .option('--key <key>', 'pin the log verifier key (name+hexhash+base64key, or a file holding it)')
  .option(
    '--tsa-ca <file>',
    "PEM trust anchors for the bag's RFC 3161 timestamps (else: the bundled chain, with a warning)",
  )
  .option(
    '--witness <key>',
    'a witness cosigner key (name+hexkeyid+base64key, or a file holding it) whose cosignature to check; repeatable',
    (v: string, all: string[] = []) => [...all, v],
  )
  .option('--min-witnesses <n>', 'how many of the --witness keys must have cosigned (default: all)', (v) => {
    if (!/^(0|[1-9][0-9]{0,5})$/.test(v)) throw new InvalidArgumentError('must be a non-negative integer');
    return Number(v);
  })
  // Usage errors exit 2, as do unreadable files; 1 means the bag failed verification.
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2))
  .action(
    async (
      file: string,
      opts: { key?: string; tsaCa?: string; witness?: string[]; minWitnesses?: number },
    ) => {
      const { runVerifyExport } = await import('./verify-export.ts');
      process.exitCode = await runVerifyExport(file, opts);
    },
  );

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`claimtrail: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
