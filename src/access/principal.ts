// Who is asking: the principal every service receives, and how it is named in ledger events.
// Kept free of HTTP so services, workers and the CLI can import it (authentication, which
// reads the Authorization header, is src/http/authenticate.ts).
import type { RoleName } from '../users/users.service.ts';

export interface Principal {
  id: string;
  name: string;
  role: RoleName;
}

/** The `actor` of the ledger events a user's request appends. */
export const actorOf = (p: Principal) => `user:${p.id}`;
