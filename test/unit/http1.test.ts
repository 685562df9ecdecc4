// The HTTP/1.1 client under the guarded fetcher. Part 1: the head parser, the framing rules
// and the body decoders as pure functions, fed byte splits of every kind. Part 2: end to end
// through createGuardedFetcher against raw TCP servers that write exactly the bytes chosen
// here (framing, 1xx heads, resets, stalls), which node's own http server would not allow.
import { createHash } from 'node:crypto';
import net, { type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGuardedFetcher, type GuardedFetcherOptions } from '../../src/fetch/guarded-fetcher.ts';
import { type BodyDecoder, bodyDecoder } from '../../src/fetch/http1-body.ts';
import {
  type BodyFraming,
  bodyFraming,
  HttpProtocolError,
  MAX_HEAD_BYTES,
  parseResponseHead,
  type ResponseHead,
} from '../../src/fetch/http1-head.ts';
import type { ByteSink } from '../../src/lib/byte-sink.ts';
import { readAll, refused, transient } from '../helpers/fetch-results.ts';
import { mulberry32 } from '../helpers/prng.ts';

const bytes = (text: string) => Buffer.from(text, 'latin1');
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/** Deterministic floats in [0, 1): the same "random" splits on every run. */
function prng(seed: number): () => number {
  const next = mulberry32(seed);
  return () => next() / 4294967296;
}

/** Runs `fn`, which must throw an HttpProtocolError whose message matches. */
function expectProtocolError(fn: () => unknown, message: string | RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(HttpProtocolError);
  expect((caught as Error).message).toMatch(message);
}

/** A chunked body: `parts` as chunks (with an extension on each), then `trailer` lines. */
function chunked(parts: (string | Buffer)[], trailer = ''): Buffer {
  const out: Buffer[] = [];
  for (const part of parts) {
    const data = typeof part === 'string' ? bytes(part) : part;
    out.push(bytes(`${data.length.toString(16)};n=${out.length}\r\n`), data, bytes('\r\n'));
  }
  out.push(bytes(`0\r\n${trailer}\r\n`));
  return Buffer.concat(out);
}

// ---------------------------------------------------------------------------------------------
// Part 1: pure parsing and decoding
// ---------------------------------------------------------------------------------------------

describe('parseResponseHead: status line', () => {
  it.each([
    ['HTTP/1.1 200 OK\r\n\r\n', 200],
    ['HTTP/1.1 200\r\n\r\n', 200],
    ['HTTP/1.1 200 \r\n\r\n', 200],
    ['HTTP/1.0 404 Not Found\r\n\r\n', 404],
    ['HTTP/1.1 503 Service Unavailable, try\tlater\r\n\r\n', 503],
    ['HTTP/1.1 200 \xc7a va\r\n\r\n', 200],
    ['HTTP/1.1 100 Continue\r\n\r\n', 100],
    ['HTTP/1.1 599 Whatever\r\n\r\n', 599],
  ])('reads %j', (text, status) => {
    expect(parseResponseHead(bytes(text))).toEqual({ head: { status, headers: {} }, consumed: text.length });
  });

  it.each([
    'HTTP/1.1 200OK\r\n\r\n',
    'HTTP/1.1 2OO OK\r\n\r\n',
    'HTTP/1.1 20 OK\r\n\r\n',
    'HTTP/1.1 2000 OK\r\n\r\n',
    'HTTP/1.1 099 Low\r\n\r\n',
    'HTTP/1.1  200 OK\r\n\r\n',
    ' HTTP/1.1 200 OK\r\n\r\n',
    'HTTP/2 200 OK\r\n\r\n',
    'HTTP/1.2 200 OK\r\n\r\n',
    'HTTP/1 200 OK\r\n\r\n',
    'http/1.1 200 OK\r\n\r\n',
    'ICY 200 OK\r\n\r\n',
    'HTTP/1.1 200 O\x00K\r\n\r\n',
    'HTTP/1.1 200 OK\x7f\r\n\r\n',
    'HTTP/1.1 200 O\rK\r\n\r\n',
    '\r\n\r\n',
    '\n\nHTTP/1.1 200 OK\r\n\r\n',
    'content-length: 5\r\n\r\n',
  ])('refuses %j', (text) => {
    expectProtocolError(() => parseResponseHead(bytes(text)), 'malformed status line');
  });

  it('is undefined until the empty line arrives', () => {
    const text = 'HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n';
    for (let n = 0; n < text.length; n++) {
      expect(parseResponseHead(bytes(text.slice(0, n)))).toBeUndefined();
    }
    expect(parseResponseHead(bytes(text))?.consumed).toBe(text.length);
  });

  it.each([
    'HTTP/1.1 200 OK\r\ncontent-length: 5\r\nx: y\r\n\r\nhello',
    'HTTP/1.1 200 OK\ncontent-length: 5\n\nhello',
    'HTTP/1.1 200 OK\ncontent-length: 5\n\r\nhello',
  ])('resumes its scan where an earlier call stopped (%j arriving a byte at a time)', (text) => {
    const buf = bytes(text);
    const whole = parseResponseHead(buf);
    let found: ReturnType<typeof parseResponseHead>;
    for (let n = 1; n <= buf.length && !found; n++) found = parseResponseHead(buf.subarray(0, n), n - 1);
    expect(found).toEqual(whole);
    // Resuming after any earlier call that found no end (any length short of the head's).
    for (let seen = 0; seen < (whole?.consumed ?? 0); seen++)
      expect(parseResponseHead(buf, seen)).toEqual(whole);
  });

  it('consumes the head only: the rest is body (or the next head after a 1xx)', () => {
    const head = 'HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n';
    expect(parseResponseHead(bytes(`${head}hello\r\n\r\n`))).toEqual({
      head: { status: 200, headers: { 'content-length': '5' } },
      consumed: head.length,
    });
    const interim = 'HTTP/1.1 103 Early Hints\r\nlink: </a.css>; rel=preload\r\n\r\n';
    const both = bytes(`${interim}${head}hello`);
    const first = parseResponseHead(both);
    expect(first).toEqual({
      head: { status: 103, headers: { link: '</a.css>; rel=preload' } },
      consumed: interim.length,
    });
    expect(parseResponseHead(both.subarray(first?.consumed))?.head.status).toBe(200);
  });
});

