// A cited page as a browser sees it (issue 14): Debian's Chromium, driven by playwright-core,
// loads the page with every byte going through the worker's egress proxy (so the fetcher's
// address policy applies to each image, script, frame, fetch, WebSocket and prefetch the page
// asks for), then keeps a full-page PNG screenshot, the rendered DOM and a WACZ web archive of
// every response the page loaded, each written to the blob store. What it returns (browser
// version, viewport, user agent, timings, whether the page settled, the proxy's connection
// record) is for the capture's custody events.
//
// Containment: no implicit loopback bypass (`<-loopback>`: localhost goes to the proxy too),
// the browser resolves no name itself (host-resolver-rules map every name to NOTFOUND but the
// proxy's literal address: no DNS prefetch, no direct connection by name), WebRTC only over
// the proxy (non-proxied UDP off), QUIC off, service workers blocked, downloads refused, a
// fresh profile removed afterwards, at most BROWSER_CONCURRENCY browsers per process, and a
// page deadline after which the page is shot as it stands (`settled: false`).
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { type BrowserContext, chromium, errors, type Page, type Response } from 'playwright-core';
import type { EgressProxy, EgressSession, EgressSessionSummary } from '../../egress/egress-proxy.ts';
import { permanentRefusal } from '../../egress/refusals.ts';
import type { BlobStore, BlobWriteResult } from '../../storage/blob-store.ts';
import { PROFILE_PREFIX } from './browser-profiles.ts';
import type { BrowserSlots } from './browser-slots.ts';
import { type ArchivedExchange, buildWacz, WACZ_MEDIA_TYPE } from './wacz.ts';

export { PROFILE_PREFIX, sweepBrowserProfiles } from './browser-profiles.ts';

export type BrowserCaptureErrorCode =
  | 'browser_unavailable'
  | 'launch_failed'
  | 'navigation_refused'
  | 'navigation_failed'
  | 'page_timeout'
  | 'screenshot_failed';

/** A page the browser could not capture; `detail` is safe to store as a reason. */
export class BrowserCaptureError extends Error {
  override readonly name = 'BrowserCaptureError';
  constructor(
    readonly code: BrowserCaptureErrorCode,
    readonly detail: string,
    /** false: another attempt may work (a timeout, a crash). */
    readonly permanent: boolean,
    options?: ErrorOptions,
  ) {
    super(`${code}: ${detail}`, options);
  }
}

export interface BrowserLimits {
  /** Navigation to screenshot: past it the page is shot as it stands. */
  pageTimeoutMs: number;
  /** Bodies kept in the WACZ, all responses together; later ones are left out (truncated). */
  archiveMaxBytes: number;
  /** Bytes the page may pull through the proxy (the egress session's cap). */
  egressMaxBytes: number;
}

export interface BrowserCaptureDeps {
  blobs: BlobStore;
  egress: EgressProxy;
  /** From findBrowser(); null: no browser on this machine. */
  browserPath: string | null;
  slots: BrowserSlots;
  limits: BrowserLimits;
  /** Where per-capture profiles are made (default: the OS temp directory). */
  profileRoot: string;
  software: string;
  log?: Logger;
}

export interface BrowserCaptureOptions {
  viewport?: { width: number; height: number };
  /** Names the blob store's temporary files (a retried capture replaces its partial files). */
  tmpKey?: string;
}

export interface StoredOutput extends BlobWriteResult {
  mediaType: string;
}

export interface BrowserCaptureMeta {
  browser: { name: 'chromium'; version: string };
  userAgent: string;
  viewport: { width: number; height: number };
  /** The URL the page ended on, its status, its title. */
  finalUrl: string;
  status: number;
  title: string;
  /** False when the page had not finished loading (load and network idle) by the deadline. */
  settled: boolean;
  timings: {
    startedAt: string;
    launchMs: number;
    navigationMs: number;
    settleMs: number;
    screenshotMs: number;
    totalMs: number;
  };
  archive: { responses: number; bodyBytes: number; truncated: boolean; omitted: number };
}

export interface BrowserCaptureResult {
  screenshot: StoredOutput;
  dom: StoredOutput;
  wacz: StoredOutput;
  meta: BrowserCaptureMeta;
  connections: EgressSessionSummary;
}

