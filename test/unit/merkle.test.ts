import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  checkRecord,
  checkTree,
  EMPTY_TREE_HASH,
  type HashReader,
  hashChildren,
  hashLeaf,
  proveRecord,
  proveTree,
  splitStoredHashIndex,
  storedHashCount,
  storedHashes,
  storedHashesForBatch,
  storedHashIndex,
  treeHash,
} from '../../src/log/merkle.ts';

// ---------------------------------------------------------------------------------------------
// Independent reference, written from RFC 6962 section 2.1 (MTH, PATH, PROOF/SUBPROOF), sharing
// no code with merkle.ts. k is the largest power of two smaller than n.
const sha256 = (...parts: Uint8Array[]): Buffer => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
};
const refLeaf = (d: Uint8Array) => sha256(Uint8Array.of(0), d);
const refNode = (l: Uint8Array, r: Uint8Array) => sha256(Uint8Array.of(1), l, r);
const splitPoint = (n: number): number => {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
};
function mth(d: readonly Uint8Array[]): Buffer {
  if (d.length === 0) return sha256();
  if (d.length === 1) return refLeaf(d[0]!);
  const k = splitPoint(d.length);
  return refNode(mth(d.slice(0, k)), mth(d.slice(k)));
}
function refPath(m: number, d: readonly Uint8Array[]): Buffer[] {
  if (d.length === 1) return [];
  const k = splitPoint(d.length);
  if (m < k) return [...refPath(m, d.slice(0, k)), mth(d.slice(k))];
  return [...refPath(m - k, d.slice(k)), mth(d.slice(0, k))];
}
function refSubproof(m: number, d: readonly Uint8Array[], b: boolean): Buffer[] {
  if (m === d.length) return b ? [] : [mth(d)];
  const k = splitPoint(d.length);
  if (m <= k) return [...refSubproof(m, d.slice(0, k), b), mth(d.slice(k))];
  return [...refSubproof(m - k, d.slice(k), false), mth(d.slice(0, k))];
}
const refProof = (m: number, d: readonly Uint8Array[]) => refSubproof(m, d, true);
// ---------------------------------------------------------------------------------------------

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const hexes = (bs: readonly Uint8Array[]) => bs.map(hex);
const b64 = (s: string) => Buffer.from(s, 'base64');
const log2ceil = (n: number) => Math.ceil(Math.log2(Math.max(n, 2)));

/** In-memory stored-hash table with a reader that records its calls. */
function memoryStore() {
  const table = new Map<number, Buffer>();
  const calls: number[][] = [];
  const read: HashReader = async (indexes) => {
    calls.push([...indexes]);
    for (let i = 1; i < indexes.length; i++) expect(indexes[i]!).toBeGreaterThan(indexes[i - 1]!);
    return indexes.map((i) => {
      const h = table.get(i);
      if (!h) throw new Error(`no stored hash ${i}`);
      return h;
    });
  };
  return { table, calls, read };
}

async function buildStore(leaves: readonly Uint8Array[]) {
  const store = memoryStore();
  for (const [n, leaf] of leaves.entries()) {
    const hs = await storedHashes(n, leaf, store.read);
    expect(store.table.size).toBe(storedHashIndex(0, n));
    for (const h of hs) store.table.set(store.table.size, h);
    expect(storedHashCount(n + 1)).toBe(store.table.size);
  }
  store.calls.length = 0;
  return store;
}

/** Event-hash-like leaf data: 32-byte SHA-256 of "event i". */
const eventLeaves = (n: number) => Array.from({ length: n }, (_, i) => sha256(Buffer.from(`event ${i}`)));

describe('hash primitives', () => {
  it('follow RFC 6962', () => {
    expect(hex(hashLeaf(new Uint8Array()))).toBe(
      '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
    );
    expect(hex(EMPTY_TREE_HASH)).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    const [a, b] = [Buffer.alloc(32, 1), Buffer.alloc(32, 2)];
    expect(hashChildren(a, b).equals(refNode(a, b))).toBe(true);
  });
});

