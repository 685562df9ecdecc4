// Full verification of an RFC 3161 timestamp, shared by the sequencer (on each reply, before
// anything is stored) and `claimtrail verify-export` (offline, on the bag's files). pkijs parses
// and checks the CMS signature and the certificate path; the checks RFC 3161 adds on top (status,
// imprint algorithm and value, nonce, the signer's critical timeStamping EKU, the ESSCertID(v2)
// binding of the signer certificate) are done here, because pkijs does not do them.
import { createHash, X509Certificate } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { usePkijsEngine } from './pkijs-engine.ts';
import { SHA256_OID } from './tsa-request.ts';

export type RefusalReason =
  | 'malformed'
  | 'status'
  | 'imprint'
  | 'nonce'
  | 'signature'
  | 'eku'
  | 'signer_binding'
  | 'chain';

/** A reply or token that must not be kept (or believed): the reason says which check failed. */
export class TimestampRefused extends Error {
  constructor(
    readonly reason: RefusalReason,
    message: string,
  ) {
    super(message);
    this.name = 'TimestampRefused';
  }
}

export interface VerifiedTimestamp {
  genTime: Date;
  /** Subject of the signing certificate, e.g. `CN=Example TSA, O=Example`. */
  tsaSubject: string;
  /** The TimeStampToken (a CMS ContentInfo), DER. */
  token: Buffer;
  /** The certificate path, signer first, ending with the trust anchor, DER each. */
  chain: Buffer[];
}

export interface TokenCheck {
  /** The bytes the timestamp must cover (their SHA-256 is the imprint). */
  data: Uint8Array;
  /** The nonce we sent; omitted offline (a stored token is checked without one). */
  nonce?: Buffer;
  /** Trust anchors (self-signed roots or any certificate the verifier trusts). */
  anchors: readonly Buffer[];
  /** More certificates that may complete the path (untrusted, like the token's own). */
  intermediates?: readonly Buffer[];
}

const TST_INFO = '1.2.840.113549.1.9.16.1.4';
const CONTENT_TYPE_ATTR = '1.2.840.113549.1.9.3';
const SIGNING_CERT = '1.2.840.113549.1.9.16.2.12';
const SIGNING_CERT_V2 = '1.2.840.113549.1.9.16.2.47';
const EXT_KEY_USAGE = '2.5.29.37';
const TIME_STAMPING = '1.3.6.1.5.5.7.3.8';
const HASHES: Record<string, string> = {
  '1.3.14.3.2.26': 'sha1',
  [SHA256_OID]: 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
};

const der = (c: pkijs.Certificate): Buffer => Buffer.from(c.toSchema().toBER());

function parseCert(bytes: Buffer): pkijs.Certificate {
  return pkijs.Certificate.fromBER(new Uint8Array(bytes));
}

/** The certificate's subject as `CN=…, O=…` (node's X509Certificate reads it). */
export function certSubject(certDer: Buffer): string {
  return new X509Certificate(certDer).subject.split('\n').reverse().join(', ');
}

const asBigInt = (bytes: ArrayBuffer | Uint8Array): bigint =>
  BigInt(`0x${Buffer.from(bytes as ArrayBuffer).toString('hex') || '0'}`);

/** Unwraps a TimeStampResp: PKIStatus must be granted (0) or grantedWithMods (1). Returns the token DER. */
export function tokenOfResponse(responseDer: Uint8Array): Buffer {
  let resp: pkijs.TimeStampResp;
  try {
    resp = pkijs.TimeStampResp.fromBER(responseDer);
  } catch (err) {
    throw new TimestampRefused('malformed', `not a TimeStampResp: ${(err as Error).message}`);
  }
  const status = resp.status.status;
  if (status !== pkijs.PKIStatus.granted && status !== pkijs.PKIStatus.grantedWithMods) {
    const text = resp.status.statusStrings?.map((s) => s.valueBlock.value).join('; ') ?? '';
    throw new TimestampRefused(
      'status',
      `the TSA did not grant the timestamp (PKIStatus ${status}${text ? `: ${text}` : ''})`,
    );
  }
  if (!resp.timeStampToken) throw new TimestampRefused('malformed', 'a granted reply without a token');
  return Buffer.from(resp.timeStampToken.toSchema().toBER());
}