describe('parseResponseHead: header fields', () => {
  it.each([
    ['CRLF', 'HTTP/1.1 200 OK\r\nA: 1\r\nB: two\r\n\r\n'],
    ['bare LF', 'HTTP/1.1 200 OK\nA: 1\nB: two\n\n'],
    ['mixed', 'HTTP/1.1 200 OK\r\nA: 1\nB: two\r\n\n'],
    ['LF then CRLF', 'HTTP/1.1 200 OK\nA: 1\r\nB: two\n\r\n'],
  ])('reads %s line ends', (_name, text) => {
    expect(parseResponseHead(bytes(`${text}body`))).toEqual({
      head: { status: 200, headers: { a: '1', b: 'two' } },
      consumed: text.length,
    });
  });

  it('lower-cases names, trims values, keeps tabs and latin1 inside, allows empty values', () => {
    const text =
      'HTTP/1.1 200 OK\r\nContent-Type:text/html\r\nX-Pad: \t spaced out \t \r\nX-Tab: a\tb\r\n' +
      "X-Empty:\r\nX-Latin: caf\xe9\r\nX~weird!#$%&'*+-.^_`|: ok\r\n\r\n";
    expect(parseResponseHead(bytes(text))?.head.headers).toEqual({
      'content-type': 'text/html',
      'x-pad': 'spaced out',
      'x-tab': 'a\tb',
      'x-empty': '',
      'x-latin': 'caf\xe9',
      "x~weird!#$%&'*+-.^_`|": 'ok',
    });
  });

  it("joins a repeated field's values with ', ' in order, whatever the case of its name", () => {
    const text =
      'HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nVary: accept\r\nset-cookie: b=2\r\nSET-COOKIE: c=3\r\n' +
      'vary: origin\r\n\r\n';
    expect(parseResponseHead(bytes(text))?.head.headers).toEqual({
      'set-cookie': 'a=1, b=2, c=3',
      vary: 'accept, origin',
    });
  });

  it.each([
    'HTTP/1.1 200 OK\r\nA: 1\r\n continued\r\n\r\n',
    'HTTP/1.1 200 OK\r\nA: 1\r\n\tcontinued\r\n\r\n',
    'HTTP/1.1 200 OK\n folded-first: x\n\n',
  ])('refuses obs-fold %j', (text) => {
    expectProtocolError(() => parseResponseHead(bytes(text)), 'folded header line (obs-fold)');
  });

  it.each([
    'Bad Name: x',
    'A : x',
    ': x',
    'NoColon',
    'A\x00: x',
    '(paren): x',
    'caf\xe9: x',
    '"q": x',
    'a/b: x',
  ])('refuses the field line %j', (line) => {
    expectProtocolError(
      () => parseResponseHead(bytes(`HTTP/1.1 200 OK\r\n${line}\r\n\r\n`)),
      'malformed header line',
    );
  });

  it.each(['x\x00y', 'x\x01', 'x\x1b[31m', 'x\x7f', 'x\ry'])(
    'refuses a control character in the value %j',
    (value) => {
      expectProtocolError(
        () => parseResponseHead(bytes(`HTTP/1.1 200 OK\r\nX-Bad: ${value}\r\n\r\n`)),
        'control character in header X-Bad',
      );
    },
  );

  it('refuses a head larger than MAX_HEAD_BYTES, complete or not', () => {
    const prefix = 'HTTP/1.1 200 OK\r\nx: ';
    const open = (length: number) => bytes(prefix + 'a'.repeat(length - prefix.length));
    expect(parseResponseHead(open(MAX_HEAD_BYTES))).toBeUndefined();
    expectProtocolError(() => parseResponseHead(open(MAX_HEAD_BYTES + 1)), 'response headers too large');
    expectProtocolError(() => parseResponseHead(open(4 * MAX_HEAD_BYTES)), 'response headers too large');

    const closed = (length: number) => bytes(`${prefix}${'a'.repeat(length - prefix.length - 4)}\r\n\r\n`);
    const exact = parseResponseHead(closed(MAX_HEAD_BYTES));
    expect(exact?.consumed).toBe(MAX_HEAD_BYTES);
    expect(exact?.head.headers.x).toHaveLength(MAX_HEAD_BYTES - prefix.length - 4);
    expectProtocolError(() => parseResponseHead(closed(MAX_HEAD_BYTES + 1)), 'response headers too large');
  });

  it('a small head followed by a body larger than MAX_HEAD_BYTES is fine', () => {
    const head = 'HTTP/1.1 200 OK\r\ncontent-length: 100000\r\n\r\n';
    const buf = Buffer.concat([bytes(head), Buffer.alloc(100_000, 0x41)]);
    expect(parseResponseHead(buf)?.consumed).toBe(head.length);
  });
});

