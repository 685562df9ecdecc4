// What the verifier reports it checked, whichever export format it read.
import type { TimestampsReport } from '../../anchors/timestamp/verify-timestamps.ts';
import type { WitnessSummary } from './witness-check.ts';

export interface ExportSummary {
  /** `bagit` (a zipped bag) or `json` (the JSON export), told by the file's content. */
  format: 'bagit' | 'json' | null;
  bagName: string | null;
  exportId: string | null;
  scope: string | null;
  includeContent: boolean | null;
  claims: number;
  sources: number;
  evidence: number;
  contentFiles: number;
  events: number;
  subjects: number;
  proofsVerified: number;
  payloadFiles: number;
  payloadBytes: number;
  treeSize: number | null;
  origin: string | null;
  keyName: string | null;
  /** `name+hexhash` of the pinned key, when one was given. */
  pinnedKey: string | null;
  /** The export format version the signed export_scope record states (null: before 2). */
  exportVersion: number | null;
  /** What this bag cannot prove (a bag made before version 2): said, not a failure. */
  unproven: string[];
  /** RFC 3161 timestamps the bag carries (issue 15). */
  timestamps: TimestampsReport;
  /** Witness cosignatures carried and verified (issue 15). */
  witness: WitnessSummary | null;
}

export function emptySummary(): ExportSummary {
  return {
    format: null,
    bagName: null,
    exportId: null,
    scope: null,
    includeContent: null,
    claims: 0,
    sources: 0,
    evidence: 0,
    contentFiles: 0,
    events: 0,
    subjects: 0,
    proofsVerified: 0,
    payloadFiles: 0,
    payloadBytes: 0,
    treeSize: null,
    origin: null,
    keyName: null,
    pinnedKey: null,
    exportVersion: null,
    unproven: [],
    timestamps: { size: null, verified: [], count: 0, trust: null },
    witness: null,
  };
}
