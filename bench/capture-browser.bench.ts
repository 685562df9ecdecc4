// `npm run bench capture -- --browser`: the browser step of a capture (issue 14) — pages per
// minute for a loopback page with 20 sub-resources (images, scripts, style sheets, JSON its
// script fetches), captured by captureWithBrowser() exactly as a worker does it (a fresh
// Chromium and profile per page behind a fresh egress-proxy session; full-page PNG, rendered
// DOM and WACZ written to a blob store), next to `chromium --headless --screenshot` of the same
// page (a fresh process and profile per page, no proxy, a viewport-sized PNG) in the same run, at
// the same concurrency (BROWSER_CONCURRENCY), in alternating rounds. Target: time per page
// ≤ 1.5× the bare shot. Also the peak memory per concurrent browser: the proportional set size
// (PSS, so pages shared between Chromium's processes count once) of every process below this
// one, sampled while the captures run, divided by the concurrency; and the CPU time per page of
// the browsers and this process (steadier than wall time when other work shares the cores).
// The page is served by `python3 -m http.server` in a child process.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { BrowserSlots } from '../src/capture/browser/browser-slots.ts';
import {
  type BrowserCaptureDeps,
  type BrowserCaptureMeta,
  captureWithBrowser,
} from '../src/capture/browser/capture-with-browser.ts';
import { findBrowser } from '../src/capture/browser/find-browser.ts';
import { startEgressProxy } from '../src/egress/egress-proxy.ts';
import { LocalBlobStore } from '../src/storage/local-blob-store.ts';
import { runBench } from './lib/bench-run.ts';
import { cpuMeter, describeCpu } from './lib/cpu.ts';
import { type NumberOption, usage } from './lib/options.ts';
import { mib, num, ratio, summarize, table, times } from './lib/stats.ts';

const spec = {
  pages: { name: 'pages', full: 24, quick: 4, help: 'pages captured per round, by each party' },
  rounds: { name: 'rounds', full: 3, quick: 1, help: 'alternating rounds (bare shot, then capture)' },
  concurrency: {
    name: 'concurrency',
    full: 2,
    quick: 2,
    help: 'browsers at once (BROWSER_CONCURRENCY), for both parties',
  },
} satisfies Record<string, NumberOption>;

type Timings = BrowserCaptureMeta['timings'];

const SUBRESOURCES = 20;
const VIEWPORT = { width: 1280, height: 800 };
const image = fileURLToPath(new URL('../test/fixtures/media/image.png', import.meta.url));

const say = (line = '') => console.log(line);
const seconds = (since: number) => (performance.now() - since) / 1000;
const secs = (s: number) => `${num(s, s < 10 ? 2 : 1)} s`;

const cpuOf = (c: { own: number; browsers: number }) => c.own + c.browsers;
const cpuText = (c: { own: number; browsers: number }) =>
  `${secs(cpuOf(c))} (browsers ${secs(c.browsers)}, this process ${secs(c.own)})`;

export const help = `npm run bench capture -- --browser [--quick] [options]\n${usage(Object.values(spec))}`;

