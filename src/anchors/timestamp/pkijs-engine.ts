// pkijs finds no crypto engine by itself under Node 20: give it node's WebCrypto, once.
import { webcrypto } from 'node:crypto';
import * as pkijs from 'pkijs';

let done = false;

/** Call before any pkijs signature or digest check. */
export function usePkijsEngine(): void {
  if (done) return;
  pkijs.setEngine(
    'node',
    new pkijs.CryptoEngine({
      name: 'node',
      crypto: webcrypto as unknown as pkijs.CryptoEngineParameters['crypto'],
    }),
  );
  done = true;
}
