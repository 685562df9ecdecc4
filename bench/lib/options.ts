// Command-line and environment options shared by the benchmarks. Every size has a full
// default (the issue's numbers) and a `--quick` default (a smoke run); a flag (`--name=N` or
// `--name N`) wins over the environment (`BENCH_NAME=N`), which wins over the defaults.
import { cpus, totalmem } from 'node:os';
import { mib } from './stats.ts';

export interface NumberOption {
  /** Flag name without dashes, e.g. `duration`; the variable is BENCH_DURATION. */
  name: string;
  full: number;
  quick: number;
  help: string;
  /** Accept fractions (durations); sizes are integers. */
  fractional?: boolean;
  /** A byte count: also accepts a unit suffix (`64MiB`, `1GiB`, `100kB`). */
  bytes?: boolean;
}

const BYTE_UNITS: Record<string, number> = {
  b: 1,
  k: 1024,
  kb: 1000,
  kib: 1024,
  m: 2 ** 20,
  mb: 1e6,
  mib: 2 ** 20,
  g: 2 ** 30,
  gb: 1e9,
  gib: 2 ** 30,
};

/** `64MiB` → 67108864, `100kB` → 100000, `1g` → 1073741824; a plain number is bytes. */
export function parseBytes(raw: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(raw.replaceAll('_', '').trim());
  const unit = m ? BYTE_UNITS[(m[2] || 'b').toLowerCase()] : undefined;
  if (!m || unit === undefined) return Number.NaN;
  return Math.round(Number(m[1]) * unit);
}

/** 67108864 → "64MiB", 100000 → "100000": the shortest exact spelling. */
export function formatBytes(n: number): string {
  for (const [unit, size] of [
    ['GiB', 2 ** 30],
    ['MiB', 2 ** 20],
    ['KiB', 1024],
  ] as const) {
    if (n >= size && n % size === 0) return `${n / size}${unit}`;
  }
  return String(n);
}

export class Options {
  readonly quick: boolean;
  private readonly flags = new Map<string, string>();

  constructor(
    argv: readonly string[],
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {
    for (let i = 0; i < argv.length; i++) {
      const arg = argv[i]!;
      if (!arg.startsWith('--')) throw new Error(`unexpected argument ${JSON.stringify(arg)}`);
      const eq = arg.indexOf('=');
      if (eq > 0) {
        this.flags.set(arg.slice(2, eq), arg.slice(eq + 1));
        continue;
      }
      const next = argv[i + 1];
      if (next !== undefined && !next.startsWith('--')) {
        this.flags.set(arg.slice(2), next);
        i++;
      } else {
        this.flags.set(arg.slice(2), 'true');
      }
    }
    // `npm run bench ledger --quick` hands --quick to npm, which exports npm_config_quick.
    this.quick = this.bool('quick') || env.npm_config_quick === 'true';
  }

  private bool(name: string): boolean {
    const v = this.flags.get(name) ?? this.env[`BENCH_${envName(name)}`];
    return v !== undefined && v !== '' && v !== '0' && v !== 'false';
  }

  number(o: NumberOption): number {
    const raw = this.flags.get(o.name) ?? this.env[`BENCH_${envName(o.name)}`];
    if (raw === undefined || raw === '') return this.quick ? o.quick : o.full;
    const value = o.bytes ? parseBytes(raw) : Number(raw.replaceAll('_', ''));
    if (!Number.isFinite(value) || value <= 0 || (!o.fractional && !Number.isInteger(value))) {
      throw new Error(
        `--${o.name} must be a positive ${o.bytes ? 'byte count (e.g. 64MiB)' : o.fractional ? 'number' : 'integer'}, got ${raw}`,
      );
    }
    return value;
  }

  /** Flags given on the command line that no option declared (typos). */
  unknown(known: readonly NumberOption[]): string[] {
    const names = new Set(['quick', ...known.map((o) => o.name)]);
    return [...this.flags.keys()].filter((k) => !names.has(k));
  }
}

const envName = (flag: string) => flag.toUpperCase().replaceAll('-', '_');

export function usage(options: readonly NumberOption[]): string {
  const show = (o: NumberOption, n: number) => (o.bytes ? formatBytes(n) : String(n));
  const lines = options.map(
    (o) =>
      `  --${o.name}=N`.padEnd(26) +
      `${o.help} (default ${show(o, o.full)}, quick ${show(o, o.quick)}; env BENCH_${envName(o.name)})`,
  );
  return [`${'  --quick'.padEnd(26)}small sizes for a smoke run (env BENCH_QUICK=1)`, ...lines].join('\n');
}

/**
 * The opening every benchmark shares: parse argv against its option spec (unknown flags are
 * a usage error: returns undefined after printing it), then print the title, the machine and
 * the sizes in force. `where` says where the load generators run; `help` is
 * printed on a usage error.
 */
export function openBench<S extends Record<string, NumberOption>>(
  argv: readonly string[],
  spec: S,
  title: string,
  where: string,
  help: string,
): { opts: Options; sizes: { [K in keyof S]: number } } | undefined {
  const opts = new Options(argv);
  const unknown = opts.unknown(Object.values(spec));
  if (unknown.length > 0) {
    console.error(`unknown option(s): ${unknown.map((u) => `--${u}`).join(', ')}\n${help}`);
    return undefined;
  }
  const sizes = Object.fromEntries(Object.entries(spec).map(([key, o]) => [key, opts.number(o)])) as {
    [K in keyof S]: number;
  };
  console.log(`${title} (${opts.quick ? 'QUICK smoke run' : 'full run'})`);
  console.log(`machine: ${cpus().length} cores, ${mib(totalmem())} RAM, node ${process.version}; ${where}`);
  console.log(
    `sizes: ${Object.values(spec)
      .map((o, i) => {
        const n = Object.values(sizes)[i]!;
        return `${o.name}=${o.bytes ? formatBytes(n) : n}`;
      })
      .join(' ')}`,
  );
  return { opts, sizes };
}