const DEFAULT_VIEWPORT = { width: 1280, height: 800 };
/** Bounds on the steps after the deadline, so a renderer stuck in a script cannot hold a slot. */
const SHOT_TIMEOUT_MS = 15_000;
const CLOSE_TIMEOUT_MS = 10_000;

function browserArgs(proxyHost: string): string[] {
  return [
    '--disable-gpu',
    '--disable-dev-shm-usage',
    '--no-first-run',
    '--no-default-browser-check',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--disable-domain-reliability',
    '--disable-breakpad',
    '--metrics-recording-only',
    '--no-pings',
    '--disable-quic',
    '--dns-prefetch-disable',
    '--disable-features=NetworkPrediction,DnsOverHttps,AsyncDns,InterestFeedContentSuggestions,Translate,OptimizationHints,MediaRouter',
    '--force-webrtc-ip-handling-policy=disable_non_proxied_udp',
    '--webrtc-ip-handling-policy=disable_non_proxied_udp',
    `--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE ${proxyHost}`,
  ];
}

function withTimeout<T>(work: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}

async function* once(bytes: Buffer): AsyncGenerator<Buffer> {
  yield bytes;
}

/** Collects what the page loaded, as playwright reports responses, within the archive cap. */
class ResponseCollector {
  readonly exchanges: ArchivedExchange[] = [];
  bodyBytes = 0;
  truncated = false;
  omitted = 0;
  private readonly pending = new Set<Promise<void>>();

  constructor(private readonly maxBytes: number) {}

  add(response: Response): void {
    const work = this.collect(response).catch(() => {
      this.omitted++;
    });
    this.pending.add(work);
    void work.finally(() => this.pending.delete(work));
  }

  private async collect(response: Response): Promise<void> {
    const url = response.url();
    if (!/^https?:/i.test(url)) return;
    const request = response.request();
    const responseHeaders = await response.headersArray();
    // The proxy's own refusal is no response of the destination: not archived (the
    // connection record says what was refused and why).
    if (responseHeaders.some((h) => h.name.toLowerCase() === 'x-egress-refused')) return;
    const status = response.status();
    const redirect = status >= 300 && status < 400;
    const body = redirect ? Buffer.alloc(0) : await response.body();
    if (this.truncated || this.bodyBytes + body.length > this.maxBytes) {
      this.truncated = true;
      this.omitted++;
      return;
    }
    this.bodyBytes += body.length;
    this.exchanges.push({
      url,
      method: request.method(),
      requestHeaders: (await request.headersArray()).map((h) => [h.name, h.value]),
      requestBody: request.postDataBuffer() ?? undefined,
      status,
      statusText: response.statusText(),
      responseHeaders: responseHeaders.map((h) => [h.name, h.value]),
      body,
      date: new Date(),
    });
  }

  /** Waits for bodies still being read, at most `ms`. */
  async settle(ms: number): Promise<void> {
    const all = Promise.all([...this.pending]);
    await withTimeout(all, ms, () => new Error('bodies')).catch(() => {});
  }
}

/**
 * Captures `url` in a fresh browser behind a fresh egress session. Throws
 * BrowserCaptureError (`browser_unavailable` when there is no browser).
 */
export async function captureWithBrowser(
  deps: BrowserCaptureDeps,
  url: string,
  opts: BrowserCaptureOptions = {},
): Promise<BrowserCaptureResult> {
  const browserPath = deps.browserPath;
  if (!browserPath) {
    throw new BrowserCaptureError('browser_unavailable', 'no browser on this machine (BROWSER_PATH)', true);
  }
  return deps.slots.run(() => captureInSlot(deps, browserPath, url, opts));
}

