// The capture benchmark's origin server, run as a process of its own (`node --import tsx
// bench/lib/file-server.ts <file> <sourceBytes> <readChunk>`) so that serving does not compete
// with the capture for the benchmark's event loop. Listens on 127.0.0.1:0 and prints
// `{"port":N}` on stdout once listening.
//   GET /big        <file>, streamed from disk (read <readChunk> bytes at a time), Content-Length
//   GET /src/<i>    <sourceBytes> bytes unique to i: one random body with i stamped into it
// Both bodies start with BENCH_MAGIC, which no sniffer recognizes: they are stored as
// application/octet-stream of kind `document` (no ffprobe).
import { randomBytes } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';

/** First bytes of every served body (binary, so not sniffed as text; no known signature). */
export const BENCH_MAGIC = Buffer.from([0x00, 0xc7, 0x1b, 0x0e, 0x4e, 0xc4, 0x00, 0x7f]);

/** A body of `bytes` bytes: BENCH_MAGIC, `stamp` as 8 bytes, then `random` repeated. */
export function stampedBody(random: Buffer, bytes: number, stamp: number): Buffer {
  const body = Buffer.allocUnsafe(bytes);
  for (let at = 0; at < bytes; at += random.length)
    random.copy(body, at, 0, Math.min(random.length, bytes - at));
  BENCH_MAGIC.copy(body, 0, 0, Math.min(BENCH_MAGIC.length, bytes));
  if (bytes >= 16) body.writeBigUInt64BE(BigInt(stamp), 8);
  return body;
}

function main(argv: string[]): void {
  const [file, sourceBytesArg, readChunkArg] = argv;
  if (!file || !sourceBytesArg || !readChunkArg) {
    console.error('usage: file-server.ts <file> <sourceBytes> <readChunk>');
    process.exit(2);
  }
  const sourceBytes = Number(sourceBytesArg);
  const readChunk = Number(readChunkArg);
  const fileSize = statSync(file).size;
  const random = randomBytes(Math.max(16, sourceBytes));

  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    if (req.method === 'GET' && path === '/big') {
      res.writeHead(200, {
        'content-type': 'application/octet-stream',
        'content-length': String(fileSize),
      });
      const stream = createReadStream(file, { highWaterMark: readChunk });
      stream.on('error', () => res.destroy());
      stream.pipe(res);
      return;
    }
    const m = /^\/src\/(\d+)$/.exec(path);
    if (req.method === 'GET' && m) {
      const body = stampedBody(random, sourceBytes, Number(m[1]));
      res.writeHead(200, {
        'content-type': 'application/octet-stream',
        'content-length': String(body.length),
      });
      res.end(body);
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
  });
  server.keepAliveTimeout = 1_000;
  server.listen(0, '127.0.0.1', () => {
    process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
  });
  // The parent going away (killed, crashed) must not leave this server behind.
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('error', () => process.exit(0));
  process.stdin.resume();
  process.on('SIGTERM', () => process.exit(0));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2));
}
