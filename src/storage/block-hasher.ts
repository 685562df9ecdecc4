// SHA-256 of a blob computed on a worker thread, block by block, while the main thread reads
// the network and the disk writes earlier blocks: a 1 GiB capture's hash (~0.7 s of CPU) then
// runs beside the download instead of inside it. One worker per process, started on first use
// and unref'd while idle; it reads the blocks' shared memory in place.
import { Worker } from 'node:worker_threads';
import type { Block } from './blocks.ts';

// Plain JavaScript, evaluated: the worker needs no TypeScript loader.
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const blocks = new Map();
const hashes = new Map();
parentPort.on('message', (m) => {
  try {
    if (m.memory) blocks.set(m.block, new Uint8Array(m.memory));
    if (m.op === 'update') {
      let hash = hashes.get(m.id);
      if (!hash) hashes.set(m.id, (hash = createHash('sha256')));
      hash.update(blocks.get(m.block).subarray(0, m.length));
      parentPort.postMessage({ id: m.id, seq: m.seq });
    } else if (m.op === 'digest') {
      const hash = hashes.get(m.id) ?? createHash('sha256');
      hashes.delete(m.id);
      parentPort.postMessage({ id: m.id, seq: m.seq, sha256: hash.digest('hex') });
    } else if (m.op === 'drop') {
      hashes.delete(m.id);
    }
  } catch (err) {
    parentPort.postMessage({ id: m.id, seq: m.seq, error: String(err && err.message || err) });
  }
});
`;

interface Reply {
  id: number;
  seq: number;
  sha256?: string;
  error?: string;
}

type Pending = { resolve: (reply: Reply) => void; reject: (err: Error) => void };

let worker: Worker | undefined;
const known = new Set<number>(); // blocks whose memory the worker has
const pending = new Map<string, Pending>();
let nextId = 1;

function hashWorker(): Worker {
  if (worker) return worker;
  // No inherited execArgv (a TypeScript loader, --input-type=module): the source is plain CommonJS.
  const w = new Worker(WORKER_SOURCE, { eval: true, execArgv: [] });
  w.unref();
  w.on('message', (reply: Reply) => {
    const key = `${reply.id}:${reply.seq}`;
    const p = pending.get(key);
    pending.delete(key);
    if (pending.size === 0) w.unref(); // idle: the process may exit
    if (reply.error) p?.reject(new Error(`hash worker: ${reply.error}`));
    else p?.resolve(reply);
  });
  const lost = (err: Error) => {
    if (worker === w) {
      worker = undefined;
      known.clear();
    }
    for (const p of pending.values()) p.reject(err);
    pending.clear();
  };
  w.on('error', lost);
  w.on('exit', (code) => lost(new Error(`hash worker exited (${code})`)));
  worker = w;
  return w;
}

/** One running SHA-256; blocks are hashed in the order given. */
export class BlockHasher {
  private readonly id = nextId++;
  private seq = 0;

  /** Hashes the first `length` bytes of `block`; resolves when the worker is done with it. */
  async update(block: Block, length: number): Promise<void> {
    const message: Record<string, unknown> = { op: 'update', block: block.id, length };
    if (!known.has(block.id)) {
      message.memory = block.memory; // shared once, never copied
      known.add(block.id);
    }
    await this.call(message);
  }

  /** The hex digest of everything given; the hasher is spent afterwards. */
  async digest(): Promise<string> {
    const reply = await this.call({ op: 'digest' });
    return reply.sha256!;
  }

  /** Forgets the running hash (after a failed write). */
  drop(): void {
    worker?.postMessage({ op: 'drop', id: this.id });
  }

  private call(message: Record<string, unknown>): Promise<Reply> {
    const w = hashWorker();
    const seq = this.seq++;
    return new Promise<Reply>((resolve, reject) => {
      if (pending.size === 0) w.ref(); // a reply is awaited: keep the process alive for it
      pending.set(`${this.id}:${seq}`, { resolve, reject });
      w.postMessage({ ...message, id: this.id, seq });
    });
  }
}