async function captureInSlot(
  deps: BrowserCaptureDeps,
  browserPath: string,
  url: string,
  opts: BrowserCaptureOptions,
): Promise<BrowserCaptureResult> {
  const { limits } = deps;
  const viewport = opts.viewport ?? DEFAULT_VIEWPORT;
  const started = Date.now();
  const startedAt = new Date(started).toISOString();
  // The session outlives the page deadline by the steps that follow it (shot, DOM, bodies).
  const session = deps.egress.openSession({
    maxBytes: limits.egressMaxBytes,
    totalTimeoutMs: limits.pageTimeoutMs + 2 * SHOT_TIMEOUT_MS,
  });
  const profile = await mkdtemp(join(deps.profileRoot, PROFILE_PREFIX));
  let context: BrowserContext | undefined;
  let closing: Promise<void> | undefined;
  try {
    try {
      context = await chromium.launchPersistentContext(profile, {
        executablePath: browserPath,
        headless: true,
        chromiumSandbox: process.getuid?.() !== 0,
        args: browserArgs('127.0.0.1'),
        // The session's secret is given by answerProxyChallenges, not as proxy.username.
        proxy: { server: session.server, bypass: '<-loopback>' },
        viewport,
        deviceScaleFactor: 1,
        serviceWorkers: 'block',
        acceptDownloads: false,
        // Our own shutdown closes the browser; the pipe closing ends it if we are killed.
        handleSIGINT: false,
        handleSIGTERM: false,
        handleSIGHUP: false,
        timeout: 30_000,
      });
    } catch (err) {
      throw new BrowserCaptureError('launch_failed', 'the browser did not start', false, { cause: err });
    }
    const launchMs = Date.now() - started;
    const collector = new ResponseCollector(limits.archiveMaxBytes);
    context.on('response', (r) => collector.add(r));
    const page = context.pages()[0] ?? (await context.newPage());
    await answerProxyChallenges(context, page, session);
    // Evaluated in the page (a function body string: this file has no DOM types).
    const userAgent = String(await page.evaluate('navigator.userAgent'));
    const version = context.browser()?.version() ?? /Chrome\/([\d.]+)/.exec(userAgent)?.[1] ?? 'unknown';

    const navStart = Date.now();
    const deadline = navStart + limits.pageTimeoutMs;
    let mainResponse: Response | null = null;
    page.on('response', (r) => {
      if (r.request().isNavigationRequest() && r.frame() === page.mainFrame()) mainResponse = r;
    });
    let settled = true;
    try {
      await page.goto(url, { waitUntil: 'load', timeout: limits.pageTimeoutMs });
    } catch (err) {
      if (!(err instanceof errors.TimeoutError)) {
        // An https page refused at CONNECT reaches the browser only as a tunnel failure: the
        // session's record says whether the proxy refused it for good.
        const refused = permanentRefusal(session.summary(), url);
        if (refused) throw new BrowserCaptureError('navigation_refused', refused, true, { cause: err });
        throw new BrowserCaptureError('navigation_failed', navigationDetail(err), false, { cause: err });
      }
      settled = false;
    }
    const navigationMs = Date.now() - navStart;
    const main = mainResponse as Response | null;
    if (!main) {
      throw new BrowserCaptureError(
        'page_timeout',
        `no answer to the page within ${limits.pageTimeoutMs} ms`,
        false,
      );
    }
    if (await main.headerValue('x-egress-refused').catch(() => null)) {
      const reason = permanentRefusal(session.summary(), main.url()) ?? 'refused by the egress proxy';
      throw new BrowserCaptureError('navigation_refused', reason, true);
    }
    const settleStart = Date.now();
    if (settled) {
      const left = deadline - Date.now();
      settled =
        left > 0 &&
        (await page
          .waitForLoadState('networkidle', { timeout: left })
          .then(() => true)
          .catch(() => false));
    }
    const settleMs = Date.now() - settleStart;

    const shotStart = Date.now();
    const { png, dom, title } = await shoot(page);
    const screenshotMs = Date.now() - shotStart;
    await collector.settle(SHOT_TIMEOUT_MS);
    const finalUrl = page.url();
    const status = main.status();
    // The browser closes while the three blobs are written (each its own file and fsync): the
    // slot is still held until both are done, and nothing is recorded before the caller commits.
    closing = closeContext(context, deps.log);
    context = undefined;

    const tmp = (part: string) => (opts.tmpKey ? { tmpKey: `${opts.tmpKey}-${part}` } : {});
    const [screenshot, domItem, wacz] = await Promise.all([
      deps.blobs.put(once(png), tmp('png')).then((b) => ({ ...b, mediaType: 'image/png' })),
      deps.blobs
        .put(once(Buffer.from(dom, 'utf8')), tmp('dom'))
        .then((b) => ({ ...b, mediaType: 'text/html; charset=utf-8' })),
      buildWacz({
        page: { url: finalUrl, title, date: new Date(navStart) },
        exchanges: collector.exchanges,
        software: deps.software,
      }).then(async (archive) => ({
        ...(await deps.blobs.put(archive.stream, tmp('wacz'))),
        mediaType: WACZ_MEDIA_TYPE,
      })),
    ]);
    await closing;
    return {
      screenshot,
      dom: domItem,
      wacz,
      meta: {
        browser: { name: 'chromium', version },
        userAgent,
        viewport,
        finalUrl,
        status,
        title,
        settled,
        timings: { startedAt, launchMs, navigationMs, settleMs, screenshotMs, totalMs: Date.now() - started },
        archive: {
          responses: collector.exchanges.length,
          bodyBytes: collector.bodyBytes,
          truncated: collector.truncated,
          omitted: collector.omitted,
        },
      },
      connections: session.close(),
    };
  } finally {
    if (context) await closeContext(context, deps.log);
    await closing;
    session.close();
    await rm(profile, { recursive: true, force: true }).catch(() => {});
  }
}

