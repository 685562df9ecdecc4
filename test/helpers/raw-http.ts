// Raw HTTP/1.1 over a socket, for requests no client library would send: bodies cut short,
// broken framing, a client that goes away mid-body.
import { connect } from 'node:net';

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * Sends `head` + `body` and reads the answer until the server closes the connection
 * (`Connection: close` is added). With `abortAfter`, only that many body bytes are sent and
 * the socket is destroyed: the result is then undefined (no answer is expected).
 */
export function rawRequest(
  port: number,
  opts: {
    method?: string;
    path: string;
    headers: Record<string, string>;
    body: Buffer;
    abortAfter?: number;
    /** Awaited between sending the partial body and closing the socket (default: 20 ms). */
    beforeAbort?: () => Promise<unknown>;
  },
  timeoutMs = 15_000,
): Promise<RawResponse | undefined> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer within ${timeoutMs} ms to ${opts.path}`));
    }, timeoutMs);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', (err) => {
      clearTimeout(timer);
      // The server may cut a connection whose body it refuses before reading it all; what
      // it answered before that is still the answer.
      if (chunks.length > 0) resolve(parse(Buffer.concat(chunks)));
      else if (opts.abortAfter !== undefined) resolve(undefined);
      else reject(err);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      if (opts.abortAfter !== undefined && chunks.length === 0) resolve(undefined);
      else if (chunks.length > 0) resolve(parse(Buffer.concat(chunks)));
      else reject(new Error(`connection closed without an answer to ${opts.path}`));
    });
    socket.on('connect', () => {
      const head = [
        `${opts.method ?? 'POST'} ${opts.path} HTTP/1.1`,
        'Host: 127.0.0.1',
        'Connection: close',
        ...Object.entries(opts.headers).map(([k, v]) => `${k}: ${v}`),
        '',
        '',
      ].join('\r\n');
      socket.write(head, 'latin1');
      if (opts.abortAfter === undefined) {
        // Not end(): a half-closed client socket makes Node's server abort the request.
        socket.write(opts.body);
        return;
      }
      socket.write(opts.body.subarray(0, opts.abortAfter), () => {
        // Give the server a moment to start on the part before the client vanishes.
        const wait = opts.beforeAbort?.() ?? new Promise((r) => setTimeout(r, 20));
        void wait.finally(() => socket.destroy());
      });
    });
  });
}

function parse(raw: Buffer): RawResponse {
  const text = raw.toString('utf8');
  const end = text.indexOf('\r\n\r\n');
  const headLines = (end === -1 ? text : text.slice(0, end)).split('\r\n');
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(headLines[0] ?? '')?.[1] ?? 0);
  const headers: Record<string, string> = {};
  for (const line of headLines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }
  let body = end === -1 ? '' : text.slice(end + 4);
  if (headers['transfer-encoding'] === 'chunked') body = dechunk(body);
  return { status, headers, body };
}

function dechunk(text: string): string {
  let out = '';
  let i = 0;
  for (;;) {
    const eol = text.indexOf('\r\n', i);
    if (eol === -1) return out;
    const size = Number.parseInt(text.slice(i, eol), 16);
    if (!size) return out;
    out += text.slice(eol + 2, eol + 2 + size);
    i = eol + 2 + size + 2;
  }
}
