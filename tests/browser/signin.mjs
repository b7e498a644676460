// The console's single sign-on against a real OpenID provider (tests/oidc/provider.mjs), walked
// in headless Chromium, once per language:
//
//   node tests/browser/signin.mjs --console http://127.0.0.1:PORT/console --issuer http://127.0.0.1:PORT \
//     [--other-org-token <jwt>] [--audience <api audience>] [--client-id wecom-console] \
//     [--screenshots <dir>] [--langs en,zh-CN] [--api-rejects-provider-tokens]
//
//   a. sign in as admin@demo (login + consent on the provider's page): back on the console the
//      header shows org demo and the channels list loaded; every call to /v1/ carried the access
//      token (aud = the API audience, not the client id), never the ID token.
//   b. sign out: the provider's end-session endpoint is visited with id_token_hint, client_id
//      and post_logout_redirect_uri = the console; back on the signed-out sign-in page with an
//      empty sessionStorage, and the provider asks for a login again.
//   c. a crafted link <console>#token=<another org's token>: nothing signs in, the fragment is
//      gone, no call to /v1/ carries the token.
//   d. errors: the provider's Cancel (error=access_denied with a description), a crafted
//      ?error=…&error_description=EVIL TEXT, an error code that is not a word, and a code the
//      token endpoint refuses (invalid_grant): the catalogue's texts, never the description.
//   e. nonce: the authorization request reaches the provider with another nonce than the one
//      the tab stored: the sign-in is refused with the nonce text.
//   f. an account the provider gives no org: its access token lacks the claim, so the console
//      refuses (no fallback to the ID token) and says what the provider must issue.
//
// --api-rejects-provider-tokens is for development against the local runner, whose admin API
// only takes its own HS256 tokens: (a) then expects the API's 401 shown as a clear sign-in
// message, and the rest of the walk answers /v1/ calls itself (said so on the output).
// Exits 1 with the failed step on any broken expectation, page error or untranslated text.

import { readFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchChromium } from './chromium.mjs';

const here = dirname(fileURLToPath(import.meta.url));

// --- arguments -------------------------------------------------------------------------------
const USAGE = 'usage: node tests/browser/signin.mjs --console <url> --issuer <url> [--other-org-token <jwt>] '
  + '[--audience <aud>] [--client-id <id>] [--screenshots <dir>] [--langs en,zh-CN] [--api-rejects-provider-tokens]';