describe('bodyFraming', () => {
  const framing = (status: number, headers: Record<string, string> = {}) => bodyFraming({ status, headers });
  const parsed = (text: string): ResponseHead => {
    const result = parseResponseHead(bytes(`HTTP/1.1 200 OK\r\n${text}\r\n\r\n`));
    if (!result) throw new Error('incomplete head');
    return result.head;
  };

  it('no length, no Transfer-Encoding: the body ends when the connection does', () => {
    expect(framing(200)).toEqual({ kind: 'close' });
    expect(framing(404, { 'content-type': 'text/plain' })).toEqual({ kind: 'close' });
  });

  it.each([
    ['5', 5],
    ['5, 5', 5],
    ['5,5', 5],
    ['5 ,  5 , 5', 5],
    ['0', 0],
    ['007', 7],
    ['999999999999999', 999999999999999],
  ])('Content-Length %j is %d bytes', (value, length) => {
    expect(framing(200, { 'content-length': value })).toEqual({ kind: 'length', length });
  });

  it('repeated Content-Length fields that agree are one length', () => {
    expect(bodyFraming(parsed('Content-Length: 5\r\ncontent-length: 5'))).toEqual({
      kind: 'length',
      length: 5,
    });
    expectProtocolError(
      () => bodyFraming(parsed('Content-Length: 5\r\ncontent-length: 6')),
      'invalid Content-Length',
    );
  });

  it.each(['5, 6', '-1', 'abc', '1e3', '', '+5', '0x10', '5.0', '5,', ',5', '5 5', '1000000000000000'])(
    'refuses Content-Length %j',
    (value) => {
      expectProtocolError(() => framing(200, { 'content-length': value }), 'invalid Content-Length');
    },
  );

  it.each(['chunked', 'Chunked', 'CHUNKED'])('Transfer-Encoding %j is chunked', (te) => {
    expect(framing(200, { 'transfer-encoding': te })).toEqual({ kind: 'chunked' });
  });

  it('refuses Transfer-Encoding beside Content-Length', () => {
    expectProtocolError(
      () => bodyFraming(parsed('Transfer-Encoding: chunked\r\nContent-Length: 5')),
      'both Transfer-Encoding and Content-Length',
    );
    expectProtocolError(
      () => framing(200, { 'content-length': '0', 'transfer-encoding': 'chunked' }),
      'both Transfer-Encoding and Content-Length',
    );
  });

  it.each(['gzip, chunked', 'chunked, gzip', 'chunked, chunked', 'identity', 'gzip', ''])(
    'refuses Transfer-Encoding %j',
    (te) => {
      expectProtocolError(() => framing(200, { 'transfer-encoding': te }), 'unsupported Transfer-Encoding');
    },
  );

  it('joined repeated Transfer-Encoding fields are refused too', () => {
    expectProtocolError(
      () => bodyFraming(parsed('Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked')),
      'unsupported Transfer-Encoding: gzip, chunked',
    );
  });

  it.each([100, 101, 103, 199, 204, 304])('status %d has no body whatever its headers say', (status) => {
    expect(framing(status)).toEqual({ kind: 'none' });
    expect(framing(status, { 'content-length': '5' })).toEqual({ kind: 'none' });
    expect(framing(status, { 'transfer-encoding': 'chunked' })).toEqual({ kind: 'none' });
  });
});

/** Feeds `input` cut at `cuts` (each piece a fresh buffer), as the exchange does. */
function decode(framing: BodyFraming, input: Buffer, cuts: number[] = []) {
  const decoder = bodyDecoder(framing);
  const out: Buffer[] = [];
  let consumed = 0;
  let at = 0;
  for (const cut of [...cuts, input.length]) {
    if (decoder.done) break;
    const piece = Buffer.alloc(cut - at);
    input.copy(piece, 0, at, cut);
    at = cut;
    const used = decoder.feed(piece, (view) => {
      // A view of what was fed, never empty, copied here (the producer reuses its buffer).
      expect(view.buffer).toBe(piece.buffer);
      expect(view.byteOffset).toBeGreaterThanOrEqual(piece.byteOffset);
      expect(view.byteOffset + view.length).toBeLessThanOrEqual(piece.byteOffset + piece.length);
      expect(view.length).toBeGreaterThan(0);
      out.push(Buffer.from(view));
    });
    if (used < piece.length) expect(decoder.done).toBe(true);
    consumed += used;
    piece.fill(0xee); // the next read overwrites the buffer: emitted bytes must be copies by now
  }
  return { body: Buffer.concat(out), consumed, done: decoder.done, decoder };
}

const CHUNKED_MESSAGE = bytes(
  '5;name=value\r\nhello\r\n' +
    '1a ; a=1;b="x;y\\"z"\r\nabcdefghijklmnopqrstuvwxyz\r\n' +
    '1\r\n\n\r\n' + // data that is a bare LF
    '2\n\r\n\n' + // data that is CRLF; bare-LF line ends around it
    '00C\r\n chunk data \r\n' +
    '0;last=yes\r\n' +
    'Trailer-One: 1\r\n' +
    'trailer-two: two\r\n' +
    '\r\n',
);
const CHUNKED_BODY = bytes('helloabcdefghijklmnopqrstuvwxyz\n\r\n chunk data ');
const AFTER = bytes('HTTP/1.1 200 OK\r\n\r\nnot part of it');
const CHUNKED_INPUT = Buffer.concat([CHUNKED_MESSAGE, AFTER]);

