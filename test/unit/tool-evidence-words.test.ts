// The web app's handling of the evidence kinds and custody events of browser and platform
// captures (issue 14): how each kind's bytes preview (a screenshot as an image, a WACZ as a
// download, a DOM or an info JSON only in the sandbox, a platform video as video), and the
// sentences their events read as.
import { describe, expect, it } from 'vitest';
import { previewOf } from '../../src/web/source-card.ts';
import { eventWords } from '../../src/web/words.ts';

describe('previews of browser and platform evidence', () => {
  it.each([
    ['screenshot', 'image/png', 'image'],
    ['web_archive', 'application/wacz', 'archive'],
    ['dom', 'text/html', 'frame'],
    ['platform_metadata', 'application/json', 'frame'],
    ['video (from yt-dlp)', 'video/mp4', 'video'],
  ])('%s (%s) previews as %s', (_kind, mediaType, preview) => {
    expect(previewOf(mediaType)).toBe(preview);
  });
});

describe('custody sentences of browser and platform steps', () => {
  it('browser_captured and browser_capture_failed', () => {
    expect(
      eventWords('browser_captured', {
        finalUrl: 'https://example.org/a',
        browser: { name: 'chromium', version: '156.0' },
        settled: false,
      }),
    ).toBe(
      'page captured in chromium 156.0: screenshot, rendered DOM and web archive of https://example.org/a (shot at the deadline, not settled)',
    );
    expect(
      eventWords('browser_capture_failed', {
        url: 'https://example.org/a',
        code: 'browser_unavailable',
        detail: 'no browser',
      }),
    ).toBe('browser capture of https://example.org/a gave up: browser_unavailable — no browser');
  });

  it('platform_captured and platform_capture_failed', () => {
    expect(
      eventWords('platform_captured', {
        tool: { name: 'yt-dlp', version: '2023.03.04' },
        extractor: 'Youtube',
        declaredDurationSeconds: 31,
        webpageUrl: 'https://www.youtube.com/watch?v=x',
      }),
    ).toBe(
      'platform video kept with yt-dlp 2023.03.04 (Youtube), declared 31 s: https://www.youtube.com/watch?v=x',
    );
    expect(
      eventWords('platform_capture_failed', {
        url: 'https://example.org/a',
        code: 'no_video',
        detail: 'Unsupported URL',
      }),
    ).toBe('platform video of https://example.org/a not kept: no_video — Unsupported URL');
  });

  it('platform_no_video reads as a fact of the capture, not as a failure', () => {
    const words = eventWords('platform_no_video', {
      url: 'https://example.org/a',
      detail: 'Unsupported URL: https://example.org/a',
      tool: { name: 'yt-dlp', version: '2023.03.04' },
    });
    expect(words).toBe(
      "yt-dlp 2023.03.04 found no video on https://example.org/a (not a video platform's page: nothing is missing)",
    );
    expect(words).not.toMatch(/fail|not kept|gave up/);
  });
});
