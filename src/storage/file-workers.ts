// The local blob store's file-system work, done by a few worker threads with synchronous calls:
// each put is one message to a thread and one reply, instead of a dozen asynchronous calls
// (open, write, fsync, close, stat, mkdir, rename, and open/fsync/close of each directory),
// each of which costs the main thread a hand-off to libuv's pool and back. A capture of a 100 KB
// source spent ~1.1 ms of main-thread CPU in its put that way (bench/capture.bench.ts); one
// round trip to a thread costs ~6 µs. Small bodies are also hashed here, from the block they
// were collected in (shared memory, read in place). Threads start on first use, one more each
// time every running one is busy, up to MAX_THREADS, so that the fsyncs of concurrent puts wait
// side by side (the file system commits them together) rather than four at a time in libuv's
// pool; they are unref'd while idle.
import { Worker } from 'node:worker_threads';
import type { Block } from './blocks.ts';

/** Puts whose fsyncs may wait at once; WORKER_CONCURRENCY is 4 by default, the benchmark's 8. */
const MAX_THREADS = 8;

// Plain JavaScript, evaluated: the thread needs no TypeScript loader. Every operation is
// synchronous: the thread is there to block so the main thread does not.
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const fs = require('node:fs');
const path = require('node:path');
const { createHash } = require('node:crypto');
const blocks = new Map();

function syncDirectory(dir) {
  const fd = fs.openSync(dir, 'r');
  try { fs.fsyncSync(fd); } finally { fs.closeSync(fd); }
}

// The partial files of earlier writers of a key: <key>.<uuid>.part (not <key>.x.<uuid>.part).
function removeTemporary(dir, key) {
  const prefix = key + '.';
  for (const name of fs.readdirSync(dir)) {
    if (name.startsWith(prefix) && name.endsWith('.part') && !name.slice(prefix.length, -5).includes('.')) {
      try { fs.unlinkSync(path.join(dir, name)); } catch {}
    }
  }
}

// The block's bytes into a new file, fsynced; their SHA-256. Nothing is left behind on failure.
function write(m) {
  const bytes = blocks.get(m.block).subarray(0, m.length);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  if (m.tmpKey !== undefined) removeTemporary(path.dirname(m.tmp), m.tmpKey);
  const fd = fs.openSync(m.tmp, 'w');
  try {
    for (let at = 0; at < bytes.length; ) at += fs.writeSync(fd, bytes, at, bytes.length - at);
    fs.fsyncSync(fd);
  } catch (err) {
    fs.closeSync(fd);
    try { fs.unlinkSync(m.tmp); } catch {}
    throw err;
  }
  fs.closeSync(fd);
  return sha256;
}

// A fsynced temporary file into place: renamed into its fan-out directory (made if missing),
// then that directory and each one just made fsynced, so the entry survives a power loss.
// Content already stored under that name with the same size: the temporary file is dropped.
function commit(m) {
  const existing = fs.statSync(m.target, { throwIfNoEntry: false });
  if (existing && existing.size === m.size) {
    fs.unlinkSync(m.tmp);
    return false;
  }
  const dir = path.dirname(m.target);
  const made = fs.mkdirSync(dir, { recursive: true });
  fs.renameSync(m.tmp, m.target);
  for (let d = dir; ; d = path.dirname(d)) {
    syncDirectory(d);
    if (made === undefined || d === path.dirname(made) || d === m.root) break;
  }
  return true;
}