/** A TimeStampResp with status granted around `token`: the form `openssl ts -verify -in` reads. */
export function responseOfToken(tokenDer: Buffer): Buffer {
  const resp = new pkijs.TimeStampResp({
    status: new pkijs.PKIStatusInfo({ status: pkijs.PKIStatus.granted }),
    timeStampToken: pkijs.ContentInfo.fromBER(new Uint8Array(tokenDer)),
  });
  return Buffer.from(resp.toSchema().toBER());
}

function openToken(tokenDer: Buffer): { signed: pkijs.SignedData; tstInfo: pkijs.TSTInfo } {
  try {
    const content = pkijs.ContentInfo.fromBER(new Uint8Array(tokenDer));
    if (content.contentType !== pkijs.ContentInfo.SIGNED_DATA) throw new Error('not CMS SignedData');
    const signed = new pkijs.SignedData({ schema: content.content });
    if (signed.encapContentInfo.eContentType !== TST_INFO || !signed.encapContentInfo.eContent)
      throw new Error('the signed content is not a TSTInfo');
    if (signed.signerInfos.length !== 1)
      throw new Error(`${signed.signerInfos.length} signers, RFC 3161 has one`);
    const tstInfo = pkijs.TSTInfo.fromBER(signed.encapContentInfo.eContent.getValue());
    return { signed, tstInfo };
  } catch (err) {
    throw new TimestampRefused('malformed', `not a timestamp token: ${(err as Error).message}`);
  }
}

function checkImprintAndNonce(tstInfo: pkijs.TSTInfo, data: Uint8Array, nonce: Buffer | undefined): void {
  const imprint = tstInfo.messageImprint;
  if (imprint.hashAlgorithm.algorithmId !== SHA256_OID)
    throw new TimestampRefused(
      'imprint',
      `the imprint is not SHA-256 (${imprint.hashAlgorithm.algorithmId})`,
    );
  const want = createHash('sha256').update(data).digest();
  const got = Buffer.from(imprint.hashedMessage.valueBlock.valueHexView);
  if (!got.equals(want))
    throw new TimestampRefused(
      'imprint',
      `the token covers SHA-256 ${got.toString('hex')}, not ${want.toString('hex')}`,
    );
  if (nonce === undefined) return;
  if (!tstInfo.nonce || asBigInt(tstInfo.nonce.valueBlock.valueHexView) !== asBigInt(nonce))
    throw new TimestampRefused(
      'nonce',
      'the token does not carry the nonce we sent (a replayed or foreign reply)',
    );
}

/** RFC 3161 2.3: the signing certificate has one extendedKeyUsage, critical, timeStamping only. */
function checkTimestampingEku(cert: pkijs.Certificate): void {
  const ext = cert.extensions?.filter((e) => e.extnID === EXT_KEY_USAGE) ?? [];
  const purposes = (ext[0]?.parsedValue as pkijs.ExtKeyUsage | undefined)?.keyPurposes ?? [];
  if (ext.length !== 1 || !ext[0]!.critical || purposes.length !== 1 || purposes[0] !== TIME_STAMPING)
    throw new TimestampRefused(
      'eku',
      'the signing certificate lacks the critical timeStamping extended key usage (and only it)',
    );
}

/** RFC 3161 / RFC 5816: signingCertificate(V2) names the signer certificate by its hash. */
function checkSignerBinding(signerInfo: pkijs.SignerInfo, signerCert: pkijs.Certificate): void {
  const attrs = signerInfo.signedAttrs?.attributes ?? [];
  const attr = attrs.find((a) => a.type === SIGNING_CERT_V2) ?? attrs.find((a) => a.type === SIGNING_CERT);
  if (!attr)
    throw new TimestampRefused('signer_binding', 'no signingCertificate(V2) attribute names the signer');
  try {
    const certs = (attr.values[0] as asn1js.Sequence).valueBlock.value[0] as asn1js.Sequence;
    const first = (certs.valueBlock.value[0] as asn1js.Sequence).valueBlock.value;
    let alg = attr.type === SIGNING_CERT ? '1.3.14.3.2.26' : SHA256_OID;
    let hashAt = 0;
    if (first[0] instanceof asn1js.Sequence) {
      alg = new pkijs.AlgorithmIdentifier({ schema: first[0] }).algorithmId;
      hashAt = 1;
    }
    const name = HASHES[alg];
    if (!name) throw new Error(`unknown hash ${alg}`);
    const got = Buffer.from((first[hashAt] as asn1js.OctetString).valueBlock.valueHexView);
    if (!got.equals(createHash(name).update(der(signerCert)).digest())) throw new Error('hash differs');
  } catch (err) {
    throw new TimestampRefused(
      'signer_binding',
      `the ESSCertID(v2) does not name the signing certificate: ${(err as Error).message}`,
    );
  }
  const type = attrs.find((a) => a.type === CONTENT_TYPE_ATTR)?.values[0];
  if (!(type instanceof asn1js.ObjectIdentifier) || type.valueBlock.toString() !== TST_INFO)
    throw new TimestampRefused('signature', 'the signed content-type attribute is not id-ct-TSTInfo');
}

