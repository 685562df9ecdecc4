// Crash safety of a browser capture: the process running it is killed (SIGKILL, no chance
// to clean up) while the page is loading. The browser must not outlive it (Chromium ends when
// playwright's pipe closes), and the profile it leaves is removed by sweepBrowserProfiles.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PROFILE_PREFIX, sweepBrowserProfiles } from '../../src/capture/browser/capture-with-browser.ts';
import { waitFor } from '../helpers/context.ts';
import { serveText, silent, useFixtureServer } from '../helpers/fixture-server.ts';
import { skipBrowser } from './support.ts';

/** Processes whose command line names `needle` (the per-capture profile directory). */
function processesNaming(needle: string): number[] {
  try {
    return execFileSync('pgrep', ['-f', needle], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map(Number);
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
}

describe.skipIf(skipBrowser)('a capture process killed mid-page', () => {
  const root = mkdtempSync(join(tmpdir(), 'claimtrail-browser-kill-'));
  mkdirSync(join(root, 'profiles'));
  let child: ChildProcess | undefined;
  afterAll(() => {
    child?.kill('SIGKILL');
    rmSync(root, { recursive: true, force: true });
  });

  it('leaves no browser process behind, and its profile is swept', async () => {
    const site = await useFixtureServer({
      '/': serveText('<!doctype html><body><img src="/never"></body>'),
      '/never': silent,
    });
    child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'test/browser/fixtures/capture-child.ts',
        `${site.origin}/`,
        root,
        `127.0.0.1:${site.port}`,
      ],
      { stdio: 'ignore' },
    );
    // The page is loading: the browser asked for the image that never comes.
    await waitFor(async () => (site.hits.get('/never') ?? 0) > 0, 30_000);
    const [profile] = readdirSync(join(root, 'profiles'));
    expect(profile?.startsWith(PROFILE_PREFIX)).toBe(true);
    const profilePath = join(root, 'profiles', profile ?? '');
    expect(processesNaming(profilePath).length).toBeGreaterThan(0);

    child.kill('SIGKILL');
    await waitFor(async () => processesNaming(profilePath).length === 0, 15_000);
    expect(await sweepBrowserProfiles(join(root, 'profiles'), 0)).toBe(1);
    expect(readdirSync(join(root, 'profiles'))).toEqual([]);
  }, 60_000);
});
