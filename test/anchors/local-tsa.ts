// A local RFC 3161 time-stamping authority made with the openssl CLI: a CA, a TSA certificate
// with the critical timeStamping EKU, and `openssl ts -reply` behind a loopback HTTP handler.
// Modes make it misbehave the ways a TSA (or someone between us and it) could.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as pkijs from 'pkijs';
import { createGuardedFetcher } from '../../src/fetch/guarded-fetcher.ts';

export type TsaMode =
  /** answers as a TSA should */
  | 'ok'
  /** a valid token over another digest */
  | 'other-digest'
  /** a valid token over our digest with another nonce */
  | 'wrong-nonce'
  /** our digest and nonce, signed (openssl cms) by a certificate of the same CA without the EKU */
  | 'no-eku'
  /** our digest and nonce, signed by a TSA whose CA is not the configured one */
  | 'untrusted'
  /** HTTP 503 */
  | 'down';

export interface LocalTsa {
  url: string;
  /** host:port for FETCH_ALLOWLIST */
  host: string;
  dir: string;
  /** PEM of the CA that issued the TSA certificate (TSA_CA_FILE) */
  caFile: string;
  caPem: string;
  /** PEM of a CA that issued nothing the TSA uses */
  otherCaFile: string;
  mode: TsaMode;
  requests: number;
  close(): Promise<void>;
}

const openssl = (dir: string, args: string[], input?: Buffer): Buffer =>
  execFileSync('openssl', args, { cwd: dir, input, stdio: ['pipe', 'pipe', 'pipe'] });