describe('stored hash layout (tlog)', () => {
  it('orders hashes as they become computable', () => {
    // leaf0, leaf1, (1,0), leaf2, leaf3, (1,1), (2,0), leaf4
    const order: [number, number][] = [
      [0, 0],
      [0, 1],
      [1, 0],
      [0, 2],
      [0, 3],
      [1, 1],
      [2, 0],
      [0, 4],
    ];
    for (const [i, [level, n]] of order.entries()) expect(storedHashIndex(level, n)).toBe(i);
    expect([0, 1, 2, 3, 4, 5, 8].map(storedHashCount)).toEqual([0, 1, 3, 4, 7, 8, 15]);
  });

  it('splitStoredHashIndex inverts storedHashIndex (tlog TestSplitStoredHashIndex)', () => {
    for (let l = 0; l < 10; l++) {
      for (let n = 0; n < 100; n++)
        expect(splitStoredHashIndex(storedHashIndex(l, n))).toEqual({ level: l, n });
    }
    const big = 2 ** 47 + 12345; // level-0 equivalent ~2^50: index ~2^51, still exact
    expect(splitStoredHashIndex(storedHashIndex(3, big))).toEqual({ level: 3, n: big });
  });

  it('refuses indexes that would lose precision', () => {
    expect(() => storedHashIndex(0, 2 ** 53)).toThrow(RangeError);
    expect(() => storedHashIndex(0, 2 ** 52 + 2)).toThrow(RangeError);
    expect(() => storedHashIndex(3, 2 ** 51)).toThrow(RangeError);
    expect(() => storedHashIndex(0, -1)).toThrow(RangeError);
    expect(() => storedHashIndex(0, 1.5)).toThrow(RangeError);
  });
});

// transparency-dev/merkle testonly/constants.go and proof/verify_test.go (RFC 6962 vectors,
// also used by certificate-transparency-go).
const TD_LEAVES = [
  '',
  '00',
  '10',
  '2021',
  '3031',
  '40414243',
  '5051525354555657',
  '606162636465666768696a6b6c6d6e6f',
].map((h) => Buffer.from(h, 'hex'));
const TD_ROOTS = [
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
];
const TD_NODES = [
  [
    '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
    '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
    '0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7',
    '07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7',
    'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
    '4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658',
    'b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f',
    '46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1',
  ],
  [
    'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
    '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
    '0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a',
    'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
  ],
  [
    'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
  ],
  ['5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328'],
];
const nodeHex = (level: number, i: number) => TD_NODES[level]![i]!;
// [leaf index (0-based), tree size, audit path]
const TD_INCLUSION: [number, number, string[]][] = [
  [0, 8, [nodeHex(0, 1), nodeHex(1, 1), nodeHex(2, 1)]],
  [5, 8, [nodeHex(0, 4), nodeHex(1, 3), nodeHex(2, 0)]],
  [2, 3, [nodeHex(1, 0)]],
  [1, 5, [nodeHex(0, 0), nodeHex(1, 1), nodeHex(0, 4)]],
];
// [old size, new size, consistency proof]
const TD_CONSISTENCY: [number, number, string[]][] = [
  [1, 1, []],
  [1, 8, [nodeHex(0, 1), nodeHex(1, 1), nodeHex(2, 1)]],
  [6, 8, [nodeHex(1, 2), nodeHex(1, 3), nodeHex(2, 0)]],
  [2, 5, [nodeHex(1, 1), nodeHex(0, 4)]],
  [6, 7, [nodeHex(1, 2), nodeHex(0, 6), nodeHex(2, 0)]],
];

describe('published RFC 6962 vectors (transparency-dev/merkle)', () => {
  it('roots, stored node hashes, inclusion and consistency proofs', async () => {
    const store = await buildStore(TD_LEAVES);
    for (let n = 1; n <= 8; n++) expect(hex(await treeHash(n, store.read))).toBe(TD_ROOTS[n - 1]);
    for (const [l, level] of TD_NODES.entries()) {
      for (const [i, h] of level.entries()) expect(hex(store.table.get(storedHashIndex(l, i))!)).toBe(h);
    }
    for (const [n, t, path] of TD_INCLUSION) {
      const proof = await proveRecord(t, n, store.read);
      expect(hexes(proof)).toEqual(path);
      const root = Buffer.from(TD_ROOTS[t - 1]!, 'hex');
      expect(checkRecord(proof, t, root, n, hashLeaf(TD_LEAVES[n]!))).toBe(true);
    }
    for (const [m, n, expected] of TD_CONSISTENCY) {
      const proof = await proveTree(n, m, store.read);
      expect(hexes(proof)).toEqual(expected);
      const [oldRoot, newRoot] = [TD_ROOTS[m - 1]!, TD_ROOTS[n - 1]!].map((h) => Buffer.from(h, 'hex'));
      expect(checkTree(proof, n, newRoot!, m, oldRoot!)).toBe(true);
    }
  });
});

