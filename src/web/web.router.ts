// The web app for journalists and auditors (issue 13), served by the API process at `/`:
// server-rendered pages over the same services the REST routes call, a session cookie instead
// of a bearer token, CSRF tokens on every form, and a strict CSP (htmx and the stylesheet are
// files of ours; no inline script or style). An Express sub-app so its settings (trust proxy,
// which decides `Secure` cookies) are its own.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import express, { type ErrorRequestHandler, type RequestHandler } from 'express';
import helmet from 'helmet';
import type { AppContext } from '../context.ts';
import { AppError } from '../lib/errors.ts';
import { claimPages } from './claim.pages.ts';
import { checkSignInNonce, issueSignInNonce, requireCsrf } from './csrf.ts';
import { evidencePages } from './evidence.pages.ts';
import { exportPages } from './export.pages.ts';
import { field } from './forms.ts';
import { investigationPages } from './investigation.pages.ts';
import { renderPage, webContentSecurityPolicy } from './render.ts';
import { loadSession, signIn, signOut } from './session.ts';
import { sourcePages } from './source.pages.ts';

const htmxFile = createRequire(import.meta.url).resolve('htmx.org/dist/htmx.min.js');
const cssFile = fileURLToPath(new URL('./assets/app.css', import.meta.url));

/** The paths the web app answers; anything else (the API, probes, unknown paths) passes by. */
const ours =
  /^\/(?:$|sign-in$|sign-out$|assets\/|investigations(?:\/|$)|claims\/|sources\/|evidence\/|exports(?:\/|$))/;

/** Only a path of this app may be returned to after signing in (no open redirect). */
const localPath = (v: unknown) =>
  typeof v === 'string' && /^\/(?![/\\])[^\s]*$/.test(v) && ours.test(v.split('?')[0]!) ? v : '/';

export function webApp(ctx: AppContext) {
  const web = express();
  web.disable('x-powered-by');
  web.set('trust proxy', ctx.config.WEB_TRUST_PROXY);
  web.set('query parser', 'simple');

  web.use((req, _res, next) => (ours.test(req.path) ? next() : next('router')));
  web.use(helmet({ contentSecurityPolicy: { useDefaults: false, directives: webContentSecurityPolicy } }));

  const asset =
    (file: string, type: string): RequestHandler =>
    (_req, res) => {
      res.sendFile(file, { headers: { 'Content-Type': type, 'Cache-Control': 'public, max-age=3600' } });
    };
  web.get('/assets/htmx.min.js', asset(htmxFile, 'text/javascript; charset=utf-8'));
  web.get('/assets/app.css', asset(cssFile, 'text/css; charset=utf-8'));

  // Forms only: urlencoded, small. (The upload form is multipart and read by its route.)
  web.use(express.urlencoded({ extended: false, limit: '64kb', parameterLimit: 50 }));
  web.use(loadSession(ctx.pool));

  web.get('/sign-in', (req, res) => {
    if (req.webSession) return res.redirect(303, localPath(req.query.next));
    renderPage(req, res, 'sign-in', {
      title: 'Sign in',
      nonce: issueSignInNonce(req, res),
      next: localPath(req.query.next),
    });
  });
  web.post('/sign-in', async (req, res) => {
    checkSignInNonce(req, res);
    const token = field(req, 'token') ?? '';
    if (await signIn(ctx.pool, req, res, token, ctx.config.SESSION_TTL_SECONDS)) {
      res.redirect(303, localPath(field(req, 'next')));
      return;
    }
    renderPage(
      req,
      res,
      'sign-in',
      {
        title: 'Sign in',
        nonce: issueSignInNonce(req, res),
        next: localPath(field(req, 'next')),
        error: 'That token is unknown or revoked. Paste the token `claimtrail user add` printed.',
      },
      401,
    );
  });

  // Everything below is for signed-in visitors; every form carries the session's token.
  web.use((req, res, next) => {
    if (req.webSession) return next();
    // A live fragment whose session ended: htmx takes the whole page to the sign-in form.
    if (req.get('hx-request')) return res.status(401).set('HX-Redirect', '/sign-in').end();
    if (req.method === 'GET' || req.method === 'HEAD') {
      return res.redirect(
        303,
        `/sign-in${req.originalUrl === '/' ? '' : `?next=${encodeURIComponent(req.originalUrl)}`}`,
      );
    }
    throw new AppError('unauthenticated', 'Your session has ended. Sign in again.');
  });
  web.use((req, res, next) => (req.method === 'POST' ? requireCsrf(req, res, next) : next()));
  web.post('/sign-out', async (req, res) => {
    await signOut(ctx.pool, req, res);
    res.redirect(303, '/sign-in');
  });

  web.use(investigationPages(ctx));
  web.use(claimPages(ctx));
  web.use(sourcePages(ctx));
  web.use(evidencePages(ctx));
  web.use(exportPages(ctx));
  web.use((req, _res, next) => next(new AppError('not_found', `No page ${req.path}.`)));
  web.use(pageErrors());
  return web;
}

const headings: Partial<Record<AppError['code'], string>> = {
  not_found: 'Not found',
  forbidden: 'Not allowed',
  validation_failed: 'Please check the form',
  unauthenticated: 'Signed out',
  conflict: 'Already done',
};

/** Errors as pages, with the status the API would answer (404 for outsiders, 403 for roles). */
function pageErrors(): ErrorRequestHandler {
  return (err: unknown, req, res, _next) => {
    let e: AppError;
    if (err instanceof AppError) e = err;
    else if ((err as { type?: string }).type === 'entity.too.large')
      e = new AppError('payload_too_large', 'The form is too large.');
    else if (err instanceof URIError) e = new AppError('bad_request', 'The address is not valid.');
    else {
      req.log?.error({ err }, 'page failed');
      e = new AppError('internal', 'Something went wrong on our side. The error has been logged.');
    }
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (e.code === 'unauthenticated') res.set('HX-Redirect', '/sign-in');
    renderPage(
      req,
      res,
      'error',
      { title: headings[e.code] ?? 'Error', heading: headings[e.code] ?? 'Error', error: e },
      e.status,
    );
  };
}