const opts = { langs: 'en,zh-CN', 'client-id': 'wecom-console', screenshots: join(here, '../../target/console-screenshots') };
const flags = new Set(['api-rejects-provider-tokens']);
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  if (!a.startsWith('--')) { console.error(USAGE); process.exit(2); }
  const name = a.slice(2);
  if (flags.has(name)) { opts[name] = true; continue; }
  if (i + 1 >= process.argv.length) { console.error(`signin.mjs: ${a} needs a value\n${USAGE}`); process.exit(2); }
  opts[name] = process.argv[++i];
}
if (!opts.console || !opts.issuer) { console.error(USAGE); process.exit(2); }
const CONSOLE = opts.console.replace(/[?#].*$/, '');
const ORIGIN = new URL(CONSOLE).origin;
const ISSUER = opts.issuer.replace(/\/+$/, '');
const CLIENT_ID = opts['client-id'];
const AUDIENCE = opts.audience || null;
const DEV = !!opts['api-rejects-provider-tokens'];
const SHOTS = opts.screenshots;
const LANGS = opts.langs.split(',').map((s) => s.trim()).filter(Boolean);

// --- texts -----------------------------------------------------------------------------------
const catalogues = Object.fromEntries(['en', 'zh-CN'].map((l) => [l,
  JSON.parse(readFileSync(join(here, '../../shared/i18n', `${l}.json`), 'utf8')).console]));
// Every text this walk expects exists in both languages (and differs: translated).
const NEEDED = ['signin.sso', 'signin.title', 'signin.token_hint_sso', 'signin.signed_out', 'header.sign_out', 'signin.rejected',
  'signin.rejected_sso_hint', 'signin.link_ignored', 'signin.link_ignored_hint', 'signin.sso_code',
  'signin.sso_nonce', 'signin.sso_nonce_hint', 'signin.sso_mismatch', 'signin.sso_mismatch_hint',
  'signin.sso_no_access', 'signin.sso_no_access_hint', 'signin.sso_unreachable', 'signin.sso_unreachable_hint',
  ...['access_denied', 'login_required', 'consent_required', 'interaction_required', 'invalid_request',
    'unauthorized_client', 'server_error', 'temporarily_unavailable', 'invalid_grant', 'other'].map((c) => `signin.sso_error.${c}`),
  ...['again', 'denied', 'setup', 'later', 'other'].map((h) => `signin.sso_hint.${h}`)];
for (const key of NEEDED) {
  for (const l of ['en', 'zh-CN']) {
    if (typeof catalogues[l][key] !== 'string') fatal(`shared/i18n/${l}.json lacks console text ${key}`);
  }
  if (catalogues.en[key] === catalogues['zh-CN'][key]) fatal(`console text ${key} is the same in en and zh-CN`);
}

function fatal(msg) {
  console.error(`signin.mjs: ${msg}`);
  process.exit(1);
}

function decode(jwt) {
  const parts = String(jwt).split('.');
  if (parts.length !== 3) return null;
  try { return JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8')); } catch { return null; }
}
// Waits (up to 5 s) until `cond()` holds: for what the page's event handlers record.
async function until(cond) {
  for (let i = 0; i < 50 && !cond(); i++) await new Promise((r) => setTimeout(r, 100));
}
const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');

// Another org's token for (c): the one given, else a JWT-shaped one for org "other".
const OTHER_TOKEN = opts['other-org-token'] || [
  b64({ alg: 'RS256', typ: 'JWT' }),
  b64({ iss: ISSUER, sub: 'admin@other', org: 'other', role: 'admin', aud: AUDIENCE || 'api', exp: Math.floor(Date.now() / 1000) + 3600 }),
  'c2lnbmF0dXJl',
].join('.');
if (!decode(OTHER_TOKEN)) fatal('--other-org-token is not a JWT');

// --- the walk --------------------------------------------------------------------------------
let where = 'start';
const started = Date.now();

async function discovery() {
  const resp = await fetch(`${ISSUER}/.well-known/openid-configuration`);
  if (!resp.ok) fatal(`${ISSUER}/.well-known/openid-configuration answered ${resp.status}`);
  return resp.json();
}

async function walk(browser, doc, lang) {
  const cat = catalogues[lang];
  const L = (key) => cat[key];
  const Lf = (key, args) => L(key).replace(/\{(\w+)\}/g, (m, n) => (n in args ? String(args[n]) : m));
  const check = (cond, what) => { if (!cond) throw new Error(`[${lang}] ${where}: ${what}`); };
  let shotNo = 0;

  const context = await browser.newContext({ locale: lang, viewport: { width: 1280, height: 860 } });
  // Only loopback: the provider's dev pages import a web font, which must not leave the machine.
  await context.route((u) => !['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname), (r) => r.abort());
  const page = await context.newPage();
  page.setDefaultTimeout(15000);

  const problems = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const at = m.location().url || '';
    // The provider's pages are not ours; a refused API call logs "Failed to load resource".
    if (at && !at.startsWith(ORIGIN)) return;
    if (/Failed to load resource/.test(m.text())) return;
    problems.push(`console error: ${m.text()} (${at || 'no url'})`);
  });
  // Every call to the API: its bearer; every URL: must not carry a token.
  const apiCalls = [];
  const navigations = [];
  const tokenAnswers = [];
  page.on('request', (r) => {
    const u = new URL(r.url());
    if (u.origin === ORIGIN && u.pathname.includes('/v1/')) {
      const auth = r.headers().authorization || '';
      apiCalls.push({ method: r.method(), path: u.pathname, bearer: auth.replace(/^Bearer /, ''), at: Date.now() });
    }
    if (r.isNavigationRequest() && r.frame() === page.mainFrame()) navigations.push(r.url());
  });
  const apiAnswers = [];
  page.on('response', async (r) => {
    const u = new URL(r.url());
    if (u.origin === ORIGIN && u.pathname.includes('/v1/')) apiAnswers.push({ path: u.pathname, status: r.status() });
    if (r.url() === doc.token_endpoint && r.request().method() === 'POST') {
      try { tokenAnswers.push({ status: r.status(), body: await r.json() }); } catch { tokenAnswers.push({ status: r.status(), body: null }); }
    }
  });

  const alertText = () => page.evaluate(() => {
    const a = document.getElementById('alert');
    return a.hidden ? '' : a.innerText;
  });
  const bodyText = () => page.evaluate(() => document.body.innerText);
  const stored = () => page.evaluate(() => Object.fromEntries(Object.keys(sessionStorage).map((k) => [k, sessionStorage.getItem(k)])));
  const shot = async (name) => {
    const text = await bodyText();
    check(!text.includes('\u27e6'), `untranslated text: ${text.match(/\u27e6[^\u27e7]*\u27e7/g)}`);
    check(problems.length === 0, `problems:\n  ${problems.join('\n  ')}`);
    shotNo += 1;
    const file = join(SHOTS, `signin-${lang}-${String(shotNo).padStart(2, '0')}-${name}.png`);
    await page.screenshot({ path: file, fullPage: true });
    console.log(`  ${lang} ${name}  (${((Date.now() - started) / 1000).toFixed(1)} s)  ${file}`);
  };
  // The console has settled: signed in (the app) or on the sign-in page.
  const settled = async () => {
    await page.waitForURL((u) => u.origin === ORIGIN && u.pathname === new URL(CONSOLE).pathname);
    await page.waitForFunction(() => {
      const app = document.getElementById('app');
      const signin = document.getElementById('signin');
      return app && signin && (!app.hidden || !signin.hidden);
    });
  };
  const onSignin = async () => {
    await page.getByRole('heading', { name: L('signin.title'), exact: true }).waitFor();
    check(await page.locator('#app').isHidden(), 'the app is shown beside the sign-in page');
  };
  const ssoButton = () => page.getByRole('button', { name: L('signin.sso'), exact: true });
  const onProvider = () => new URL(page.url()).origin === new URL(ISSUER).origin;

  // From the provider's pages back to the console: log in as `login`, consent; or Cancel.
  // Returns what the provider asked for on the way ('login', 'consent').
  const throughProvider = async (login, { cancel = false } = {}) => {
    const asked = [];
    await page.waitForURL((u) => u.origin !== ORIGIN || u.search.includes('code=') || u.search.includes('error='));
    for (let i = 0; i < 6; i++) {
      await page.waitForLoadState('domcontentloaded');
      if (!onProvider()) return asked;
      const form = page.locator('input[name=login]');
      if (await form.count()) {
        asked.push('login');
        if (cancel) {
          await Promise.all([page.waitForNavigation(), page.getByRole('link', { name: '[ Cancel ]' }).click()]);
          continue;
        }
        await form.fill(login);
        await page.locator('input[name=password]').fill('any password');
        await Promise.all([page.waitForNavigation(), page.locator('button[type=submit]').click()]);
        continue;
      }
      const consent = page.getByRole('button', { name: 'Continue' });
      if (await consent.count()) {
        asked.push('consent');
        await Promise.all([page.waitForNavigation(), consent.click()]);
        continue;
      }
      throw new Error(`[${lang}] ${where}: unexpected provider page ${page.url()}: ${(await bodyText()).slice(0, 300)}`);
    }
    throw new Error(`[${lang}] ${where}: still on the provider after 6 pages: ${page.url()}`);
  };
  // Opens the sign-in page fresh.
  const openConsole = async () => {
    await page.goto(CONSOLE);
    await settled();
  };
  // SSO as `login` → back on the console, settled. Returns the provider's steps.
  const ssoAs = async (login, o) => {
    await ssoButton().click();
    const asked = await throughProvider(login, o);
    await settled();
    return asked;
  };

  // --- a. sign in -------------------------------------------------------------------------
  where = 'a. sign in as admin@demo';
  await openConsole();
  await onSignin();
  check(await ssoButton().isVisible(), 'no single sign-on button: is WECOM_NOTIFY_CONSOLE_CLIENT_ID set?');
  check(await page.locator('#signin-token-hint').innerText() === L('signin.token_hint_sso'), 'the paste hint still points at the local runner\'s link');
  const authRequests = [];
  page.on('request', (r) => { if (r.url().startsWith(doc.authorization_endpoint)) authRequests.push(new URL(r.url())); });
  let asked = await ssoAs('admin@demo');
  await until(() => tokenAnswers.length > 0);
  check(asked.includes('login'), `the provider did not ask for a login (${asked})`);
  const auth = authRequests[0];
  check(auth, 'no authorization request was seen');
  const ap = auth.searchParams;
  check(ap.get('response_type') === 'code' && ap.get('client_id') === CLIENT_ID, `authorization request ${auth}`);
  check(ap.get('code_challenge_method') === 'S256' && /^[\w-]{43}$/.test(ap.get('code_challenge') || ''), `no PKCE S256 in ${auth}`);
  check((ap.get('nonce') || '').length >= 16 && (ap.get('state') || '').length >= 16, `no nonce/state in ${auth}`);
  check(ap.get('redirect_uri') === CONSOLE, `redirect_uri ${ap.get('redirect_uri')} is not ${CONSOLE}`);
  check(tokenAnswers.length === 1 && tokenAnswers[0].status === 200, `token endpoint: ${JSON.stringify(tokenAnswers.map((x) => x.status))}`);
  const { access_token: accessToken, id_token: idToken } = tokenAnswers[0].body;
  check(accessToken && idToken && accessToken !== idToken, 'the token endpoint did not answer an access token and an ID token');
  const idClaims = decode(idToken);
  check(idClaims.nonce === ap.get('nonce'), 'the ID token carries another nonce than the request (provider?)');
  const where0 = await page.evaluate(() => ({ href: location.href }));
  check(where0.href === CONSOLE, `the address bar still carries the answer: ${where0.href}`);
  // What the signed-in tab keeps: the access token as the bearer, the ID token only for
  // signing out (in dev mode the API's 401 has cleared it already: checked after b's sign-in).
  const checkStored = async (access, id) => {
    const ss = await stored();
    check(ss['wecom-notify.token'] === access, 'the stored bearer is not the access token');
    check(ss['wecom-notify.token'] !== id, 'the stored bearer is the ID token');
    check(!('wecom-notify.oidc' in ss), 'the pending sign-in (verifier, nonce) is still stored');
    check(JSON.parse(ss['wecom-notify.sso'] || '{}').id_token === id, 'the ID token is not kept for signing out');
  };
  if (DEV) {
    // The local runner's API takes only its own HS256 tokens: its 401, shown clearly.
    const prefix = L('signin.rejected').split('{message}')[0];
    await page.waitForFunction((p) => document.getElementById('alert').innerText.includes(p), prefix);
    const shown = await alertText();
    check(shown.includes(L('signin.rejected_sso_hint')), `the 401 shows no hint about the API's audience: ${shown}`);
    await onSignin();
    check(Object.keys(await stored()).length === 0, 'the refused session is still stored');
  } else {
    await page.locator('#app').waitFor();
    await checkStored(accessToken, idToken);
    check(await page.locator('#who-org').innerText() === 'demo', `the header shows org ${await page.locator('#who-org').innerText()}, not demo`);
    // The Overview opens first after sign-in; the channels list is one tab further.
    await page.waitForFunction(() => document.getElementById('tab-overview').getAttribute('aria-selected') === 'true');
    await page.locator('#tab-channels').click();
    await page.waitForFunction(() => !document.getElementById('channels-empty').hidden
      || document.querySelectorAll('#channels-body tr').length > 0 || !document.getElementById('alert').hidden);
    check(await alertText() === '', `an alert is shown after sign-in: ${await alertText()}`);
    const list = apiAnswers.find((x) => x.path.endsWith('/wecom-channels'));
    check(list && list.status === 200, `the channels list answered ${list && list.status}`);
    // Presented directly, the ID token is refused by the API's authorizer (its aud is the
    // console's client id, not the API).
    const direct = await fetch(new URL('/v1/orgs/demo/wecom-channels', CONSOLE), { headers: { Authorization: `Bearer ${idToken}` } });
    check(direct.status === 401, `the API took the ID token as a bearer (${direct.status})`);
  }
  check(apiCalls.length > 0, 'no call to /v1/ was made after sign-in');
  for (const c of apiCalls) {
    check(c.bearer === accessToken, `${c.method} ${c.path} carried another bearer than the access token`);
    check(c.bearer !== idToken, `${c.method} ${c.path} carried the ID token`);
    const aud = decode(c.bearer).aud;
    const auds = Array.isArray(aud) ? aud : [aud];
    check(!auds.includes(CLIENT_ID), `the bearer's aud ${JSON.stringify(aud)} is the console's client id`);
    if (AUDIENCE) check(auds.includes(AUDIENCE), `the bearer's aud ${JSON.stringify(aud)} is not ${AUDIENCE}`);
    check(typeof decode(c.bearer).org === 'string', 'the bearer has no org claim');
  }
  await shot(DEV ? 'signed-in-api-refused' : 'signed-in');

  // --- b. sign out --------------------------------------------------------------------------
  where = 'b. sign out';
  let signedInId = idToken;
  if (DEV) {
    // Sign in again with the API answered by this walk, to have a session to sign out of.
    console.log(`  ${lang} (dev: /v1/ calls answered by the walk from here on)`);
    await page.route((u) => u.origin === ORIGIN && u.pathname.includes('/v1/'), (r) => r.fulfill({
      status: 200, contentType: 'application/json', body: JSON.stringify({ items: [], next: null }),
    }));
    tokenAnswers.length = 0;
    asked = await ssoAs('admin@demo');
    await until(() => tokenAnswers.length > 0);
    await page.locator('#app').waitFor();
    check(await page.locator('#who-org').innerText() === 'demo', 'the header does not show org demo');
    signedInId = tokenAnswers[0].body.id_token;
    await checkStored(tokenAnswers[0].body.access_token, signedInId);
  }
  navigations.length = 0;
  await page.getByRole('button', { name: L('header.sign_out') }).click();
  await page.waitForURL((u) => u.origin !== ORIGIN || u.search !== '');
  if (onProvider()) {
    // oidc-provider asks to confirm (a provider may also sign out at once).
    const yes = page.getByRole('button', { name: 'Yes, sign me out' });
    await page.waitForLoadState('domcontentloaded');
    if (await yes.count()) await Promise.all([page.waitForNavigation(), yes.click()]);
  }
  await settled();
  await onSignin();
  const endSession = navigations.map((n) => new URL(n)).find((u) => u.href.startsWith(doc.end_session_endpoint));
  check(endSession, `the provider's end-session endpoint was not visited: ${navigations.join(' → ')}`);
  check(endSession.searchParams.get('id_token_hint') === signedInId, 'end-session got no (or another) id_token_hint');
  check(endSession.searchParams.get('client_id') === CLIENT_ID, 'end-session got no client_id');
  check(endSession.searchParams.get('post_logout_redirect_uri') === CONSOLE, `post_logout_redirect_uri ${endSession.searchParams.get('post_logout_redirect_uri')}`);
  check(await page.evaluate(() => location.href) === CONSOLE, `the address bar reads ${await page.evaluate(() => location.href)}`);
  check(Object.keys(await stored()).length === 0, `sessionStorage after signing out: ${JSON.stringify(await stored())}`);
  check((await alertText()).includes(L('signin.signed_out')), `no "signed out" notice: ${await alertText()}`);
  await shot('signed-out');

  // --- c. a crafted link with another org's token --------------------------------------------
  where = 'c. crafted #token= link';
  const callsBefore = apiCalls.length;
  const leaks = [];
  const watchLeak = (r) => {
    const h = r.headers();
    if (r.url().includes(OTHER_TOKEN) || (h.authorization || '').includes(OTHER_TOKEN)) leaks.push(r.url());
  };
  page.on('request', watchLeak);
  // As a link opened from elsewhere (a fragment-only change would not reload the page).
  await page.goto('about:blank');
  await page.goto(`${CONSOLE}#token=${OTHER_TOKEN}`);
  await settled();
  await onSignin();
  await page.waitForTimeout(500);
  check(await page.evaluate(() => location.hash) === '', `the fragment is still in the address bar: ${await page.evaluate(() => location.hash)}`);
  check(!Object.values(await stored()).some((v) => v.includes(OTHER_TOKEN)), 'the crafted token was stored');
  check(apiCalls.length === callsBefore, `calls to /v1/ after the crafted link: ${apiCalls.slice(callsBefore).map((c) => c.path)}`);
  check(leaks.length === 0, `the crafted token went out: ${leaks}`);
  check((await alertText()).includes(L('signin.link_ignored')), `no notice that the link was ignored: ${await alertText()}`);
  page.off('request', watchLeak);
  await shot('crafted-link-ignored');

  // --- d. errors: the provider's words are never shown ----------------------------------------
  where = 'd. provider Cancel';
  asked = await ssoAs('admin@demo', { cancel: true });
  check(asked[0] === 'login', `after signing out the provider did not ask for a login again (${asked})`);
  const cancelNav = navigations.map((n) => new URL(n)).find((u) => u.href.startsWith(CONSOLE) && u.searchParams.get('error'));
  check(cancelNav && cancelNav.searchParams.get('error') === 'access_denied', `the Cancel came back as ${cancelNav}`);
  const description = cancelNav.searchParams.get('error_description');
  check(description, 'the provider sent no error_description (the check below would prove nothing)');
  await onSignin();
  let shown = await alertText();
  check(shown.includes(L('signin.sso_error.access_denied')) && shown.includes(L('signin.sso_hint.denied')), `the Cancel reads: ${shown}`);
  check(shown.includes(Lf('signin.sso_code', { code: 'access_denied' })), `no error code: ${shown}`);
  check(!(await bodyText()).includes(description), `the provider's description "${description}" is shown`);
  check(await page.evaluate(() => location.search) === '', 'the error stays in the address bar');
  await shot('provider-cancel');

  where = 'd. crafted ?error= with a description';
  await page.goto(`${CONSOLE}?error=access_denied&error_description=EVIL%20TEXT&state=whatever`);
  await settled();
  await onSignin();
  shown = await alertText();
  check(shown.includes(L('signin.sso_error.access_denied')), `the crafted error reads: ${shown}`);
  check(!(await bodyText()).includes('EVIL TEXT'), 'the crafted error_description is shown');
  await page.goto(`${CONSOLE}?error=${encodeURIComponent('Call +1 555 0100 now')}&error_description=EVIL%20TEXT&state=x`);
  await settled();
  shown = await alertText();
  check(shown.includes(L('signin.sso_error.other')) && shown.includes(L('signin.sso_hint.other')), `an unknown error reads: ${shown}`);
  check(!(await bodyText()).includes('555') && !(await bodyText()).includes('EVIL TEXT'), `a code that is not a word is shown: ${shown}`);
  await page.goto(`${CONSOLE}?error=temporarily_unavailable&state=x`);
  await settled();
  shown = await alertText();
  check(shown.includes(L('signin.sso_error.temporarily_unavailable')) && shown.includes(L('signin.sso_hint.later')), `temporarily_unavailable reads: ${shown}`);

  where = 'd. token endpoint refuses the code (invalid_grant)';
  // The provider's real answer to a code it never issued: the code the console sends to the
  // token endpoint is swapped on the way (a route sees no redirected request, so not earlier).
  await page.route((u) => u.href === doc.token_endpoint, async (r) => {
    const body = new URLSearchParams(r.request().postData() || '');
    check(body.get('code'), 'the token request carries no code');
    body.set('code', 'not-a-code-the-provider-issued');
    await r.continue({ postData: body.toString() });
  }, { times: 1 });
  tokenAnswers.length = 0;
  await ssoAs('admin@demo');
  await until(() => tokenAnswers.length > 0);
  check(tokenAnswers.length === 1 && tokenAnswers[0].status === 400 && tokenAnswers[0].body.error === 'invalid_grant',
    `the token endpoint answered ${JSON.stringify(tokenAnswers)}`);
  await onSignin();
  shown = await alertText();
  check(shown.includes(L('signin.sso_error.invalid_grant')) && shown.includes(L('signin.sso_hint.again')), `invalid_grant reads: ${shown}`);
  const tokenDescription = tokenAnswers[0].body.error_description;
  check(!tokenDescription || !(await bodyText()).includes(tokenDescription), `the token endpoint's description "${tokenDescription}" is shown`);
  check(Object.keys(await stored()).length === 0, 'something is stored after a refused code');
  await shot('token-endpoint-refused');

  // --- e. nonce -----------------------------------------------------------------------------
  where = 'e. another nonce than the stored one';
  // The request reaches the provider with a nonce this tab never stored (as if an attacker's
  // code were fed into the victim's tab): the ID token's nonce then differs.
  await page.route((u) => u.href.startsWith(doc.authorization_endpoint) && u.searchParams.has('nonce'), async (r) => {
    const u = new URL(r.request().url());
    u.searchParams.set('nonce', 'an-attackers-nonce-000000');
    await r.fulfill({ status: 302, headers: { location: u.toString() } });
  }, { times: 1 });
  tokenAnswers.length = 0;
  const callsBeforeNonce = apiCalls.length;
  await ssoAs('admin@demo');
  await until(() => tokenAnswers.length > 0);
  check(tokenAnswers.length === 1 && tokenAnswers[0].status === 200, 'the token exchange did not happen');
  check(decode(tokenAnswers[0].body.id_token).nonce === 'an-attackers-nonce-000000', 'the tampered nonce did not reach the ID token');
  await onSignin();
  shown = await alertText();
  check(shown.includes(L('signin.sso_nonce')) && shown.includes(L('signin.sso_nonce_hint')), `the nonce refusal reads: ${shown}`);
  check(Object.keys(await stored()).length === 0, `something is stored after the nonce refusal: ${Object.keys(await stored())}`);
  check(apiCalls.length === callsBeforeNonce, 'the API was called after the nonce refusal');
  await shot('nonce-refused');

  // --- f. an access token without org -------------------------------------------------------
  where = 'f. an account without org';
  // A login the provider does not list gets tokens without org: the console must not open
  // (and must not fall back to the ID token). The provider's session cookie goes first.
  await context.clearCookies();
  tokenAnswers.length = 0;
  const callsBeforeNoOrg = apiCalls.length;
  asked = await ssoAs('nobody@nowhere');
  check(asked.includes('login'), `the provider did not ask for a login (${asked})`);
  await until(() => tokenAnswers.length > 0);
  check(tokenAnswers.length === 1 && tokenAnswers[0].status === 200, 'the token exchange did not happen');
  check(decode(tokenAnswers[0].body.access_token).org === undefined, 'the provider put an org into an unlisted account\'s token');
  await onSignin();
  shown = await alertText();
  check(shown.includes(L('signin.sso_no_access')) && shown.includes(L('signin.sso_no_access_hint')), `the refusal reads: ${shown}`);
  check(Object.keys(await stored()).length === 0, `something is stored after the refusal: ${Object.keys(await stored())}`);
  check(apiCalls.length === callsBeforeNoOrg, 'the API was called with a token without org');
  await shot('no-org-refused');

  await context.close();
}

async function main() {
  mkdirSync(SHOTS, { recursive: true });
  const doc = await discovery();
  if (!doc.end_session_endpoint) fatal(`${ISSUER} publishes no end_session_endpoint`);
  const browser = await launchChromium();
  try {
    for (const lang of LANGS) {
      if (!catalogues[lang]) fatal(`--langs: no catalogue ${lang}`);
      await walk(browser, doc, lang);
    }
  } finally {
    await browser.close();
  }
  console.log(`signin.mjs: single sign-on walked in ${LANGS.join(', ')}${DEV ? ' (dev: the API refused the provider\'s tokens)' : ''} in ${((Date.now() - started) / 1000).toFixed(1)} s; screenshots in ${SHOTS}`);
}

main().catch((e) => {
  console.error(`signin.mjs FAILED at ${where}: ${e.stack || e}`);
  process.exit(1);
});
