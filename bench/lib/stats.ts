// Latency statistics, number formatting and the result table every benchmark prints:
// its figure next to a baseline measured in the same run, the ratio, the target and
// PASS/MISS. Benchmarks report; they never assert.

export interface Summary {
  n: number;
  min: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** Nearest-rank percentile of an ascending array (p in 0..100). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export function summarize(values: readonly number[]): Summary {
  const sorted = Float64Array.from(values).sort();
  const arr = Array.from(sorted);
  const sum = arr.reduce((a, b) => a + b, 0);
  return {
    n: arr.length,
    min: arr[0] ?? Number.NaN,
    mean: arr.length ? sum / arr.length : Number.NaN,
    p50: percentile(arr, 50),
    p90: percentile(arr, 90),
    p99: percentile(arr, 99),
    max: arr[arr.length - 1] ?? Number.NaN,
  };
}

/** 1234567.8 → "1,234,568"; small values keep `digits` decimals. */
export function num(value: number, digits = 0): string {
  if (!Number.isFinite(value)) return String(value);
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export const ms = (value: number) => `${num(value, value < 10 ? 2 : value < 100 ? 1 : 0)} ms`;
export const mib = (bytes: number) => `${num(bytes / 2 ** 20, 1)} MiB`;
export const signedMib = (bytes: number) => `${bytes >= 0 ? '+' : ''}${mib(bytes)}`;
export const perSecond = (value: number) => `${num(value, value < 100 ? 1 : 0)}/s`;

export function latencyLine(label: string, s: Summary): string {
  return `${label}: n=${num(s.n)} p50 ${ms(s.p50)}  p90 ${ms(s.p90)}  p99 ${ms(s.p99)}  max ${ms(s.max)}  mean ${ms(s.mean)}`;
}

/** Plain-text table: first row is the header; columns padded, numbers right-aligned. */
export function table(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) {
    for (const [i, cell] of row.entries()) widths[i] = Math.max(widths[i] ?? 0, cell.length);
  }
  const numeric = (cell: string) => /^[+-]?[\d.,]+( ?[a-zA-Z/×%]+(\/s)?)?$/.test(cell);
  const fmt = (row: readonly string[]) =>
    row
      .map((cell, i) => (i > 0 && numeric(cell) ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  const [head, ...body] = rows;
  if (!head) return '';
  return [fmt(head), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(fmt)].join('\n');
}

/** One line of a benchmark's verdict. `better` says which way the ratio should go. */
export interface Result {
  name: string;
  measured: string;
  baselineName: string;
  baseline: string;
  ratio: string;
  target: string;
  pass: boolean | undefined;
}

export const verdict = (pass: boolean | undefined) => (pass === undefined ? 'n/a' : pass ? 'PASS' : 'MISS');

export function resultTable(results: readonly Result[]): string {
  return table([
    ['benchmark', 'measured', 'baseline (same run)', 'baseline', 'ratio', 'target', 'result'],
    ...results.map((r) => [
      r.name,
      r.measured,
      r.baselineName,
      r.baseline,
      r.ratio,
      r.target,
      verdict(r.pass),
    ]),
  ]);
}

/** The closing lines every bench prints: the results table, where the time went, the verdict. */
export function summaryText(
  results: readonly Result[],
  phases: readonly (readonly [string, number])[],
  totalSeconds: number,
  secs: (s: number) => string,
): string {
  return [
    resultTable(results),
    '',
    `phases: ${phases.map(([name, s]) => `${name} ${secs(s)}`).join('; ')}`,
    `total ${secs(totalSeconds)}; ${results.filter((r) => r.pass === false).length} target(s) missed`,
  ].join('\n');
}

export const ratio = (a: number, b: number) => (b === 0 ? Number.NaN : a / b);
export const times = (x: number) => `${num(x, x < 10 ? 2 : 1)}×`;
