// The events carry everything the API shows: for real cases run through the real workers
// (real-case.ts), the export view folded from the subjects' chains alone (ledger-view.ts,
// what export.json is written from and verified against) equals the live API views of every
// claim, source and evidence item, field for field.
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { LedgerView } from '../../src/exports/ledger-view.ts';
import { readSubjectEvents } from '../../src/ledger/ledger.repository.ts';
import { useRealCase } from './real-case.ts';

const { env, claimIds, sourceIds, withdrawn } = await useRealCase();
const { app, as, editor, ctx } = env;

async function projection() {
  const view = new LedgerView();
  const subjects = [
    ...claimIds.map((id) => ({ type: 'claim' as const, id })),
    ...sourceIds.map((id) => ({ type: 'source' as const, id })),
  ];
  for (const s of subjects)
    for (const e of await readSubjectEvents(ctx.prisma, s)) view.add(JSON.parse(e.body), e.hash);
  expect(view.problems).toEqual([]);
  return view.view();
}

const get = async (path: string) => {
  const res = await request(app).get(path).set(as(editor));
  expect(res.status, res.text).toBe(200);
  return res.body;
};

describe('the export view folded from the ledger', () => {
  it('equals the live API views of every claim, source and evidence item', async () => {
    const view = await projection();
    expect(view.claims.map((c) => c.id).sort()).toEqual([...claimIds].sort());
    expect(view.sources.map((s) => s.id).sort()).toEqual([...sourceIds].sort());
    for (const claim of view.claims) {
      const live = await get(`/v1/claims/${claim.id}`);
      // The API embeds each cited source in its citation; the export names it by id (the
      // source itself is compared below). No other field is live-only.
      const citations = live.citations.map(({ source, ...c }: { source: { id: string } }) => ({
        ...c,
        sourceId: source.id,
      }));
      expect(claim).toEqual({ ...live, citations });
    }
    for (const source of view.sources) {
      // The API lists the source's evidence in it; the export lists evidence once, on its own.
      // Capture progress (captures) is the job's bookkeeping, not exported (README, Exports).
      const { evidence, captures: _captures, ...live } = await get(`/v1/sources/${source.id}`);
      expect(source).toEqual(live);
      expect(view.evidence.filter((e) => e.sourceId === source.id)).toEqual(evidence);
    }
    for (const item of view.evidence) expect(item).toEqual(await get(`/v1/evidence/${item.id}`));
  });

  it('covers the cases it is meant to: checks, failure, upload, edit, changed content, schedule, withdrawal, date', async () => {
    const view = await projection();
    const [seed, page, gone, text] = sourceIds.map((id) => view.sources.find((s) => s.id === id)!);
    expect(seed!.platform).toMatchObject({ postId: '1869038340384076117' });
    expect(seed!.checks.length).toBeGreaterThanOrEqual(3); // 31 s, video, and the second citation's 30 s
    expect(view.evidence.filter((e) => e.sourceId === page!.id).map((e) => e.kind)).toEqual([
      'page',
      'video',
    ]);
    expect(gone).toMatchObject({ status: 'failed', failure: { code: 'http_404' } });
    expect(view.evidence.filter((e) => e.sourceId === gone!.id).map((e) => e.kind)).toEqual(['upload']);
    expect(view.claims.find((c) => c.id === claimIds[1])).toMatchObject({
      statement: 'Edited: the page shows the video',
      claimant: { name: 'Someone else', role: 'spokesperson' },
      status: 'under_review',
    });
    expect(text).toMatchObject({ status: 'captured', recaptureEverySeconds: 3600 });
    // The withdrawn citation is gone from its claim; the source it named stays.
    const textClaim = view.claims.find((c) => c.id === claimIds[3])!;
    expect(withdrawn.claimId).toBe(textClaim.id);
    expect(textClaim.citations.map((c) => c.id)).not.toContain(withdrawn.citationId);
    expect(textClaim.citations).toHaveLength(1);
    expect(view.sources.map((s) => s.id)).toContain(withdrawn.sourceId);
    // A date given as a date stays one.
    expect(view.claims.find((c) => c.id === claimIds[2])!.claimedAt).toBe('2024-12-17');
    expect(view.evidence.filter((e) => e.sourceId === text!.id)).toHaveLength(2);
  });
});
