// The export view {claims (with citations), sources, evidence} folded from ledger events alone.
// Pure (no database, no I/O): the export builder writes export.json from it and the offline
// verifier rebuilds it from a bag's chains, so everything export.json states is what the
// signed, proven events say. Events arrive per subject in seq order (subjects in any order).
import type { EventBody } from '../ledger/canonical.ts';
import { type EventData, type EventType, eventCatalogue } from '../ledger/event-types.ts';

type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

export interface CitationView {
  id: string;
  sourceId: string;
  relation: string;
  expected: Json;
  note: string | null;
  createdAt: string;
}

export interface ClaimView {
  id: string;
  investigationId: string | null;
  statement: Json;
  claimant: Json;
  claimedAt: Json;
  language: Json;
  tags: Json;
  status: Json;
  createdBy: Json;
  createdAt: Json;
  updatedAt: Json;
  citations: CitationView[];
}

export interface EvidenceItemView {
  id: string;
  sourceId: string;
  captureId: string | null;
  kind: string;
  mediaType: string;
  declaredType: string | null;
  size: number;
  sha256: string;
  metadata: Json;
  checks: Json[];
  capturedAt: string;
  originUrl: string | null;
}

export interface SourceView {
  id: string;
  investigationId: string | null;
  url: string;
  normalizedUrl: string;
  platform: Json;
  status: 'pending' | 'capturing' | 'captured' | 'failed';
  failure: { code: string; detail: string } | null;
  checks: Json[];
  recaptureEverySeconds: number | null;
  /** The chain itself: its length and last hash (in an export, the exported chain). */
  custody: { length: number; headHash: string | null };
  createdAt: string;
}

/** What an export's export_requested event says: export.json's head is held to it. */
export interface ExportRequest {
  scope: { claimId?: string; investigationId?: string };
  format: string;
  includeContent: boolean;
  at: string;
}

export interface ExportView {
  claims: ClaimView[];
  sources: SourceView[];
  evidence: EvidenceItemView[];
}

/** An event with its data typed by its type. */
type TypedEvent = { [T in EventType]: { type: T; data: EventData<T> } }[EventType];

/** Event types the view is folded from; their data is validated against the catalogue. */
const PROJECTED: ReadonlySet<string> = new Set<EventType>([
  'claim_created',
  'claim_updated',
  'citation_added',
  'citation_withdrawn',
  'source_cited',
  'recapture_scheduled',
  'fetch_started',
  'stored',
  'metadata_extracted',
  'checks_updated',
  'capture_completed',
  'capture_failed',
  'export_requested',
]);

/** Fields of a claim the claim_created record carries (the API's claim shape). */
const CLAIM_FIELDS = [
  'statement',
  'claimant',
  'claimedAt',
  'language',
  'tags',
  'status',
  'createdBy',
  'createdAt',
  'updatedAt',
] as const;

const byId = (a: { id: string }, b: { id: string }) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/** Evidence in the API's order: source, then capture time, then id. */
const evidenceOrder = (a: EvidenceItemView, b: EvidenceItemView) =>
  a.sourceId < b.sourceId
    ? -1
    : a.sourceId > b.sourceId
      ? 1
      : a.capturedAt < b.capturedAt
        ? -1
        : a.capturedAt > b.capturedAt
          ? 1
          : byId(a, b);

/** A source's checks: those of its most recently checked item (as evidence.view.ts). */
function sourceChecks(items: readonly EvidenceItemView[]): Json[] {
  for (let i = items.length - 1; i >= 0; i--) if (items[i]!.checks.length > 0) return items[i]!.checks;
  return [];
}

/**
 * Folds events into the export view. `add` each event of a subject in seq order; `problems`
 * names events the view cannot use (data not of its type's shape, or out of order, e.g. an
 * item's metadata before the item).
 */
export class LedgerView {
  private readonly claims = new Map<string, ClaimView>();
  private readonly sources = new Map<string, SourceView>();
  private readonly evidence = new Map<string, EvidenceItemView>();
  /** Exports' requests, by export id. */
  readonly exportRequests = new Map<string, ExportRequest>();
  readonly problems: string[] = [];

  add(body: EventBody, hash: string): void {
    const { subject } = body;
    if (subject.type === 'source') {
      const s = this.sources.get(subject.id);
      if (s) s.custody = { length: body.seq, headHash: hash };
    }
    if (!PROJECTED.has(body.type)) return;
    const parsed = eventCatalogue[body.type as EventType][1].safeParse(body.data);
    const at = `${subject.type}:${subject.id} seq ${body.seq} (${body.type})`;
    if (!parsed.success) {
      this.problems.push(`${at}: its data is not of the shape its type has`);
      return;
    }
    const why = this.apply(body, { type: body.type, data: parsed.data } as TypedEvent, hash);
    if (why) this.problems.push(`${at}: ${why}`);
  }

