// One HTTP/1.1 request and its response on a socket of its own (`Connection: close`): the
// guarded fetcher's client. The socket reads into one reused buffer (`onread`), and the body's
// bytes are pushed to a ByteSink during the read callback, so a 1 GiB download allocates no
// buffer per read. (undici, used before, spent ~2 CPU-seconds per GiB on this machine in its
// parser, streams and per-read allocations; this reads the same GiB in ~0.4 s. See
// bench/capture.bench.ts.) The head and the framing are parsed strictly (http1-head.ts,
// http1-body.ts); everything that can go wrong ends in a FetchError.
import type { Socket } from 'node:net';
import type { ByteSink } from '../lib/byte-sink.ts';
import { type FetchError, FetchRefusedError, FetchTransientError, socketFetchError } from './fetch-errors.ts';
import { type BodyDecoder, bodyDecoder } from './http1-body.ts';
import { bodyFraming, HttpProtocolError, parseResponseHead, type ResponseHead } from './http1-head.ts';

/** Bytes per socket read: large reads mean few callbacks for big bodies. */
export const READ_BUFFER_BYTES = 1 << 20;

const FIELD_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const BAD_VALUE_CHAR = /[\r\n]|\0/;
const noop = () => {};

/** The request head for `method` (GET unless said) `target` (origin-form path and query) with `headers`. */
export function requestHead(
  target: string,
  host: string,
  headers: Record<string, string>,
  method: 'GET' | 'POST' = 'GET',
): string {
  let head = `${method} ${target} HTTP/1.1\r\nhost: ${host}\r\n`;
  for (const [name, value] of Object.entries(headers)) {
    if (!FIELD_NAME.test(name) || BAD_VALUE_CHAR.test(value))
      throw new FetchRefusedError('invalid_request', `request header ${JSON.stringify(name)} is not valid`);
    head += `${name}: ${value}\r\n`;
  }
  return `${head}connection: close\r\n\r\n`;
}

function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<T>((ok, fail) => {
    resolve = ok;
    reject = fail;
  });
  promise.catch(noop); // whoever awaits it sees the rejection; nobody awaiting is no crash
  return { promise, resolve, reject };
}

const protocolError = (err: unknown): unknown =>
  err instanceof HttpProtocolError
    ? new FetchRefusedError('bad_response', `malformed HTTP response (${err.message})`, { cause: err })
    : err;

export interface ExchangeTimeouts {
  /** From sending the request to the end of the response head. */
  headersTimeoutMs: number;
  /** Longest pause between two reads of the body (not counting pauses the sink asked for). */
  bodyIdleTimeoutMs: number;
}

export class Http1Exchange {
  /** Pass to net.connect / tls.connect: the socket then reads through this exchange. */
  readonly onread: { buffer: Buffer; callback: (bytes: number, buffer: Buffer) => boolean };
  private phase: 'connecting' | 'head' | 'held' | 'body' | 'done' | 'failed' = 'connecting';
  private socket: Socket | undefined;
  private headStore = Buffer.alloc(0);
  private headLength = 0;
  private decoder: BodyDecoder | undefined;
  /** Body bytes that arrived with the head, before anyone asked for the body. */
  private held: Buffer | undefined;
  /** The connection ended while the body was held: its bytes may still be complete. */
  private endedWhileHeld: { error: FetchError | undefined } | undefined;
  private sink: ByteSink | undefined;
  private paused = false;
  /** The body's length when the head declared one (Content-Length), once the head is read. */
  declaredLength: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly head = deferred<ResponseHead>();
  private readonly body = deferred<void>();

  constructor(private readonly timeouts: ExchangeTimeouts) {
    this.onread = {
      buffer: Buffer.allocUnsafe(READ_BUFFER_BYTES),
      callback: (bytes, buffer) => this.onRead(buffer.subarray(0, bytes)),
    };
  }

  /** Takes a connected socket made with `onread` (its errors are this exchange's from now). */
  attach(socket: Socket): void {
    if (this.phase !== 'connecting') return;
    this.socket = socket;
    this.phase = 'head';
    socket.on('error', (err) =>
      this.onEnd(socketFetchError(err, this.phase === 'head' ? 'connect' : 'body')),
    );
    socket.on('end', () => this.onEnd());
    socket.on('close', () => this.onEnd());
  }

  /** Sends the request; resolves with the final response head (after any 1xx). */
  send(request: string | Buffer): Promise<ResponseHead> {
    if (this.phase === 'head' && this.socket) {
      this.arm(this.timeouts.headersTimeoutMs, () => {
        this.fail(new FetchTransientError('headers_timeout', 'no response headers in time'));
      });
      this.socket.write(request);
    }
    return this.head.promise;
  }

