// `claimtrail witness`: a C2SP tlog-witness HTTP server for other logs
// (POST /add-checkpoint, GET /<origin hash>/checkpoint, GET /healthz). Its answers are the
// protocol's plain text (a 409 is `text/x.tlog.size`), not the API's problem+json: witness
// clients such as litewitness's and ours read the status and these bodies.
import { once } from 'node:events';
import type { Server } from 'node:http';
import express from 'express';
import type { AppContext } from '../../context.ts';
import { type NoteVerifier, parseVerifierKey } from '../../log/note.ts';
import { readOrCreateKeyFile } from '../../log/signing-key.ts';
import { closeServer } from '../../processes/api.ts';
import type { Component } from '../../processes/component.ts';
import { type Cosigner, generateCosignerKey, parseCosignerSignerKey } from './cosignature.ts';
import { addCheckpoint, latestCosigned, type WitnessDeps, type WitnessReply } from './witness.ts';
import type { FollowedLog } from './witness-config.ts';

/** A request body larger than this is no checkpoint with 63 proof lines. */
const MAX_BODY_BYTES = 64 * 1024;

/** origin → its trusted keys. */
export function followedLogs(list: readonly FollowedLog[]): Map<string, NoteVerifier[]> {
  const logs = new Map<string, NoteVerifier[]>();
  for (const { origin, verifierKey } of list) {
    logs.set(origin, [...(logs.get(origin) ?? []), parseVerifierKey(verifierKey)]);
  }
  return logs;
}

export function witnessApp(deps: WitnessDeps) {
  const app = express();
  app.disable('x-powered-by');
  // end(), not send(): Express would add a charset, and a 409 must be exactly text/x.tlog.size.
  const send = (res: express.Response, reply: WitnessReply) =>
    res.status(reply.status).setHeader('Content-Type', reply.contentType).end(reply.body);
  app.post('/add-checkpoint', express.raw({ type: () => true, limit: MAX_BODY_BYTES }), async (req, res) =>
    send(res, await addCheckpoint(deps, Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0))),
  );
  app.get('/:hash/checkpoint', async (req, res) => send(res, await latestCosigned(deps, req.params.hash)));
  app.get('/healthz', (_req, res) => res.type('text/plain').send('ok\n'));
  app.use((_req, res) => res.status(404).type('text/plain').send('not found\n'));
  app.use(
    (
      err: Error & { status?: number },
      _req: express.Request,
      res: express.Response,
      _next: express.NextFunction,
    ) => {
      const status = err.status && err.status >= 400 && err.status < 500 ? err.status : 500;
      if (status === 500) deps.log.error({ err: err.message }, 'witness: request failed');
      res
        .status(status)
        .type('text/plain')
        .send(status === 500 ? 'internal error\n' : `${err.message}\n`);
    },
  );
  return app;
}

/** The witness's cosigner key from WITNESS_KEY_FILE, created (named WITNESS_NAME) on first start. */
export async function loadOrCreateCosignerKey(ctx: Pick<AppContext, 'config' | 'log'>): Promise<Cosigner> {
  const { WITNESS_KEY_FILE: file, WITNESS_NAME: name } = ctx.config;
  const cosigner = parseCosignerSignerKey(
    await readOrCreateKeyFile(
      file,
      () => generateCosignerKey(name).signerKey,
      () => ctx.log.warn({ file }, 'generated a new witness key: back it up'),
    ),
  );
  if (cosigner.name !== name) {
    throw new Error(`witness key in ${file} is named "${cosigner.name}" but WITNESS_NAME is "${name}"`);
  }
  return cosigner;
}

/** The witness process component: listens on HOST:WITNESS_PORT (port 0: any free one). */
export async function startWitness(
  ctx: AppContext,
): Promise<Component & { server: Server; cosigner: Cosigner }> {
  const cosigner = await loadOrCreateCosignerKey(ctx);
  const logs = followedLogs(ctx.config.WITNESS_LOGS);
  const log = ctx.log.child({ component: 'witness' });
  const server = witnessApp({ db: ctx.pool, cosigner, logs, log }).listen(
    ctx.config.WITNESS_PORT,
    ctx.config.HOST,
  );
  await once(server, 'listening');
  server.keepAliveTimeout = 5_000;
  log.info(
    { address: server.address(), verifierKey: cosigner.verifierKey, logs: [...logs.keys()] },
    'witness listening (publish its verifier key to the logs it cosigns)',
  );
  return {
    name: 'witness',
    server,
    cosigner,
    stop: (deadline: number) => closeServer(server, deadline),
  };
}
