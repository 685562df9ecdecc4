// Browser capture of pages through the egress proxy, in Debian's Chromium: a hostile page
// whose every way out aims at a trap (TCP on 127.0.0.1 and [::1], UDP for WebRTC) must not
// reach it, and the screenshot still comes back; a page that builds itself with script is
// shot as built, and its WACZ, read back with independent readers (yauzl for the ZIP, warcio
// for the WARC), holds the script-loaded response with matching hashes and offsets.
import { createHash } from 'node:crypto';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { once } from 'node:events';
import { readdirSync } from 'node:fs';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getSurt, WARCParser } from 'warcio';
import yauzl from 'yauzl';
import {
  BrowserCaptureError,
  type BrowserCaptureResult,
  captureWithBrowser,
} from '../../src/capture/browser/capture-with-browser.ts';
import { redirectTo, serveText, silent, useFixtureServer } from '../helpers/fixture-server.ts';
import { startTrapServer, type TrapServer } from '../helpers/trap-server.ts';
import { readBlob, skipBrowser, useBrowserDeps } from './support.ts';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function hostilePage(trap: number): string {
  const t = `127.0.0.1:${trap}`;
  return `<!doctype html><html><head><title>hostile</title>
<link rel="prefetch" href="http://${t}/prefetch">
<link rel="preconnect" href="http://${t}">
<link rel="dns-prefetch" href="//trap.test">
<link rel="stylesheet" href="http://[::1]:${trap}/style.css">
<script src="http://${t}/script.js"></script>
</head><body style="margin:0">
<div style="width:200px;height:200px;background:rgb(255,0,0)"></div>
<img src="http://${t}/img.png">
<img src="http://localhost:${trap}/localhost.png">
<img src="http://[::1]:${trap}/v6.png">
<img src="http://169.254.169.254/latest/meta-data/">
<img src="http://10.20.30.40/private.png">
<img src="http://private.test/named-private.png">
<img src="http://trap.test:${trap}/named-trap.png">
<img src="https://${t}/tls.png">
<img src="/redirect-trap">
<img src="/redirect-metadata">
<iframe src="http://${t}/frame"></iframe>
<iframe src="/redirect-trap"></iframe>
<script>
  fetch('http://${t}/fetch').catch(() => {});
  fetch('http://[::1]:${trap}/fetch6').catch(() => {});
  fetch('/redirect-trap').catch(() => {});
  try { new WebSocket('ws://${t}/ws'); } catch (e) {}
  try { new WebSocket('ws://trap.test:${trap}/ws'); } catch (e) {}
  navigator.sendBeacon('http://${t}/beacon', 'x');
  const pc = new RTCPeerConnection({ iceServers: [{ urls: 'stun:127.0.0.1:${trap}' }, { urls: 'turn:127.0.0.1:${trap}?transport=tcp', username: 'u', credential: 'p' }] });
  pc.createDataChannel('x');
  pc.createOffer().then((o) => pc.setLocalDescription(o)).catch(() => {});
</script>
</body></html>`;
}

const BUILT = `<!doctype html><html><head><title>before</title></head><body style="margin:0">
<script>
  fetch('/data.json').then((r) => r.json()).then((d) => {
    const div = document.createElement('div');
    div.id = 'built';
    div.style.cssText = 'position:absolute;left:40px;top:60px;width:300px;height:200px;background:' + d.colour;
    div.textContent = d.text;
    document.body.appendChild(div);
    document.title = d.title;
  });
</script></body></html>`;
const DATA = JSON.stringify({ colour: 'rgb(0, 128, 255)', text: '', title: 'built by script' });

/** Reads every entry of a ZIP with yauzl (another library than the writer's). */
async function unzip(bytes: Buffer): Promise<Map<string, { data: Buffer; method: number }>> {
  const zip = await new Promise<yauzl.ZipFile>((ok, fail) =>
    yauzl.fromBuffer(bytes, { lazyEntries: true }, (err, z) => (err ? fail(err) : ok(z))),
  );
  const out = new Map<string, { data: Buffer; method: number }>();
  await new Promise<void>((ok, fail) => {
    zip.on('entry', (entry: yauzl.Entry) => {
      zip.openReadStream(entry, (err, stream) => {
        if (err) return fail(err);
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          out.set(entry.fileName, { data: Buffer.concat(chunks), method: entry.compressionMethod });
          zip.readEntry();
        });
      });
    });
    zip.on('end', ok);
    zip.on('error', fail);
    zip.readEntry();
  });
  return out;
}

