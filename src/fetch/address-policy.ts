// Which addresses a worker may connect to. Everything here is pure data and arithmetic on
// already-resolved IP literals: the fetcher resolves names itself and asks this module about
// every address it got, and again about the address the socket really connected to.
import net from 'node:net';

export type IpVersion = 4 | 6;

export interface ParsedIp {
  version: IpVersion;
  /** The address as an unsigned 32- or 128-bit integer. */
  value: bigint;
  /** An IPv6 zone (`fe80::1%eth0`) was given: the address is link-scoped whatever it is. */
  zoned: boolean;
}

interface Cidr {
  version: IpVersion;
  value: bigint;
  prefix: number;
}

const BITS: Record<IpVersion, number> = { 4: 32, 6: 128 };

/**
 * IPv4 ranges that are not public unicast. Source: IANA "IPv4 Special-Purpose Address
 * Registry" (RFC 6890 and successors), plus multicast (RFC 5771) and the reserved 240/4
 * block with limited broadcast (RFC 1112, RFC 919). First match wins, so a narrower range
 * listed before a wider one names it more precisely.
 */
const IPV4_NOT_PUBLIC: readonly (readonly [cidr: string, label: string])[] = [
  ['0.0.0.0/8', '"this network" (RFC 791, RFC 1122)'],
  ['10.0.0.0/8', 'private-use (RFC 1918)'],
  ['100.64.0.0/10', 'shared address space / CGNAT (RFC 6598)'],
  ['127.0.0.0/8', 'loopback (RFC 1122)'],
  ['169.254.0.0/16', 'link-local, incl. cloud metadata (RFC 3927)'],
  ['172.16.0.0/12', 'private-use (RFC 1918)'],
  ['192.0.0.0/24', 'IETF protocol assignments (RFC 6890)'],
  ['192.0.2.0/24', 'documentation TEST-NET-1 (RFC 5737)'],
  ['192.88.99.0/24', '6to4 relay anycast, deprecated (RFC 7526)'],
  ['192.168.0.0/16', 'private-use (RFC 1918)'],
  ['198.18.0.0/15', 'benchmarking (RFC 2544)'],
  ['198.51.100.0/24', 'documentation TEST-NET-2 (RFC 5737)'],
  ['203.0.113.0/24', 'documentation TEST-NET-3 (RFC 5737)'],
  ['224.0.0.0/4', 'multicast (RFC 5771)'],
  ['255.255.255.255/32', 'limited broadcast (RFC 919)'],
  ['240.0.0.0/4', 'reserved (RFC 1112)'],
];

/**
 * IPv6 prefixes that carry an IPv4 address; such an address is public only if the IPv4
 * address inside is. `shift` is how far right the embedded 32 bits sit.
 */
const IPV6_EMBEDDING_V4: readonly (readonly [cidr: string, label: string, shift: number])[] = [
  ['::ffff:0:0/96', 'IPv4-mapped (RFC 4291)', 0],
  ['64:ff9b::/96', 'NAT64 well-known prefix (RFC 6052)', 0],
  ['2002::/16', '6to4 (RFC 3056)', 80],
];

/**
 * IPv6 ranges that are not public unicast. Source: IANA "IPv6 Special-Purpose Address
 * Registry" and "Internet Protocol Version 6 Address Space". Anything outside global
 * unicast 2000::/3 (RFC 4291 §2.4) is refused as well, so this lists the inside exceptions
 * and names the common outside ones.
 */
const IPV6_NOT_PUBLIC: readonly (readonly [cidr: string, label: string])[] = [
  ['::/128', 'unspecified (RFC 4291)'],
  ['::1/128', 'loopback (RFC 4291)'],
  ['::/96', 'IPv4-compatible, deprecated (RFC 4291)'],
  ['::ffff:0:0:0/96', 'IPv4-translated (RFC 2765)'],
  ['64:ff9b:1::/48', 'local-use IPv4/IPv6 translation (RFC 8215)'],
  ['100::/64', 'discard-only (RFC 6666)'],
  ['2001:db8::/32', 'documentation (RFC 3849)'],
  ['2001::/23', 'IETF protocol assignments, incl. Teredo and ORCHID (RFC 2928, RFC 4380)'],
  ['3fff::/20', 'documentation (RFC 9637)'],
  ['5f00::/16', 'SRv6 SIDs (RFC 9602)'],
  ['fc00::/7', 'unique local (RFC 4193)'],
  ['fe80::/10', 'link-local (RFC 4291)'],
  ['fec0::/10', 'site-local, deprecated (RFC 3879)'],
  ['ff00::/8', 'multicast (RFC 4291)'],
];

const IPV6_GLOBAL_UNICAST = '2000::/3';

