// What every benchmark does around its own measurements: parse the options, check the machine
// is idle (optionally), create and migrate its own database, clean up on the way out or on
// Ctrl-C, and print the closing summary. A bench supplies the measurements (`body`) and the
// cleanup steps of what it started.
import { performance } from 'node:perf_hooks';
import { type Config, parseConfig } from '../../src/config/env.ts';
import { type BenchResources, createBenchResources, describeServer } from './bench-db.ts';
import { reportMachineBefore } from './cpu.ts';
import { type NumberOption, openBench } from './options.ts';
import { type Result, summaryText } from './stats.ts';

const say = (line = '') => console.log(line);

export interface BenchRun<S> {
  sizes: S;
  base: Config;
  res: BenchResources;
  results: Result[];
  phases: [string, number][];
  /**
   * A cleanup step for something the bench started (a server, files): run before the database
   * is dropped, on success, failure or interrupt, in reverse order. `label` names it in the
   * closing phase line ("stop API").
   */
  onCleanup(label: string, step: () => unknown): void;
  /** Runs if the body throws, before cleanup (e.g. print a server's log). */
  onFailure(step: () => void): void;
}

export interface BenchSpec<S extends Record<string, NumberOption>> {
  argv: readonly string[];
  spec: S;
  title: string;
  /** Where the parties run, for the header line. */
  where: string;
  help: string;
  /** Report how busy the machine is before starting (benches sensitive to other load). */
  checkIdle?: boolean;
  /** How seconds are printed in the summary. */
  secs: (s: number) => string;
}

/** Runs one benchmark; the exit code: 0 all targets met, 1 a target missed or a failure, 2 usage. */
export async function runBench<S extends Record<string, NumberOption>>(
  b: BenchSpec<S>,
  body: (run: BenchRun<{ [K in keyof S]: number }>) => Promise<boolean | undefined>,
): Promise<number> {
  const opened = openBench(b.argv, b.spec, b.title, b.where, b.help);
  if (!opened) return 2;
  const base = parseConfig(process.env);
  const started = performance.now();
  const seconds = (since: number) => (performance.now() - since) / 1000;
  if (b.checkIdle) await reportMachineBefore(say);

  const res = await createBenchResources(base);
  const steps: { label: string; step: () => unknown }[] = [];
  const failureSteps: (() => void)[] = [];
  let ok = true;
  let cleaned = false;
  /** Every step is tried, even after one failed; failures are reported, not thrown. */
  const cleanup = async () => {
    if (cleaned) return;
    cleaned = true;
    for (const { label, step } of [...steps].reverse()) {
      await Promise.resolve()
        .then(step)
        .catch((err: Error) => {
          ok = false;
          console.error(`cleanup: could not ${label}: ${err.message}`);
        });
    }
    await res.cleanup().catch((err: Error) => {
      ok = false;
      console.error(`cleanup: could not drop ${res.database}: ${err.message}`);
    });
  };
  const onSignal = () => {
    say('\ninterrupted: cleaning up and dropping the benchmark database');
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const run: BenchRun<{ [K in keyof S]: number }> = {
    sizes: opened.sizes,
    base,
    res,
    results: [],
    phases: [],
    onCleanup: (label, step) => steps.push({ label, step }),
    onFailure: (step) => failureSteps.push(step),
  };
  try {
    say(`database: ${res.database} (created and migrated in ${b.secs(res.migrateSeconds)})`);
    run.phases.push(['create + migrate database', res.migrateSeconds]);
    say(await describeServer(res.url));
    if ((await body(run)) === false) ok = false;
  } catch (err) {
    ok = false;
    console.error(`\nbenchmark failed: ${(err as Error).stack ?? err}`);
    for (const step of failureSteps) step();
  } finally {
    const t = performance.now();
    await cleanup();
    const labels = [...steps].reverse().map((s) => s.label);
    run.phases.push([[...labels, `drop ${res.database}`].join(', '), seconds(t)]);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }

  say('\n=== summary');
  say(summaryText(run.results, run.phases, seconds(started), b.secs));
  return ok ? 0 : 1;
}
