// Body framing decoders for HTTP/1.1 responses (RFC 9112 §6–§7): fed raw bytes as they are
// read, they hand on the body's bytes as views of what they were fed (no copy) and say when
// the body is complete. A chunked body's sizes, extensions and trailers are bounded.
import { type BodyFraming, HttpProtocolError } from './http1-head.ts';

export interface BodyDecoder {
  /**
   * Decodes `data`, calling `emit` with each run of body bytes (views of `data`). Returns how
   * many bytes of `data` belonged to the message; fewer than data.length only once `done`.
   */
  feed(data: Buffer, emit: (body: Buffer) => void): number;
  readonly done: boolean;
  /** The connection ended here: completes a close-delimited body, else says what is missing. */
  end(): { complete: true } | { complete: false; detail: string };
}

class LengthDecoder implements BodyDecoder {
  private left: number;
  constructor(readonly length: number) {
    this.left = length;
  }
  get done(): boolean {
    return this.left === 0;
  }
  feed(data: Buffer, emit: (body: Buffer) => void): number {
    const take = Math.min(this.left, data.length);
    if (take > 0) emit(take === data.length ? data : data.subarray(0, take));
    this.left -= take;
    return take;
  }
  end() {
    return this.left === 0
      ? ({ complete: true } as const)
      : ({
          complete: false,
          detail: `body of ${this.length - this.left} bytes, Content-Length said ${this.length}`,
        } as const);
  }
}

class CloseDecoder implements BodyDecoder {
  readonly done = false;
  feed(data: Buffer, emit: (body: Buffer) => void): number {
    if (data.length > 0) emit(data);
    return data.length;
  }
  end() {
    return { complete: true } as const;
  }
}

const MAX_CHUNK_LINE = 4096;
const MAX_TRAILERS = 16 * 1024;
const HEX = /^[0-9A-Fa-f]{1,12}$/;

/** chunk = chunk-size [ext] CRLF data CRLF; last-chunk = 0 [ext] CRLF; trailers; CRLF. */
class ChunkedDecoder implements BodyDecoder {
  private state: 'size' | 'data' | 'data-end' | 'trailer' | 'done' = 'size';
  private line = '';
  private left = 0;
  private trailerBytes = 0;

  get done(): boolean {
    return this.state === 'done';
  }

  feed(data: Buffer, emit: (body: Buffer) => void): number {
    let at = 0;
    while (at < data.length && this.state !== 'done') {
      if (this.state === 'data') {
        const take = Math.min(this.left, data.length - at);
        emit(data.subarray(at, at + take));
        at += take;
        this.left -= take;
        if (this.left === 0) this.state = 'data-end';
        continue;
      }
      // Line-oriented states: gather up to LF.
      const lf = data.indexOf(0x0a, at);
      const stop = lf === -1 ? data.length : lf;
      this.line += data.toString('latin1', at, stop);
      if (this.state === 'trailer') this.trailerBytes += (lf === -1 ? stop : stop + 1) - at;
      at = lf === -1 ? data.length : lf + 1;
      if (this.line.length > MAX_CHUNK_LINE || this.trailerBytes > MAX_TRAILERS)
        throw new HttpProtocolError('chunk line or trailers too long');
      if (lf === -1) break;
      const line = this.line.endsWith('\r') ? this.line.slice(0, -1) : this.line;
      this.line = '';
      this.onLine(line);
    }
    return at;
  }

  private onLine(line: string): void {
    switch (this.state) {
      case 'size': {
        const semi = line.indexOf(';');
        const size = (semi === -1 ? line : line.slice(0, semi)).trim();
        if (!HEX.test(size)) throw new HttpProtocolError('malformed chunk size');
        this.left = Number.parseInt(size, 16);
        this.state = this.left === 0 ? 'trailer' : 'data';
        return;
      }
      case 'data-end':
        if (line !== '') throw new HttpProtocolError('chunk data longer than its size');
        this.state = 'size';
        return;
      case 'trailer':
        if (line === '') this.state = 'done';
        return;
    }
  }

  end() {
    return this.state === 'done'
      ? ({ complete: true } as const)
      : ({ complete: false, detail: 'connection closed inside a chunked body' } as const);
  }
}

class NoBody implements BodyDecoder {
  readonly done = true;
  feed(): number {
    return 0;
  }
  end() {
    return { complete: true } as const;
  }
}

export function bodyDecoder(framing: BodyFraming): BodyDecoder {
  switch (framing.kind) {
    case 'none':
      return new NoBody();
    case 'length':
      return new LengthDecoder(framing.length);
    case 'chunked':
      return new ChunkedDecoder();
    case 'close':
      return new CloseDecoder();
  }
}
