// A worker process loads a job's module on its first job of that kind (workers/handlers.ts,
// lazyHandler): start-up does not load the media decoders or the browser driver, and a
// process that only builds exports never loads them.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { handle, type JobContext, lazyHandler } from '../../workers/handler.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));

/** Packages in the require cache of a fresh process after importing `modules` (in order). */
function packagesLoadedBy(modules: string[]): string[] {
  const script = `
    import { createRequire } from 'node:module';
    for (const m of ${JSON.stringify(modules)}) await import(new URL(m, 'file://${root}').href);
    const names = Object.keys(createRequire(import.meta.url).cache)
      .map((p) => /node_modules\\/((?:@[^/]+\\/)?[^/]+)/.exec(p)?.[1])
      .filter(Boolean);
    console.log(JSON.stringify([...new Set(names)].sort()));`;
  const out = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, LOG_LEVEL: 'silent' },
  });
  expect(out.status, out.stderr).toBe(0);
  return JSON.parse(out.stdout.trim().split('\n').at(-1)!) as string[];
}

// CommonJS packages (the require cache holds only those) that stand for the capture's heavy
// graph: the browser driver, the EXIF reader, and sharp's own dependency (sharp is ESM).
const heavy = ['playwright-core', 'exifr', '@img/colour'];

describe('worker start-up', () => {
  it('loads no job module: no media decoder or browser driver', () => {
    const loaded = packagesLoadedBy([
      'src/processes/run.ts',
      'workers/worker-runner.ts',
      'workers/handlers.ts',
    ]);
    expect(loaded).toContain('bullmq'); // the check sees CommonJS packages at all
    expect(loaded.filter((p) => heavy.includes(p))).toEqual([]);
  }, 60_000);

  it('an export build loads none of them either; a capture does', () => {
    const exportPath = packagesLoadedBy(['workers/handlers.ts', 'workers/jobs/export-build.job.ts']);
    expect(exportPath.filter((p) => heavy.includes(p))).toEqual([]);
    const capturePath = packagesLoadedBy(['workers/jobs/capture-source.job.ts']);
    expect(capturePath).toEqual(expect.arrayContaining(heavy));
  }, 60_000);
});

describe('lazyHandler', () => {
  const jc = {} as JobContext;
  const payload = { subject: { type: 'claim' as const, id: 'c1' } };

  it('imports the module on the first job only, and runs its handler', async () => {
    let imports = 0;
    const lazy = lazyHandler('custody.verify-subject', async () => {
      imports++;
      return handle('custody.verify-subject', async (p) => `verified ${p.subject.id}`);
    });
    expect(lazy.name).toBe('custody.verify-subject');
    expect(imports).toBe(0);
    expect(await lazy.run(payload, jc)).toBe('verified c1');
    expect(await lazy.run(payload, jc)).toBe('verified c1');
    expect(imports).toBe(1);
  });

  it('tries a failed import again on the next job, and refuses a module of another job', async () => {
    let attempts = 0;
    const flaky = lazyHandler('custody.verify-subject', async () => {
      if (++attempts === 1) throw new Error('import failed');
      return handle('custody.verify-subject', async () => 'ok');
    });
    await expect(flaky.run(payload, jc)).rejects.toThrow('import failed');
    expect(await flaky.run(payload, jc)).toBe('ok');

    const wrong = lazyHandler('custody.verify-subject', async () =>
      handle('export.sweep', async () => 'swept'),
    ) as ReturnType<typeof lazyHandler>;
    await expect(wrong.run(payload, jc)).rejects.toThrow(/handles "export\.sweep"/);
  });
});