/** The page and its 20 sub-resources: 8 images, 6 scripts, 4 style sheets, 2 JSON fetched. */
function writeSite(dir: string): void {
  mkdirSync(dir, { recursive: true });
  const tags: string[] = [];
  for (let i = 0; i < 8; i++) {
    copyFileSync(image, join(dir, `img${i}.png`));
    tags.push(`<img src="img${i}.png" width="120" height="90" alt="picture ${i}">`);
  }
  for (let i = 0; i < 4; i++) {
    writeFileSync(
      join(dir, `style${i}.css`),
      `.b${i}{background:hsl(${i * 90},60%,70%);padding:${8 + i}px;margin:4px}\n`,
    );
    tags.unshift(`<link rel="stylesheet" href="style${i}.css">`);
  }
  for (let i = 0; i < 6; i++) {
    writeFileSync(
      join(dir, `app${i}.js`),
      `(function(){var d=document.createElement('div');d.className='b${i % 4}';d.textContent='block ${i} '+Array(40).join('text ');document.body.appendChild(d);})();\n`,
    );
    tags.push(`<script src="app${i}.js"></script>`);
  }
  for (let i = 0; i < 2; i++)
    writeFileSync(join(dir, `data${i}.json`), JSON.stringify({ n: i, text: `loaded ${i}` }));
  tags.push(
    `<script>Promise.all([0,1].map(function(i){return fetch('data'+i+'.json').then(function(r){return r.json()})})).then(function(a){var p=document.createElement('p');p.textContent=a.map(function(x){return x.text}).join(', ');document.body.appendChild(p)})</script>`,
  );
  const links = (tags.join('\n').match(/(?:src|href)="[^"]+"/g) ?? []).length + 2;
  if (links !== SUBRESOURCES) throw new Error(`the page has ${links} sub-resources, not ${SUBRESOURCES}`);
  writeFileSync(
    join(dir, 'index.html'),
    `<!doctype html><html><head><meta charset="utf-8"><title>Bench page</title></head><body><h1>A page of ${SUBRESOURCES} parts</h1>\n${tags.join('\n')}\n</body></html>\n`,
  );
}

async function startStaticServer(
  dir: string,
): Promise<{ origin: string; host: string; pid: number; stop(): void }> {
  const child: ChildProcess = spawn('python3', ['-u', '-m', 'http.server', '0', '--bind', '127.0.0.1'], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const lines = createInterface({ input: child.stdout! });
  for await (const line of lines) {
    const m = /port (\d+)/.exec(line);
    if (!m) continue;
    const port = Number(m[1]);
    return {
      origin: `http://127.0.0.1:${port}`,
      host: `127.0.0.1:${port}`,
      pid: child.pid!,
      stop: () => {
        lines.close();
        child.kill('SIGTERM');
      },
    };
  }
  throw new Error('python3 -m http.server did not say its port');
}

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/**
 * Proportional set size of every process below this one (the browsers and their helpers), and
 * the CPU ticks (user + system) each has used so far, by `pid:starttime` (pids are reused).
 */
function descendantsNow(exclude: ReadonlySet<number>): { pss: number; ticks: Map<string, number> } {
  const parent = new Map<number, number>();
  const ticks = new Map<number, [string, number]>();
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parent.set(pid, Number(fields[1]));
      ticks.set(pid, [`${pid}:${fields[19]}`, Number(fields[11]) + Number(fields[12])]);
    } catch {}
  }
  const below = (pid: number): boolean => {
    for (let p = parent.get(pid), hops = 0; p !== undefined && hops < 64; p = parent.get(p), hops++)
      if (p === process.pid) return true;
    return false;
  };
  let pss = 0;
  const used = new Map<string, number>();
  for (const pid of parent.keys()) {
    if (exclude.has(pid) || !below(pid)) continue;
    const [key, t] = ticks.get(pid) ?? ['', 0];
    used.set(key, t);
    try {
      const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
      pss += Number(m?.[1] ?? 0) * 1024;
    } catch {}
  }
  return { pss, ticks: used };
}

/**
 * While `work` runs, sampled every 100 ms: the peak PSS of the processes below this one, and
 * the CPU seconds they and this process used (a browser's last < 100 ms before it exits is
 * missed, alike for both parties). Under other load, CPU time per page is steadier than wall
 * time: it says what each party costs, whoever else shares the cores.
 */
async function withPeakPss<T>(
  work: () => Promise<T>,
  exclude: ReadonlySet<number>,
): Promise<{ result: T; peak: number; cpu: { own: number; browsers: number } }> {
  let peak = 0;
  const before = descendantsNow(exclude).ticks;
  const seen = new Map<string, number>();
  const sample = () => {
    const now = descendantsNow(exclude);
    peak = Math.max(peak, now.pss);
    for (const [key, t] of now.ticks) seen.set(key, Math.max(seen.get(key) ?? 0, t - (before.get(key) ?? 0)));
  };
  const own0 = process.cpuUsage();
  let sampling = true;
  const loop = (async () => {
    while (sampling) {
      sample();
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  try {
    const result = await work();
    sample();
    const own = process.cpuUsage(own0);
    let browsers = 0;
    for (const t of seen.values()) browsers += t;
    return {
      result,
      peak,
      cpu: { own: (own.user + own.system) / 1e6, browsers: browsers / TICKS_PER_SECOND },
    };
  } finally {
    sampling = false;
    await loop;
  }
}

/** Runs `count` tasks, `concurrency` at a time; the wall time in seconds and each task's. */
async function pool(count: number, concurrency: number, task: (i: number) => Promise<void>) {
  const each: number[] = [];
  let next = 0;
  const t = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const i = next++;
        const t0 = performance.now();
        await task(i);
        each.push(seconds(t0));
      }
    }),
  );
  return { wall: seconds(t), each };
}