function makeCa(dir: string, name: string): void {
  openssl(dir, ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', `${name}.key`]);
  openssl(dir, [
    'req',
    '-x509',
    '-new',
    '-key',
    `${name}.key`,
    '-out',
    `${name}.pem`,
    '-days',
    '3650',
    '-subj',
    `/O=claimtrail tests/CN=${name}`,
    '-addext',
    'basicConstraints=critical,CA:true',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
}

function makeLeaf(dir: string, name: string, ca: string, eku: boolean): void {
  openssl(dir, ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', `${name}.key`]);
  openssl(dir, [
    'req',
    '-new',
    '-key',
    `${name}.key`,
    '-out',
    `${name}.csr`,
    '-subj',
    `/O=claimtrail tests/CN=${name}`,
  ]);
  const ext = [
    'basicConstraints=critical,CA:false',
    'keyUsage=critical,digitalSignature,nonRepudiation',
    ...(eku ? ['extendedKeyUsage=critical,timeStamping'] : []),
  ].join('\n');
  writeFileSync(join(dir, `${name}.ext`), `${ext}\n`);
  openssl(dir, [
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    `${ca}.pem`,
    '-CAkey',
    `${ca}.key`,
    '-CAcreateserial',
    '-out',
    `${name}.pem`,
    '-days',
    '3650',
    '-extfile',
    `${name}.ext`,
  ]);
}

function tsaConfig(dir: string, signer: string, ca: string): string {
  const path = join(dir, `${signer}.cnf`);
  writeFileSync(
    path,
    `[ tsa ]
default_tsa = tsa_config
[ tsa_config ]
dir = ${dir}
serial = $dir/${signer}.serial
crypto_device = builtin
signer_cert = $dir/${signer}.pem
certs = $dir/${ca}.pem
signer_key = $dir/${signer}.key
signer_digest = sha256
default_policy = 1.2.3.4.1
digests = sha256
accuracy = secs:1
ordering = yes
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
`,
  );
  writeFileSync(join(dir, `${signer}.serial`), '01\n');
  return path;
}

/** Our request's imprint (hex) and nonce, read back from its DER. */
function readRequest(der: Buffer): { digestHex: string } {
  const req = pkijs.TimeStampReq.fromBER(der);
  return { digestHex: Buffer.from(req.messageImprint.hashedMessage.valueBlock.valueHexView).toString('hex') };
}

function reply(dir: string, config: string, query: Buffer): Buffer {
  writeFileSync(join(dir, 'query.tsq'), query);
  return openssl(dir, ['ts', '-reply', '-config', config, '-queryfile', 'query.tsq']);
}

/** A granted TimeStampResp around a token (ContentInfo DER). */
function grantedResponse(token: Buffer): Buffer {
  const resp = new pkijs.TimeStampResp({
    status: new pkijs.PKIStatusInfo({ status: pkijs.PKIStatus.granted }),
    timeStampToken: pkijs.ContentInfo.fromBER(token),
  });
  return Buffer.from(resp.toSchema().toBER());
}

/** The TSTInfo that `ok` would give, re-signed by `signer` with openssl cms (no purpose check there). */
function resignedBy(dir: string, config: string, query: Buffer, signer: string): Buffer {
  const good = pkijs.TimeStampResp.fromBER(reply(dir, config, query));
  const signed = new pkijs.SignedData({ schema: good.timeStampToken!.content });
  const tstInfo = Buffer.from(signed.encapContentInfo.eContent!.getValue());
  writeFileSync(join(dir, 'tstinfo.der'), tstInfo);
  const token = openssl(dir, [
    'cms',
    '-sign',
    '-binary',
    '-nodetach',
    '-in',
    'tstinfo.der',
    '-econtent_type',
    '1.2.840.113549.1.9.16.1.4',
    '-signer',
    `${signer}.pem`,
    '-inkey',
    `${signer}.key`,
    '-md',
    'sha256',
    '-outform',
    'DER',
    '-nosmimecap',
  ]);
  return grantedResponse(token);
}

/** Starts the TSA on 127.0.0.1 (close it in afterAll). */
export async function startLocalTsa(): Promise<LocalTsa> {
  const dir = mkdtempSync(join(tmpdir(), 'claimtrail-tsa-'));
  makeCa(dir, 'ca');
  makeCa(dir, 'other-ca');
  makeLeaf(dir, 'tsa', 'ca', true);
  makeLeaf(dir, 'plain', 'ca', false);
  makeLeaf(dir, 'stranger', 'other-ca', true);
  const good = tsaConfig(dir, 'tsa', 'ca');
  const strangerConfig = tsaConfig(dir, 'stranger', 'other-ca');

  const answer = (query: Buffer): Buffer => {
    switch (tsa.mode) {
      case 'ok':
        return reply(dir, good, query);
      case 'other-digest': {
        const other = openssl(dir, ['ts', '-query', '-digest', 'ab'.repeat(32), '-sha256', '-cert']);
        return reply(dir, good, other);
      }
      case 'wrong-nonce': {
        const { digestHex } = readRequest(query);
        return reply(dir, good, openssl(dir, ['ts', '-query', '-digest', digestHex, '-sha256', '-cert']));
      }
      case 'no-eku':
        return resignedBy(dir, good, query, 'plain');
      case 'untrusted':
        return reply(dir, strangerConfig, query);
      case 'down':
        throw new Error('down');
    }
  };

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      tsa.requests++;
      if (req.method !== 'POST' || req.headers['content-type'] !== 'application/timestamp-query') {
        res.writeHead(400).end();
        return;
      }
      try {
        const body = answer(Buffer.concat(chunks));
        res.writeHead(200, { 'content-type': 'application/timestamp-reply' }).end(body);
      } catch {
        res.writeHead(503).end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const tsa: LocalTsa = {
    url: `http://127.0.0.1:${port}/tsa`,
    host: `127.0.0.1:${port}`,
    dir,
    caFile: join(dir, 'ca.pem'),
    caPem: readFileSync(join(dir, 'ca.pem'), 'utf8'),
    otherCaFile: join(dir, 'other-ca.pem'),
    mode: 'ok',
    requests: 0,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return tsa;
}

/** The guarded fetcher as the timestamper builds it, allowed to reach this TSA on loopback. */
export const tsaFetcher = (tsa: LocalTsa) =>
  createGuardedFetcher({
    allowlist: [tsa.host],
    maxBytes: 1024 * 1024,
    connectTimeoutMs: 5_000,
    totalTimeoutMs: 20_000,
    userAgent: 'test',
  });
