// `npm run bench <name> [-- options]`: runs one benchmark by name. Benchmarks print their
// figures next to a baseline measured in the same run; they are never asserted in tests.
//   npm run bench ledger               full run (the issue's sizes)
//   npm run bench ledger -- --quick    smoke run with small sizes
//   npm run bench ledger -- --help     options
// Quiet by default: the app's request log and the sequencer's info lines would drown the figures.
process.env.LOG_LEVEL ||= 'warn';
// Output piped into `head` that exits early must not kill the run before it drops its database.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code !== 'EPIPE') throw err;
});

interface Bench {
  run(argv: readonly string[]): Promise<number>;
  help: string;
}

const benches: Record<string, () => Promise<Bench>> = {
  ledger: () => import('./ledger.bench.ts'),
  api: () => import('./api.bench.ts'),
  capture: () => import('./capture.bench.ts'),
  export: () => import('./export.bench.ts'),
  pdq: () => import('./pdq.bench.ts'),
  media: () => import('./media.bench.ts'),
  scale: () => import('./scale.bench.ts'),
};

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  const load = name === undefined ? undefined : benches[name];
  if (!load) {
    console.error(
      `usage: npm run bench <name> [-- options]; benchmarks: ${Object.keys(benches).join(', ')}${name ? ` (unknown: ${name})` : ''}`,
    );
    return 2;
  }
  const bench = await load();
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(bench.help);
    return 0;
  }
  return bench.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : err);
    process.exitCode = 1;
  },
);