/** `chromium --headless --screenshot` of the page: a fresh process and profile, as a capture. */
async function bareShot(browser: string, url: string, dir: string, i: number): Promise<void> {
  const profile = join(dir, `bare-profile-${i}`);
  const args = [
    '--headless',
    '--disable-gpu',
    '--disable-dev-shm-usage',
    '--no-first-run',
    '--hide-scrollbars',
    `--user-data-dir=${profile}`,
    `--window-size=${VIEWPORT.width},${VIEWPORT.height}`,
    `--screenshot=${join(dir, `bare-${i}.png`)}`,
    ...(process.getuid?.() === 0 ? ['--no-sandbox'] : []),
    url,
  ];
  const child = spawn(browser, args, { stdio: 'ignore' });
  const [code] = (await once(child, 'close')) as [number | null];
  await rm(profile, { recursive: true, force: true });
  if (code !== 0) throw new Error(`chromium --screenshot exited with ${code}`);
}

export async function runBrowserBench(argv: readonly string[]): Promise<number> {
  return runBench(
    {
      argv,
      spec,
      title: 'capture benchmark: browser step',
      where: 'page served by python3 in a child process; browsers below this process',
      help,
      checkIdle: true,
      secs,
    },
    async ({ res, base, sizes, results, phases, onCleanup }) => {
      const browser = await findBrowser(base.BROWSER_PATH === 'off' ? 'auto' : base.BROWSER_PATH);
      if (!browser) throw new Error('no Chromium on this machine: apt-get install -y chromium');
      const dir = await mkdtemp(join(tmpdir(), `${res.redisPrefix}-browser-`));
      onCleanup('remove files', () => rm(dir, { recursive: true, force: true }));
      writeSite(join(dir, 'site'));
      const server = await startStaticServer(join(dir, 'site'));
      onCleanup('stop page server', () => server.stop());
      const url = `${server.origin}/index.html`;
      say(`page: ${url} (${SUBRESOURCES} sub-resources); browser ${browser}`);
      const egress = await startEgressProxy({
        allowlist: [server.host],
        timeouts: {
          connectTimeoutMs: 5_000,
          headersTimeoutMs: 15_000,
          idleTimeoutMs: 30_000,
          totalTimeoutMs: 120_000,
        },
        maxBytes: 256 * 2 ** 20,
      });
      onCleanup('close egress proxy', () => egress.close());
      mkdirSync(join(dir, 'profiles'));
      const deps: BrowserCaptureDeps = {
        blobs: new LocalBlobStore(join(dir, 'blobs')),
        egress,
        browserPath: browser,
        slots: new BrowserSlots(sizes.concurrency),
        limits: { pageTimeoutMs: 30_000, archiveMaxBytes: 256 * 2 ** 20, egressMaxBytes: 256 * 2 ** 20 },
        profileRoot: join(dir, 'profiles'),
        software: 'claimtrail-bench',
      };

      // One of each first (caches warm, the page is as expected).
      let t = performance.now();
      const probe = await captureWithBrowser(deps, url, { viewport: VIEWPORT, tmpKey: 'probe' });
      if (!probe.meta.settled || probe.meta.archive.responses !== SUBRESOURCES + 1)
        throw new Error(
          `probe capture: settled ${probe.meta.settled}, ${probe.meta.archive.responses} responses`,
        );
      await bareShot(browser, url, dir, -1);
      phases.push(['warm-up', seconds(t)]);

      const steps: Timings[] = [];
      type Run = { wall: number; each: number[]; peak: number; cpu: { own: number; browsers: number } };
      const bare: Run[] = [];
      const ours: Run[] = [];
      const notBrowsers = new Set([server.pid]);
      const perPageCpu = (c: Run['cpu']) => ({
        own: c.own / sizes.pages,
        browsers: c.browsers / sizes.pages,
      });
      for (let round = 1; round <= sizes.rounds; round++) {
        t = performance.now();
        const cpuBare = cpuMeter({ server: server.pid });
        const b = await withPeakPss(
          () => pool(sizes.pages, sizes.concurrency, (i) => bareShot(browser, url, dir, round * 1000 + i)),
          notBrowsers,
        );
        const cb = cpuBare.stop();
        bare.push({ ...b.result, peak: b.peak, cpu: b.cpu });
        const cpuOurs = cpuMeter({ server: server.pid });
        const o = await withPeakPss(
          () =>
            pool(sizes.pages, sizes.concurrency, async (i) => {
              const r = await captureWithBrowser(deps, url, { viewport: VIEWPORT, tmpKey: `r${round}-${i}` });
              if (r.meta.archive.responses !== SUBRESOURCES + 1)
                throw new Error('a capture missed sub-resources');
              steps.push(r.meta.timings);
            }),
          notBrowsers,
        );
        const co = cpuOurs.stop();
        ours.push({ ...o.result, peak: o.peak, cpu: o.cpu });
        say(
          `round ${round}: bare shot ${secs(b.result.wall)} for ${sizes.pages} pages (${describeCpu(cb, 'bench')}); capture ${secs(o.result.wall)} (${describeCpu(co, 'bench')})`,
        );
        say(
          `  CPU per page: bare shot ${cpuText(perPageCpu(b.cpu))}, capture ${cpuText(perPageCpu(o.cpu))} = ${times(ratio(cpuOf(o.cpu), cpuOf(b.cpu)))}`,
        );
        phases.push([`round ${round}`, seconds(t)]);
      }

      const perPage = (runs: { wall: number }[]) => summarize(runs.map((r) => r.wall / sizes.pages)).p50;
      const cpuPerPage = (runs: Run[]) => {
        const own = runs.reduce((a, x) => a + x.cpu.own, 0) / (runs.length * sizes.pages);
        const browsers = runs.reduce((a, x) => a + x.cpu.browsers, 0) / (runs.length * sizes.pages);
        return { own, browsers };
      };
      const cpuBare = cpuPerPage(bare);
      const cpuOurs = cpuPerPage(ours);
      const bareS = perPage(bare);
      const oursS = perPage(ours);
      const ppm = (s: number) => `${num(60 / s, 1)} pages/min`;
      const r = ratio(oursS, bareS);
      const peakBare = Math.max(...bare.map((x) => x.peak)) / sizes.concurrency;
      const peakOurs = Math.max(...ours.map((x) => x.peak)) / sizes.concurrency;
      const row = (party: string, runs: { each: number[] }[], perPageS: number, peak: number) => {
        const lat = summarize(runs.flatMap((x) => x.each));
        return [party, ppm(perPageS), secs(perPageS), secs(lat.p50), secs(lat.p99), mib(peak)];
      };
      say('\n=== browser step vs chromium --headless --screenshot (same page, same concurrency)');
      say(
        table([
          ['party', 'pages/min', 'time per page', 'page p50', 'page p99', 'peak PSS per browser'],
          row('capture (captureWithBrowser)', ours, oursS, peakOurs),
          row('chromium --headless --screenshot', bare, bareS, peakBare),
        ]),
      );
      const p50 = (k: keyof Omit<Timings, 'startedAt'>) => secs(summarize(steps.map((x) => x[k] / 1000)).p50);
      say(
        `capture steps, p50: launch ${p50('launchMs')}, navigation (load) ${p50('navigationMs')}, network idle ${p50('settleMs')}, screenshot + DOM ${p50('screenshotMs')}, total ${p50('totalMs')} (the rest: WACZ and blobs)`,
      );
      say(
        `CPU per page, all rounds: capture ${cpuText(cpuOurs)}, bare shot ${cpuText(cpuBare)}: ${times(ratio(cpuOf(cpuOurs), cpuOf(cpuBare)))}`,
      );
      say(
        `what the capture does beyond the bare shot: the egress proxy on every request, a full-page PNG, the DOM, a WACZ of ${probe.meta.archive.responses} responses (${num(probe.meta.archive.bodyBytes / 1024, 0)} KiB of bodies), three blobs written and fsynced`,
      );
      results.push(
        {
          name: `browser capture, time per page (${sizes.concurrency} at once)`,
          measured: secs(oursS),
          baselineName: 'chromium --headless --screenshot',
          baseline: secs(bareS),
          ratio: times(r),
          target: '≤ 1.5×',
          pass: r <= 1.5,
        },
        {
          name: 'browser capture, CPU per page (browsers + this process)',
          measured: secs(cpuOf(cpuOurs)),
          baselineName: 'bare shot, per page',
          baseline: secs(cpuOf(cpuBare)),
          ratio: times(ratio(cpuOf(cpuOurs), cpuOf(cpuBare))),
          target: 'printed',
          pass: undefined,
        },
        {
          name: 'browser capture, peak memory per concurrent browser (PSS)',
          measured: mib(peakOurs),
          baselineName: 'bare shot, per browser',
          baseline: mib(peakBare),
          ratio: times(ratio(peakOurs, peakBare)),
          target: 'printed',
          pass: undefined,
        },
      );
      return true;
    },
  );
}