// Go's sumdb/tlog TestCertificateTransparency: responses of the Google Argon 2020 CT log
// (golang/mod sumdb/tlog/testdata/argon2020/*.json).
const ARGON_LEAF =
  'AAAAAAFelPhqUwAAAAViMIIFXjCCBEagAwIBAgIRAOodHzZdqWIFzYyl/SovhCMwDQYJKoZIhvcNAQELBQAwgZAxCzAJBgNVBAYTAkdCMRswGQYDVQQIExJHcmVhdGVyIE1hbmNoZXN0ZXIxEDAOBgNVBAcTB1NhbGZvcmQxGjAYBgNVBAoTEUNPTU9ETyBDQSBMaW1pdGVkMTYwNAYDVQQDEy1DT01PRE8gUlNBIERvbWFpbiBWYWxpZGF0aW9uIFNlY3VyZSBTZXJ2ZXIgQ0EwHhcNMTcwMjE1MDAwMDAwWhcNMjAwNDE2MjM1OTU5WjBfMSEwHwYDVQQLExhEb21haW4gQ29udHJvbCBWYWxpZGF0ZWQxHTAbBgNVBAsTFFBvc2l0aXZlU1NMIFdpbGRjYXJkMRswGQYDVQQDDBIqLmxhbmRsb3Jkcy5jb20uYXUwggEiMA0GCSqGSIb3DQEBAQUAA4IBDwAwggEKAoIBAQCtPBKKHj4zdrGlCjgTHzb5gx9JCs97DwvBz60f14gDufF2haWbOxyJ0a3opAMsZnOr8HkARVCwxdqG/PTfACcb0QM7FOlzvxGqxataTYiChwvkkif8F9GlJw69HuHgzhusPf1Ytfk3ps1PRC14MkyrS4kwPrk/Le4XdkqRpRw62wG4V6IkbzsNMEOl1H8EgUbfyapdOcVxHjIzvBVy56fBRKG05Fr5wNq3Acak5kYZdNsLhhmlrqAfAjiombW3hb3V5blJdRC0BDdYHv2+zKey6LqJ1FDoXo6IzbzPpC+aifZy47YX+/N1U64Qn5xlDg7mOP8JXfkNJHbU1TJZHif5AgMBAAGjggHhMIIB3TAfBgNVHSMEGDAWgBSQr2o6lFoL2JDqElZz30O0Oija5zAdBgNVHQ4EFgQUNQSLjkoz01I+iuuoC5lgEp0anhcwDgYDVR0PAQH/BAQDAgWgMAwGA1UdEwEB/wQCMAAwHQYDVR0lBBYwFAYIKwYBBQUHAwEGCCsGAQUFBwMCME8GA1UdIARIMEYwOgYLKwYBBAGyMQECAgcwKzApBggrBgEFBQcCARYdaHR0cHM6Ly9zZWN1cmUuY29tb2RvLmNvbS9DUFMwCAYGZ4EMAQIBMFQGA1UdHwRNMEswSaBHoEWGQ2h0dHA6Ly9jcmwuY29tb2RvY2EuY29tL0NPTU9ET1JTQURvbWFpblZhbGlkYXRpb25TZWN1cmVTZXJ2ZXJDQS5jcmwwgYUGCCsGAQUFBwEBBHkwdzBPBggrBgEFBQcwAoZDaHR0cDovL2NydC5jb21vZG9jYS5jb20vQ09NT0RPUlNBRG9tYWluVmFsaWRhdGlvblNlY3VyZVNlcnZlckNBLmNydDAkBggrBgEFBQcwAYYYaHR0cDovL29jc3AuY29tb2RvY2EuY29tMC8GA1UdEQQoMCaCEioubGFuZGxvcmRzLmNvbS5hdYIQbGFuZGxvcmRzLmNvbS5hdTANBgkqhkiG9w0BAQsFAAOCAQEACyHqxUzrexToY7tOv4+kyGPP2D27P1tQpyzeAl1bPObiMhNK2b9vvBLDWAaqm8c0YL1h+DBdLoWzf3xFsIkTCVCjWJTNSNlcYtgRk6or1s7jWsfXzWqsnPjPPmTIOCw7EfH7Yme3oxPs3UUsmShAgPwNohAtL9GqlqMiKM6v1WU3NHt01jEoNP23LRa6KeNK6AH6WHJykzL223IlhgXjHTeuQj6lR+TNrQXJuhwTXYe+20rrpPQxc1Pn7AqnvfWgmicRQ7gdIcr4V6+ecTvLfNOaJ0ZYe5G5giuAAdTm7F57pk04f4gyZNYKrj88mvbkoriN8b6jcWExtrYO6bm2TwAA';
