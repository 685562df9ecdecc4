// Investigations: the list (the app's home page), one investigation with its claims (filtered
// by status and tag, full-text search) and members, and the forms that add to them.
import { Router } from 'express';
import { validate as isUuid } from 'uuid';
import {
  claimInput,
  claimListQuery,
  claimStatuses,
  investigationInput,
  listQuery,
  memberInput,
} from '../claims/claims.schema.ts';
import { createClaim } from '../claims/claims.service.ts';
import { listClaims } from '../claims/claims-edit.service.ts';
import type { AppContext } from '../context.ts';
import {
  createInvestigation,
  getInvestigation,
  investigationView,
  listInvestigations,
} from '../investigations/investigations.service.ts';
import { addMember, listMembers, removeMember } from '../investigations/members.service.ts';
import { listSources } from '../sources/sources.service.ts';
import { compact, field, formDateTime, parseForm } from './forms.ts';
import { renderPage } from './render.ts';
import { principal } from './web-request.ts';

export function investigationPages(ctx: AppContext) {
  const { prisma } = ctx;
  const router = Router();

  router.get('/', async (req, res) => {
    const q = parseForm(listQuery, {
      limit: '200',
      ...compact({ cursor: req.query.cursor as string | undefined }),
    });
    const page = await listInvestigations(prisma, principal(req), q.limit, q.cursor);
    renderPage(req, res, 'investigations', { title: 'Investigations', page });
  });

  router.post('/investigations', async (req, res) => {
    const input = parseForm(
      investigationInput,
      compact({ title: field(req, 'title'), description: field(req, 'description') }),
    );
    const inv = await createInvestigation(ctx, principal(req), input);
    res.redirect(303, `/investigations/${inv.id}`);
  });

  router.get('/investigations/:id', async (req, res) => {
    const p = principal(req);
    const inv = investigationView(await getInvestigation(prisma, p, req.params.id));
    const filters = parseForm(
      claimListQuery,
      compact({
        limit: '50',
        status: nonEmpty(req.query.status),
        tag: nonEmpty(req.query.tag),
        q: nonEmpty(req.query.q),
        cursor: nonEmpty(req.query.cursor),
      }),
    );
    const sourcesAfter = nonEmpty(req.query.sourcesAfter);
    const [claims, members, sources] = await Promise.all([
      listClaims(prisma, inv.id, filters),
      listMembers(ctx, p, inv.id).then((m) => m.items),
      listSources(
        prisma,
        p,
        inv.id,
        SOURCES_SHOWN,
        sourcesAfter && isUuid(sourcesAfter) ? sourcesAfter : undefined,
      ),
    ]);
    const nextQuery = claims.nextCursor
      ? new URLSearchParams(
          compact({
            status: filters.status,
            tag: filters.tag,
            q: filters.q,
            cursor: claims.nextCursor,
          }) as Record<string, string>,
        ).toString()
      : null;
    renderPage(req, res, 'investigation', {
      title: inv.title,
      inv,
      claims,
      members,
      sources: sources.items.map((s) => ({
        id: s.id,
        normalizedUrl: s.normalizedUrl,
        status: s.status,
        items: s.evidence.length,
      })),
      sourcesAfter: sources.nextCursor,
      filters,
      statuses: claimStatuses,
      nextQuery,
    });
  });

  router.post('/investigations/:id/claims', async (req, res) => {
    const p = principal(req);
    const inv = await getInvestigation(prisma, p, req.params.id); // 404 before 400/403 for outsiders
    const tags = field(req, 'tags')
      ?.split(',')
      .map((t) => t.trim())
      .filter(Boolean);
    const input = parseForm(
      claimInput,
      compact({
        statement: field(req, 'statement'),
        claimant: compact({
          name: field(req, 'claimantName'),
          role: field(req, 'claimantRole'),
          timeZone: field(req, 'claimantTimeZone'),
        }),
        claimedAt: formDateTime(field(req, 'claimedAt')),
        language: field(req, 'language'),
        tags: tags?.length ? tags : undefined,
      }),
    );
    const claim = await createClaim(ctx, p, inv.id, input);
    res.redirect(303, `/claims/${claim.id}`);
  });

  router.post('/investigations/:id/members', async (req, res) => {
    const p = principal(req);
    const inv = await getInvestigation(prisma, p, req.params.id);
    const { userId } = parseForm(memberInput, compact({ userId: field(req, 'userId') }));
    await addMember(ctx, p, inv.id, userId);
    res.redirect(303, `/investigations/${inv.id}#members`);
  });

  router.post('/investigations/:id/members/:userId/remove', async (req, res) => {
    const p = principal(req);
    const inv = await getInvestigation(prisma, p, req.params.id);
    await removeMember(ctx, p, inv.id, req.params.userId);
    res.redirect(303, `/investigations/${inv.id}#members`);
  });

  return router;
}

/** Sources listed per page of an investigation (the rest behind a "later sources" link). */
const SOURCES_SHOWN = 100;

const nonEmpty = (v: unknown) => (typeof v === 'string' && v.trim() !== '' ? v : undefined);