function parseV4(s: string): bigint {
  return s.split('.').reduce((acc, octet) => (acc << 8n) | BigInt(Number(octet)), 0n);
}

// Only called on strings net.isIPv6 accepted, so the shape is already known to be valid.
function parseV6(s: string): bigint {
  let text = s;
  if (text.includes('.')) {
    const at = text.lastIndexOf(':') + 1;
    const v4 = parseV4(text.slice(at));
    text = `${text.slice(0, at)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const [left = '', right] = text.split('::');
  const head = left === '' ? [] : left.split(':');
  const tail = right === undefined || right === '' ? [] : right.split(':');
  const groups =
    right === undefined
      ? head
      : [...head, ...Array<string>(8 - head.length - tail.length).fill('0'), ...tail];
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(Number.parseInt(g, 16)), 0n);
}

/** Parses an IPv4 dotted quad or an IPv6 literal (brackets and zone allowed); else undefined. */
export function parseIp(input: string): ParsedIp | undefined {
  let s = input.trim();
  if (s.startsWith('[') && s.endsWith(']')) s = s.slice(1, -1);
  if (net.isIPv4(s)) return { version: 4, value: parseV4(s), zoned: false };
  if (!net.isIPv6(s)) return undefined;
  const pct = s.indexOf('%');
  const bare = pct === -1 ? s : s.slice(0, pct);
  if (!net.isIPv6(bare)) return undefined;
  return { version: 6, value: parseV6(bare), zoned: pct !== -1 };
}

function parseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf('/');
  if (slash === -1) return undefined;
  const ip = parseIp(text.slice(0, slash));
  const prefixText = text.slice(slash + 1);
  if (!ip || ip.zoned || !/^\d{1,3}$/.test(prefixText)) return undefined;
  const prefix = Number(prefixText);
  if (prefix > BITS[ip.version]) return undefined;
  return { version: ip.version, value: ip.value, prefix };
}

function mustParseCidr(text: string): Cidr {
  const cidr = parseCidr(text);
  if (!cidr) throw new Error(`address-policy: bad built-in range ${text}`);
  return cidr;
}

function contains(cidr: Cidr, ip: ParsedIp): boolean {
  if (cidr.version !== ip.version) return false;
  const shift = BigInt(BITS[ip.version] - cidr.prefix);
  return ip.value >> shift === cidr.value >> shift;
}

const v4Table = IPV4_NOT_PUBLIC.map(([c, label]) => ({ cidr: mustParseCidr(c), label }));
const v6Embedding = IPV6_EMBEDDING_V4.map(([c, label, shift]) => ({
  cidr: mustParseCidr(c),
  label,
  shift: BigInt(shift),
}));
const v6Table = IPV6_NOT_PUBLIC.map(([c, label]) => ({ cidr: mustParseCidr(c), label }));
const v6Global = mustParseCidr(IPV6_GLOBAL_UNICAST);

export interface AddressClass {
  public: boolean;
  /** Human-readable name of the range, fit for a recorded refusal reason. */
  range: string;
}

function classifyParsed(ip: ParsedIp): AddressClass {
  if (ip.version === 4) {
    const hit = v4Table.find((r) => contains(r.cidr, ip));
    return hit ? { public: false, range: hit.label } : { public: true, range: 'public unicast' };
  }
  if (ip.zoned) return { public: false, range: 'zoned IPv6 (link-scoped)' };
  const embedding = v6Embedding.find((r) => contains(r.cidr, ip));
  if (embedding) {
    const inner = classifyParsed({
      version: 4,
      value: (ip.value >> embedding.shift) & 0xffffffffn,
      zoned: false,
    });
    return inner.public
      ? { public: true, range: `${embedding.label} of a public unicast IPv4 address` }
      : { public: false, range: `${embedding.label} of ${inner.range}` };
  }
  const hit = v6Table.find((r) => contains(r.cidr, ip));
  if (hit) return { public: false, range: hit.label };
  if (!contains(v6Global, ip)) return { public: false, range: 'not global unicast (outside 2000::/3)' };
  return { public: true, range: 'public unicast' };
}

/** Classifies an IP literal; a string that is not one is never public. */
export function classifyAddress(ip: string): AddressClass {
  const parsed = parseIp(ip);
  return parsed ? classifyParsed(parsed) : { public: false, range: 'not an IP address' };
}

/** True only for a public unicast address (IPv4 or IPv6, IPv4 embedded in IPv6 unwrapped). */
export function isPublicAddress(ip: string): boolean {
  return classifyAddress(ip).public;
}

/** An IPv4-mapped IPv6 address compared as the IPv4 address it is. */
function unmap(ip: ParsedIp): ParsedIp {
  if (ip.version === 6 && ip.value >> 32n === 0xffffn) {
    return { version: 4, value: ip.value & 0xffffffffn, zoned: false };
  }
  return ip;
}

// ---- allow-list --------------------------------------------------------------------------

export type AllowlistEntry =
  | { kind: 'cidr'; source: string; cidr: Cidr }
  | { kind: 'ip-port'; source: string; ip: ParsedIp; port: number }
  | { kind: 'host-port'; source: string; host: string; port: number };

export interface Allowlist {
  readonly entries: readonly AllowlistEntry[];
}

export class AllowlistError extends Error {
  constructor(
    readonly entry: string,
    reason: string,
  ) {
    super(`invalid fetch allow-list entry "${entry}": ${reason}`);
    this.name = 'AllowlistError';
  }
}

/** Lower-case, no trailing dot: the form URL hostnames are compared in. */
export function normalizeHostname(host: string): string {
  const lower = host.toLowerCase();
  return lower.endsWith('.') ? lower.slice(0, -1) : lower;
}

function parseEntry(source: string): AllowlistEntry {
  if (source.includes('/')) {
    const cidr = parseCidr(source);
    if (!cidr) throw new AllowlistError(source, 'not a valid CIDR');
    return { kind: 'cidr', source, cidr };
  }
  const bareIp = parseIp(source);
  if (bareIp && !bareIp.zoned && !source.startsWith('[')) {
    return {
      kind: 'cidr',
      source,
      cidr: { version: bareIp.version, value: bareIp.value, prefix: BITS[bareIp.version] },
    };
  }
  const m = /^(\[[^\]]+\]|[^:[\]]+):(\d{1,5})$/.exec(source);
  if (!m?.[1] || !m[2]) {
    throw new AllowlistError(source, 'expected host:port, [ipv6]:port, an IP address or a CIDR');
  }
  const port = Number(m[2]);
  if (port < 1 || port > 65535) throw new AllowlistError(source, 'port out of range');
  let hostname: string;
  try {
    // The URL parser gives the same normal form (127.1 → 127.0.0.1, case, IDNA) as fetched URLs get.
    hostname = new URL(`http://${m[1]}/`).hostname;
  } catch {
    throw new AllowlistError(source, 'not a valid host');
  }
  const ip = parseIp(hostname);
  if (ip) {
    if (ip.zoned) throw new AllowlistError(source, 'zoned IPv6 addresses are not supported');
    return { kind: 'ip-port', source, ip: unmap(ip), port };
  }
  return { kind: 'host-port', source, host: normalizeHostname(hostname), port };
}

