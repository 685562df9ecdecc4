// Push streams for bulk bytes. A producer that reads into one reused buffer (a socket read with
// `onread`, see src/fetch/http1-exchange.ts) hands each chunk to a sink *during a call*: the
// sink hashes it and copies it where it must go before returning, and no chunk is ever
// allocated per read. Measured on 1 GiB over loopback (bench/capture.bench.ts): reading into
// one reused buffer and hashing in the callback took 0.9 s; handing a freshly allocated Buffer
// per read to an async iterator took 1.4–2.5 s — most of the difference is the kernel mapping
// new memory for buffers the garbage collector has yet to reclaim.

/** Receives pushed bytes. A chunk is valid only during `write()`: consume or copy it there. */
export interface ByteSink {
  /**
   * Takes the chunk (always all of it). false: the producer should stop pushing until
   * `drained()` resolves — it may still push the rest of what it holds now (a fetch: the rest
   * of one socket read, at most 1 MiB). Throwing stops the producer, which fails with that error.
   */
  write(chunk: Buffer): boolean;
  /** Resolves once the sink can take more; rejects when it failed meanwhile. */
  drained(): Promise<void>;
}

/** A body that can be pushed into a sink once; resolves when every byte was taken. */
export type PushSource = (sink: ByteSink) => Promise<void>;

/** Bytes arriving either way: pulled (any async iterable of chunks) or pushed. */
export type ByteSource = AsyncIterable<Buffer | Uint8Array> | { pipeTo: PushSource };

/** Feeds `source` into `sink`, honouring its backpressure. */
export async function pump(source: ByteSource, sink: ByteSink): Promise<void> {
  if ('pipeTo' in source) return source.pipeTo(sink);
  for await (const chunk of source) {
    const buf = Buffer.isBuffer(chunk)
      ? chunk
      : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (!sink.write(buf)) await sink.drained();
  }
}

/**
 * The same bytes as an async iterable of chunks the consumer owns (each a copy), for readers
 * that keep chunks (a JSON record, a page). At most about `highWaterMark` bytes wait unread.
 * Leaving the loop early calls `cancel`.
 */
export async function* pulled(
  pipeTo: PushSource,
  cancel: () => void,
  highWaterMark = 1 << 20,
): AsyncGenerator<Buffer> {
  const queue: Buffer[] = [];
  let queued = 0;
  let finished = false;
  let failure: { error: unknown } | undefined;
  let wake: (() => void) | undefined;
  let onDrained: (() => void) | undefined;
  const sink: ByteSink = {
    write(chunk) {
      queue.push(Buffer.from(chunk));
      queued += chunk.length;
      wake?.();
      return queued < highWaterMark;
    },
    drained: () =>
      new Promise<void>((resolve) => {
        if (queued < highWaterMark) resolve();
        else onDrained = resolve;
      }),
  };
  pipeTo(sink).then(
    () => {
      finished = true;
      wake?.();
    },
    (error: unknown) => {
      failure = { error };
      finished = true;
      wake?.();
    },
  );
  try {
    for (;;) {
      const chunk = queue.shift();
      if (chunk) {
        queued -= chunk.length;
        if (onDrained && queued < highWaterMark) {
          const resolve = onDrained;
          onDrained = undefined;
          resolve();
        }
        yield chunk;
        continue;
      }
      if (failure) throw failure.error;
      if (finished) return;
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
      wake = undefined;
    }
  } finally {
    if (!finished) cancel();
  }
}