const ARGON_SIZE = 961984013;
const ARGON_ROOT = 'dwlueapdd7LaOEnX2W2Wp9v2XE+KzejHRQGHwEx0oaM=';
const ARGON_AUDIT_PATH =
  'T46AmJsuOM/gFiGlUp+IJJebp+1Z5qratFNW7U0JyOQ= 9Jj1Feodn42uRYEfffkV4HF/EIPFQ5Zo9IwkxbQ2uhk= D53/1oCNebF4J59HHgioovKZxrmrKcVuCVhy3Izg8Ck= wSFDgGSrsXRPA+1c8WHoAFCsWeUv8NDyP/Q/SgsyVyY= 516/RcwsgdwdzHn18v1dJHqBkgFUbNhmCIWOGjsMJaE= naTFY2ajLFgrgs5XUl+zJYZnnlJksLGsA1VYwpLfqbY= mKBRJo6qao+0Kdh/rhGkZUbHUAxMhrtrclrTpIbNjIg= Co4ueOFE7lpifLio94irxxsv1wFMMaK3tPu2ZQkHlro= yRgy800K6JMYCC05sWfqF2kvCg2riT/pVM+nEa6V5+0= n2O38XJZC8/Wpbwi9HhgVizlUyeUHVZvYyQB1607MRc= go3tAjuNfNSCj87y2Rg1xOroDknGN1eaf3cgvzObf7Q= 8D0Mj3/J7ySSnFb0afIHYXv6rlOhECnsebY6XKi1IR8= 6rcez46ZU8M5vPiWVMAUfJfAOV0pPP/mch/lYzZhj/M= 2rtIeXrPvSdUyHc5maIgSAVB2BzaKaupWxSAiVayDE4= nniW/IMFQPN5xw8UsHFn7CRStYbm1gLu7NNa6kkRqJQ= mRPPi7sQS22MduIEyvcNzCNFqIt6kLwYPkNKrVtIcu8= JvTivzESNS9wHI8aph5a7uieVmtS/p9PciMZ5D6GyOo= UTyQd+Ym0wY4zG+qK806bBORwi1CSVvFQ/KknnqoZj8= hXODrqN+ff+U6zPqRQ+ZQKs6im1fPcxIerDSfNwflhE= II6GE+WY/DrpZzfHztLwkR46o37zVkNLCyPYlf68zA0= d609kWWcNBllbA8Jb/ad4XAVVGnScLRmtP8FYyr+Dck= rikBsP0G0gioXRpBFED2CzQdSLrGPvRd0bEcbEZw1rI= GXIElfmnRuWfbA4z7ubV/UwlpSRUbUeec7oL5HDDnh0= pR0SH/NYP6s9+8azWwaeUXA4Ze/3WCIgMfh5YW6wvcE= f3GuAKYVrF8RBg3s15jvA/YvV9oAliWtzP/imwPhQVA= WHn8zDxlVgkV+lSlmzaOdfSBrTHoRr5nT3d76q0KKWE= f2uV2ZxVgULzLPKuZcowRY3ZY7fRlX59iDBjV1R8kNQ= NzQVjJsvQwbi7WStMr9oFkh9VbHfK7LB6o7WwAqwNTs= C0LttBeYHZHgL+032JIcJC3CTBIyza/hsbmJUgJfmDI= nixU5CWTFVDlF4BGdcU6kA7WSYurEpe9jRWc+F/7sOc=';
