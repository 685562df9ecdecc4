// A C2PA-signed image made in the test: an EC P-256 CA and signing certificate from the openssl
// CLI, and a manifest signed by @contentauth/c2pa-wasm's Builder through a callback. The wasm's
// callback signer uses "direct COSE handling": it hands over the claim bytes and takes back the
// whole COSE_Sign1 (RFC 9052), exactly as long as the reserved signature box, so this file
// builds that structure (a few lines of CBOR) and signs with node:crypto (ES256).
import { execFile } from 'node:child_process';
import { createPrivateKey, type KeyObject, sign, X509Certificate } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { WasmBuilder } from '@contentauth/c2pa-wasm';
import { loadC2pa } from '../../src/media/c2pa.ts';

const run = promisify(execFile);

export interface TestSigner {
  /** PEM of the CA: the trust anchor that makes the signature trusted. */
  caPemPath: string;
  key: KeyObject;
  /** DER of the signing certificate, then the CA. */
  chain: Buffer[];
  commonName: string;
}

/** A CA and a signing certificate with the profile C2PA asks for (EKU emailProtection,
 * digitalSignature, not self-signed, v3 with key identifiers). */
export async function makeTestSigner(
  dir: string,
  commonName = 'claimtrail test signer',
): Promise<TestSigner> {
  const p = (name: string) => join(dir, name);
  const ossl = (...args: string[]) => run('openssl', args, { cwd: dir });
  await ossl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', p('ca.key'));
  await writeFile(
    p('ca.cnf'),
    [
      '[req]',
      'distinguished_name=dn',
      'prompt=no',
      '[dn]',
      'CN=claimtrail test CA',
      'O=claimtrail tests',
      '[v3_ca]',
      'basicConstraints=critical,CA:TRUE',
      'keyUsage=critical,keyCertSign,cRLSign',
      'subjectKeyIdentifier=hash',
      '[v3_ee]',
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature',
      'extendedKeyUsage=emailProtection',
      'subjectKeyIdentifier=hash',
      'authorityKeyIdentifier=keyid,issuer',
      '',
    ].join('\n'),
  );
  await ossl(
    'req',
    '-new',
    '-x509',
    '-sha256',
    '-days',
    '30',
    '-key',
    p('ca.key'),
    '-config',
    p('ca.cnf'),
    '-extensions',
    'v3_ca',
    '-out',
    p('ca.pem'),
  );
  await ossl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', p('ee.key'));
  await ossl(
    'req',
    '-new',
    '-key',
    p('ee.key'),
    '-subj',
    `/CN=${commonName}/O=claimtrail tests`,
    '-out',
    p('ee.csr'),
  );
  await ossl(
    'x509',
    '-req',
    '-sha256',
    '-days',
    '30',
    '-in',
    p('ee.csr'),
    '-CA',
    p('ca.pem'),
    '-CAkey',
    p('ca.key'),
    '-CAcreateserial',
    '-extfile',
    p('ca.cnf'),
    '-extensions',
    'v3_ee',
    '-out',
    p('ee.pem'),
  );
  const der = async (name: string) => Buffer.from(new X509Certificate(await readFile(p(name))).raw);
  return {
    caPemPath: p('ca.pem'),
    key: createPrivateKey(await readFile(p('ee.key'))),
    chain: [await der('ee.pem'), await der('ca.pem')],
    commonName,
  };
}

// --- the CBOR this needs: unsigned/negative ints, byte and text strings, arrays, maps, a tag, null.
type Cbor =
  | number
  | string
  | Buffer
  | null
  | Cbor[]
  | Map<number | string, Cbor>
  | { tag: number; value: Cbor };

function head(major: number, n: number): Buffer {
  if (n < 24) return Buffer.from([(major << 5) | n]);
  if (n < 0x100) return Buffer.from([(major << 5) | 24, n]);
  if (n < 0x10000) return Buffer.from([(major << 5) | 25, n >> 8, n & 0xff]);
  const b = Buffer.alloc(5);
  b[0] = (major << 5) | 26;
  b.writeUInt32BE(n, 1);
  return b;
}

function cbor(v: Cbor): Buffer {
  if (v === null) return Buffer.from([0xf6]);
  if (typeof v === 'number') return v >= 0 ? head(0, v) : head(1, -1 - v);
  if (typeof v === 'string') return Buffer.concat([head(3, Buffer.byteLength(v)), Buffer.from(v)]);
  if (Buffer.isBuffer(v)) return Buffer.concat([head(2, v.length), v]);
  if (Array.isArray(v)) return Buffer.concat([head(4, v.length), ...v.map(cbor)]);
  if (v instanceof Map)
    return Buffer.concat([head(5, v.size), ...[...v].flatMap(([k, x]) => [cbor(k), cbor(x)])]);
  return Buffer.concat([head(6, v.tag), cbor(v.value)]);
}