describe('bodyDecoder: chunked', () => {
  const expectDecoded = (result: ReturnType<typeof decode>) => {
    expect(result.body.toString('latin1')).toBe(CHUNKED_BODY.toString('latin1'));
    expect(result.consumed).toBe(CHUNKED_MESSAGE.length);
    expect(result.done).toBe(true);
    expect(result.decoder.end()).toEqual({ complete: true });
  };

  it('decodes a body with extensions and trailers fed whole, leaving what follows', () => {
    expectDecoded(decode({ kind: 'chunked' }, CHUNKED_INPUT));
    expectDecoded(decode({ kind: 'chunked' }, CHUNKED_MESSAGE));
  });

  it('decodes it fed one byte at a time', () => {
    const cuts = Array.from({ length: CHUNKED_INPUT.length - 1 }, (_, i) => i + 1);
    expectDecoded(decode({ kind: 'chunked' }, CHUNKED_INPUT, cuts));
  });

  it('decodes it split at every single point', () => {
    for (let cut = 0; cut <= CHUNKED_INPUT.length; cut++) {
      expectDecoded(decode({ kind: 'chunked' }, CHUNKED_INPUT, [cut]));
    }
  });

  it('decodes it split at random points (seeded), empty pieces included', () => {
    const random = prng(0x5eed);
    for (let run = 0; run < 500; run++) {
      const count = 1 + Math.floor(random() * 30);
      const cuts = Array.from({ length: count }, () => Math.floor(random() * (CHUNKED_INPUT.length + 1)));
      cuts.sort((a, b) => a - b);
      expectDecoded(decode({ kind: 'chunked' }, CHUNKED_INPUT, cuts));
    }
  });

  it('a feed that ends the body returns where it ended; later feeds take nothing', () => {
    const decoder = bodyDecoder({ kind: 'chunked' });
    const emitted: string[] = [];
    const emit = (view: Buffer) => emitted.push(view.toString('latin1'));
    expect(decoder.feed(bytes('3\r\nab'), emit)).toBe(5);
    expect(decoder.feed(Buffer.alloc(0), emit)).toBe(0);
    expect(decoder.feed(bytes('c\r\n0\r\n\r\nextra'), emit)).toBe(8);
    expect(decoder.done).toBe(true);
    expect(decoder.feed(bytes('more'), emit)).toBe(0);
    expect(emitted).toEqual(['ab', 'c']);
  });

  it('end() is incomplete for every strict prefix of the message, complete for all of it', () => {
    for (let n = 0; n < CHUNKED_MESSAGE.length; n++) {
      const result = decode({ kind: 'chunked' }, CHUNKED_MESSAGE.subarray(0, n));
      expect(result.done).toBe(false);
      expect(result.consumed).toBe(n);
      expect(result.decoder.end()).toEqual({
        complete: false,
        detail: 'connection closed inside a chunked body',
      });
    }
    expect(decode({ kind: 'chunked' }, CHUNKED_MESSAGE).decoder.end()).toEqual({ complete: true });
  });

  it.each([
    ['x\r\n', 'malformed chunk size'],
    ['\r\n', 'malformed chunk size'],
    [';ext\r\n', 'malformed chunk size'],
    ['-1\r\n', 'malformed chunk size'],
    ['+5\r\nhello\r\n', 'malformed chunk size'],
    ['0x5\r\nhello\r\n', 'malformed chunk size'],
    ['1 2\r\n', 'malformed chunk size'],
    ['5.0\r\n', 'malformed chunk size'],
    ['1000000000000\r\n', 'malformed chunk size'],
    ['5\r\nhello\r\nzz\r\n', 'malformed chunk size'],
    ['5\r\nhello!\r\n0\r\n\r\n', 'chunk data longer than its size'],
    ['5\r\nhello world\r\n0\r\n\r\n', 'chunk data longer than its size'],
    ['5\r\nhelloX\r\n', 'chunk data longer than its size'],
    [`1;${'e'.repeat(5000)}\r\nx\r\n0\r\n\r\n`, 'chunk line or trailers too long'],
    [`1;${'e'.repeat(5000)}`, 'chunk line or trailers too long'],
    [`${'0'.repeat(5000)}1\r\nx\r\n`, 'chunk line or trailers too long'],
    [`1\r\nx${' '.repeat(5000)}\r\n`, 'chunk line or trailers too long'],
    [`0\r\nX-Long: ${'t'.repeat(5000)}\r\n\r\n`, 'chunk line or trailers too long'],
    [`0\r\n${`X-T: ${'t'.repeat(1000)}\r\n`.repeat(17)}\r\n`, 'chunk line or trailers too long'],
  ])('refuses %j', (text, message) => {
    const input = bytes(text);
    expectProtocolError(() => decode({ kind: 'chunked' }, input), message);
    const everyByte = Array.from({ length: input.length - 1 }, (_, i) => i + 1);
    expectProtocolError(() => decode({ kind: 'chunked' }, input, everyByte), message);
  });

  it('accepts size lines, chunk extensions and trailers below the limits', () => {
    const trailers = `X-T: ${'t'.repeat(1000)}\r\n`.repeat(15); // 15 KiB of trailers
    const input = bytes(`0000000A;${'e'.repeat(4000)}\r\n0123456789\r\n0\r\n${trailers}\r\n`);
    const whole = decode({ kind: 'chunked' }, input);
    expect(whole.body.toString()).toBe('0123456789');
    expect(whole.consumed).toBe(input.length);
    expect(whole.done).toBe(true);
  });

  // BUG (src/fetch/http1-body.ts, ChunkedDecoder.feed): trailer bytes are counted as
  // `stop - at + 1` even when the feed ended without an LF, so every read that splits a
  // trailer line adds one byte that does not exist. 15 KiB of trailers pass when read whole
  // and are refused when they trickle in a byte at a time. `it.fails` documents it: drop
  // `.fails` once the count is `(lf === -1 ? stop : lf + 1) - at`.
  it('the trailer limit counts bytes, not reads', () => {
    const trailers = `X-T: ${'t'.repeat(1000)}\r\n`.repeat(15);
    const input = bytes(`1\r\nx\r\n0\r\n${trailers}\r\n`);
    const everyByte = Array.from({ length: input.length - 1 }, (_, i) => i + 1);
    const split = decode({ kind: 'chunked' }, input, everyByte);
    expect(split.done).toBe(true);
    expect(split.consumed).toBe(input.length);
  });
});

