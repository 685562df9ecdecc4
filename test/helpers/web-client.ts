// A signed-in web app client for supertest: signs in through the real sign-in form (nonce
// cookie and all), then sends the session cookie and reads each page's CSRF token.
import type { Express } from 'express';
import request from 'supertest';

/** The Set-Cookie values of a response, by name. */
export function cookiesOf(res: { headers: Record<string, unknown> }): Map<string, string> {
  const raw = res.headers['set-cookie'];
  const list = Array.isArray(raw) ? (raw as string[]) : raw ? [String(raw)] : [];
  return new Map(list.map((c) => [c.slice(0, c.indexOf('=')), c]));
}

const cookieValue = (setCookie: string) => setCookie.slice(setCookie.indexOf('=') + 1).split(';')[0]!;

/** The `_csrf` value of the first form on a page. */
export const csrfOf = (html: string) => /name="_csrf" value="([^"]+)"/.exec(html)?.[1];

export async function webSignIn(app: Express, token: string) {
  const form = await request(app).get('/sign-in');
  const nonceCookie = cookiesOf(form).get('claimtrail_signin')!;
  const res = await request(app)
    .post('/sign-in')
    .set('Cookie', `claimtrail_signin=${cookieValue(nonceCookie)}`)
    .type('form')
    .send({ _csrf: csrfOf(form.text), token });
  const session = cookiesOf(res).get('claimtrail_session');
  if (res.status !== 303 || !session)
    throw new Error(`sign-in failed: ${res.status} ${res.text.slice(0, 200)}`);
  const cookie = `claimtrail_session=${cookieValue(session)}`;
  const home = await request(app).get('/').set('Cookie', cookie);
  const csrf = csrfOf(home.text)!;
  return {
    cookie,
    csrf,
    setCookie: session,
    get: (path: string) => request(app).get(path).set('Cookie', cookie),
    /** A form POST carrying the session's CSRF token (unless the fields say otherwise). */
    post: (path: string, fields: Record<string, string> = {}) =>
      request(app)
        .post(path)
        .set('Cookie', cookie)
        .type('form')
        .send({ _csrf: csrf, ...fields }),
  };
}
