// A client that goes away in the middle of a download: the stored file is closed at once.
// With `stream.pipe(res)` the read stream stayed open and paused for good when the response
// closed (pipe() unpipes, it does not destroy the source) — one leaked file descriptor per
// abandoned download of evidence content or an export, until the process ran out of them.

import { randomBytes } from 'node:crypto';
import { readdirSync, readlinkSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import request from 'supertest';
import { afterAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/http/app.ts';
import { createUser } from '../../src/users/users.service.ts';
import { useTestContext, waitFor } from '../helpers/context.ts';

// Its own Redis prefix: the capture the citation enqueues is never taken by another file's workers.
const ctx = useTestContext({
  REDIS_PREFIX: `${process.env.REDIS_PREFIX}:download-${randomBytes(4).toString('hex')}`,
});
const { app } = createApp(ctx);
const editor = await createUser(ctx, { name: 'Downloader', role: 'editor' }, 'system:test');
const auth = { Authorization: `Bearer ${editor.token}` };
const server = app.listen(0, '127.0.0.1');
await new Promise((r) => server.once('listening', r));
afterAll(() => new Promise((r) => server.close(r)));
const { port } = server.address() as AddressInfo;

/** The files this process holds open. */
const openFiles = () =>
  readdirSync('/proc/self/fd').map((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      return '';
    }
  });

describe('an abandoned download', () => {
  it('closes the stored file when the client goes away mid-body', async () => {
    const inv = await request(app).post('/v1/investigations').set(auth).send({ title: 'Downloads' });
    const claim = await request(app)
      .post(`/v1/investigations/${inv.body.id}/claims`)
      .set(auth)
      .send({ statement: 'Big file', claimant: { name: 'x' } });
    const cited = await request(app)
      .post(`/v1/claims/${claim.body.id}/sources`)
      .set(auth)
      .send({ url: `https://download-${randomBytes(4).toString('hex')}.example.org/a`, relation: 'origin' });
    // Far more than loopback socket buffers hold, so the server is mid-file when the client leaves.
    const big = randomBytes(32 << 20);
    const up = await request(app)
      .post(`/v1/sources/${cited.body.source.id}/evidence`)
      .set(auth)
      .attach('file', big, 'big.bin');
    expect(up.status, up.text).toBe(201);
    const { id, sha256 } = up.body as { id: string; sha256: string };
    const isBlob = (p: string) => p.endsWith(`/${sha256}`);

    const socket = connect(port, '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    socket.write(
      `GET /v1/evidence/${id}/content HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${editor.token}\r\n\r\n`,
    );
    let received = 0;
    await new Promise<void>((resolve) => {
      socket.on('data', (c: Buffer) => {
        received += c.length;
        if (received > 1 << 20) {
          socket.pause(); // read no more: the server is now blocked on a full socket
          resolve();
        }
      });
    });
    expect(openFiles().some(isBlob)).toBe(true);
    socket.destroy();
    await waitFor(async () => !openFiles().some(isBlob), 5_000, 50);
    // The process still serves the same content to the next reader.
    const again = await request(app).get(`/v1/evidence/${id}`).set(auth);
    expect(again.status).toBe(200);
  }, 60_000);
});