  /** A stored event row: its body is parsed only when the view needs more than its place. */
  addRow(row: {
    subject_type: string;
    subject_id: string;
    seq: number;
    type: string;
    hash: string;
    body: string;
  }) {
    if (PROJECTED.has(row.type)) {
      this.add(JSON.parse(row.body) as EventBody, row.hash);
      return;
    }
    const s = row.subject_type === 'source' ? this.sources.get(row.subject_id) : undefined;
    if (s) s.custody = { length: row.seq, headHash: row.hash };
  }

  /** Applies one validated event; returns why it cannot apply, if so. */
  private apply(body: EventBody, ev: TypedEvent, hash: string): string | undefined {
    const id = body.subject.id;
    const claim = this.claims.get(id);
    const source = this.sources.get(id);
    switch (ev.type) {
      case 'export_requested':
        this.exportRequests.set(id, { ...ev.data, at: body.at });
        return;
      case 'claim_created': {
        const d = ev.data;
        const c = d.claim as Record<string, Json>;
        const view = { id, investigationId: d.investigationId, citations: [] } as unknown as ClaimView;
        for (const f of CLAIM_FIELDS) (view as unknown as Record<string, Json>)[f] = c[f] ?? null;
        this.claims.set(id, view);
        return;
      }
      case 'claim_updated': {
        if (!claim) return 'no claim_created before it';
        const after = ev.data.after as Record<string, Json>;
        for (const f of CLAIM_FIELDS)
          if (Object.hasOwn(after, f)) (claim as unknown as Record<string, Json>)[f] = after[f]!;
        claim.updatedAt = body.at;
        return;
      }
      case 'citation_added': {
        const d = ev.data;
        if (!claim) return 'no claim_created before it';
        claim.citations.push({
          id: d.citationId,
          sourceId: d.sourceId,
          relation: d.relation,
          expected: d.expected,
          note: d.note,
          createdAt: body.at,
        });
        return;
      }
      case 'citation_withdrawn': {
        if (!claim) return 'no claim_created before it';
        const i = claim.citations.findIndex((c) => c.id === ev.data.citationId);
        if (i < 0) return `no citation_added of citation ${ev.data.citationId} before it`;
        claim.citations.splice(i, 1);
        return;
      }
      case 'source_cited': {
        // The first citation created the source; later ones cite it again.
        const d = ev.data;
        if (source) return;
        this.sources.set(id, {
          id,
          investigationId: d.investigationId ?? null,
          url: d.url,
          normalizedUrl: d.normalizedUrl,
          platform: d.platform ?? null,
          status: 'pending',
          failure: null,
          checks: [],
          recaptureEverySeconds: null,
          custody: { length: body.seq, headHash: hash },
          createdAt: body.at,
        });
        return;
      }
    }
    if (!source) return 'no source_cited before it';
    switch (ev.type) {
      case 'recapture_scheduled':
        source.recaptureEverySeconds = ev.data.everySeconds;
        return;
      case 'fetch_started':
        source.status = 'capturing';
        return;
      case 'capture_completed':
        source.status = 'captured';
        source.failure = null;
        return;
      case 'capture_failed': {
        const d = ev.data;
        if (d.retryable) return; // the job runs again; the source stays as it is
        // A source holding evidence an earlier capture preserved stays captured (capture-store.ts).
        const held = [...this.evidence.values()].some((e) => e.sourceId === id && e.captureId !== null);
        source.status = held ? 'captured' : 'failed';
        source.failure = { code: d.code, detail: d.detail };
        return;
      }
      case 'stored': {
        const d = ev.data;
        this.evidence.set(d.evidenceId, {
          id: d.evidenceId,
          sourceId: id,
          captureId: d.captureId,
          kind: d.kind,
          mediaType: d.mediaType,
          declaredType: d.declaredType ?? null,
          size: d.size,
          sha256: d.sha256,
          metadata: {},
          checks: [],
          capturedAt: body.at,
          originUrl: d.originUrl,
        });
        return;
      }
      case 'metadata_extracted':
      case 'checks_updated': {
        const item = this.evidence.get(ev.data.evidenceId);
        if (!item || item.sourceId !== id)
          return `no stored event of evidence ${ev.data.evidenceId} before it`;
        if (ev.type === 'metadata_extracted') item.metadata = ev.data.metadata as Json;
        else item.checks = ev.data.checks as Json[];
        return;
      }
    }
    return;
  }

  /** The view: claims and sources by id, evidence by source, capture time and id. */
  view(): ExportView {
    const evidence = [...this.evidence.values()].sort(evidenceOrder);
    const bySource = new Map<string, EvidenceItemView[]>();
    for (const e of evidence) bySource.set(e.sourceId, [...(bySource.get(e.sourceId) ?? []), e]);
    const sources = [...this.sources.values()]
      .sort(byId)
      .map((s) => ({ ...s, checks: sourceChecks(bySource.get(s.id) ?? []) }));
    const claims = [...this.claims.values()]
      .sort(byId)
      .map((c) => ({ ...c, citations: [...c.citations].sort(byId) }));
    return { claims, sources, evidence };
  }
}