const ARGON_OLD_SIZE = 3654490;
const ARGON_OLD_ROOT = 'AuIZ5V6sDUj1vn3Y1K85oOaQ7y+FJJKtyRTl1edIKBQ=';
const ARGON_CONSISTENCY =
  '80Sfbj6UQEdVSZCSIgh9NMPj3vCBzcc1A48B2crJSWg= FZcrgAHUk6nNPviJZq8kEK6jCG1d18pJOFE45ZDc1TQ= Q67reWXmPBo1UfmwBap4Xi9PMPfFdUSSw3WGlRZdG7k= eJ7CyhR4PxzBxDIsWgrVYW1eFUb9ndgf46tFmiqVrxA= QrDwp062Grm5WY8KdrhFsBuuNjGzRox2Jb8PmVL5OYw= XM4YMjMEdLH/XJam/ZWyaP14k3cmsOtnPsOWQ54lW1s= SGiBh+jOTGccXU48ZzgQ88lRcBmtB4wz4oSDndv2QTg= WAS6txqNLYKGL1GdBdpqmV42TTfn6cJsuDsqLXuTCNI= QFmRS0rirUA7ZN3lxFjDncV+E1OCrn3NUB4RCp+5fzc= Hdbp7It2XBNZmNDBpCN/KPd7vfVqxgzwOosqVIaEA9E= mxvHL0ZiblBdD7j7pIa1jlfB0gSqfJ6oX0UGo7L0VsU= q5hjyvoW6TL/PThgcitpDcSTrnKX2p1+aqscqH2euRA= jTOWDqt3IHj2NVFeezyBz2ofpru+ztEywqKUAfFclKI= GIRn0w3HqJdvU9j1WVD//eR6lk2AaTVjyzjsJNP8U88= x52GJvxG81fnQBrgOTbll1A5tz95/LXK0Ag1NhB0r1I= 6/0OqrcTgc3o5dD5PymmoC96lB9yLPFuTHVvLy8fSGk= Gf+iKLfcXO5l4JEFmsZvSdG5q1uEeWPfYLrds6pmjz0= DGuaco+McyM3AfRSF6qX7RwSetwe2ieYJmxw5e9rVx0= 2tQJ9V32hnYp+fdpP6TcjmgJmLeNVOMKM0Ml1kk4cNU= 3PapK+IkyJr8I9yAErAmzuZezzLMzsg+PfeRCgNW8NQ= s6xiYeejb+wtqHA+URJZ2I/SCPyIW8coP6aB00FJbMY= z9lSpmdTcr5M5ZzKlc4EPh3SrSypKFdk6JUF/UccaZU= GXIElfmnRuWfbA4z7ubV/UwlpSRUbUeec7oL5HDDnh0= pR0SH/NYP6s9+8azWwaeUXA4Ze/3WCIgMfh5YW6wvcE= f3GuAKYVrF8RBg3s15jvA/YvV9oAliWtzP/imwPhQVA= WHn8zDxlVgkV+lSlmzaOdfSBrTHoRr5nT3d76q0KKWE= f2uV2ZxVgULzLPKuZcowRY3ZY7fRlX59iDBjV1R8kNQ= NzQVjJsvQwbi7WStMr9oFkh9VbHfK7LB6o7WwAqwNTs= C0LttBeYHZHgL+032JIcJC3CTBIyza/hsbmJUgJfmDI= nixU5CWTFVDlF4BGdcU6kA7WSYurEpe9jRWc+F/7sOc=';