const COSE_ALG = 1;
const COSE_ES256 = -7;
const COSE_X5CHAIN = 33;
const COSE_SIGN1_TAG = 18;

/** A tagged COSE_Sign1 over `claim` (detached payload), padded to exactly `size` bytes with the
 * "pad" header c2pa-rs itself uses. */
export function coseSign1(signer: TestSigner, claim: Uint8Array, size: number): Uint8Array {
  const prot = cbor(
    new Map<number, Cbor>([
      [COSE_ALG, COSE_ES256],
      [COSE_X5CHAIN, signer.chain],
    ]),
  );
  const toSign = cbor(['Signature1', prot, Buffer.alloc(0), Buffer.from(claim)]);
  const signature = sign('sha256', toSign, { key: signer.key, dsaEncoding: 'ieee-p1363' });
  const encode = (pad: number) =>
    cbor({
      tag: COSE_SIGN1_TAG,
      value: [prot, new Map([['pad', Buffer.alloc(pad)]]), null, signature],
    });
  // The pad's own length prefix grows at 24 and 256 bytes; step down until it fits exactly.
  for (let pad = Math.max(0, size - encode(0).length); pad >= 0; pad--) {
    const out = encode(pad);
    if (out.length === size) return out;
  }
  throw new Error(`cannot pad a COSE_Sign1 to ${size} bytes`);
}

/** A Blob whose bytes can be read synchronously. The Builder reads its source through the
 * browser worker API FileReaderSync, which Node lacks; the reader has a bytes entry point, the
 * Builder has not, so signing in a test installs this small stand-in (test-only). */
class BytesBlob extends Blob {
  constructor(readonly held: Uint8Array) {
    super([new Uint8Array(held)]);
  }
  override slice(start?: number, end?: number): BytesBlob {
    return new BytesBlob(this.held.subarray(start, end));
  }
}

function installFileReaderSync(): void {
  const g = globalThis as { FileReaderSync?: unknown };
  g.FileReaderSync ??= class {
    readAsArrayBuffer(blob: BytesBlob): ArrayBuffer {
      return new Uint8Array(blob.held).buffer;
    }
  };
}

/** `image` (a JPEG or PNG) with an embedded manifest signed by `signer`. */
export async function signImage(
  signer: TestSigner,
  image: Buffer,
  format: 'image/jpeg' | 'image/png',
  /** remoteUrl: the manifest is kept there, not embedded (the asset only points at it). */
  opts: { title?: string; remoteUrl?: string } = {},
): Promise<Buffer> {
  const c2pa = await loadC2pa();
  const builder = c2pa.WasmBuilder.fromJson(
    JSON.stringify({
      claim_generator_info: [{ name: 'claimtrail-test', version: '1.0' }],
      title: opts.title ?? 'signed by the test',
      format,
      assertions: [
        {
          label: 'c2pa.actions.v2',
          data: {
            actions: [
              {
                action: 'c2pa.created',
                digitalSourceType: 'http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture',
              },
            ],
          },
        },
      ],
    }),
    // Signing here must not reach out either (no timestamp authority, no fetches).
    JSON.stringify({ version: 1, core: { allowed_network_hosts: [] }, verify: { verify_after_sign: false } }),
  );
  if (opts.remoteUrl) {
    builder.setRemoteUrl(opts.remoteUrl);
    builder.setNoEmbed(true);
  }
  return signWithBuilder(builder, signer, image, format);
}

/** Signs `image` with a prepared builder (then freed) through the node:crypto callback. */
async function signWithBuilder(
  builder: WasmBuilder,
  signer: TestSigner,
  image: Buffer,
  format: string,
): Promise<Buffer> {
  installFileReaderSync();
  const reserveSize = 10_000;
  try {
    const signed = await builder.sign(
      {
        alg: 'es256',
        reserveSize,
        sign: async (bytes: Uint8Array) => coseSign1(signer, bytes, reserveSize) as Uint8Array<ArrayBuffer>,
      },
      [],
      format,
      new BytesBlob(new Uint8Array(image)),
    );
    return Buffer.from(signed);
  } finally {
    builder.free();
  }
}

/** `bytes` with one byte of the JPEG's entropy-coded image data changed (after the last SOS
 * marker, which follows the manifest's APP11 segments), never creating a 0xFF marker byte. */
export function tamperImageData(bytes: Buffer): Buffer {
  const out = Buffer.from(bytes);
  const sos = out.lastIndexOf(Buffer.from([0xff, 0xda]));
  if (sos < out.indexOf(Buffer.from('c2pa'))) throw new Error('no image data after the manifest');
  let at = sos + 2 + out.readUInt16BE(sos + 2) + 8;
  while (out[at] === 0xff || out[at] === 0xfe || out[at - 1] === 0xff) at++;
  out[at] = out[at]! ^ 0x01;
  return out;
}
