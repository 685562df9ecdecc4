// Which cited pages get a platform step (yt-dlp), after the page's own step and its browser step:
//   - a page on a video platform's host (below; subdomains included): yt-dlp always runs, as
//     the platform's video is what the citation is about and no meta tag names it;
//   - any other page that declares no media (no og:video and friends) and whose rendered DOM
//     shows none: yt-dlp's generic extractor looks for a video (a <video> in the raw HTML,
//     JSON-LD, embeds); when it finds none the capture records that as a fact
//     (`platform_no_video`), not as a failure: most cited articles have no video.
// On a platform's host a page without a video is a failure (`platform_capture_failed`
// `no_video`): the video is what such a citation is about.
// A page that declares or shows media has it fetched through the guarded fetcher instead.
// X posts never get here: their sources are read through the syndication record (plan.ts),
// which stays the primary path for X.

/** Hosts (and their subdomains) whose pages are video first. */
export const PLATFORM_HOSTS = [
  'youtube.com',
  'youtu.be',
  'youtube-nocookie.com',
  'vimeo.com',
  'tiktok.com',
  'facebook.com',
  'fb.watch',
  'instagram.com',
  't.me',
  'telegram.me',
  'dailymotion.com',
  'dai.ly',
  'rumble.com',
  'twitch.tv',
  'streamable.com',
  'bitchute.com',
  'odysee.com',
  'reddit.com',
  'v.redd.it',
  'vk.com',
  'ok.ru',
  'bilibili.com',
  'weibo.com',
  'threads.net',
  'bsky.app',
] as const;

/** Whether `url` is on a platform host. */
export function isPlatformUrl(url: string): boolean {
  let host: string;
  try {
    host = new URL(url).hostname.toLowerCase().replace(/\.$/, '');
  } catch {
    return false;
  }
  return PLATFORM_HOSTS.some((p) => host === p || host.endsWith(`.${p}`));
}

/**
 * Whether a cited page gets a platform step: on a platform host always, elsewhere only when
 * the page queued no media of its own to fetch (declared or rendered).
 */
export function platformStepDue(url: string, mediaQueued: number): boolean {
  return isPlatformUrl(url) || mediaQueued === 0;
}

/**
 * Whether yt-dlp finding no video on `url` is a failure of the capture: on a platform's host
 * yes (its video is the evidence the citation is about: a private, removed or login-walled
 * video), elsewhere no (an article without a video is the ordinary case).
 */
export function missingVideoIsFailure(url: string): boolean {
  return isPlatformUrl(url);
}