async function pixel(png: Buffer, x: number, y: number): Promise<[number, number, number]> {
  const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const i = (y * info.width + x) * info.channels;
  return [data[i] ?? -1, data[i + 1] ?? -1, data[i + 2] ?? -1];
}

describe.skipIf(skipBrowser)('browser capture through the egress proxy', () => {
  let trap: TrapServer;
  let udp: UdpSocket;
  let udpPackets = 0;
  beforeAll(async () => {
    trap = await startTrapServer();
    udp = createSocket('udp4');
    udp.on('message', () => udpPackets++);
    udp.bind(trap.port, '127.0.0.1');
    await once(udp, 'listening');
  });
  afterAll(async () => {
    await trap.close();
    udp.close();
  });

  it('a page aiming everything at a trap, metadata, [::1] and private addresses reaches none of them, and is shot', async () => {
    const site = await useFixtureServer({
      '/': serveText(() => hostilePage(trap.port)),
      '/redirect-trap': redirectTo(`http://127.0.0.1:${trap.port}/redirected`),
      '/redirect-metadata': redirectTo('http://169.254.169.254/latest/'),
    });
    const deps = await useBrowserDeps(
      [`127.0.0.1:${site.port}`],
      {},
      {
        // As the machine's resolver answers: localhost is loopback.
        localhost: ['127.0.0.1'],
        'trap.test': ['127.0.0.1'],
        'private.test': ['10.9.8.7'],
      },
    );
    const result = await captureWithBrowser(deps, `${site.origin}/`);
    expect(trap.connections()).toBe(0);
    expect(udpPackets).toBe(0);

    const png = await readBlob(deps.blobs, result.screenshot.sha256);
    expect(png.subarray(0, 8)).toEqual(Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]));
    expect(await pixel(png, 100, 100)).toEqual([255, 0, 0]);
    expect(result.meta.title).toBe('hostile');

    const refused = result.connections.connections.filter((c) => c.refused);
    const reasons = refused.map((c) => `${c.host}:${c.port} ${c.refused?.code}`);
    // Each kind of target was asked for and refused at the proxy, not skipped by luck.
    expect(reasons).toEqual(
      expect.arrayContaining([
        `127.0.0.1:${trap.port} forbidden_address`,
        `localhost:${trap.port} forbidden_address`,
        `[::1]:${trap.port} forbidden_address`,
        '169.254.169.254:80 forbidden_address',
        '10.20.30.40:80 forbidden_address',
        'private.test:80 forbidden_address',
        `trap.test:${trap.port} forbidden_address`,
      ]),
    );
    for (const c of refused) expect(c.address).toBeNull();
    // The page itself and its redirects did come through the proxy.
    expect(
      result.connections.connections.some((c) => c.port === site.port && c.address === '127.0.0.1'),
    ).toBe(true);
    expect(site.hits.get('/redirect-trap')).toBeGreaterThanOrEqual(1);
    // Refusals are not archived as if the destination had answered.
    const wacz = await unzip(await readBlob(deps.blobs, result.wacz.sha256));
    const cdx = wacz.get('indexes/index.cdx')?.data.toString() ?? '';
    expect(cdx).not.toContain(`${trap.port}`);
    expect(cdx).not.toContain('169.254');
    expect(readdirSync(deps.profileRoot)).toEqual([]);
  }, 60_000);

  describe('a page built by script', () => {
    let result: BrowserCaptureResult;
    let deps: Awaited<ReturnType<typeof useBrowserDeps>>;
    let site: Awaited<ReturnType<typeof useFixtureServer>>;
    beforeAll(async () => {
      site = await useFixtureServer({
        '/built': serveText(BUILT),
        '/data.json': serveText(DATA, 'application/json'),
      });
      deps = await useBrowserDeps([`127.0.0.1:${site.port}`]);
      result = await captureWithBrowser(deps, `${site.origin}/built`, {
        viewport: { width: 800, height: 600 },
      });
    }, 60_000);

    it('the screenshot shows what the script built, and the meta says how it was shot', async () => {
      const png = await readBlob(deps.blobs, result.screenshot.sha256);
      expect(await pixel(png, 100, 100)).toEqual([0, 128, 255]);
      expect(await pixel(png, 20, 20)).toEqual([255, 255, 255]);
      const meta = await sharp(png).metadata();
      expect(meta.width).toBe(800);
      const dom = (await readBlob(deps.blobs, result.dom.sha256)).toString();
      expect(dom).toContain('id="built"');
      expect(result.dom.mediaType).toBe('text/html; charset=utf-8');
      expect(result.meta).toMatchObject({
        browser: { name: 'chromium', version: expect.stringMatching(/^\d+\.\d+/) },
        viewport: { width: 800, height: 600 },
        userAgent: expect.stringContaining('Chrome/'),
        finalUrl: `${site.origin}/built`,
        status: 200,
        title: 'built by script',
        settled: true,
        archive: { responses: 2, truncated: false },
      });
      for (const k of ['launchMs', 'navigationMs', 'settleMs', 'screenshotMs', 'totalMs'] as const) {
        expect(result.meta.timings[k]).toBeGreaterThanOrEqual(0);
      }
      const ok = result.connections.connections.filter((c) => !c.refused);
      expect(ok.length).toBeGreaterThanOrEqual(1);
      expect(ok.every((c) => c.address === '127.0.0.1' && c.port === site.port && c.bytesIn > 0)).toBe(true);
    });

    it('the WACZ is a stored ZIP whose datapackage hashes match and whose CDX lines point at real WARC records', async () => {
      const bytes = await readBlob(deps.blobs, result.wacz.sha256);
      expect(sha256(bytes)).toBe(result.wacz.sha256);
      const files = await unzip(bytes);
      expect([...files.keys()].sort()).toEqual([
        'archive/data.warc.gz',
        'datapackage-digest.json',
        'datapackage.json',
        'indexes/index.cdx',
        'pages/pages.jsonl',
      ]);
      for (const [, f] of files) expect(f.method).toBe(0); // stored, as WACZ says
      const pkgBytes = files.get('datapackage.json')?.data ?? Buffer.alloc(0);
      const pkg = JSON.parse(pkgBytes.toString());
      expect(pkg).toMatchObject({
        profile: 'data-package',
        wacz_version: '1.1.1',
        mainPageURL: `${site.origin}/built`,
      });
      expect(pkg.resources.map((r: { path: string }) => r.path).sort()).toEqual([
        'archive/data.warc.gz',
        'indexes/index.cdx',
        'pages/pages.jsonl',
      ]);
      for (const r of pkg.resources as { path: string; hash: string; bytes: number }[]) {
        const data = files.get(r.path)?.data ?? Buffer.alloc(0);
        expect(r.hash).toBe(`sha256:${sha256(data)}`);
        expect(r.bytes).toBe(data.length);
      }
      const digest = JSON.parse(files.get('datapackage-digest.json')?.data.toString() ?? '{}');
      expect(digest).toEqual({ path: 'datapackage.json', hash: `sha256:${sha256(pkgBytes)}` });
      const pages = (files.get('pages/pages.jsonl')?.data.toString() ?? '')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      expect(pages[0]).toMatchObject({ format: 'json-pages-1.0' });
      expect(pages[1]).toMatchObject({ url: `${site.origin}/built`, title: 'built by script' });

      const warc = files.get('archive/data.warc.gz')?.data ?? Buffer.alloc(0);
      const lines = (files.get('indexes/index.cdx')?.data.toString() ?? '').trim().split('\n');
      expect(lines).toHaveLength(2);
      expect([...lines].sort()).toEqual(lines); // sorted, as CDXJ is
      const byUrl = new Map<string, string>();
      for (const line of lines) {
        const [key = '', ts = ''] = line.split(' ', 2);
        const fields = JSON.parse(line.slice(key.length + ts.length + 2));
        // The key replay tools built on warcio look records up by.
        expect(key).toBe(getSurt(fields.url));
        expect(ts).toMatch(/^\d{14}$/);
        expect(fields.filename).toBe('data.warc.gz');
        // The record at that offset and length, read with warcio alone.
        const slice = warc.subarray(Number(fields.offset), Number(fields.offset) + Number(fields.length));
        const parser = new WARCParser(
          (async function* () {
            yield slice;
          })(),
        );
        const record = await parser.parse();
        expect(record?.warcType).toBe('response');
        expect(record?.warcTargetURI).toBe(fields.url);
        const payload = Buffer.from((await record?.readFully(false)) ?? new Uint8Array());
        expect(fields.digest).toBe(`sha256:${sha256(payload)}`);
        expect(String(record?.httpHeaders?.statusCode)).toBe(fields.status);
        byUrl.set(fields.url, payload.toString());
      }
      // The script-loaded response is in the archive, byte for byte.
      expect(byUrl.get(`${site.origin}/data.json`)).toBe(DATA);
      expect(byUrl.get(`${site.origin}/built`)).toBe(BUILT);
    });
  });

  it('a page that never settles is shot at the deadline and says so', async () => {
    const site = await useFixtureServer({
      '/': serveText(
        '<!doctype html><body style="margin:0;background:rgb(0,200,0)"><img src="/never"></body>',
      ),
      '/never': silent,
    });
    const deps = await useBrowserDeps([`127.0.0.1:${site.port}`], { pageTimeoutMs: 2000 });
    const result = await captureWithBrowser(deps, `${site.origin}/`);
    expect(result.meta.settled).toBe(false);
    const png = await readBlob(deps.blobs, result.screenshot.sha256);
    expect(await pixel(png, 10, 10)).toEqual([0, 200, 0]);
  }, 60_000);

  it('a page whose server never answers fails as a page timeout; a refused page is navigation_refused', async () => {
    const site = await useFixtureServer({ '/silent': silent });
    const deps = await useBrowserDeps([`127.0.0.1:${site.port}`], { pageTimeoutMs: 1500 });
    const timeout = await captureWithBrowser(deps, `${site.origin}/silent`).catch((e: unknown) => e);
    expect(timeout).toBeInstanceOf(BrowserCaptureError);
    expect((timeout as BrowserCaptureError).code).toBe('page_timeout');
    const refused = await captureWithBrowser(deps, `http://127.0.0.1:${trap.port}/`).catch((e: unknown) => e);
    expect((refused as BrowserCaptureError).code).toBe('navigation_refused');
    expect((refused as BrowserCaptureError).permanent).toBe(true);
    expect((refused as BrowserCaptureError).detail).toBe(
      '127.0.0.1 is a loopback (RFC 1122) address; not fetched',
    );
    const tls = await captureWithBrowser(deps, `https://127.0.0.1:${trap.port}/`).catch((e: unknown) => e);
    expect((tls as BrowserCaptureError).code).toBe('navigation_refused');
    expect((tls as BrowserCaptureError).detail).toBe(
      '127.0.0.1 is a loopback (RFC 1122) address; not fetched',
    );
    expect(trap.connections()).toBe(0);
  }, 60_000);

  it('the archive cap leaves later responses out and says so', async () => {
    const big = 'x'.repeat(50_000);
    const site = await useFixtureServer({
      '/': serveText(
        '<!doctype html><body><script src="/a.js"></script><script src="/b.js"></script></body>',
      ),
      '/a.js': serveText(`/*${big}*/`, 'text/javascript'),
      '/b.js': serveText(`/*${big}*/`, 'text/javascript'),
    });
    const deps = await useBrowserDeps([`127.0.0.1:${site.port}`], { archiveMaxBytes: 60_000 });
    const result = await captureWithBrowser(deps, `${site.origin}/`);
    expect(result.meta.archive.truncated).toBe(true);
    expect(result.meta.archive.omitted).toBe(1);
    expect(result.meta.archive.bodyBytes).toBeLessThanOrEqual(60_000);
  }, 60_000);

  it('without a browser the capture says browser_unavailable', async () => {
    const deps = await useBrowserDeps([]);
    const err = await captureWithBrowser({ ...deps, browserPath: null }, 'http://example.test/').catch(
      (e: unknown) => e,
    );
    expect((err as BrowserCaptureError).code).toBe('browser_unavailable');
  });
});