describe('bodyDecoder: length, close, none', () => {
  it('a length body takes exactly its length, whatever the splits', () => {
    const input = bytes('hello worldHTTP/1.1');
    const random = prng(7);
    for (let run = 0; run < 200; run++) {
      const cuts = Array.from({ length: 1 + Math.floor(random() * 8) }, () =>
        Math.floor(random() * (input.length + 1)),
      ).sort((a, b) => a - b);
      const result = decode({ kind: 'length', length: 11 }, input, cuts);
      expect(result.body.toString()).toBe('hello world');
      expect(result.consumed).toBe(11);
      expect(result.done).toBe(true);
      expect(result.decoder.end()).toEqual({ complete: true });
    }
  });

  it('a fed buffer that is all body is emitted as it is', () => {
    const decoder = bodyDecoder({ kind: 'length', length: 10 });
    const data = bytes('hello');
    const emitted: Buffer[] = [];
    expect(decoder.feed(data, (view) => emitted.push(view))).toBe(5);
    expect(emitted).toHaveLength(1);
    expect(emitted[0]?.buffer).toBe(data.buffer);
    expect(emitted[0]?.byteOffset).toBe(data.byteOffset);
  });

  it('end() reports a truncated length body', () => {
    const short = decode({ kind: 'length', length: 5 }, bytes('hel'));
    expect(short.done).toBe(false);
    expect(short.consumed).toBe(3);
    expect(short.decoder.end()).toEqual({
      complete: false,
      detail: 'body of 3 bytes, Content-Length said 5',
    });
    expect(decode({ kind: 'length', length: 5 }, Buffer.alloc(0)).decoder.end()).toEqual({
      complete: false,
      detail: 'body of 0 bytes, Content-Length said 5',
    });
  });

  it('a zero length body is done before any byte', () => {
    const decoder = bodyDecoder({ kind: 'length', length: 0 });
    expect(decoder.done).toBe(true);
    let calls = 0;
    expect(decoder.feed(bytes('x'), () => calls++)).toBe(0);
    expect(calls).toBe(0);
    expect(decoder.end()).toEqual({ complete: true });
  });

  it('a close-delimited body takes everything and is complete at the end', () => {
    const input = bytes('anything\r\n0\r\n\r\nat all');
    const result = decode({ kind: 'close' }, input, [3, 3, 9, 15]);
    expect(result.body.toString()).toBe(input.toString());
    expect(result.consumed).toBe(input.length);
    expect(result.done).toBe(false);
    expect(result.decoder.end()).toEqual({ complete: true });
  });

  it('no body: done at once, takes nothing', () => {
    const decoder = bodyDecoder({ kind: 'none' });
    expect(decoder.done).toBe(true);
    let calls = 0;
    expect(decoder.feed(bytes('HTTP/1.1 200 OK'), () => calls++)).toBe(0);
    expect(calls).toBe(0);
    expect(decoder.end()).toEqual({ complete: true });
  });

  it('decoders are independent objects', () => {
    const a: BodyDecoder = bodyDecoder({ kind: 'chunked' });
    const b: BodyDecoder = bodyDecoder({ kind: 'chunked' });
    a.feed(bytes('3\r\nab'), () => {});
    expect(b.feed(bytes('1\r\nz\r\n0\r\n\r\n'), () => {})).toBe(11);
    expect(b.done).toBe(true);
    expect(a.done).toBe(false);
  });
});

// ---------------------------------------------------------------------------------------------
// Part 2: end to end against raw TCP servers
// ---------------------------------------------------------------------------------------------

type Route = (socket: net.Socket) => void | Promise<void>;

interface RawServer {
  port: number;
  url(path: string): string;
  requests: string[];
  close(): Promise<void>;
}