describe('real Certificate Transparency proofs (Go tlog TestCertificateTransparency)', () => {
  it('verifies the Argon 2020 inclusion and consistency proofs', () => {
    const leafHash = hashLeaf(b64(ARGON_LEAF));
    const audit = ARGON_AUDIT_PATH.split(' ').map(b64);
    expect(checkRecord(audit, ARGON_SIZE, b64(ARGON_ROOT), 10000, leafHash)).toBe(true);
    expect(checkRecord(audit, ARGON_SIZE, b64(ARGON_ROOT), 10001, leafHash)).toBe(false);
    const consistency = ARGON_CONSISTENCY.split(' ').map(b64);
    expect(checkTree(consistency, ARGON_SIZE, b64(ARGON_ROOT), ARGON_OLD_SIZE, b64(ARGON_OLD_ROOT))).toBe(
      true,
    );
    expect(checkTree(consistency, ARGON_SIZE, b64(ARGON_ROOT), ARGON_OLD_SIZE + 1, b64(ARGON_OLD_ROOT))).toBe(
      false,
    );
  });
});

const flipped = (proof: readonly Buffer[], i: number) =>
  proof.map((h, j) => (j === i ? Buffer.from(h.map((x, k) => (k === 0 ? x ^ 1 : x))) : h));

describe.each([1, 2, 3, 4, 5, 6, 7, 8, 13, 300])(
  'tree of %i leaves against the RFC 6962 reference',
  (size) => {
    const leaves = eventLeaves(size);
    const leafHashes = leaves.map(refLeaf);
    const sample = (n: number) => (size <= 32 ? true : n % 23 === 0 || n < 3 || n > size - 4);

    it('treeHash equals MTH for every prefix, with one small read each', async () => {
      const store = await buildStore(leaves);
      for (let n = 1; n <= size; n++) {
        if (!sample(n)) continue;
        store.calls.length = 0;
        expect(hex(await treeHash(n, store.read))).toBe(hex(mth(leaves.slice(0, n))));
        expect(store.calls).toHaveLength(1);
        expect(store.calls[0]!.length).toBeLessThanOrEqual(1 + log2ceil(n));
      }
    });

    it('inclusion proofs equal PATH, verify, and fail when tampered', async () => {
      const store = await buildStore(leaves);
      const root = mth(leaves);
      for (let n = 0; n < size; n++) {
        if (!sample(n)) continue;
        store.calls.length = 0;
        const proof = await proveRecord(size, n, store.read);
        expect(hexes(proof)).toEqual(hexes(refPath(n, leaves)));
        expect(store.calls).toHaveLength(size === 1 ? 0 : 1);
        expect(store.calls[0]?.length ?? 0).toBeLessThanOrEqual(2 * log2ceil(size) + 2);
        const lh = leafHashes[n]!;
        expect(checkRecord(proof, size, root, n, lh)).toBe(true);
        for (let i = 0; i < proof.length; i++)
          expect(checkRecord(flipped(proof, i), size, root, n, lh)).toBe(false);
        expect(checkRecord(proof, size, hashLeaf(root), n, lh)).toBe(false);
        expect(checkRecord(proof, size, root, n, hashLeaf(lh))).toBe(false);
        expect(checkRecord([...proof, root], size, root, n, lh)).toBe(false);
        if (proof.length > 0) expect(checkRecord(proof.slice(1), size, root, n, lh)).toBe(false);
        if (size > 1) expect(checkRecord(proof, size, root, (n + 1) % size, lh)).toBe(false);
        expect(checkRecord(proof, size, root, size, lh)).toBe(false);
      }
    });

    it('consistency proofs equal PROOF, verify, and fail when tampered', async () => {
      const store = await buildStore(leaves);
      const targets = size <= 32 ? Array.from({ length: size }, (_, i) => i + 1) : [size - 1, size];
      for (const t of targets) {
        const newRoot = mth(leaves.slice(0, t));
        for (let m = 1; m <= t; m++) {
          if (!sample(m)) continue;
          const oldRoot = mth(leaves.slice(0, m));
          store.calls.length = 0;
          const proof = await proveTree(t, m, store.read);
          expect(hexes(proof)).toEqual(hexes(refProof(m, leaves.slice(0, t))));
          expect(store.calls).toHaveLength(m === t ? 0 : 1);
          expect(store.calls[0]?.length ?? 0).toBeLessThanOrEqual(2 * log2ceil(t) + 2);
          expect(checkTree(proof, t, newRoot, m, oldRoot)).toBe(true);
          for (let i = 0; i < proof.length; i++)
            expect(checkTree(flipped(proof, i), t, newRoot, m, oldRoot)).toBe(false);
          if (m < t) {
            expect(checkTree(proof, t, oldRoot, m, newRoot)).toBe(false);
            expect(checkTree(proof, t, hashLeaf(newRoot), m, oldRoot)).toBe(false);
            expect(checkTree(proof, t, newRoot, m, hashLeaf(oldRoot))).toBe(false);
            expect(checkTree([], t, newRoot, m, oldRoot)).toBe(false);
            expect(checkTree([...proof, newRoot], t, newRoot, m, oldRoot)).toBe(false);
          }
        }
      }
    });
  },
);

