// A WACZ web archive (Webrecorder's WACZ 1.1.1: https://specs.webrecorder.net/wacz/1.1.1/) of
// what a browser loaded: a ZIP, every entry stored uncompressed so a replay tool can read a
// record by its offset, holding
//   archive/data.warc.gz  WARC/1.1 request and response records, each its own gzip member;
//   indexes/index.cdx     CDXJ, one line per response, sorted: SURT key, 14-digit timestamp,
//                         JSON with url, mime, status, digest, offset and length in the WARC;
//   pages/pages.jsonl     the captured page;
//   datapackage.json      every file above with its size and sha256;
//   datapackage-digest.json  the sha256 of datapackage.json.
// Records are built with warcio (Webrecorder's own library for the format); each is gzipped by
// Node's zlib (native code, on the thread pool) rather than warcio's own gzip (pako, in
// JavaScript on the main thread: ~100 ms of a capture's CPU for 42 small records).
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { getSurt, WARCRecord, WARCSerializer } from 'warcio';
import yazl from 'yazl';

export const WACZ_MEDIA_TYPE = 'application/wacz';
const WARC_NAME = 'data.warc.gz';

/** One request the page made and the response it got, body as the browser received it. */
export interface ArchivedExchange {
  url: string;
  method: string;
  requestHeaders: [string, string][];
  requestBody?: Buffer;
  status: number;
  statusText: string;
  /** As the server sent them; framing headers are rewritten for the stored (decoded) body. */
  responseHeaders: [string, string][];
  body: Buffer;
  /** When the response arrived. */
  date: Date;
}

export interface WaczPage {
  url: string;
  title: string;
  date: Date;
}

export interface WaczInput {
  page: WaczPage;
  exchanges: readonly ArchivedExchange[];
  software: string;
}

// The stored body is what the browser decoded: its length, not the wire's encoding.
const FRAMING = new Set(['content-encoding', 'content-length', 'transfer-encoding']);

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** 14-digit WARC/CDX timestamp (UTC). */
function timestamp14(date: Date): string {
  return date.toISOString().replace(/[-:T]/g, '').slice(0, 14);
}

const serializeOpts = { gzip: false, digest: { algo: 'sha-256', prefix: 'sha256:', base32: false } } as const;
const gzipMember = promisify(gzip);

/** One record as its own gzip member (what a reader seeking to its offset expects). */
async function serialized(record: WARCRecord): Promise<Buffer> {
  return gzipMember(await WARCSerializer.serialize(record, serializeOpts));
}

async function* one(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  yield bytes;
}

interface Built {
  warc: Buffer;
  cdx: string;
}

async function buildWarc(exchanges: readonly ArchivedExchange[]): Promise<Built> {
  const parts: Buffer[] = [];
  const cdx: string[] = [];
  let offset = 0;
  for (const x of exchanges) {
    const date = x.date.toISOString();
    const headers = x.responseHeaders.filter(([n]) => !FRAMING.has(n.toLowerCase()));
    headers.push(['Content-Length', String(x.body.length)]);
    const response = WARCRecord.create(
      {
        url: x.url,
        date,
        type: 'response',
        warcVersion: 'WARC/1.1',
        statusline: `HTTP/1.1 ${x.status} ${x.statusText || 'OK'}`.trimEnd(),
        httpHeaders: headers,
        keepHeadersCase: true,
      },
      one(x.body),
    );
    const responseBytes = await serialized(response);
    const target = new URL(x.url);
    const request = WARCRecord.create(
      {
        url: x.url,
        date,
        type: 'request',
        warcVersion: 'WARC/1.1',
        statusline: `${x.method} ${target.pathname}${target.search} HTTP/1.1`,
        httpHeaders: x.requestHeaders.filter(([n]) => !n.startsWith(':')),
        keepHeadersCase: true,
        warcHeaders: { 'WARC-Concurrent-To': response.warcHeaders.headers.get('WARC-Record-ID') ?? '' },
      },
      one(x.requestBody ?? new Uint8Array()),
    );
    const requestBytes = await serialized(request);
    const mime = (x.responseHeaders.find(([n]) => n.toLowerCase() === 'content-type')?.[1] ?? '')
      .split(';')[0]
      ?.trim();
    const fields = {
      url: x.url,
      mime: mime || 'unk',
      status: String(x.status),
      digest: response.warcHeaders.headers.get('WARC-Payload-Digest') ?? undefined,
      length: String(responseBytes.length),
      offset: String(offset),
      filename: WARC_NAME,
      ...(x.method !== 'GET' ? { method: x.method } : {}),
    };
    cdx.push(`${getSurt(x.url)} ${timestamp14(x.date)} ${JSON.stringify(fields)}`);
    parts.push(responseBytes, requestBytes);
    offset += responseBytes.length + requestBytes.length;
  }
  // CDXJ is sorted by key then timestamp (byte order), so a reader can binary-search it.
  cdx.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return { warc: Buffer.concat(parts), cdx: cdx.length ? `${cdx.join('\n')}\n` : '' };
}

export interface WaczArchive {
  /** The ZIP as a stream, to be consumed once (into the blob store). */
  stream: Readable;
  /** Entry names and sizes, for the capture record. */
  files: { path: string; bytes: number; sha256: string }[];
  records: number;
}

/** Builds the WACZ of one page's exchanges. */
export async function buildWacz(input: WaczInput): Promise<WaczArchive> {
  const { warc, cdx } = await buildWarc(input.exchanges);
  const pages = [
    JSON.stringify({ format: 'json-pages-1.0', id: 'pages', title: 'All Pages' }),
    JSON.stringify({
      id: sha256(Buffer.from(input.page.url)).slice(0, 32),
      url: input.page.url,
      ts: input.page.date.toISOString(),
      title: input.page.title,
    }),
  ].join('\n');
  const entries: [string, Buffer][] = [
    [`archive/${WARC_NAME}`, warc],
    ['indexes/index.cdx', Buffer.from(cdx)],
    ['pages/pages.jsonl', Buffer.from(`${pages}\n`)],
  ];
  const files = entries.map(([path, bytes]) => ({ path, bytes: bytes.length, sha256: sha256(bytes) }));
  const datapackage = Buffer.from(
    JSON.stringify(
      {
        profile: 'data-package',
        wacz_version: '1.1.1',
        title: input.page.title || input.page.url,
        created: new Date().toISOString(),
        software: input.software,
        mainPageURL: input.page.url,
        mainPageDate: input.page.date.toISOString(),
        resources: files.map((f) => ({
          name: f.path.slice(f.path.lastIndexOf('/') + 1),
          path: f.path,
          hash: `sha256:${f.sha256}`,
          bytes: f.bytes,
        })),
      },
      null,
      2,
    ),
  );
  const digest = Buffer.from(
    JSON.stringify({ path: 'datapackage.json', hash: `sha256:${sha256(datapackage)}` }, null, 2),
  );
  entries.push(['datapackage.json', datapackage], ['datapackage-digest.json', digest]);
  const zip = new yazl.ZipFile();
  // A fixed entry time: the same exchanges give the same archive bytes.
  const mtime = input.page.date;
  for (const [path, bytes] of entries) zip.addBuffer(bytes, path, { compress: false, mtime });
  zip.end();
  return {
    stream: zip.outputStream as Readable,
    files: [...files, { path: 'datapackage.json', bytes: datapackage.length, sha256: sha256(datapackage) }],
    records: input.exchanges.length * 2,
  };
}