/** Reads each request head, then hands the socket to the route named by its path. */
async function startRawServer(routes: Record<string, Route>): Promise<RawServer> {
  const sockets = new Set<net.Socket>();
  const raw: RawServer = {
    port: 0,
    requests: [],
    url: (path) => `http://127.0.0.1:${raw.port}${path}`,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.setNoDelay(true);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
    let request = '';
    const onData = (data: Buffer) => {
      request += data.toString('latin1');
      if (!request.includes('\r\n\r\n')) return;
      socket.off('data', onData);
      raw.requests.push(request);
      const path = /^GET (\S+) HTTP\/1\.1\r\n/.exec(request)?.[1] ?? '';
      const route =
        routes[path] ?? ((s: net.Socket) => void s.end('HTTP/1.1 404 Nope\r\ncontent-length: 0\r\n\r\n'));
      Promise.resolve(route(socket)).catch(() => socket.destroy());
    };
    socket.on('data', onData);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  raw.port = (server.address() as AddressInfo).port;
  return raw;
}

/** Writes `data` in pieces of `size()` bytes, `gapMs` apart. */
async function trickle(socket: net.Socket, data: Buffer, size: () => number, gapMs: number): Promise<void> {
  for (let at = 0; at < data.length && !socket.destroyed; ) {
    const n = Math.max(1, Math.min(size(), data.length - at));
    socket.write(data.subarray(at, at + n));
    at += n;
    await sleep(gapMs);
  }
}

/** Writes `data`; once the kernel has it, resets the connection (RST, no FIN). */
const writeThenReset = (socket: net.Socket, data: Buffer | string) =>
  socket.write(data, () => socket.resetAndDestroy());

const HEAD_CHUNKED = 'HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\n\r\n';
const TRICKLE_PARTS = Array.from({ length: 24 }, (_, i) => `part ${i}: ${'#'.repeat(i * 3)};`);
const TRICKLE_BODY = TRICKLE_PARTS.join('');

/** 6 MiB of seeded noise, framed as chunks of irregular sizes. */
const BIG_BODY = (() => {
  const random = prng(2024);
  const words = new Uint32Array((6 << 20) / 4);
  for (let i = 0; i < words.length; i++) words[i] = Math.floor(random() * 0x100000000);
  return Buffer.from(words.buffer);
})();
const BIG_FRAMED = (() => {
  const random = prng(99);
  const parts: Buffer[] = [];
  for (let at = 0; at < BIG_BODY.length; ) {
    const n = Math.min(1 + Math.floor(random() * 150_000), BIG_BODY.length - at);
    parts.push(BIG_BODY.subarray(at, at + n));
    at += n;
  }
  return Buffer.concat([bytes(HEAD_CHUNKED), chunked(parts)]);
})();

const BAD_HEADS: Record<string, [string, string]> = {
  'status-line': ['HTTP/1.1 2OO OK\r\ncontent-length: 2\r\n\r\nok', 'malformed status line'],
  'not-http': ['ICY 200 OK\r\n\r\nnoise', 'malformed status line'],
  '101': [
    'HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n',
    'unexpected 101 Switching Protocols',
  ],
  'te-and-cl': [
    'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-length: 5\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
    'both Transfer-Encoding and Content-Length',
  ],
  'te-gzip-chunked': [
    'HTTP/1.1 200 OK\r\ntransfer-encoding: gzip, chunked\r\n\r\n0\r\n\r\n',
    'unsupported Transfer-Encoding: gzip, chunked',
  ],
  'two-lengths': [
    'HTTP/1.1 200 OK\r\ncontent-length: 5\r\ncontent-length: 6\r\n\r\nhello!',
    'invalid Content-Length',
  ],
  'obs-fold': [
    'HTTP/1.1 200 OK\r\nx-a: 1\r\n  folded\r\ncontent-length: 0\r\n\r\n',
    'folded header line (obs-fold)',
  ],
  'space-before-colon': [
    'HTTP/1.1 200 OK\r\ncontent-length : 0\r\ncontent-length: 2\r\n\r\nok',
    'malformed header line',
  ],
  'head-too-large': [
    `HTTP/1.1 200 OK\r\n${`x-filler: ${'f'.repeat(1000)}\r\n`.repeat(70)}\r\n`,
    'response headers too large',
  ],
  'interim-then-101': [
    'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 101 Switching Protocols\r\n\r\n',
    'unexpected 101 Switching Protocols',
  ],
};

const routes: Record<string, Route> = {
  '/hello': (s) => void s.end('HTTP/1.1 200 OK\r\ncontent-length: 11\r\n\r\nhello world'),
  '/trickle-chunked': async (s) => {
    const random = prng(3);
    await trickle(s, bytes(HEAD_CHUNKED), () => 1 + Math.floor(random() * 20), 2);
    await trickle(s, chunked(TRICKLE_PARTS, 'x-checksum: none\r\n'), () => 1 + Math.floor(random() * 15), 2);
    s.end();
  },
  '/interim-separate': async (s) => {
    s.write('HTTP/1.1 100 Continue\r\n\r\n');
    await sleep(20);
    s.write('HTTP/1.1 103 Early Hints\r\nlink: </style.css>; rel=preload\r\n\r\n');
    await sleep(20);
    s.write('HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 10\r\n\r\nfinal');
    await sleep(20);
    s.end('body!');
  },
  '/interim-together': (s) =>
    void s.end(
      'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\nlink: </a.js>\n\n' +
        'HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nfinalbody!',
    ),
  '/close-delimited': async (s) => {
    s.write('HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\nfirst;');
    await sleep(20);
    s.write('second;');
    await sleep(20);
    s.end('third');
  },
  '/close-delimited-reset': async (s) => {
    s.write('HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\nfirst;');
    await sleep(20);
    s.write('second;');
    await sleep(30);
    s.resetAndDestroy();
  },
  '/first-packet/length-reset': (s) =>
    void writeThenReset(s, 'HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello'),
  '/first-packet/chunked-reset': (s) =>
    void writeThenReset(s, Buffer.concat([bytes(HEAD_CHUNKED), chunked(['hel', 'lo'], 'x-t: 1\r\n')])),
  '/first-packet/close-destroy': (s) =>
    void s.write('HTTP/1.1 200 OK\r\nx-a: 1\r\n\r\nhello', () => s.destroy()),
  '/first-packet/close-reset': (s) => void writeThenReset(s, 'HTTP/1.1 200 OK\r\nx-a: 1\r\n\r\nhello'),
  '/extra-after-length': async (s) => {
    s.write('HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n');
    await sleep(20);
    s.end('hello, world');
  },
  '/extra-after-chunked': (s) =>
    void s.end(Buffer.concat([bytes(HEAD_CHUNKED), chunked(['hello']), bytes('HTTP/1.1 200 OK\r\n\r\n')])),
  '/chunked-cut': async (s) => {
    s.write(`${HEAD_CHUNKED}5\r\nhello\r\n8\r\nhal`);
    await sleep(20);
    s.end();
  },
  '/chunked-bad-size': (s) => void s.end(`${HEAD_CHUNKED}5\r\nhello\r\nzz\r\nnope\r\n0\r\n\r\n`),
  '/head-cut': (s) => void s.end('HTTP/1.1 200 OK\r\ncontent-le'),
  '/stall': (s) => void s.write('HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc'),
  '/slow-length': async (s) => {
    s.write('HTTP/1.1 200 OK\r\ncontent-length: 20\r\n\r\n');
    for (const piece of ['aaaaa', 'bbbbb', 'ccccc', 'ddddd']) {
      await sleep(10);
      s.write(piece);
    }
  },
  '/big': (s) => void s.end(BIG_FRAMED),
};
for (const [name, [text]] of Object.entries(BAD_HEADS)) routes[`/bad/${name}`] = (s) => void s.end(text);

let raw: RawServer;

beforeAll(async () => {
  raw = await startRawServer(routes);
});

afterAll(async () => {
  await raw.close();
});

function makeFetcher(overrides: Partial<GuardedFetcherOptions> = {}) {
  return createGuardedFetcher({
    allowlist: [`127.0.0.1:${raw.port}`],
    maxBytes: 1 << 20,
    connectTimeoutMs: 1000,
    headersTimeoutMs: 1000,
    totalTimeoutMs: 5000,
    userAgent: 'claimtrail-test/1',
    ...overrides,
  });
}

describe('http/1.1 end to end: framing', () => {
  it('reads a chunked body that arrives in many small, delayed writes', async () => {
    // Longer in total than the idle timeout: only the gaps between reads count.
    const res = await makeFetcher({ headersTimeoutMs: 250 }).fetch(raw.url('/trickle-chunked'));
    expect(res.status).toBe(200);
    expect(res.headers).toEqual({ 'content-type': 'text/plain', 'transfer-encoding': 'chunked' });
    expect(res.contentLength).toBeUndefined();
    expect((await readAll(res)).toString()).toBe(TRICKLE_BODY);
    expect(raw.requests.at(-1)).toMatch(/^GET \/trickle-chunked HTTP\/1\.1\r\nhost: 127\.0\.0\.1:\d+\r\n/);
  });

  it.each([
    ['/interim-separate', { 'content-type': 'text/plain', 'content-length': '10' }, 'finalbody!'],
    ['/interim-together', { 'content-length': '10' }, 'finalbody!'],
  ])('skips 100 Continue and 103 Early Hints before the final head (%s)', async (path, headers, body) => {
    const res = await makeFetcher().fetch(raw.url(path));
    expect(res.status).toBe(200);
    expect(res.headers).toEqual(headers);
    expect(res.contentLength).toBe(10);
    expect((await readAll(res)).toString()).toBe(body);
  });

  it.each(Object.entries(BAD_HEADS))(
    'refuses a malformed head as bad_response (%s)',
    async (name, [, why]) => {
      await refused(
        makeFetcher().fetch(raw.url(`/bad/${name}`)),
        'bad_response',
        `malformed HTTP response (${why})`,
      );
    },
  );

  it('refuses a malformed chunk size while reading the body as bad_response', async () => {
    const res = await makeFetcher().fetch(raw.url('/chunked-bad-size'));
    expect(res.status).toBe(200);
    await refused(readAll(res), 'bad_response', 'malformed HTTP response (malformed chunk size)');
  });

  it('a head cut short by the server closing is a connection error', async () => {
    await transient(
      makeFetcher().fetch(raw.url('/head-cut')),
      'connection_error',
      'connection closed before a complete response',
    );
  });

  it('a close-delimited body is complete when the server closes cleanly', async () => {
    const res = await makeFetcher().fetch(raw.url('/close-delimited'));
    expect(res.contentLength).toBeUndefined();
    expect((await readAll(res)).toString()).toBe('first;second;third');
  });

  it('a close-delimited body ended by a reset is truncated', async () => {
    const res = await makeFetcher().fetch(raw.url('/close-delimited-reset'));
    await transient(readAll(res), 'truncated', /ECONNRESET/);
  });

  it.each([
    ['/first-packet/length-reset', 'hello'],
    ['/first-packet/chunked-reset', 'hello'],
    ['/first-packet/close-destroy', 'hello'],
  ])('a complete response in the first packet survives the server going away (%s)', async (path, body) => {
    const res = await makeFetcher().fetch(raw.url(path));
    await sleep(50); // the FIN or RST is surely there before the body is read
    expect((await readAll(res)).toString()).toBe(body);
  });

  it('a close-delimited body in the first packet then a reset is still truncated', async () => {
    const res = await makeFetcher().fetch(raw.url('/first-packet/close-reset'));
    await sleep(50);
    await transient(readAll(res), 'truncated', /ECONNRESET/);
  });

  it('bytes after a Content-Length body are a length mismatch', async () => {
    const res = await makeFetcher().fetch(raw.url('/extra-after-length'));
    expect(res.contentLength).toBe(5);
    await transient(readAll(res), 'length_mismatch', 'bytes after the declared end of the body');
  });

  it('bytes after the last chunk are a length mismatch', async () => {
    const res = await makeFetcher().fetch(raw.url('/extra-after-chunked'));
    await transient(readAll(res), 'length_mismatch', 'bytes after the declared end of the body');
  });

  it('a chunked body whose connection closes mid-chunk is truncated', async () => {
    const res = await makeFetcher().fetch(raw.url('/chunked-cut'));
    const seen: string[] = [];
    await transient(
      (async () => {
        for await (const chunk of res.body) seen.push(chunk.toString());
      })(),
      'truncated',
      'connection closed inside a chunked body',
    );
    expect(seen.join('')).toBe('hellohal');
  });

  it('a body that stalls longer than the idle timeout is a body timeout', async () => {
    const fetcher = makeFetcher({ headersTimeoutMs: 150, totalTimeoutMs: 5000 });
    const res = await fetcher.fetch(raw.url('/stall'));
    const started = Date.now();
    await transient(readAll(res), 'body_timeout', 'body stalled');
    const waited = Date.now() - started;
    expect(waited).toBeGreaterThanOrEqual(140);
    expect(waited).toBeLessThan(2000);
  });
});

describe('http/1.1 end to end: pushing the body', () => {
  /** Copies every chunk; says "full" every `every` writes and drains after `drainMs`. */
  function slowSink(every: number, drainMs: number) {
    const state = {
      parts: [] as Buffer[],
      writes: 0,
      pauses: 0,
      writesWhileWaiting: 0,
      arrayBuffers: new Set<ArrayBufferLike>(),
      waiting: false,
    };
    const sink: ByteSink = {
      write(chunk) {
        if (state.waiting) state.writesWhileWaiting += 1;
        state.writes += 1;
        state.arrayBuffers.add(chunk.buffer);
        state.parts.push(Buffer.from(chunk)); // a view of a reused read buffer: copy it
        if (state.writes % every !== 0) return true;
        state.pauses += 1;
        return false;
      },
      drained() {
        state.waiting = true;
        return new Promise((resolve) =>
          setTimeout(() => {
            state.waiting = false;
            resolve();
          }, drainMs),
        );
      },
    };
    return { sink, state };
  }

  const bigFetcher = () => makeFetcher({ maxBytes: 64 << 20, totalTimeoutMs: 20_000 });

  it('pipeTo delivers a multi-megabyte body in order through a sink that keeps pausing', async () => {
    const res = await bigFetcher().fetch(raw.url('/big'));
    const { sink, state } = slowSink(3, 1);
    await res.pipeTo(sink);
    const received = Buffer.concat(state.parts);
    expect(received.length).toBe(BIG_BODY.length);
    expect(sha256(received)).toBe(sha256(BIG_BODY));
    expect(state.pauses).toBeGreaterThan(2);
    // Once the producer waits for drained(), it writes nothing until it resolves.
    expect(state.writesWhileWaiting).toBe(0);
    // The chunks are views of the socket's reused read buffer, not one allocation per read.
    expect(state.arrayBuffers.size).toBeLessThan(state.writes);
  });

  it('the body iterator yields the same bytes, as chunks the reader owns', async () => {
    const res = await bigFetcher().fetch(raw.url('/big'));
    const kept: Buffer[] = [];
    for await (const chunk of res.body) kept.push(chunk); // no copy: they must be ours
    const received = Buffer.concat(kept);
    expect(received.length).toBe(BIG_BODY.length);
    expect(sha256(received)).toBe(sha256(BIG_BODY));
  });

  it('pauses the sink asks for do not count toward the idle timeout', async () => {
    const res = await makeFetcher({ headersTimeoutMs: 150 }).fetch(raw.url('/slow-length'));
    const { sink, state } = slowSink(1, 400);
    await res.pipeTo(sink);
    expect(Buffer.concat(state.parts).toString()).toBe('aaaaabbbbbcccccddddd');
    expect(state.writesWhileWaiting).toBe(0);
  });

  it('a body is read once: pipeTo after body, or body after pipeTo, fails', async () => {
    const first = await makeFetcher().fetch(raw.url('/hello'));
    expect((await readAll(first)).toString()).toBe('hello world');
    await transient(
      first.pipeTo(slowSink(1, 1).sink),
      'aborted',
      'response body was already read or discarded',
    );

    const second = await makeFetcher().fetch(raw.url('/hello'));
    const { sink, state } = slowSink(100, 1);
    await second.pipeTo(sink);
    expect(Buffer.concat(state.parts).toString()).toBe('hello world');
    await transient(readAll(second), 'aborted', 'response body was already read or discarded');
    await transient(second.pipeTo(sink), 'aborted');
  });
});
