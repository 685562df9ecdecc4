// A subject's custody timeline as the API pages it — sources and claims alike — with each
// event's actor by name. actorName is a convenience of the response: it is not part of the
// canonical body, so events and their hashes stay as they were appended.
import type { PrismaClient } from '../db/prisma.ts';
import type { Subject } from './event-types.ts';
import { type LedgerEventView, readSubjectEvents, toEventView } from './ledger.repository.ts';

export interface NamedEventView extends LedgerEventView {
  /** The user's name for `user:<id>` actors; the worker or system actor string otherwise. */
  actorName: string;
}

const userActor = /^user:([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/i;

/** actor → display name for every actor given, with one query for all the users among them. */
export async function actorNames(
  prisma: PrismaClient,
  actors: Iterable<string>,
): Promise<Map<string, string>> {
  const all = new Set(actors);
  const ids = [...all].flatMap((a) => userActor.exec(a)?.[1] ?? []);
  const users = ids.length
    ? await prisma.user.findMany({ where: { id: { in: ids } }, select: { id: true, name: true } })
    : [];
  const byId = new Map(users.map((u) => [u.id, u.name]));
  // A user actor whose row is unknown keeps its actor string, like workers and the system.
  return new Map([...all].map((a) => [a, byId.get(userActor.exec(a)?.[1] ?? '') ?? a]));
}

/** The events with their actors' names (one lookup for the whole list). */
export async function withActorNames(
  prisma: PrismaClient,
  events: readonly LedgerEventView[],
): Promise<NamedEventView[]> {
  const names = await actorNames(
    prisma,
    events.map((e) => e.actor),
  );
  return events.map((e) => ({ ...e, actorName: names.get(e.actor) ?? e.actor }));
}

/** The subject's events in seq order, `limit` at a time after seq `cursor`. The caller has
 * checked that the subject is visible. */
export async function custodyPage(prisma: PrismaClient, subject: Subject, limit: number, cursor?: number) {
  const events = await readSubjectEvents(prisma, subject, { after: cursor ?? 0, limit: limit + 1 });
  const page = events.slice(0, limit).map(toEventView);
  return {
    items: await withActorNames(prisma, page),
    nextCursor: events.length > limit ? String(page.at(-1)!.seq) : null,
  };
}
