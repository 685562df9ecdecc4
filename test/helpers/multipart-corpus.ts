// A seeded corpus of broken multipart/form-data upload bodies: valid bodies cut at many
// points, random byte flips, wrong or absent boundaries, other field names, several files,
// huge and junk part headers, many parts, empty and too-large files, random bytes, and
// clients that go away mid-body. The same seed gives the same corpus on every run.

/** One request: the Content-Type to send (null: none), the body, and maybe where to abort. */
export interface Hostile {
  what: string;
  contentType: string | null;
  body: Buffer;
  /** Send only this many body bytes, then close the socket. */
  abortAfter?: number;
}

type Rng = () => number;

const int = (rng: Rng, n: number) => rng() % n;
const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[int(rng, xs.length)]!;

function bytes(rng: Rng, n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = rng() & 0xff;
  return b;
}

/** A boundary that cannot occur in data made of printable ASCII without this prefix. */
const boundaryOf = (rng: Rng) => `ctfuzz${rng().toString(36)}${rng().toString(36)}`;

/** Data unique to this case (so equal bytes never make two cases one item by accident). */
const dataOf = (rng: Rng, size: number) =>
  Buffer.concat([Buffer.from(`case-${rng().toString(36)}-`), bytes(rng, Math.max(0, size))]);

interface PartSpec {
  name: string;
  filename?: string;
  type?: string;
  data: Buffer;
  extraHeaders?: string[];
}

function part(boundary: string, p: PartSpec): Buffer {
  const disposition = `Content-Disposition: form-data; name="${p.name}"${
    p.filename === undefined ? '' : `; filename="${p.filename}"`
  }`;
  const headers = [disposition, ...(p.type ? [`Content-Type: ${p.type}`] : []), ...(p.extraHeaders ?? [])];
  return Buffer.concat([Buffer.from(`--${boundary}\r\n${headers.join('\r\n')}\r\n\r\n`, 'latin1'), p.data]);
}

function multipart(boundary: string, parts: PartSpec[], opts: { preamble?: Buffer; epilogue?: Buffer } = {}) {
  const chunks: Buffer[] = [];
  if (opts.preamble) chunks.push(opts.preamble, Buffer.from('\r\n'));
  parts.forEach((p, i) => {
    if (i > 0) chunks.push(Buffer.from('\r\n'));
    chunks.push(part(boundary, p));
  });
  chunks.push(Buffer.from(`\r\n--${boundary}--\r\n`));
  if (opts.epilogue) chunks.push(opts.epilogue);
  return Buffer.concat(chunks);
}

const ct = (boundary: string) => `multipart/form-data; boundary=${boundary}`;

/** A well-formed upload of one `file` part. */
export function validBody(rng: Rng, opts: { size?: number; data?: Buffer } = {}) {
  const boundary = boundaryOf(rng);
  const data = opts.data ?? dataOf(rng, opts.size ?? 1 + int(rng, 2000));
  return {
    contentType: ct(boundary),
    body: multipart(boundary, [{ name: 'file', filename: 'f.bin', type: 'application/octet-stream', data }]),
  };
}

const OTHER_NAMES = ['other', 'files', 'file[]', 'FILE', '', 'file ', 'document'];

