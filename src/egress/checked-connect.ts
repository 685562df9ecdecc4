// One outbound TCP connection under the fetcher's address policy (src/fetch/address-policy.ts),
// for traffic the guarded fetcher does not carry itself (the egress proxy's tunnels and plain
// requests). The same steps as the fetcher's connect: resolve the name ourselves, refuse when
// ANY resolved address is not allowed (FETCH_ALLOWLIST honoured), connect to a checked IP
// literal, and check the socket's real remote address once more. The refusal texts are the
// fetcher's, so a capture record reads the same whichever path refused.
import { promises as dns } from 'node:dns';
import net, { type Socket } from 'node:net';
import { type Allowlist, checkTarget, sameAddress } from '../fetch/address-policy.ts';
import {
  FetchError,
  FetchRefusedError,
  FetchTransientError,
  socketFetchError,
} from '../fetch/fetch-errors.ts';

export type Resolver = (hostname: string) => Promise<string[]>;

export interface CheckedConnectOptions {
  allowlist: Allowlist;
  connectTimeoutMs: number;
  /** Name resolution; default dns.lookup({ all: true }). Injectable to stage DNS answers. */
  resolve?: Resolver;
}

export interface CheckedSocket {
  socket: Socket;
  /** The address the socket is connected to, as the socket reports it. */
  address: string;
}

async function defaultResolve(hostname: string): Promise<string[]> {
  const answers = await dns.lookup(hostname, { all: true, verbatim: true });
  return answers.map((a) => a.address);
}

function withDeadline<T>(work: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}

function connectOnce(address: string, port: number, timeoutMs: number): Promise<Socket> {
  return new Promise((ok, fail) => {
    const socket = net.connect({ host: address, port, noDelay: true });
    const settle = (err?: unknown) => {
      clearTimeout(timer);
      socket.removeListener('error', settle);
      if (err === undefined) return ok(socket);
      socket.destroy();
      fail(err);
    };
    const timer = setTimeout(
      () => settle(new FetchTransientError('connect_timeout', 'connect timed out')),
      timeoutMs,
    );
    socket.once('connect', () => settle());
    socket.once('error', settle);
  });
}

/** Strips the brackets of an IPv6 literal host (`[::1]` → `::1`). */
export function bareHost(host: string): string {
  return host.replace(/^\[(.*)\]$/, '$1');
}

/**
 * Connects to `host:port` only if every address the name resolves to is allowed; throws a
 * FetchRefusedError (forbidden_address, unresolvable) or FetchTransientError otherwise.
 */
export async function connectChecked(
  host: string,
  port: number,
  options: CheckedConnectOptions,
): Promise<CheckedSocket> {
  const hostname = bareHost(host);
  const literal = net.isIP(hostname) !== 0;
  const resolve = options.resolve ?? defaultResolve;
  const addresses = literal
    ? [hostname]
    : await withDeadline(
        resolve(hostname),
        options.connectTimeoutMs,
        () => new FetchTransientError('dns_error', 'DNS lookup timed out'),
      ).catch((err: unknown) => {
        throw socketFetchError(err, 'connect');
      });
  if (addresses.length === 0) throw new FetchRefusedError('unresolvable', 'host name has no addresses');
  for (const address of addresses) {
    const verdict = checkTarget(options.allowlist, { address, port, hostname });
    if (!verdict.allowed) {
      // A hostname's resolved address is left out of the detail: no internal-DNS oracle.
      const subject = literal ? `${hostname} is` : `${hostname} resolves to`;
      throw new FetchRefusedError('forbidden_address', `${subject} a ${verdict.range} address; not fetched`);
    }
  }
  let lastError: unknown;
  for (const address of addresses) {
    let socket: Socket;
    try {
      socket = await connectOnce(address, port, options.connectTimeoutMs);
    } catch (err) {
      lastError = err;
      continue;
    }
    const remote = socket.remoteAddress;
    const verdict = remote ? checkTarget(options.allowlist, { address: remote, port, hostname }) : undefined;
    if (!remote || !verdict?.allowed || !sameAddress(remote, address)) {
      socket.destroy();
      throw new FetchRefusedError('forbidden_address', `${hostname}: connected address failed the re-check`);
    }
    return { socket, address: remote };
  }
  throw lastError instanceof FetchError ? lastError : socketFetchError(lastError, 'connect');
}