async function checkChain(
  signerCert: pkijs.Certificate,
  signed: pkijs.SignedData,
  check: TokenCheck,
  genTime: Date,
): Promise<Buffer[]> {
  const own = (signed.certificates ?? []).filter(
    (c): c is pkijs.Certificate => c instanceof pkijs.Certificate,
  );
  const engine = new pkijs.CertificateChainValidationEngine({
    trustedCerts: check.anchors.map(parseCert),
    certs: [...own, ...(check.intermediates ?? []).map(parseCert), signerCert],
    checkDate: genTime,
  });
  const result = await engine.verify().catch((e: { resultMessage?: string }) => ({
    result: false,
    resultMessage: e?.resultMessage ?? String(e),
    certificatePath: undefined,
  }));
  if (!result.result || !result.certificatePath)
    throw new TimestampRefused(
      'chain',
      `the signing certificate does not chain to a trusted anchor: ${result.resultMessage}`,
    );
  return result.certificatePath.map(der);
}

/**
 * Verifies a TimeStampToken over `check.data`: TSTInfo imprint (SHA-256, equal to the data's hash),
 * the nonce when given, the CMS signature over the signed attributes (whose message digest covers
 * the TSTInfo), the signer certificate's critical timeStamping EKU and its ESSCertID(v2), and a
 * certificate path from the signer to one of `check.anchors` valid at genTime. Throws
 * TimestampRefused naming the first check that failed.
 */
export async function verifyTimestampToken(tokenDer: Buffer, check: TokenCheck): Promise<VerifiedTimestamp> {
  usePkijsEngine();
  const { signed, tstInfo } = openToken(tokenDer);
  checkImprintAndNonce(tstInfo, check.data, check.nonce);
  let outcome: { signatureVerified?: boolean | null; signerCertificate?: pkijs.Certificate | null };
  try {
    outcome = await signed.verify({
      signer: 0,
      data: new Uint8Array(check.data).buffer as ArrayBuffer,
      extendedMode: true,
    });
  } catch (err) {
    throw new TimestampRefused(
      'signature',
      `the token's signature does not verify: ${(err as Error).message}`,
    );
  }
  const signerCert = outcome.signerCertificate;
  if (!outcome.signatureVerified || !signerCert)
    throw new TimestampRefused('signature', "the token's signature does not verify");
  checkTimestampingEku(signerCert);
  checkSignerBinding(signed.signerInfos[0]!, signerCert);
  const chain = await checkChain(signerCert, signed, check, tstInfo.genTime);
  return { genTime: tstInfo.genTime, tsaSubject: certSubject(der(signerCert)), token: tokenDer, chain };
}

/** {@link verifyTimestampToken} on a TSA's reply (status first). */
export function verifyTimestampResponse(
  responseDer: Uint8Array,
  check: TokenCheck,
): Promise<VerifiedTimestamp> {
  return verifyTimestampToken(tokenOfResponse(responseDer), check);
}

/** Every certificate in a PEM text, DER each (TSA_CA_FILE, --tsa-ca, a bag's chain file). */
export function certificatesFromPem(pem: string): Buffer[] {
  const found = [...pem.matchAll(/-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g)];
  return found.map((m) => Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64'));
}

/** DER certificates as PEM text. */
export function pemOfCertificates(ders: readonly Buffer[]): string {
  return ders
    .map(
      (d) =>
        `-----BEGIN CERTIFICATE-----\n${d.toString('base64').replace(/.{1,64}/g, '$&\n')}-----END CERTIFICATE-----\n`,
    )
    .join('');
}