export function buildCorpus(rng: Rng, opts: { maxBytes: number }): Hostile[] {
  const out: Hostile[] = [];
  const add = (what: string, contentType: string | null, body: Buffer, abortAfter?: number) =>
    out.push({ what, contentType, body, ...(abortAfter === undefined ? {} : { abortAfter }) });

  // 1. One valid body cut at every point of its head and its end, and at random points.
  {
    const { body, contentType } = validBody(rng, { size: 300 });
    const headEnd = body.indexOf('\r\n\r\n') + 4;
    for (let cut = 0; cut <= headEnd; cut++)
      add(`truncated at ${cut} (head)`, contentType, body.subarray(0, cut));
    // The closing delimiter `\r\n--B--\r\n`: every cut inside it but the last CRLF (optional).
    const close = body.lastIndexOf('\r\n--');
    for (let cut = close - 2; cut < body.length - 2; cut++)
      add(`truncated at ${cut} (closing delimiter)`, contentType, body.subarray(0, cut));
  }
  for (let i = 0; i < 40; i++) {
    const { body, contentType } = validBody(rng);
    const cut = int(rng, body.length - 2);
    add(`truncated at ${cut} of ${body.length}`, contentType, body.subarray(0, cut));
  }

  // 2. Random byte flips anywhere (some leave a well-formed upload: that is allowed).
  for (let i = 0; i < 40; i++) {
    const { body, contentType } = validBody(rng, { size: 200 });
    const flipped = Buffer.from(body);
    const n = 1 + int(rng, 4);
    for (let k = 0; k < n; k++) flipped[int(rng, flipped.length)] = rng() & 0xff;
    add(`${n} byte flips`, contentType, flipped);
  }

  // 3. Wrong, absent or malformed boundaries.
  {
    const { body } = validBody(rng);
    for (const contentType of [
      'multipart/form-data',
      'multipart/form-data; boundary=',
      'multipart/form-data; boundary=not-the-one',
      'multipart/form-data; boundary="unterminated',
      `multipart/form-data; boundary=${'b'.repeat(200)}`,
      'multipart/form-data; charset=utf-8',
      'multipart/form-data; boundary=a; boundary=b',
    ])
      add(`content type ${contentType.slice(0, 60)}`, contentType, body);
  }

  // 4. Other field names, whole and cut short (the second reproduction).
  for (const name of OTHER_NAMES) {
    const boundary = boundaryOf(rng);
    const body = multipart(boundary, [{ name, filename: 'a', data: dataOf(rng, 100) }]);
    add(`part named ${JSON.stringify(name)}`, ct(boundary), body);
    add(`part named ${JSON.stringify(name)}, cut short`, ct(boundary), body.subarray(0, body.length - 20));
  }

  // 5. Several files and fields, before and after the file, whole and cut short.
  for (let i = 0; i < 12; i++) {
    const boundary = boundaryOf(rng);
    const parts: PartSpec[] = [];
    const n = 2 + int(rng, 3);
    for (let k = 0; k < n; k++) {
      const isFile = rng() % 3 !== 0;
      parts.push({
        name: pick(rng, ['file', 'file', 'other', 'note']),
        ...(isFile ? { filename: `f${k}.bin` } : {}),
        data: dataOf(rng, int(rng, 300)),
      });
    }
    const body = multipart(boundary, parts);
    add(`${n} parts`, ct(boundary), body);
    add(`${n} parts, cut short`, ct(boundary), body.subarray(0, int(rng, body.length)));
  }

  // 6. Huge and junk part headers.
  {
    const boundary = boundaryOf(rng);
    const data = dataOf(rng, 50);
    add(
      'one 100 KiB header line',
      ct(boundary),
      multipart(boundary, [
        { name: 'file', filename: 'a', data, extraHeaders: [`X-Junk: ${'j'.repeat(100_000)}`] },
      ]),
    );
    add(
      '3,000 header lines',
      ct(boundary),
      multipart(boundary, [
        {
          name: 'file',
          filename: 'a',
          data,
          extraHeaders: Array.from({ length: 3_000 }, (_, i) => `X-H${i}: v`),
        },
      ]),
    );
    add(
      'a 70 KiB file name',
      ct(boundary),
      multipart(boundary, [{ name: 'file', filename: 'n'.repeat(70_000), data }]),
    );
    add(
      'a header line without a colon',
      ct(boundary),
      multipart(boundary, [{ name: 'file', filename: 'a', data, extraHeaders: ['no colon here'] }]),
    );
    add(
      'no Content-Disposition',
      ct(boundary),
      Buffer.from(`--${boundary}\r\nContent-Type: text/plain\r\n\r\nabc\r\n--${boundary}--\r\n`),
    );
    for (let i = 0; i < 10; i++) {
      const junk = bytes(rng, 1 + int(rng, 400));
      add(
        'random bytes as part headers',
        ct(boundary),
        Buffer.concat([
          Buffer.from(`--${boundary}\r\n`),
          junk,
          Buffer.from(`\r\n\r\nabc\r\n--${boundary}--\r\n`),
        ]),
      );
    }
  }

  // 7. Many parts.
  {
    const boundary = boundaryOf(rng);
    const fields = Array.from({ length: 2_000 }, (_, i) => ({ name: `f${i}`, data: Buffer.from('x') }));
    add(
      '2,000 fields then a file',
      ct(boundary),
      multipart(boundary, [...fields, { name: 'file', filename: 'a', data: dataOf(rng, 10) }]),
    );
    add(
      'a file then 2,000 fields',
      ct(boundary),
      multipart(boundary, [{ name: 'file', filename: 'a', data: dataOf(rng, 10) }, ...fields]),
    );
    const files = Array.from({ length: 500 }, (_, i) => ({
      name: 'file',
      filename: `${i}`,
      data: dataOf(rng, 5),
    }));
    add('500 files', ct(boundary), multipart(boundary, files));
  }

  // 8. Empty, missing and too large files.
  {
    const boundary = boundaryOf(rng);
    add(
      'an empty file',
      ct(boundary),
      multipart(boundary, [{ name: 'file', filename: 'a', data: Buffer.alloc(0) }]),
    );
    add('only the closing delimiter', ct(boundary), Buffer.from(`--${boundary}--\r\n`));
    add('an empty body', ct(boundary), Buffer.alloc(0));
    const big = multipart(boundary, [
      { name: 'file', filename: 'big', data: dataOf(rng, opts.maxBytes + 1) },
    ]);
    add('one byte over the limit', ct(boundary), big);
    add('over the limit, cut short', ct(boundary), big.subarray(0, big.length - 100));
  }

  // 9. Junk around the parts, and bodies that are not multipart at all.
  for (let i = 0; i < 10; i++) {
    const boundary = boundaryOf(rng);
    const data = dataOf(rng, 100);
    add(
      'a binary preamble (allowed by RFC 2046)',
      ct(boundary),
      multipart(boundary, [{ name: 'file', filename: 'a', data }], {
        preamble: Buffer.from(bytes(rng, 50).toString('hex')),
      }),
    );
    add('random bytes', ct(boundary), bytes(rng, 1 + int(rng, 3_000)));
    add(
      'a boundary inside the data, no closing delimiter',
      ct(boundary),
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n\r\nab\r\n--${boundary}X`,
      ),
    );
  }

  // 10. Clients that go away mid-body, at random points of a file larger than one read.
  for (let i = 0; i < 10; i++) {
    const { body, contentType } = validBody(rng, { size: 30_000 });
    add('client abort', contentType, body, 1 + int(rng, body.length - 1));
  }
  return out;
}
