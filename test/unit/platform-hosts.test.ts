// Which cited pages get a platform step (src/capture/platform/platform-hosts.ts).
import { describe, expect, it } from 'vitest';
import {
  isPlatformUrl,
  missingVideoIsFailure,
  platformStepDue,
} from '../../src/capture/platform/platform-hosts.ts';

describe('platform hosts', () => {
  it.each([
    ['https://www.youtube.com/watch?v=abc', true],
    ['https://youtu.be/abc', true],
    ['https://m.facebook.com/watch/?v=1', true],
    ['https://t.me/channel/123', true],
    ['https://vimeo.com./123', true],
    ['https://notyoutube.com/watch', false],
    ['https://youtube.com.example.org/watch', false],
    ['https://x.com/someone/status/1', false], // X goes through the syndication record
    ['not a url', false],
  ])('%s → %s', (url, expected) => {
    expect(isPlatformUrl(url)).toBe(expected);
  });

  it('a platform page always gets the step; another page only when it queued no media', () => {
    expect(platformStepDue('https://www.youtube.com/watch?v=abc', 3)).toBe(true);
    expect(platformStepDue('https://news.example.org/story', 0)).toBe(true);
    expect(platformStepDue('https://news.example.org/story', 1)).toBe(false);
  });

  it('no video is a failure on a platform page only (elsewhere it is recorded as a fact)', () => {
    expect(missingVideoIsFailure('https://www.youtube.com/watch?v=abc')).toBe(true);
    expect(missingVideoIsFailure('https://t.me/channel/123')).toBe(true);
    expect(missingVideoIsFailure('https://news.example.org/story')).toBe(false);
    expect(missingVideoIsFailure('http://127.0.0.1:8080/article')).toBe(false);
  });
});
