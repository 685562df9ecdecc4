// Server-rendered pages: eta templates (src/web/views) with auto-escaping, so everything a user
// or a captured page wrote (a claim statement, a page title) is text, never markup. Templates
// only place values; what a page says is computed in TypeScript (words.ts, the page modules).
import { fileURLToPath } from 'node:url';
import { Eta } from 'eta';
import type { Request, Response } from 'express';
import { roleMay } from '../access/access.ts';
import { csrfField } from './csrf.ts';
import * as words from './words.ts';

const eta = new Eta({
  views: fileURLToPath(new URL('./views', import.meta.url)),
  autoEscape: true,
  cache: true,
});

/** The page's CSP: everything from our origin, no inline script or style, no plugins, not
 * framable; htmx and the stylesheet are files we serve (web.router.ts). */
export const webContentSecurityPolicy = {
  defaultSrc: ["'none'"],
  scriptSrc: ["'self'"],
  styleSrc: ["'self'"],
  imgSrc: ["'self'"],
  mediaSrc: ["'self'"],
  frameSrc: ["'self'"],
  connectSrc: ["'self'"],
  formAction: ["'self'"],
  baseUri: ["'none'"],
  frameAncestors: ["'none'"],
};

/** What every template may use: who is signed in, the form token, the wording helpers. */
function common(req: Request) {
  const s = req.webSession;
  return {
    principal: s?.principal ?? null,
    csrf: { field: csrfField, token: s?.csrfToken ?? '' },
    may: {
      write: s ? roleMay(s.principal, 'write') : false,
      manage: s ? roleMay(s.principal, 'manage') : false,
      export: s ? roleMay(s.principal, 'export') : false,
    },
    w: words,
  };
}

/** A whole page (the template sets the layout). Pages are per user: never cached. */
export function renderPage(
  req: Request,
  res: Response,
  template: string,
  data: Record<string, unknown>,
  status = 200,
): void {
  res
    .status(status)
    .type('html')
    .set('Cache-Control', 'no-store')
    .send(eta.render(template, { ...common(req), ...data }));
}

/** An htmx fragment: the same partial a page includes, alone. */
export const renderFragment = renderPage;
