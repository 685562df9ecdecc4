// Row ids for writes on the pg path. The schema's ids are UUIDv7 made by the client (Prisma's
// `@default(uuid(7))` has no database default), so plain SQL inserts take them from here: time
// ordered, so keyset pagination and "oldest first" by id keep working for rows written either way.
import { v7 } from 'uuid';

export const newId = (): string => v7();
