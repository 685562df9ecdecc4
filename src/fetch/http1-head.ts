// Reading an HTTP/1.1 response head (RFC 9112 §2–§6) strictly: the status line, header fields
// without obs-fold or control characters, and how the body is framed. Hostile servers answer
// here, so anything ambiguous is refused rather than guessed (two different Content-Lengths,
// Content-Length beside Transfer-Encoding, codings we did not ask for).

/** The response could not be read as HTTP/1.1; `detail` says why (stored as a capture reason). */
export class HttpProtocolError extends Error {
  override name = 'HttpProtocolError';
}

export interface ResponseHead {
  status: number;
  /** Lower-case names; a repeated field's values joined with ', ' (RFC 9110 §5.3). */
  headers: Record<string, string>;
}

/** How the body ends: after `length` bytes, after the last chunk, when the server closes. */
export type BodyFraming =
  | { kind: 'none' }
  | { kind: 'length'; length: number }
  | { kind: 'chunked' }
  | { kind: 'close' };

/** Largest response head read; larger is refused (Node's own limit is 16 KiB). */
export const MAX_HEAD_BYTES = 64 * 1024;

const STATUS_LINE = /^HTTP\/1\.[01] ([1-9]\d\d)(?: (.*))?$/;
const FIELD_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Control characters other than HTAB (forbidden in field values and the reason phrase). */
const hasControl = (text: string): boolean => {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f) return true;
  }
  return false;
};
const DIGITS = /^\d{1,15}$/;

/**
 * Where the head ends: the index just past its empty line, or -1 when it has not arrived.
 * `from`: where an earlier scan of the same (shorter) bytes stopped — a head trickling in a
 * byte at a time is then scanned once, not once per read.
 */
function headEnd(buf: Buffer, from: number): number {
  for (let i = buf.indexOf(0x0a, from); i !== -1; i = buf.indexOf(0x0a, i + 1)) {
    // An empty line: LF LF or LF CR LF (bare LF line ends are tolerated, RFC 9112 §2.2).
    if (buf[i + 1] === 0x0a) return i + 2;
    if (buf[i + 1] === 0x0d && buf[i + 2] === 0x0a) return i + 3;
  }
  return -1;
}

/**
 * Parses the head at the start of `buf`. Returns undefined while it is incomplete (and throws
 * once more than MAX_HEAD_BYTES arrived without an end), else the head and how many bytes of
 * `buf` it took; the rest is body. `scanned`: how many bytes of `buf` an earlier call saw.
 */
export function parseResponseHead(
  buf: Buffer,
  scanned = 0,
): { head: ResponseHead; consumed: number } | undefined {
  // An empty line's LF may be up to 2 bytes before where the last scan ended.
  const end = headEnd(buf, Math.max(0, scanned - 3));
  if (end === -1) {
    if (buf.length > MAX_HEAD_BYTES) throw new HttpProtocolError('response headers too large');
    return undefined;
  }
  if (end > MAX_HEAD_BYTES) throw new HttpProtocolError('response headers too large');
  const lines = buf
    .toString('latin1', 0, end)
    .split('\n')
    .map((line) => (line.endsWith('\r') ? line.slice(0, -1) : line));
  lines.length -= 2; // the empty line and what follows its LF
  const statusLine = lines[0] ?? '';
  const status = STATUS_LINE.exec(statusLine);
  if (!status || hasControl(status[2] ?? '')) throw new HttpProtocolError('malformed status line');
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    if (line.startsWith(' ') || line.startsWith('\t'))
      throw new HttpProtocolError('folded header line (obs-fold)');
    const colon = line.indexOf(':');
    const name = colon > 0 ? line.slice(0, colon) : '';
    if (!FIELD_NAME.test(name)) throw new HttpProtocolError('malformed header line');
    const value = line.slice(colon + 1).trim();
    if (hasControl(value)) throw new HttpProtocolError(`control character in header ${name}`);
    const key = name.toLowerCase();
    headers[key] = key in headers ? `${headers[key]}, ${value}` : value;
  }
  return { head: { status: Number(status[1]), headers }, consumed: end };
}

/** RFC 9112 §6.3 for a response to GET, refusing the ambiguous cases. */
export function bodyFraming(head: ResponseHead): BodyFraming {
  const { status, headers } = head;
  if (status < 200 || status === 204 || status === 304) return { kind: 'none' };
  const te = headers['transfer-encoding'];
  const cl = headers['content-length'];
  if (te !== undefined) {
    if (cl !== undefined) throw new HttpProtocolError('both Transfer-Encoding and Content-Length');
    // We ask for `accept-encoding: identity`; chunked is the only coding HTTP/1.1 must read.
    if (te.trim().toLowerCase() !== 'chunked')
      throw new HttpProtocolError(`unsupported Transfer-Encoding: ${te.slice(0, 64)}`);
    return { kind: 'chunked' };
  }
  if (cl !== undefined) {
    const values = new Set(cl.split(',').map((v) => v.trim()));
    const [only] = values;
    if (values.size !== 1 || only === undefined || !DIGITS.test(only))
      throw new HttpProtocolError('invalid Content-Length');
    return { kind: 'length', length: Number(only) };
  }
  return { kind: 'close' };
}