  /**
   * Pushes the body into `sink`; resolves once every byte was taken. Rejects with a FetchError,
   * or with what the sink threw.
   */
  pipeTo(sink: ByteSink): Promise<void> {
    if (this.phase !== 'held') {
      if (this.phase !== 'failed') this.fail(new Error('the body is read once, after the head'));
      return this.body.promise;
    }
    this.sink = sink;
    this.phase = 'body';
    const held = this.held;
    this.held = undefined;
    if (this.decoder?.done && !held?.length) this.complete();
    else if (held?.length) this.onBody(held);
    if (this.phase === 'body' && this.endedWhileHeld) this.onEnd(this.endedWhileHeld.error);
    else if (this.phase === 'body' && !this.paused) this.resume();
    return this.body.promise;
  }

  /** Stops the exchange (timeout, cancel, discard); a pending head or body fails with `reason`. */
  destroy(reason: FetchError | Error): void {
    this.fail(reason);
  }

  private onRead(data: Buffer): boolean {
    switch (this.phase) {
      case 'head':
        return this.onHead(data);
      case 'body':
        return this.onBody(data);
      case 'held': // a read already under way when we paused: keep it with the held bytes
        this.held = Buffer.concat([this.held ?? Buffer.alloc(0), data]);
        return false;
      default:
        return false;
    }
  }

  private onHead(data: Buffer): boolean {
    // The read buffer is reused: the head's bytes are copied, into a buffer that doubles when
    // full (a head trickling in a byte per read costs linear time, not quadratic).
    const seen = this.headLength;
    if (seen + data.length > this.headStore.length) {
      const grown = Buffer.allocUnsafe(Math.max(2 * this.headStore.length, seen + data.length, 4096));
      this.headStore.copy(grown, 0, 0, seen);
      this.headStore = grown;
    }
    data.copy(this.headStore, seen);
    this.headLength += data.length;
    let bytes = this.headStore.subarray(0, this.headLength);
    let scanned = seen;
    try {
      for (;;) {
        const parsed = parseResponseHead(bytes, scanned);
        if (!parsed) return true;
        const { head, consumed } = parsed;
        bytes = bytes.subarray(consumed);
        scanned = 0;
        if (head.status === 101) throw new HttpProtocolError('unexpected 101 Switching Protocols');
        if (head.status < 200) {
          // 100 Continue, 103 Early Hints: the final head follows.
          this.headStore = Buffer.from(bytes);
          this.headLength = bytes.length;
          bytes = this.headStore;
          continue;
        }
        const framing = bodyFraming(head);
        this.declaredLength = framing.kind === 'length' ? framing.length : undefined;
        this.decoder = bodyDecoder(framing);
        this.held = bytes;
        this.headStore = Buffer.alloc(0);
        this.headLength = 0;
        this.phase = 'held';
        this.disarm();
        this.head.resolve(head);
        return false; // wait for someone to ask for the body
      }
    } catch (err) {
      this.fail(protocolError(err));
      return false;
    }
  }

  private onBody(data: Buffer): boolean {
    const decoder = this.decoder!;
    const sink = this.sink!;
    let more = true;
    let used: number;
    try {
      used = decoder.feed(data, (chunk) => {
        if (!sink.write(chunk)) more = false;
      });
    } catch (err) {
      this.fail(protocolError(err));
      return false;
    }
    if (decoder.done) {
      // We asked for `Connection: close`: anything after the message is not part of it.
      if (used < data.length)
        this.fail(new FetchTransientError('length_mismatch', 'bytes after the declared end of the body'));
      else this.complete();
      return false;
    }
    if (!more) {
      this.paused = true;
      this.disarm();
      sink.drained().then(
        () => {
          this.paused = false;
          if (this.phase === 'body') this.resume();
        },
        (err: Error) => this.fail(err),
      );
      return false;
    }
    this.timer?.refresh();
    return true;
  }

  private resume(): void {
    this.arm(this.timeouts.bodyIdleTimeoutMs, () => {
      this.fail(new FetchTransientError('body_timeout', 'body stalled'));
    });
    this.socket?.resume();
  }

  /** The connection ended: cleanly (FIN) or with `error`. */
  private onEnd(error?: FetchError): void {
    if (this.phase === 'head' || this.phase === 'connecting') {
      this.fail(
        error ?? new FetchTransientError('connection_error', 'connection closed before a complete response'),
      );
    } else if (this.phase === 'held') {
      this.endedWhileHeld ??= { error };
    } else if (this.phase === 'body') {
      // (A framed body that is complete has completed already.) A body that ends when the
      // connection does is complete only on a clean end, not on a reset.
      const end = this.decoder!.end();
      if (!end.complete) this.fail(error ?? new FetchTransientError('truncated', end.detail));
      else if (error) this.fail(error);
      else this.complete();
    }
  }

  private complete(): void {
    this.phase = 'done';
    this.disarm();
    this.socket?.destroy();
    this.body.resolve();
  }

  private fail(err: unknown): void {
    if (this.phase === 'done' || this.phase === 'failed') return;
    const error = err instanceof Error ? err : new Error(String(err));
    this.phase = 'failed';
    this.disarm();
    this.socket?.destroy();
    this.head.reject(error);
    this.body.reject(error);
  }

  private arm(ms: number, onTimeout: () => void): void {
    this.disarm();
    this.timer = setTimeout(onTimeout, ms);
    this.timer.unref();
  }

  private disarm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