parentPort.on('message', (m) => {
  try {
    if (m.memory) blocks.set(m.block, new Uint8Array(m.memory));
    if (m.op === 'write') {
      parentPort.postMessage({ id: m.id, sha256: write(m) });
    } else if (m.op === 'put') {
      const sha256 = write(m);
      const target = path.join(m.root, 'sha256', sha256.slice(0, 2), sha256.slice(2, 4), sha256);
      let created;
      try {
        created = commit({ tmp: m.tmp, target, size: m.length, root: m.root });
      } catch (err) {
        try { fs.unlinkSync(m.tmp); } catch {}
        throw err;
      }
      parentPort.postMessage({ id: m.id, sha256, created });
    } else if (m.op === 'commit') {
      parentPort.postMessage({ id: m.id, created: commit(m) });
    } else if (m.op === 'clean') {
      removeTemporary(m.dir, m.tmpKey);
      parentPort.postMessage({ id: m.id });
    }
  } catch (err) {
    parentPort.postMessage({ id: m.id, error: String((err && err.message) || err), code: err && err.code });
  }
});
`;

interface Reply {
  id: number;
  sha256?: string;
  created?: boolean;
  error?: string;
  code?: string;
}

type Pending = { resolve: (reply: Reply) => void; reject: (err: Error) => void };

interface Thread {
  worker: Worker;
  pending: Map<number, Pending>;
  /** Blocks whose memory this thread has. */
  known: Set<number>;
}

const threads: Thread[] = [];
let nextId = 1;

function startThread(): Thread {
  // No inherited execArgv (a TypeScript loader, --input-type=module): the source is plain CommonJS.
  const worker = new Worker(WORKER_SOURCE, { eval: true, execArgv: [] });
  worker.unref();
  const thread: Thread = { worker, pending: new Map(), known: new Set() };
  worker.on('message', (reply: Reply) => {
    const p = thread.pending.get(reply.id);
    thread.pending.delete(reply.id);
    if (thread.pending.size === 0) worker.unref(); // idle: the process may exit
    if (reply.error === undefined) p?.resolve(reply);
    else p?.reject(Object.assign(new Error(reply.error), reply.code ? { code: reply.code } : {}));
  });
  const lost = (err: Error) => {
    const at = threads.indexOf(thread);
    if (at >= 0) threads.splice(at, 1);
    for (const p of thread.pending.values()) p.reject(err);
    thread.pending.clear();
  };
  worker.on('error', lost);
  worker.on('exit', (code) => lost(new Error(`blob file worker exited (${code})`)));
  threads.push(thread);
  return thread;
}

/** The least busy thread; a new one while every thread is busy and there is room. */
function pickThread(): Thread {
  let best: Thread | undefined;
  for (const t of threads) if (!best || t.pending.size < best.pending.size) best = t;
  if (!best || (best.pending.size > 0 && threads.length < MAX_THREADS)) return startThread();
  return best;
}

function call(message: Record<string, unknown>, block?: Block): Promise<Reply> {
  const thread = pickThread();
  const id = nextId++;
  if (block && !thread.known.has(block.id)) {
    message.memory = block.memory; // shared once, never copied
    thread.known.add(block.id);
  }
  return new Promise<Reply>((resolve, reject) => {
    if (thread.pending.size === 0) thread.worker.ref(); // a reply is awaited: keep the process alive for it
    thread.pending.set(id, { resolve, reject });
    thread.worker.postMessage({ ...message, id });
  });
}

/** Where a small body goes: its bytes are the first `length` bytes of `block`. */
export interface SmallWrite {
  block: Block;
  length: number;
  /** The temporary file to write (its directory exists). */
  tmp: string;
  /** Remove the partial files earlier writers of this key left in tmp's directory first. */
  tmpKey?: string;
}

/** Writes and fsyncs the temporary file; its SHA-256. The block is not read after this resolves. */
export async function writeSmall(w: SmallWrite): Promise<string> {
  const reply = await call(
    { op: 'write', block: w.block.id, length: w.length, tmp: w.tmp, tmpKey: w.tmpKey },
    w.block,
  );
  return reply.sha256!;
}

/** writeSmall, then commit into `root`'s fan-out, in one round trip. */
export async function putSmall(w: SmallWrite, root: string): Promise<{ sha256: string; created: boolean }> {
  const reply = await call(
    { op: 'put', block: w.block.id, length: w.length, tmp: w.tmp, tmpKey: w.tmpKey, root },
    w.block,
  );
  return { sha256: reply.sha256!, created: reply.created! };
}

/**
 * Moves a fsynced temporary file to `target` durably (see `commit` above); false when a blob
 * of that name and size was there already (the temporary file is then removed). Errors keep
 * the file system's code (ENOENT: the temporary file was removed by a later writer of its key).
 */
export async function commitFile(tmp: string, target: string, size: number, root: string): Promise<boolean> {
  const reply = await call({ op: 'commit', tmp, target, size, root });
  return reply.created!;
}

/** Removes the partial files earlier writers of `tmpKey` left in `dir`. */
export async function removeTemporary(dir: string, tmpKey: string): Promise<void> {
  await call({ op: 'clean', dir, tmpKey });
}