/**
 * Parses allow-list entries: `host:port` / `ip:port` / `[ipv6]:port` (that host or address at
 * that port only), a CIDR such as `127.0.0.0/8` or `::1/128` (any port), or a bare IP (any
 * port). Blank entries are skipped; anything else throws AllowlistError.
 */
export function parseAllowlist(entries: readonly string[]): Allowlist {
  return {
    entries: entries
      .map((e) => e.trim())
      .filter(Boolean)
      .map(parseEntry),
  };
}

export interface ConnectTarget {
  /** The IP literal about to be (or just) connected to. */
  address: string;
  port: number;
  /** The hostname from the URL (URL-normalized), for `host:port` entries. */
  hostname: string;
}

export type TargetVerdict =
  | { allowed: true; reason: 'public' | 'allowlist'; range: string }
  | { allowed: false; range: string };

/**
 * Decides one connection: public unicast addresses are allowed; anything else only through
 * an allow-list entry matching this address (CIDR, or IP at this port) or this URL hostname
 * at this port.
 */
export function checkTarget(allowlist: Allowlist, target: ConnectTarget): TargetVerdict {
  const parsed = parseIp(target.address);
  if (!parsed) return { allowed: false, range: 'not an IP address' };
  const cls = classifyParsed(parsed);
  if (cls.public) return { allowed: true, reason: 'public', range: cls.range };
  if (parsed.zoned) return { allowed: false, range: cls.range };
  const ip = unmap(parsed);
  const host = normalizeHostname(target.hostname);
  const hit = allowlist.entries.some((e) => {
    if (e.kind === 'cidr') return contains(e.cidr, ip) || contains(e.cidr, parsed);
    if (e.port !== target.port) return false;
    return e.kind === 'host-port' ? e.host === host : e.ip.version === ip.version && e.ip.value === ip.value;
  });
  return hit
    ? { allowed: true, reason: 'allowlist', range: cls.range }
    : { allowed: false, range: cls.range };
}

/** True when two IP literals name the same address (IPv4-mapped IPv6 equals its IPv4). */
export function sameAddress(a: string, b: string): boolean {
  const pa = parseIp(a);
  const pb = parseIp(b);
  if (!pa || !pb) return false;
  const ua = unmap(pa);
  const ub = unmap(pb);
  return ua.version === ub.version && ua.value === ub.value;
}