/**
 * Answers the egress proxy's challenge (407) with the session's secret. Playwright's
 * `proxy.username` would pause every request of the page on its way out (Fetch interception of
 * all requests, with the browser's cache off) and resume it from this process: a round trip per
 * image, script and fetch. Here only documents are paused (the page, its frames, their
 * redirects), and each is answered once: the page's own request always comes first, and once its
 * challenge is answered Chromium's auth cache answers the proxy for every later request itself.
 * The secret goes to nothing but the proxy (a challenge from anywhere else, such as a site's own
 * HTTP auth, is refused, as playwright refuses it), and a second challenge of one request (the
 * session ended) is refused rather than answered in a loop.
 */
async function answerProxyChallenges(context: BrowserContext, page: Page, session: EgressSession) {
  const cdp = await context.newCDPSession(page);
  const answered = new Set<string>();
  cdp.on('Fetch.requestPaused', (e) => {
    cdp.send('Fetch.continueRequest', { requestId: e.requestId }).catch(() => {});
  });
  cdp.on('Fetch.authRequired', (e) => {
    const ours =
      e.authChallenge.source === 'Proxy' &&
      e.authChallenge.origin === session.server &&
      !answered.has(e.requestId);
    answered.add(e.requestId);
    const authChallengeResponse = ours
      ? { response: 'ProvideCredentials' as const, username: session.username, password: session.password }
      : { response: 'CancelAuth' as const };
    cdp.send('Fetch.continueWithAuth', { requestId: e.requestId, authChallengeResponse }).catch(() => {});
  });
  await cdp.send('Fetch.enable', {
    handleAuthRequests: true,
    patterns: [{ urlPattern: '*', resourceType: 'Document' }],
  });
}

async function shoot(page: Page): Promise<{ png: Buffer; dom: string; title: string }> {
  try {
    const png = await page.screenshot({ fullPage: true, type: 'png', timeout: SHOT_TIMEOUT_MS });
    const fail = () => new Error('the page did not give its DOM');
    const dom = await withTimeout(page.content(), SHOT_TIMEOUT_MS, fail);
    const title = await withTimeout(page.title(), SHOT_TIMEOUT_MS, fail);
    return { png, dom, title };
  } catch (err) {
    throw new BrowserCaptureError('screenshot_failed', 'the page could not be shot', false, { cause: err });
  }
}

async function closeContext(context: BrowserContext, log: Logger | undefined): Promise<void> {
  await withTimeout(context.close(), CLOSE_TIMEOUT_MS, () => new Error('browser close timed out')).catch(
    (err: unknown) => log?.warn({ err: (err as Error).message }, 'closing the capture browser'),
  );
}

/** Chromium's net error name (net::ERR_…), never the message's other text. */
function navigationDetail(err: unknown): string {
  const m = /net::ERR_[A-Z_]+/.exec(err instanceof Error ? err.message : String(err));
  return m ? `the page did not load (${m[0]})` : 'the page did not load';
}