describe('batched appends', () => {
  it('store the same hashes as one-by-one appends, with one read of the right edge per batch', async () => {
    const leaves = eventLeaves(300);
    const expected = await buildStore(leaves);
    const store = memoryStore();
    const batchSizes = [1, 1, 2, 5, 7, 16, 13, 64, 1, 100, 3, 87];
    let start = 0;
    for (const k of batchSizes) {
      store.calls.length = 0;
      const out = await storedHashesForBatch(start, leaves.slice(start, start + k), store.read);
      expect(out.map((s) => s.index)).toEqual(
        Array.from(
          { length: storedHashCount(start + k) - storedHashCount(start) },
          (_, i) => storedHashCount(start) + i,
        ),
      );
      expect(store.calls.length).toBeLessThanOrEqual(1);
      for (const call of store.calls) {
        expect(call.length).toBeLessThanOrEqual(1 + log2ceil(start));
        for (const index of call) expect(index).toBeLessThan(storedHashCount(start));
      }
      for (const { index, hash } of out) store.table.set(index, hash);
      start += k;
    }
    expect(start).toBe(300);
    expect(store.table.size).toBe(expected.table.size);
    for (const [index, hash] of expected.table) expect(hex(store.table.get(index)!)).toBe(hex(hash));
    expect(hex(await treeHash(300, store.read))).toBe(hex(mth(leaves)));
  });

  it('does not read at all for the first batch or an empty batch', async () => {
    const store = memoryStore();
    const out = await storedHashesForBatch(0, eventLeaves(8), store.read);
    expect(out).toHaveLength(storedHashCount(8));
    expect(await storedHashesForBatch(8, [], store.read)).toEqual([]);
    expect(store.calls).toHaveLength(0);
  });
});

describe('reader contract and invalid inputs', () => {
  it('rejects a reader that returns the wrong number or size of hashes', async () => {
    const short: HashReader = async (indexes) => indexes.slice(1).map(() => Buffer.alloc(32));
    await expect(treeHash(3, short)).rejects.toThrow(/returned 1 hashes/);
    const small: HashReader = async (indexes) => indexes.map(() => Buffer.alloc(31));
    await expect(proveRecord(3, 0, small)).rejects.toThrow(/31-byte hash/);
  });

  it('rejects out-of-range proof requests and never throws when checking', async () => {
    const { read } = memoryStore();
    await expect(proveRecord(3, 3, read)).rejects.toThrow(RangeError);
    await expect(proveTree(3, 0, read)).rejects.toThrow(RangeError);
    await expect(proveTree(3, 4, read)).rejects.toThrow(RangeError);
    expect(await treeHash(0, read)).toEqual(EMPTY_TREE_HASH);
    const h = Buffer.alloc(32);
    expect(checkRecord([], 0, h, 0, h)).toBe(false);
    expect(checkRecord([], 1, h, 0, h)).toBe(true);
    expect(checkRecord([], 1, h, 0, Buffer.alloc(31))).toBe(false);
    expect(checkRecord([Buffer.alloc(31)], 2, h, 0, h)).toBe(false);
    expect(checkTree([], 0, h, 0, h)).toBe(false);
    expect(checkTree([], 2, h, 3, h)).toBe(false);
    expect(checkTree([], 2, h, 2, h)).toBe(true);
    expect(checkTree([], Number.NaN, h, 1, h)).toBe(false);
  });
});
