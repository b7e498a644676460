// wecom-notify admin console: vanilla JS, no framework, no build step.
// Every visible text comes from the catalogues the page embeds (shared/i18n/*.json, "console").
// The bearer token lives in sessionStorage only; it is never put into a cookie or a URL
// sent to a server.
(function () {
  'use strict';

  const $ = (id) => document.getElementById(id);
  const CONFIG = JSON.parse($('console-config').textContent || '{}');
  const CATALOGUES = CONFIG.catalogues || {};
  const OIDC = CONFIG.oidc || null;
  const LANGS = ['en', 'zh-CN'].filter((l) => CATALOGUES[l]);
  const STORE = {
    token: 'wecom-notify.token',
    lang: 'wecom-notify.lang',
    tab: 'wecom-notify.tab',
    // The authorization request in flight: state, PKCE verifier, nonce, endpoints.
    oidc: 'wecom-notify.oidc',
    // After single sign-on: the ID token and the provider's end-session endpoint, for
    // signing out there too. The ID token is never sent to the API.
    sso: 'wecom-notify.sso',
    // The state of a sign-out at the provider, to recognise the way back.
    logout: 'wecom-notify.logout',
  };
  const POLL_MS = 2000;
  const DELIVERIES_MS = 5000;
  const TABS = ['channels', 'subscriptions', 'deliveries', 'decisions'];
  const FIELDS = ['corp_id', 'app_secret', 'agent_id', 'source_column', 'encoding_aes_key', 'token', 'receiver'];
  const SECRETS = ['app_secret', 'encoding_aes_key', 'token'];
  const FORMATS = ['textcard', 'text', 'markdown'];
  const STEP_MARK = { ok: '\u2713', failed: '\u2717', not_run: '\u2013' };
  // The API's base: the directory the console is served from (a stage prefix on AWS).
  const BASE = new URL('.', location.href);

  const state = {
    lang: 'en',
    token: null,
    org: null,
    claims: null,
    tab: 'channels',
    channels: { items: [], next: null, loaded: false },
    subs: { items: [], next: null, loaded: false },
    dlv: { items: [], next: null, loaded: false, member: '', timer: null, updated: null },
    act: { items: [], next: null, loaded: false, member: '', timer: null, updated: null },
  };

  // The Configure dialog's state.
  const cfg = {
    member: null,
    view: null,
    mode: 'form',
    savedAt: null,
    typed: {},
    pollTimer: null,
    polledAt: null,
    generation: 0,
    test: null,
  };

  // --- storage (may be disabled; the console then works for the page's lifetime) ----------

  function storeGet(area, key) {
    try { return window[area].getItem(key); } catch (e) { return null; }
  }
  function storeSet(area, key, value) {
    try { window[area].setItem(key, value); } catch (e) { /* storage disabled */ }
  }
  function storeRemove(area, key) {
    try { window[area].removeItem(key); } catch (e) { /* storage disabled */ }
  }

  // --- texts ---------------------------------------------------------------------------------

  // The text of `key` in the chosen language, `{name}` filled from `args`. A key missing from
  // the catalogue shows as ⟦key⟧, which the browser walk looks for.
  function t(key, args) {
    const cat = CATALOGUES[state.lang] || {};
    const s = cat[key];
    if (typeof s !== 'string') return '\u27e6' + key + '\u27e7';
    if (!args) return s;
    return s.replace(/\{(\w+)\}/g, (m, n) => (Object.prototype.hasOwnProperty.call(args, n) ? String(args[n]) : m));
  }
  // For keys put together at run time (statuses, reasons, steps …).
  const tk = (prefix, name, args) => t(prefix + name, args);

  function initialLang() {
    const saved = storeGet('localStorage', STORE.lang);
    if (saved && CATALOGUES[saved]) return saved;
    const prefs = (navigator.languages && navigator.languages.length) ? navigator.languages : [navigator.language || 'en'];
    for (const p of prefs) {
      const l = String(p).toLowerCase();
      if (l === 'zh' || l.startsWith('zh-')) return 'zh-CN';
      if (l === 'en' || l.startsWith('en-')) return 'en';
    }
    return 'en';
  }

  function fmtTime(iso) {
    if (!iso) return '\u2014';
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return String(iso);
    return new Intl.DateTimeFormat(state.lang, {
      year: 'numeric', month: '2-digit', day: '2-digit',
      hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false,
    }).format(d);
  }

  // The API's messages and hints name times as RFC 3339 UTC: shown in the admin's own clock,
  // like every other time of the console.
  const RFC3339_UTC = /\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z\b/g;
  const localTimes = (text) => String(text).replace(RFC3339_UTC, (iso) => fmtTime(iso));

  // --- DOM helpers ---------------------------------------------------------------------------

  function el(tag, attrs) {
    const n = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'class') n.className = v;
      else n.setAttribute(k, v === true ? '' : String(v));
    }
    for (let i = 2; i < arguments.length; i++) add(n, arguments[i]);
    return n;
  }
  function add(n, c) {
    if (c === null || c === undefined || c === false) return;
    if (Array.isArray(c)) { c.forEach((x) => add(n, x)); return; }
    n.append(c instanceof Node ? c : String(c));
  }
  function mark(kind) {
    const cls = kind === 'ok' ? 'mark ok' : kind === 'failed' ? 'mark fail' : 'mark muted';
    return el('span', { class: cls, 'aria-hidden': 'true' }, STEP_MARK[kind] || STEP_MARK.not_run);
  }
  function badge(kind, text) {
    return el('span', { class: 'badge ' + kind }, text);
  }

  // An error (or, with kind 'info', a notice) with what to do about it.
  function showAlert(box, message, hint, extra, kind) {
    box.replaceChildren();
    box.classList.toggle('info', kind === 'info');
    const close = el('button', { type: 'button', class: 'icon-button alert-close', 'aria-label': t('common.dismiss') }, '\u00d7');
    close.addEventListener('click', () => { box.hidden = true; });
    box.append(close, el('p', { class: 'alert-message' }, message));
    if (hint) box.append(el('p', { class: 'alert-hint' }, hint));
    if (extra) box.append(el('p', { class: 'alert-hint' }, extra));
    box.hidden = false;
  }
  // The label of an API error code (`code.<code>`; WeCom's `wecom_<errcode>` by its errcode),
  // or null for a code the API does not produce (`network`, `http_502`: the console's own).
  function codeLabel(code) {
    if (typeof code !== 'string') return null;
    const wecom = /^wecom_(-?\d+)$/.exec(code);
    if (wecom) return t('code.wecom', { code: wecom[1] });
    const cat = CATALOGUES[state.lang] || {};
    return typeof cat['code.' + code] === 'string' ? t('code.' + code) : null;
  }
  function showApiError(box, e) {
    const err = (e && e.error) || {};
    const extra = err.trusted_ip ? t('error.trusted_ip', { ip: err.trusted_ip }) : null;
    showAlert(box, err.message || String(e && e.message ? e.message : e), err.hint, extra);
    const label = codeLabel(err.code);
    // What kind of error it is, in the admin's words, and the code to look up in docs/API.md.
    if (label) box.insertBefore(el('p', { class: 'alert-code' }, label, ' \u00b7 ', el('code', {}, err.code)), box.querySelector('.alert-message'));
  }
  function hideAlert(box) { box.hidden = true; box.replaceChildren(); }

  function setBusy(button, busy) {
    button.disabled = busy;
    button.classList.toggle('busy', busy);
    if (busy) button.setAttribute('aria-busy', 'true'); else button.removeAttribute('aria-busy');
  }

  // --- API -----------------------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, error, body) {
      super(error.message || error.code || String(status));
      this.status = status;
      this.error = error;
      this.body = body;
    }
  }

  async function api(method, path, body) {
    const token = state.token;
    const headers = {
      Accept: 'application/json',
      'Accept-Language': state.lang,
      Authorization: 'Bearer ' + token,
    };
    const init = { method, headers, cache: 'no-store', credentials: 'omit', referrerPolicy: 'no-referrer' };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let resp;
    try {
      resp = await fetch(new URL(path, BASE).toString(), init);
    } catch (e) {
      throw new ApiError(0, { code: 'network', message: t('error.network'), hint: t('error.network_hint') }, null);
    }
    const text = await resp.text();
    let data = null;
    if (text) { try { data = JSON.parse(text); } catch (e) { data = null; } }
    if (resp.ok) return data;
    const error = (data && data.error && typeof data.error === 'object')
      ? data.error
      : { code: 'http_' + resp.status, message: t('error.http', { status: resp.status }) };
    if (resp.status === 401 && token && state.token === token) {
      // After single sign-on a refusal usually means the API does not take the provider's
      // access tokens (issuer, audience): say where to look.
      const viaSso = !!storeGet('sessionStorage', STORE.sso);
      endSession(t('signin.rejected', { message: error.message || '' }), null, viaSso ? t('signin.rejected_sso_hint') : null);
    }
    throw new ApiError(resp.status, error, data);
  }

  const orgPath = (rest) => 'v1/orgs/' + encodeURIComponent(state.org) + rest;
  const memberPath = (member, rest) =>
    orgPath('/members/' + encodeURIComponent(member) + '/wecom-channel' + (rest || ''));

  // --- session -------------------------------------------------------------------------------

  function decodeClaims(token) {
    const parts = String(token).split('.');
    if (parts.length !== 3) return null;
    try {
      let b = parts[1].replace(/-/g, '+').replace(/_/g, '/');
      while (b.length % 4) b += '=';
      const bytes = Uint8Array.from(atob(b), (c) => c.charCodeAt(0));
      const claims = JSON.parse(new TextDecoder().decode(bytes));
      return claims && typeof claims === 'object' ? claims : null;
    } catch (e) {
      return null;
    }
  }

  // The local runner's link carries the token in the fragment: keep it in this tab's
  // sessionStorage and take it out of the address bar (and so out of history). With single
  // sign-on configured such a link is only taken out of the address bar: a crafted link must
  // not sign anyone into another org's console. Returns whether a token was ignored.
  function takeTokenFromFragment() {
    if (!location.hash || location.hash.length < 2) return false;
    const params = new URLSearchParams(location.hash.slice(1));
    const token = params.get('token');
    if (token === null) return false;
    history.replaceState(null, '', location.pathname + location.search);
    if (OIDC) return true;
    if (token.trim()) storeSet('sessionStorage', STORE.token, token.trim());
    return false;
  }

  // Checks a token's claims (the API verifies it; this only catches the obvious) and opens
  // the console. Returns whether it did.
  function startSession(token, quiet) {
    const claims = decodeClaims(token);
    let problem = null;
    if (!claims) problem = t('signin.bad_token');
    else if (typeof claims.org !== 'string' || !claims.org) problem = t('signin.no_org');
    else if (typeof claims.exp === 'number' && claims.exp * 1000 < Date.now() - 60000) problem = t('signin.expired');
    if (problem) {
      storeRemove('sessionStorage', STORE.token);
      if (!quiet) showAlert($('alert'), problem, t('signin.token_hint'));
      else showSignin(problem);
      return false;
    }
    state.token = token;
    state.claims = claims;
    state.org = claims.org;
    storeSet('sessionStorage', STORE.token, token);
    hideAlert($('alert'));
    $('signin').hidden = true;
    $('app').hidden = false;
    $('who').hidden = false;
    $('sign-out').hidden = false;
    renderWho();
    if (claims.role !== 'admin') showAlert($('alert'), t('signin.not_admin', { role: String(claims.role || '') }), t('signin.not_admin_hint'));
    const saved = storeGet('sessionStorage', STORE.tab);
    selectTab(TABS.includes(saved) ? saved : 'channels', false);
    return true;
  }

  function renderWho() {
    $('who-org').textContent = state.org || '';
    const sub = state.claims && (state.claims.name || state.claims.email || state.claims.sub);
    $('who-sub').textContent = sub ? t('header.signed_in_as', { who: sub }) : '';
  }

  function stopTimers() {
    clearTimeout(state.dlv.timer);
    state.dlv.timer = null;
    clearTimeout(state.act.timer);
    state.act.timer = null;
    stopPolling();
  }

  function endSession(message, kind, hint) {
    stopTimers();
    if ($('cfg').open) $('cfg').close();
    state.token = null;
    state.claims = null;
    state.org = null;
    state.channels = { items: [], next: null, loaded: false };
    state.subs = { items: [], next: null, loaded: false };
    state.dlv = { items: [], next: null, loaded: false, member: '', timer: null, updated: null };
    state.act = { items: [], next: null, loaded: false, member: '', timer: null, updated: null };
    try { sessionStorage.clear(); } catch (e) { /* storage disabled */ }
    showSignin(message, kind, hint);
  }

  function showSignin(message, kind, hint, extra) {
    $('app').hidden = true;
    $('who').hidden = true;
    $('sign-out').hidden = true;
    $('signin').hidden = false;
    $('signin-sso').hidden = !OIDC;
    $('signin-sso-issuer').textContent = OIDC ? t('signin.sso_issuer', { issuer: OIDC.issuer }) : '';
    setBusy($('signin-sso-button'), false);
    if (message) showAlert($('alert'), message, hint, extra, kind);
    else hideAlert($('alert'));
  }

  // Sign out: forget this tab's session and, after single sign-on, end the session at the
  // identity provider too (RP-initiated logout), which sends the browser back here.
  function signOut() {
    const sso = readJson(STORE.sso);
    endSession(t('signin.signed_out'), 'info');
    const end = OIDC && sso && typeof sso.id_token === 'string' ? safeUrl(sso.end_session_endpoint) : null;
    if (!end) return;
    const st = randomString(16);
    storeSet('sessionStorage', STORE.logout, st);
    end.searchParams.set('id_token_hint', sso.id_token);
    end.searchParams.set('client_id', OIDC.client_id);
    end.searchParams.set('post_logout_redirect_uri', redirectUri());
    end.searchParams.set('state', st);
    location.assign(end.toString());
  }

  // --- OpenID Connect: authorization code + PKCE (S256) + nonce ----------------------------
  //
  // The access token is the API's bearer; the ID token only proves the sign-in (its nonce,
  // issuer and audience are checked) and is kept for signing out at the provider. Nothing the
  // provider writes in words (error_description) is shown: its error code picks a text of the
  // catalogue.

  function b64url(bytes) {
    let s = '';
    bytes.forEach((b) => { s += String.fromCharCode(b); });
    return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }
  function randomString(n) {
    const a = new Uint8Array(n);
    crypto.getRandomValues(a);
    return b64url(a);
  }
  function readJson(key) {
    try { return JSON.parse(storeGet('sessionStorage', key) || 'null'); } catch (e) { return null; }
  }
  // The console's own address, without query or fragment: register it as the redirect URI.
  const redirectUri = () => location.origin + location.pathname;
  const trimSlash = (s) => String(s || '').replace(/\/+$/, '');
  // An endpoint of the discovery document as a URL the browser may be sent to: https, or
  // plain http to a loopback address only (as the issuer itself).
  function safeUrl(s) {
    let u;
    try { u = new URL(String(s)); } catch (e) { return null; }
    if (u.protocol === 'https:') return u;
    if (u.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname)) return u;
    return null;
  }
  // An error code as the provider sent it, if it is one (RFC 6749: a short ASCII word): shown
  // to help the provider's administrator, anything else is dropped.
  const errorCode = (code) => (typeof code === 'string' && /^[A-Za-z0-9_.-]{1,64}$/.test(code) ? code : null);

  async function discover() {
    const resp = await fetch(trimSlash(OIDC.issuer) + '/.well-known/openid-configuration', { credentials: 'omit', referrerPolicy: 'no-referrer' });
    if (!resp.ok) throw new Error('discovery answered ' + resp.status);
    const doc = await resp.json();
    if (!safeUrl(doc.authorization_endpoint) || !safeUrl(doc.token_endpoint)) throw new Error('discovery document lacks endpoints');
    return doc;
  }

  function showUnreachable() {
    showSignin(t('signin.sso_unreachable', { issuer: OIDC.issuer }), null, t('signin.sso_unreachable_hint'));
  }

  async function ssoStart() {
    const button = $('signin-sso-button');
    setBusy(button, true);
    try {
      const doc = await discover();
      const verifier = randomString(32);
      const challenge = b64url(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier))));
      const st = randomString(16);
      const nonce = randomString(16);
      const end = safeUrl(doc.end_session_endpoint);
      storeSet('sessionStorage', STORE.oidc, JSON.stringify({
        state: st,
        verifier,
        nonce,
        token_endpoint: doc.token_endpoint,
        end_session_endpoint: end ? end.toString() : null,
      }));
      const u = safeUrl(doc.authorization_endpoint);
      u.searchParams.set('response_type', 'code');
      u.searchParams.set('client_id', OIDC.client_id);
      u.searchParams.set('redirect_uri', redirectUri());
      u.searchParams.set('scope', 'openid');
      u.searchParams.set('state', st);
      u.searchParams.set('nonce', nonce);
      u.searchParams.set('code_challenge', challenge);
      u.searchParams.set('code_challenge_method', 'S256');
      location.assign(u.toString());
    } catch (e) {
      showUnreachable();
    }
  }

  // The text for an OAuth error code of the provider (authorization or token endpoint): its
  // message and what to do. The provider's own description is never shown.
  function ssoErrorTexts(code) {
    const setup = () => t('signin.sso_hint.setup', { client_id: OIDC ? OIDC.client_id : '', redirect: redirectUri() });
    switch (code) {
      case 'access_denied': return [t('signin.sso_error.access_denied'), t('signin.sso_hint.denied')];
      case 'login_required': return [t('signin.sso_error.login_required'), t('signin.sso_hint.again')];
      case 'consent_required': return [t('signin.sso_error.consent_required'), t('signin.sso_hint.again')];
      case 'interaction_required': return [t('signin.sso_error.interaction_required'), t('signin.sso_hint.again')];
      case 'invalid_request': return [t('signin.sso_error.invalid_request'), setup()];
      case 'unauthorized_client': return [t('signin.sso_error.unauthorized_client'), setup()];
      case 'server_error': return [t('signin.sso_error.server_error'), t('signin.sso_hint.later')];
      case 'temporarily_unavailable': return [t('signin.sso_error.temporarily_unavailable'), t('signin.sso_hint.later')];
      case 'invalid_grant': return [t('signin.sso_error.invalid_grant'), t('signin.sso_hint.again')];
      default: return [t('signin.sso_error.other'), t('signin.sso_hint.other')];
    }
  }
  function showSsoError(rawCode) {
    const code = errorCode(rawCode);
    const [message, hint] = ssoErrorTexts(code);
    showSignin(message, null, hint, code ? t('signin.sso_code', { code }) : null);
  }

  // Back from the provider's sign-out (?state= of our own): the signed-out sign-in page.
  function logoutFinish(q) {
    const expected = storeGet('sessionStorage', STORE.logout);
    if (!expected || q.has('code') || q.has('error') || q.get('state') !== expected) return false;
    storeRemove('sessionStorage', STORE.logout);
    history.replaceState(null, '', location.pathname);
    showSignin(t('signin.signed_out'), 'info');
    return true;
  }

  // Back from the issuer with ?code=&state= (or ?error=): exchange the code for tokens, check
  // the ID token belongs to this sign-in, and open the console with the access token.
  async function ssoFinish() {
    const q = new URLSearchParams(location.search);
    if (logoutFinish(q)) return true;
    if (!q.has('code') && !q.has('error')) return false;
    const pending = readJson(STORE.oidc);
    storeRemove('sessionStorage', STORE.oidc);
    history.replaceState(null, '', location.pathname);
    if (q.has('error')) {
      showSsoError(q.get('error'));
      return true;
    }
    if (!pending || typeof pending.nonce !== 'string' || pending.state !== q.get('state')) {
      showSignin(t('signin.sso_state'));
      return true;
    }
    // RFC 9207: an answer that names its issuer must name ours (mix-up defence).
    if (q.has('iss') && trimSlash(q.get('iss')) !== trimSlash(OIDC.issuer)) {
      showSignin(t('signin.sso_mismatch'), null, t('signin.sso_mismatch_hint'));
      return true;
    }
    let resp;
    let answer;
    try {
      const body = new URLSearchParams({
        grant_type: 'authorization_code',
        code: q.get('code'),
        redirect_uri: redirectUri(),
        client_id: OIDC.client_id,
        code_verifier: pending.verifier,
      });
      resp = await fetch(pending.token_endpoint, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
        body,
        credentials: 'omit',
        referrerPolicy: 'no-referrer',
      });
      answer = await resp.json().catch(() => null);
    } catch (e) {
      showUnreachable();
      return true;
    }
    if (!resp.ok || !answer || typeof answer !== 'object') {
      showSsoError(answer && typeof answer === 'object' && answer.error ? answer.error : 'http_' + resp.status);
      return true;
    }
    // The ID token: this sign-in's (nonce), from our issuer, for this console.
    const idToken = typeof answer.id_token === 'string' ? answer.id_token : null;
    const id = idToken ? decodeClaims(idToken) : null;
    if (id && id.nonce !== pending.nonce) {
      showSignin(t('signin.sso_nonce'), null, t('signin.sso_nonce_hint'));
      return true;
    }
    const aud = id ? (Array.isArray(id.aud) ? id.aud : [id.aud]) : [];
    if (!id || trimSlash(id.iss) !== trimSlash(OIDC.issuer) || !aud.includes(OIDC.client_id)) {
      showSignin(t('signin.sso_mismatch'), null, t('signin.sso_mismatch_hint'));
      return true;
    }
    // The API's bearer: the access token, never the ID token.
    const access = typeof answer.access_token === 'string' ? answer.access_token : null;
    const claims = access && access !== idToken ? decodeClaims(access) : null;
    if (!claims || typeof claims.org !== 'string' || !claims.org) {
      showSignin(t('signin.sso_no_access'), null, t('signin.sso_no_access_hint'));
      return true;
    }
    storeSet('sessionStorage', STORE.sso, JSON.stringify({ id_token: idToken, end_session_endpoint: pending.end_session_endpoint || null }));
    if (!startSession(access, true)) storeRemove('sessionStorage', STORE.sso);
    return true;
  }

  // --- language ------------------------------------------------------------------------------

  function buildLangSelect() {
    const sel = $('lang');
    sel.replaceChildren();
    for (const l of LANGS) {
      sel.append(el('option', { value: l, lang: l }, CATALOGUES[l]['lang.name'] || l));
    }
    sel.value = state.lang;
  }

  function applyLang() {
    document.documentElement.lang = state.lang;
    $('lang').value = state.lang;
    document.querySelectorAll('[data-i18n]').forEach((n) => { n.textContent = t(n.getAttribute('data-i18n')); });
    document.querySelectorAll('[data-i18n-aria-label]').forEach((n) => { n.setAttribute('aria-label', t(n.getAttribute('data-i18n-aria-label'))); });
    document.querySelectorAll('[data-i18n-placeholder]').forEach((n) => { n.setAttribute('placeholder', t(n.getAttribute('data-i18n-placeholder'))); });
    document.title = t('app.title');
    fillFormatSelect($('add-sub-format'), $('add-sub-format').value || 'textcard');
    if (OIDC) {
      $('signin-sso-issuer').textContent = t('signin.sso_issuer', { issuer: OIDC.issuer });
      $('signin-paste-title').textContent = t('signin.paste_title_sso');
      $('signin-token-hint').textContent = t('signin.token_hint_sso');
    }
    if (state.token) {
      renderWho();
      renderChannels();
      renderSubs();
      renderDeliveries();
      renderDecisions();
    }
    if ($('cfg').open) renderDialogTexts();
  }

  function fillFormatSelect(sel, value) {
    sel.replaceChildren();
    for (const f of FORMATS) sel.append(el('option', { value: f }, tk('format.', f)));
    sel.value = FORMATS.includes(value) ? value : 'textcard';
  }

  // --- tabs ----------------------------------------------------------------------------------

  function selectTab(name, focus) {
    for (const n of TABS) {
      const on = n === name;
      const tab = $('tab-' + n);
      tab.setAttribute('aria-selected', on ? 'true' : 'false');
      tab.tabIndex = on ? 0 : -1;
      $('panel-' + n).hidden = !on;
    }
    state.tab = name;
    storeSet('sessionStorage', STORE.tab, name);
    if (focus) $('tab-' + name).focus();
    if (name === 'channels') loadChannels(false);
    if (name === 'subscriptions') loadSubs(false);
    if (name === 'deliveries') loadDeliveries(false);
    if (name === 'decisions') loadDecisions(false);
    scheduleDeliveries();
    scheduleDecisions();
  }

  function onTabKey(e) {
    const i = TABS.indexOf(state.tab);
    let next = null;
    if (e.key === 'ArrowRight') next = TABS[(i + 1) % TABS.length];
    else if (e.key === 'ArrowLeft') next = TABS[(i + TABS.length - 1) % TABS.length];
    else if (e.key === 'Home') next = TABS[0];
    else if (e.key === 'End') next = TABS[TABS.length - 1];
    if (next) {
      e.preventDefault();
      selectTab(next, true);
    }
  }

  // --- channels ------------------------------------------------------------------------------

  async function loadChannels(more) {
    const params = new URLSearchParams({ limit: '100' });
    if (more && state.channels.next) params.set('next', state.channels.next);
    try {
      const page = await api('GET', orgPath('/wecom-channels?' + params));
      const items = Array.isArray(page.items) ? page.items : [];
      state.channels.items = more ? state.channels.items.concat(items) : items;
      state.channels.next = page.next || null;
      state.channels.loaded = true;
      renderChannels();
    } catch (e) {
      if (e.status !== 401) showApiError($('alert'), e);
    }
  }

  function renderChannels() {
    const body = $('channels-body');
    body.replaceChildren();
    for (const v of state.channels.items) body.append(channelRow(v));
    $('channels-empty').hidden = !state.channels.loaded || state.channels.items.length > 0;
    $('channels-more').hidden = !state.channels.next;
  }

  function diagnosisLabel(d) {
    return d ? tk('diag.', d) : t('check.failed');
  }

  function checkCell(c) {
    if (!c) return el('span', { class: 'muted' }, t('check.none'));
    if (c.ok) {
      return [el('span', { class: 'state ok' }, mark('ok'), ' ', t('check.ok')), el('div', { class: 'muted small' }, fmtTime(c.at))];
    }
    return [
      el('span', { class: 'state fail' }, mark('failed'), ' ', diagnosisLabel(c.diagnosis)),
      c.hint ? el('div', { class: 'hint clamp' }, c.hint) : null,
      el('div', { class: 'muted small' }, fmtTime(c.at)),
    ];
  }

  // A lookup of the channel's receiver missed and is remembered for a day (receiver_not_found
  // of the view): what happened, until when, and what to do.
  function missDetail(m) {
    return t('rnf.detail', { since: fmtTime(m.since), code: m.wecom_errcode, until: fmtTime(m.until) });
  }
  function missCell(m) {
    if (!m) return null;
    // Chinese sentences follow each other without a space.
    const all = missDetail(m) + (state.lang === 'zh-CN' ? '' : ' ') + t('rnf.todo');
    return el('div', { class: 'miss' },
      el('span', { class: 'badge warn', title: all }, '\u26a0 ', t('rnf.badge')),
      el('div', { class: 'hint' }, all));
  }

  function testCell(r) {
    if (!r) return el('span', { class: 'muted' }, t('test.none'));
    const ok = r.result === 'successful';
    return [
      el('span', { class: 'state ' + (ok ? 'ok' : 'fail') }, mark(ok ? 'ok' : 'failed'), ' ',
        ok ? t('test.successful') : t('test.failed'),
        !ok && r.wecom_errcode !== undefined && r.wecom_errcode !== null ? ' \u00b7 ' + t('test.errcode', { code: r.wecom_errcode }) : null),
      !ok && r.hint ? el('div', { class: 'hint clamp' }, localTimes(r.hint)) : null,
      el('div', { class: 'muted small' }, fmtTime(r.at)),
    ];
  }

  function probeCell(p) {
    if (!p) return el('span', { class: 'muted' }, t('probe.none'));
    if (p.ok) {
      return [el('span', { class: 'state ok' }, mark('ok'), ' ', t('probe.ok')), el('div', { class: 'muted small' }, fmtTime(p.at))];
    }
    return [
      el('span', { class: 'state fail' }, mark('failed'), ' ', tk('drift.', p.drift || 'other'),
        p.wecom_errcode !== undefined && p.wecom_errcode !== null ? ' \u00b7 ' + t('test.errcode', { code: p.wecom_errcode }) : null),
      p.trusted_ip ? el('div', { class: 'mono small' }, p.trusted_ip) : null,
      p.hint ? el('div', { class: 'hint clamp' }, localTimes(p.hint)) : null,
      el('div', { class: 'muted small' }, fmtTime(p.at)),
    ];
  }

  // Probes every channel of the org now (a page at a time), then shows the outcomes.
  async function probeChannels() {
    const button = $('channels-probe');
    hideAlert($('alert'));
    setBusy(button, true);
    try {
      let next = null;
      do {
        const params = new URLSearchParams({ limit: '100' });
        if (next) params.set('next', next);
        const page = await api('POST', orgPath('/wecom-channels/probe?' + params), {});
        next = page.next || null;
      } while (next);
    } catch (e) {
      if (e.status !== 401) showApiError($('alert'), e);
    } finally {
      setBusy(button, false);
    }
    loadChannels(false);
  }

  function channelRow(v) {
    const button = el('button', { type: 'button', class: 'secondary small', 'data-member': v.member, 'aria-label': t('channels.configure_member', { member: v.member }) }, t('channels.configure'));
    button.addEventListener('click', () => openConfigure(v.member, button));
    return el('tr', {},
      el('th', { scope: 'row', class: 'mono' }, v.member),
      el('td', {}, v.configured ? badge('ok', t('channels.configured')) : badge('muted', t('channels.not_configured'))),
      el('td', {}, v.configured
        ? [el('div', { class: 'muted small' }, tk('source.', v.source_column)), el('div', { class: 'mono' }, v.receiver), missCell(v.receiver_not_found)]
        : '\u2014'),
      el('td', {}, checkCell(v.last_callback_check)),
      el('td', {}, testCell(v.last_test)),
      el('td', {}, probeCell(v.last_probe)),
      el('td', { class: 'actions-cell' }, button));
  }

  function onAddMember(e) {
    e.preventDefault();
    const input = $('add-member-name');
    const err = $('add-member-error');
    const member = input.value.trim();
    err.hidden = true;
    input.removeAttribute('aria-invalid');
    if (!member) {
      err.textContent = t('channels.add_empty');
      err.hidden = false;
      input.setAttribute('aria-invalid', 'true');
      input.focus();
      return;
    }
    openConfigure(member, input);
  }

  // --- the Configure dialog ------------------------------------------------------------------

  async function openConfigure(member, opener) {
    const gen = ++cfg.generation;
    let view;
    try {
      view = await api('GET', memberPath(member));
    } catch (e) {
      if (e.status === 401) return;
      if (e.error && e.error.field === 'member' && opener === $('add-member-name')) {
        const err = $('add-member-error');
        err.textContent = [e.error.message, e.error.hint].filter(Boolean).join(' ');
        err.hidden = false;
        opener.setAttribute('aria-invalid', 'true');
        opener.focus();
      } else {
        showApiError($('alert'), e);
      }
      return;
    }
    if (gen !== cfg.generation) return;
    cfg.member = view.member || member;
    cfg.view = view;
    cfg.savedAt = null;
    cfg.typed = {};
    cfg.test = null;
    cfg.opener = opener || null;
    resetForm(view);
    setMode('form');
    $('cfg').showModal();
    const first = FIELDS.map((f) => $('f-' + f)).find((n) => !n.value) || $('f-corp_id');
    first.focus();
  }

  function resetForm(view) {
    hideAlert($('cfg-alert'));
    clearFieldErrors();
    $('f-corp_id').value = view.corp_id || '';
    $('f-agent_id').value = view.agent_id === null || view.agent_id === undefined ? '' : String(view.agent_id);
    $('f-source_column').value = view.source_column || 'phone';
    $('f-receiver').value = view.receiver || '';
    $('f-wechat_plugin').checked = !!view.wechat_plugin;
    for (const f of SECRETS) $('f-' + f).value = '';
    $('cfg-callback-url').value = view.callback_url || '';
    const ips = Array.isArray(view.trusted_ips) ? view.trusted_ips : [];
    $('cfg-trusted-ips').value = ips.join(';');
    $('cfg-test').hidden = true;
    $('cfg-test').replaceChildren();
    renderDialogTexts();
  }

  // Texts of the dialog that depend on the view or the form (re-rendered on a language change).
  function renderDialogTexts() {
    const view = cfg.view || {};
    $('cfg-title').textContent = t('cfg.title', { member: cfg.member || '' });
    $('cfg-subtitle').textContent = view.configured
      ? t('cfg.subtitle_configured', { time: fmtTime(view.updated_at) })
      : t('cfg.subtitle_new');
    const ips = Array.isArray(view.trusted_ips) ? view.trusted_ips : [];
    $('cfg-trusted-ips').placeholder = ips.length ? '' : t('cfg.trusted_ips_empty');
    $('cfg-trusted-ips-hint').textContent = ips.length ? t('cfg.trusted_ips_hint') : t('cfg.trusted_ips_none');
    document.querySelector('[data-copy="cfg-trusted-ips"]').disabled = ips.length === 0;
    for (const f of SECRETS) {
      const set = !!view[f + '_set'];
      $('s-' + f).hidden = !set;
      $('h-' + f).textContent = set ? t('field.secret_keep') : tk('field.', f + '.hint');
    }
    renderMiss();
    $('h-receiver').textContent = tk('field.receiver.hint.', $('f-source_column').value);
    $('f-receiver').placeholder = tk('field.receiver.placeholder.', $('f-source_column').value);
    if (cfg.test) renderTest(cfg.test);
    if (cfg.mode === 'wait') renderWait();
  }

  // The saved receiver WeCom did not find (remembered for a day), above the form.
  function renderMiss() {
    const m = cfg.view && cfg.view.receiver_not_found;
    const box = $('cfg-rnf');
    if (!m) {
      box.hidden = true;
      box.replaceChildren();
      return;
    }
    box.replaceChildren(
      el('p', { class: 'warning-title' }, '\u26a0 ', t('rnf.badge')),
      el('p', {}, missDetail(m)),
      el('p', {}, t('rnf.cfg_todo')));
    box.hidden = false;
  }

  // The member's view again after a test: a receiver the test did not find is remembered now.
  async function refreshView() {
    const gen = cfg.generation;
    try {
      const view = await api('GET', memberPath(cfg.member));
      if (gen !== cfg.generation || !$('cfg').open || cfg.mode !== 'form') return;
      cfg.view = view;
      renderMiss();
    } catch (e) {
      /* the test's answer is shown; the notice follows on the next open */
    }
  }

  function setMode(mode) {
    cfg.mode = mode;
    const wait = mode === 'wait';
    $('cfg-form-view').hidden = wait;
    $('cfg-form-actions').hidden = wait;
    $('cfg-wait-view').hidden = !wait;
    $('cfg-wait-actions').hidden = !wait;
    if (!wait) stopPolling();
  }

  function formValues() {
    const v = {};
    for (const f of FIELDS) v[f] = $('f-' + f).value.trim();
    return v;
  }

  // The PUT/test body: empty inputs are left out (an empty secret keeps the stored one; an
  // empty required field is named by the API's answer).
  function body(v) {
    const b = {};
    for (const f of FIELDS) {
      if (v[f] === '') continue;
      b[f] = f === 'agent_id' && /^\d{1,10}$/.test(v[f]) ? Number(v[f]) : v[f];
    }
    return b;
  }

  function clearFieldErrors() {
    for (const f of FIELDS) {
      const e = $('e-' + f);
      e.hidden = true;
      e.textContent = '';
      $('f-' + f).removeAttribute('aria-invalid');
    }
  }

  // A field error next to its field; anything else in the dialog's alert area.
  function showFormError(e) {
    const field = e.error && e.error.field;
    if (field && FIELDS.includes(field)) {
      const box = $('e-' + field);
      box.textContent = [e.error.message, e.error.hint].filter(Boolean).join(' ');
      box.hidden = false;
      const input = $('f-' + field);
      input.setAttribute('aria-invalid', 'true');
      input.focus();
      hideAlert($('cfg-alert'));
    } else {
      showApiError($('cfg-alert'), e);
    }
  }

  async function runTest() {
    const button = $('cfg-test-button');
    clearFieldErrors();
    hideAlert($('cfg-alert'));
    const v = formValues();
    const complete = FIELDS.every((f) => v[f] !== '');
    const which = complete ? 'unsaved' : 'saved';
    const box = $('cfg-test');
    box.hidden = false;
    box.replaceChildren(el('p', { class: 'muted' }, el('span', { class: 'spinner', 'aria-hidden': 'true' }), ' ', t('test.running')));
    setBusy(button, true);
    try {
      const answer = await api('POST', memberPath(cfg.member, '/test'), complete ? body(v) : {});
      cfg.test = { answer, error: null, which, status: 200, at: Date.now() };
    } catch (e) {
      if (e.status === 401) return;
      // A refusal of the test (steps), or nothing sent for now (429): in the test's box.
      if ((e.body && Array.isArray(e.body.steps)) || e.status === 429) {
        cfg.test = { answer: e.body || {}, error: e.error, which, status: e.status, at: Date.now() };
      } else {
        cfg.test = null;
        box.hidden = true;
        box.replaceChildren();
        showFormError(e);
        return;
      }
    } finally {
      setBusy(button, false);
    }
    renderTest(cfg.test);
    if (which === 'saved') loadChannels(false);
    refreshView();
  }

  // When to try again: at retry_at, or in retry_after seconds (counted from the answer).
  function retryLine(err) {
    if (typeof err.retry_after !== 'number') return null;
    const text = err.retry_at && !Number.isNaN(Date.parse(err.retry_at))
      ? t('test.retry_at', { time: fmtTime(err.retry_at), secs: err.retry_after })
      : t('test.retry_in', { secs: err.retry_after });
    return el('p', { class: 'retry' }, text);
  }

  function renderTest(test) {
    const { answer, which } = test;
    const error = test.error;
    const err = error || {};
    const box = $('cfg-test');
    box.hidden = false;
    const ok = answer && answer.result === 'successful';
    // An answer from memory (a refused Secret, a receiver not found): until when.
    const miss = err.receiver_not_found || null;
    const until = err.remembered_until || (miss && miss.until);
    // Nothing was sent for now (429): not a failure of the channel's values.
    const notSent = test.status === 429;
    const steps = el('ol', { class: 'steps' });
    for (const s of (answer && answer.steps) || []) {
      const status = STEP_MARK[s.status] ? s.status : 'not_run';
      steps.append(el('li', { class: 'step ' + status },
        mark(status), ' ',
        el('span', { class: 'step-name' }, tk('step.', s.name)),
        el('span', { class: 'visually-hidden' }, ' ' + tk('step_status.', status)),
        s.wecom_errcode !== undefined && s.wecom_errcode !== null ? el('span', { class: 'muted' }, ' \u00b7 ' + t('test.errcode', { code: s.wecom_errcode })) : null,
        // The failed step's hint is the answer's, shown once, under the result.
        s.hint && s.hint !== err.hint ? el('div', { class: 'hint' }, localTimes(s.hint)) : null));
    }
    const result = ok
      ? el('p', { class: 'result ok' }, mark('ok'), ' ', el('strong', {}, t('test.successful')),
        answer.userid ? el('span', { class: 'muted' }, ' \u00b7 ' + t('test.userid', { userid: answer.userid })) : null)
      : el('div', { class: 'result ' + (notSent ? 'warn' : 'fail') },
        el('p', {}, notSent ? el('span', { class: 'mark warn', 'aria-hidden': 'true' }, '!') : mark('failed'), ' ',
          el('strong', {}, notSent ? t('test.not_sent') : t('test.failed')), err.message ? ' \u00b7 ' + localTimes(err.message) : null),
        until ? el('p', { class: 'remembered' }, badge('warn', t('test.remembered_badge', { until: fmtTime(until) }))) : null,
        retryLine(err),
        err.hint ? el('p', { class: 'hint' }, localTimes(err.hint)) : null,
        err.trusted_ip ? el('p', { class: 'hint' }, t('error.trusted_ip', { ip: err.trusted_ip })) : null);
    box.replaceChildren(...[
      el('h3', {}, t('test.title')),
      notSent ? null : el('p', { class: 'muted small' }, which === 'unsaved' ? t('test.of_unsaved') : t('test.of_saved')),
      steps.childElementCount ? steps : null,
      result].filter(Boolean));
  }

  async function save() {
    const button = $('cfg-ok');
    clearFieldErrors();
    hideAlert($('cfg-alert'));
    const v = formValues();
    setBusy(button, true);
    try {
      const view = await api('PUT', memberPath(cfg.member), { ...body(v), wechat_plugin: $('f-wechat_plugin').checked });
      cfg.view = view;
      cfg.savedAt = view.updated_at || new Date().toISOString();
      cfg.typed = { token: v.token, key: v.encoding_aes_key };
      enterWait();
      loadChannels(false);
      if (cfg.opener === $('add-member-name')) $('add-member-name').value = '';
    } catch (e) {
      if (e.status !== 401) showFormError(e);
    } finally {
      setBusy(button, false);
    }
  }

  // --- waiting for WeCom's verification -------------------------------------------------------

  function enterWait() {
    setMode('wait');
    $('wait-callback-url').value = cfg.view.callback_url || '';
    $('wait-token').value = cfg.typed.token || '';
    $('wait-key').value = cfg.typed.key || '';
    $('wait-token-row').hidden = !cfg.typed.token;
    $('wait-key-row').hidden = !cfg.typed.key;
    renderDialogTexts();
    $('wait-close').focus();
    schedulePoll();
  }

  function stopPolling() {
    clearTimeout(cfg.pollTimer);
    cfg.pollTimer = null;
  }

  function schedulePoll() {
    stopPolling();
    if (!$('cfg').open || cfg.mode !== 'wait') return;
    cfg.pollTimer = setTimeout(poll, POLL_MS);
  }

  async function poll() {
    const gen = cfg.generation;
    try {
      const view = await api('GET', memberPath(cfg.member));
      if (gen !== cfg.generation || !$('cfg').open || cfg.mode !== 'wait') return;
      cfg.view = view;
      cfg.polledAt = new Date();
      cfg.pollError = null;
      renderWait();
    } catch (e) {
      if (e.status === 401) return;
      cfg.pollError = e;
      renderWait();
    } finally {
      if (gen === cfg.generation) schedulePoll();
    }
  }

  // Which copy row holds the value a diagnosis says to re-copy.
  const RECOPY_ROW = {
    signature_mismatch: 'wait-token-row',
    decrypt_failed: 'wait-key-row',
    bad_request: null,
    no_binding: null,
    corp_id_mismatch: null,
  };

  function renderWait() {
    const box = $('wait-status');
    const c = cfg.view && cfg.view.last_callback_check;
    const fresh = c && cfg.savedAt && Date.parse(c.at) >= Date.parse(cfg.savedAt);
    document.querySelectorAll('#cfg-wait-view .copy-row').forEach((r) => r.classList.remove('attention'));
    const parts = [];
    if (fresh && c.ok) {
      box.className = 'wait-status ok';
      parts.push(el('p', { class: 'wait-title' }, mark('ok'), ' ', t('wait.ok')));
      parts.push(el('p', {}, t('wait.ok_detail')));
      parts.push(el('p', { class: 'muted small' }, t('wait.checked_at', { time: fmtTime(c.at) })));
    } else if (fresh) {
      box.className = 'wait-status fail';
      parts.push(el('p', { class: 'wait-title' }, mark('failed'), ' ', diagnosisLabel(c.diagnosis)));
      if (c.hint) parts.push(el('p', { class: 'wait-hint' }, c.hint));
      const rowId = RECOPY_ROW[c.diagnosis];
      const row = rowId ? $(rowId) : null;
      if (row && !row.hidden) row.classList.add('attention');
      else if (c.diagnosis === 'bad_request') $('wait-callback-url').closest('.copy-row').classList.add('attention');
      const what = c.diagnosis ? tk('wait.recopy.', c.diagnosis) : null;
      if (what) parts.push(el('p', { class: 'recopy' }, what));
      if (rowId && (!row || row.hidden)) parts.push(el('p', { class: 'muted' }, t('wait.recopy_untyped')));
      parts.push(el('p', { class: 'muted small' }, t('wait.checked_at', { time: fmtTime(c.at) }), ' \u00b7 ', t('wait.still_polling')));
    } else {
      box.className = 'wait-status waiting';
      parts.push(el('p', { class: 'wait-title' }, el('span', { class: 'spinner', 'aria-hidden': 'true' }), ' ', t('wait.waiting')));
      if (c) {
        parts.push(el('p', { class: 'muted small' }, t('wait.previous', {
          result: c.ok ? t('check.ok') : diagnosisLabel(c.diagnosis),
          time: fmtTime(c.at),
        })));
      }
      parts.push(el('p', { class: 'muted small' }, cfg.polledAt ? t('wait.polled_at', { time: fmtTime(cfg.polledAt.toISOString()) }) : t('wait.polling')));
    }
    if (cfg.pollError) {
      const err = cfg.pollError.error || {};
      parts.push(el('p', { class: 'field-error' }, [err.message, err.hint].filter(Boolean).join(' ')));
    }
    box.replaceChildren(...parts);
  }

  function closeDialog() {
    $('cfg').close();
  }

  function onDialogClosed() {
    cfg.generation++;
    stopPolling();
    cfg.mode = 'form';
    cfg.typed = {};
    for (const f of SECRETS) $('f-' + f).value = '';
    $('wait-token').value = '';
    $('wait-key').value = '';
    const opener = cfg.opener;
    const member = cfg.member;
    cfg.opener = null;
    const refocus = () => {
      // Back to what opened the dialog; a re-rendered row's button stands in for the old one.
      const target = opener && document.contains(opener)
        ? opener
        : document.querySelector('#channels-body button[data-member="' + CSS.escape(member || '') + '"]');
      if (target && !target.closest('[hidden]')) target.focus();
    };
    refocus();
    if (state.token) {
      loadChannels(false).then(() => {
        if (!document.activeElement || document.activeElement === document.body) refocus();
      });
    }
  }

  // Keeps Tab inside the open dialog (showModal makes the page behind it inert as well).
  function trapFocus(e) {
    if (e.key !== 'Tab') return;
    const nodes = Array.from($('cfg').querySelectorAll('button, input, select, textarea, [tabindex]:not([tabindex="-1"])'))
      .filter((n) => !n.disabled && n.getClientRects().length > 0);
    if (!nodes.length) return;
    const first = nodes[0];
    const last = nodes[nodes.length - 1];
    if (e.shiftKey && document.activeElement === first) {
      e.preventDefault();
      last.focus();
    } else if (!e.shiftKey && document.activeElement === last) {
      e.preventDefault();
      first.focus();
    }
  }

  async function copyFrom(button) {
    const input = $(button.getAttribute('data-copy'));
    if (!input || !input.value) return;
    let ok = false;
    try {
      await navigator.clipboard.writeText(input.value);
      ok = true;
    } catch (e) {
      input.focus();
      input.select();
      try { ok = document.execCommand('copy'); } catch (e2) { ok = false; }
    }
    button.textContent = ok ? t('common.copied') : t('common.copy_failed');
    setTimeout(() => { button.textContent = t('common.copy'); }, 1500);
  }

  // --- subscriptions -------------------------------------------------------------------------

  async function loadSubs(more) {
    const params = new URLSearchParams({ limit: '500' });
    if (more && state.subs.next) params.set('next', state.subs.next);
    try {
      const page = await api('GET', orgPath('/subscriptions?' + params));
      const items = Array.isArray(page.items) ? page.items : [];
      state.subs.items = more ? state.subs.items.concat(items) : items;
      state.subs.next = page.next || null;
      state.subs.loaded = true;
      renderSubs();
    } catch (e) {
      if (e.status !== 401) showApiError($('alert'), e);
    }
  }

  function renderSubs() {
    const body = $('subs-body');
    body.replaceChildren();
    state.subs.items.forEach((s, i) => {
      const id = 'sub-' + i;
      const box = el('input', { type: 'checkbox', id: id + '-personal' });
      box.checked = !!s.personal_channel;
      box.addEventListener('change', () => putSub({ ...s, personal_channel: box.checked }, box));
      body.append(el('tr', {},
        el('th', { scope: 'row', class: 'mono' }, s.subscription_type),
        el('td', { class: 'mono' }, s.node),
        el('td', {}, el('div', { class: 'check' }, box,
          el('label', { for: id + '-personal' }, el('span', { class: 'visually-hidden' }, t('subs.personal_for', { type: s.subscription_type, node: s.node })),
            el('span', { 'aria-hidden': 'true' }, s.personal_channel ? t('subs.on') : t('subs.off'))))),
        el('td', {}, formatCell(s, id))));
    });
    $('subs-empty').hidden = !state.subs.loaded || state.subs.items.length > 0;
    $('subs-more').hidden = !state.subs.next;
  }

  // How the subscription's messages look: a format to choose, or, when buttons were set
  // through the API, the interactive card with its buttons (the format is not used then).
  function formatCell(s, id) {
    if (Array.isArray(s.actions) && s.actions.length) {
      return el('div', { class: 'card-format' },
        badge('info', t('subs.card')),
        el('div', { class: 'buttons-preview', 'aria-label': t('subs.card_buttons', { buttons: s.actions.map((a) => a.text).join(', ') }) },
          s.actions.map((a) => el('span', { class: 'button-chip ' + (a.style || 'primary'), title: a.key }, a.text))),
        el('div', { class: 'muted small' }, t('subs.card_note')));
    }
    const fmt = el('select', { id: id + '-format' });
    fillFormatSelect(fmt, s.message_format);
    fmt.addEventListener('change', () => putSub({ ...s, message_format: fmt.value }, fmt));
    return [el('label', { for: id + '-format', class: 'visually-hidden' }, t('subs.format_for', { type: s.subscription_type, node: s.node })), fmt];
  }

  async function putSub(item, control) {
    const status = $('subs-status');
    if (control) control.disabled = true;
    try {
      const page = await api('PUT', orgPath('/subscriptions'), {
        items: [{
          subscription_type: item.subscription_type,
          node: item.node,
          personal_channel: !!item.personal_channel,
          message_format: item.message_format || 'textcard',
          // A PUT replaces the subscription: buttons set through the API are sent back as read.
          ...(item.actions ? { actions: item.actions } : {}),
        }],
      });
      state.subs.items = Array.isArray(page.items) ? page.items : [];
      state.subs.next = page.next || null;
      state.subs.loaded = true;
      renderSubs();
      status.textContent = t('subs.saved', { type: item.subscription_type, node: item.node, time: fmtTime(new Date().toISOString()) });
      return true;
    } catch (e) {
      if (e.status !== 401) showApiError($('alert'), e);
      renderSubs();
      return false;
    } finally {
      if (control && document.contains(control)) control.disabled = false;
    }
  }

  async function onAddSub(e) {
    e.preventDefault();
    const type = $('add-sub-type').value.trim();
    const node = $('add-sub-node').value.trim();
    const err = $('add-sub-error');
    err.hidden = true;
    if (!type || !node) {
      err.textContent = t('subs.add_empty');
      err.hidden = false;
      (type ? $('add-sub-node') : $('add-sub-type')).focus();
      return;
    }
    const button = e.submitter || $('add-sub').querySelector('button[type=submit]');
    setBusy(button, true);
    try {
      const page = await api('PUT', orgPath('/subscriptions'), {
        items: [{
          subscription_type: type,
          node,
          personal_channel: $('add-sub-personal').checked,
          message_format: $('add-sub-format').value,
        }],
      });
      state.subs.items = Array.isArray(page.items) ? page.items : [];
      state.subs.next = page.next || null;
      state.subs.loaded = true;
      renderSubs();
      $('subs-status').textContent = t('subs.saved', { type, node, time: fmtTime(new Date().toISOString()) });
      $('add-sub-type').value = '';
      $('add-sub-node').value = '';
    } catch (ex) {
      if (ex.status === 401) return;
      if (ex.error && ex.error.field) {
        err.textContent = [ex.error.message, ex.error.hint].filter(Boolean).join(' ');
        err.hidden = false;
      } else {
        showApiError($('alert'), ex);
      }
    } finally {
      setBusy(button, false);
    }
  }

  // --- deliveries ----------------------------------------------------------------------------

  async function loadDeliveries(more) {
    const params = new URLSearchParams({ limit: '50' });
    if (state.dlv.member) params.set('member', state.dlv.member);
    if (more && state.dlv.next) params.set('next', state.dlv.next);
    const err = $('dlv-filter-error');
    try {
      const page = await api('GET', orgPath('/deliveries?' + params));
      const items = Array.isArray(page.items) ? page.items : [];
      state.dlv.items = more ? state.dlv.items.concat(items) : items;
      state.dlv.next = page.next || null;
      state.dlv.loaded = true;
      state.dlv.updated = new Date();
      err.hidden = true;
      renderDeliveries();
    } catch (e) {
      if (e.status === 401) return;
      if (e.error && e.error.field === 'member') {
        err.textContent = [e.error.message, e.error.hint].filter(Boolean).join(' ');
        err.hidden = false;
      } else {
        showApiError($('alert'), e);
      }
    }
  }

  const STATUS_KIND = { delivered: 'ok', delayed: 'warn', failed: 'fail', skipped: 'muted', recalled: 'muted', duplicate: 'muted' };

  function renderDeliveries() {
    const body = $('dlv-body');
    body.replaceChildren();
    for (const d of state.dlv.items) {
      const details = [];
      if (d.reason) details.push(el('div', {}, tk('reason.', d.reason, { time: fmtTime(d.not_before) })));
      if (d.hint) details.push(el('div', { class: 'hint' }, localTimes(d.hint)));
      const facts = [];
      if (d.userid) facts.push(t('dlv.userid', { userid: d.userid }));
      if (d.wecom_errcode !== undefined && d.wecom_errcode !== null) facts.push(t('test.errcode', { code: d.wecom_errcode }));
      if (d.attempts) facts.push(t('dlv.attempts', { n: d.attempts }));
      if (facts.length) details.push(el('div', { class: 'muted small' }, facts.join(' \u00b7 ')));
      body.append(el('tr', {},
        el('td', { class: 'nowrap' }, fmtTime(d.at)),
        el('td', { class: 'mono' }, d.member),
        el('td', {}, el('div', { class: 'mono' }, d.event_id), el('div', { class: 'muted small mono' }, d.subscription_type + ' / ' + d.node)),
        el('td', {}, badge(STATUS_KIND[d.status] || 'muted', tk('status.', d.status))),
        el('td', {}, details.length ? details : '\u2014')));
    }
    $('dlv-empty').hidden = !state.dlv.loaded || state.dlv.items.length > 0;
    $('dlv-more').hidden = !state.dlv.next;
    $('dlv-status').textContent = state.dlv.updated ? t('dlv.updated_at', { time: fmtTime(state.dlv.updated.toISOString()) }) : '';
  }

  // Refreshes the first page every few seconds while the Deliveries tab is shown.
  function scheduleDeliveries() {
    clearTimeout(state.dlv.timer);
    state.dlv.timer = null;
    const active = state.token && state.tab === 'deliveries' && $('dlv-auto').checked && document.visibilityState === 'visible';
    if (!active) return;
    state.dlv.timer = setTimeout(async () => {
      if (!state.dlv.next || state.dlv.items.length <= 50) await loadDeliveries(false);
      scheduleDeliveries();
    }, DELIVERIES_MS);
  }

  function onFilter(e) {
    e.preventDefault();
    state.dlv.member = $('dlv-member').value.trim();
    loadDeliveries(false);
    scheduleDeliveries();
  }

  // --- decisions -----------------------------------------------------------------------------

  // Members' decisions on interactive cards (GET /actions): was each passed on to the
  // workflow system, was the card answered, is anything stuck.
  async function loadDecisions(more) {
    const params = new URLSearchParams({ limit: '50' });
    if (state.act.member) params.set('member', state.act.member);
    if (more && state.act.next) params.set('next', state.act.next);
    const err = $('act-filter-error');
    try {
      const page = await api('GET', orgPath('/actions?' + params));
      const items = Array.isArray(page.items) ? page.items : [];
      state.act.items = more ? state.act.items.concat(items) : items;
      state.act.next = page.next || null;
      state.act.loaded = true;
      state.act.updated = new Date();
      state.act.shownMember = state.act.member;
      err.hidden = true;
      renderDecisions();
    } catch (e) {
      if (e.status === 401) return;
      if (e.error && e.error.field === 'member') {
        err.textContent = [e.error.message, e.error.hint].filter(Boolean).join(' ');
        err.hidden = false;
      } else {
        showApiError($('alert'), e);
      }
    }
  }

  const SINKS = ['eventbridge', 'webhook'];
  const CARDS = ['pending', 'updated', 'code_used', 'code_expired', 'expired', 'failed'];

  // Whether the workflow system has the decision.
  function sinkCell(a) {
    if (a.published) {
      const where = SINKS.includes(a.sink) ? tk('act.sink.', a.sink) : (a.sink || '');
      return el('span', { class: 'state ok' }, mark('ok'), ' ', t('act.sink.passed', { sink: where }));
    }
    if (a.sink === 'none') {
      return [el('span', { class: 'muted' }, t('act.sink.none')), el('div', { class: 'hint' }, t('act.sink.none_hint'))];
    }
    const parts = [el('span', { class: 'state warn' }, a.attempts ? t('act.sink.retrying') : t('act.sink.pending'))];
    if (a.attempts) parts.push(el('div', { class: 'muted small' }, t('act.attempts', { n: a.attempts })));
    if (a.last_error) parts.push(el('div', { class: 'hint' }, a.last_error));
    return parts;
  }

  // What became of the member's card.
  function cardCell(a) {
    const card = CARDS.includes(a.card) ? a.card : 'failed';
    const kind = card === 'updated' ? 'ok' : card === 'pending' ? 'muted' : 'warn';
    const parts = [badge(kind, tk('act.card.', card))];
    if (a.card_errcode !== undefined && a.card_errcode !== null) parts.push(el('div', { class: 'muted small' }, t('test.errcode', { code: a.card_errcode })));
    // Published, yet unfinished: the attempts and the last error are the card's.
    if (card === 'pending' && !a.finished && (a.published || a.sink === 'none')) {
      if (a.attempts) parts.push(el('div', { class: 'muted small' }, t('act.attempts', { n: a.attempts })));
      if (a.last_error) parts.push(el('div', { class: 'hint' }, a.last_error));
    }
    if (kind === 'warn') parts.push(el('div', { class: 'hint' }, t('act.card.not_updated_hint')));
    return parts;
  }

  function stateCell(a) {
    if (a.finished) return el('span', { class: 'state ok' }, mark('ok'), ' ', t('act.state.finished'));
    const parts = [a.overdue ? badge('warn', t('act.state.overdue')) : el('span', { class: 'state' }, t('act.state.in_progress'))];
    if (a.next_try) parts.push(el('div', { class: 'muted small' }, t('act.next_try', { time: fmtTime(a.next_try) })));
    return parts;
  }

  function renderDecisions() {
    const body = $('act-body');
    body.replaceChildren();
    for (const a of state.act.items) {
      const later = Array.isArray(a.later) && a.later.length
        ? el('div', { class: 'muted small' }, t('act.later', { actions: a.later.map((l) => l.action).join(', ') }))
        : null;
      body.append(el('tr', { class: a.overdue ? 'overdue' : null },
        el('td', {}, el('div', { class: 'mono' }, a.member),
          // The WeCom account that clicked, when it is not named like the member.
          a.userid && a.userid.toLowerCase() !== String(a.member).toLowerCase() ? el('div', { class: 'muted small' }, t('dlv.userid', { userid: a.userid })) : null),
        el('td', {}, el('div', { class: 'mono strong' }, a.action),
          el('div', { class: 'muted small mono' }, a.event_id),
          el('div', { class: 'muted small mono' }, a.subscription_type + ' / ' + a.node), later),
        el('td', { class: 'nowrap' }, fmtTime(a.at)),
        el('td', { class: 'text-cell' }, sinkCell(a)),
        el('td', { class: 'text-cell' }, cardCell(a)),
        el('td', { class: 'text-cell' }, stateCell(a))));
    }
    // Stuck decisions: how many, and where to look.
    const overdue = state.act.items.filter((a) => a.overdue);
    const warn = $('act-overdue');
    if (overdue.length) {
      const notPassed = overdue.some((a) => !a.published && a.sink !== 'none');
      const cardOpen = overdue.some((a) => a.card === 'pending');
      const lines = [el('p', { class: 'warning-title' }, t('act.overdue', { n: overdue.length }))];
      if (notPassed || !cardOpen) lines.push(el('p', {}, t('act.overdue.sink')));
      if (cardOpen || !notPassed) lines.push(el('p', {}, t('act.overdue.card')));
      warn.replaceChildren(...lines);
      warn.hidden = false;
    } else {
      warn.replaceChildren();
      warn.hidden = true;
    }
    const empty = $('act-empty');
    empty.textContent = state.act.shownMember ? t('act.empty_member', { member: state.act.shownMember }) : t('act.empty');
    empty.hidden = !state.act.loaded || state.act.items.length > 0;
    $('act-more').hidden = !state.act.next;
    $('act-status').textContent = state.act.updated ? t('act.updated_at', { time: fmtTime(state.act.updated.toISOString()) }) : '';
  }

  // Refreshes the first page every few seconds while the Decisions tab is shown.
  function scheduleDecisions() {
    clearTimeout(state.act.timer);
    state.act.timer = null;
    const active = state.token && state.tab === 'decisions' && $('act-auto').checked && document.visibilityState === 'visible';
    if (!active) return;
    state.act.timer = setTimeout(async () => {
      if (!state.act.next || state.act.items.length <= 50) await loadDecisions(false);
      scheduleDecisions();
    }, DELIVERIES_MS);
  }

  function onActFilter(e) {
    e.preventDefault();
    state.act.member = $('act-member').value.trim();
    loadDecisions(false);
    scheduleDecisions();
  }

  // --- wiring --------------------------------------------------------------------------------

  function wire() {
    $('lang').addEventListener('change', () => {
      state.lang = CATALOGUES[$('lang').value] ? $('lang').value : 'en';
      storeSet('localStorage', STORE.lang, state.lang);
      applyLang();
    });
    $('sign-out').addEventListener('click', signOut);
    $('signin-sso-button').addEventListener('click', ssoStart);
    // Back from the provider's page with the browser's Back button: the button works again.
    window.addEventListener('pageshow', (e) => { if (e.persisted) setBusy($('signin-sso-button'), false); });
    $('signin-paste').addEventListener('submit', (e) => {
      e.preventDefault();
      const token = $('signin-token').value.trim();
      if (!token) {
        showAlert($('alert'), t('signin.bad_token'), t('signin.token_hint'));
        $('signin-token').focus();
        return;
      }
      if (startSession(token, false)) $('signin-token').value = '';
    });
    for (const n of TABS) $('tab-' + n).addEventListener('click', () => selectTab(n, false));
    document.querySelector('[role=tablist]').addEventListener('keydown', onTabKey);

    $('channels-refresh').addEventListener('click', () => loadChannels(false));
    $('channels-probe').addEventListener('click', probeChannels);
    $('channels-more').addEventListener('click', () => loadChannels(true));
    $('add-member').addEventListener('submit', onAddMember);

    const dialog = $('cfg');
    dialog.addEventListener('keydown', trapFocus);
    dialog.addEventListener('close', onDialogClosed);
    $('cfg-close').addEventListener('click', closeDialog);
    $('cfg-cancel').addEventListener('click', closeDialog);
    $('wait-close').addEventListener('click', closeDialog);
    $('wait-back').addEventListener('click', () => { setMode('form'); $('f-corp_id').focus(); });
    $('cfg-test-button').addEventListener('click', runTest);
    $('cfg-ok').addEventListener('click', save);
    $('cfg-form').addEventListener('submit', (e) => { e.preventDefault(); save(); });
    $('f-source_column').addEventListener('change', renderDialogTexts);
    document.addEventListener('click', (e) => {
      const b = e.target.closest && e.target.closest('button[data-copy]');
      if (b) copyFrom(b);
    });

    $('subs-refresh').addEventListener('click', () => loadSubs(false));
    $('subs-more').addEventListener('click', () => loadSubs(true));
    $('add-sub').addEventListener('submit', onAddSub);

    $('dlv-refresh').addEventListener('click', () => loadDeliveries(false));
    $('dlv-more').addEventListener('click', () => loadDeliveries(true));
    $('dlv-filter').addEventListener('submit', onFilter);
    $('dlv-clear').addEventListener('click', () => {
      $('dlv-member').value = '';
      state.dlv.member = '';
      $('dlv-filter-error').hidden = true;
      loadDeliveries(false);
      scheduleDeliveries();
    });
    $('dlv-auto').addEventListener('change', scheduleDeliveries);
    document.addEventListener('visibilitychange', scheduleDeliveries);

    $('act-refresh').addEventListener('click', () => loadDecisions(false));
    $('act-more').addEventListener('click', () => loadDecisions(true));
    $('act-filter').addEventListener('submit', onActFilter);
    $('act-clear').addEventListener('click', () => {
      $('act-member').value = '';
      state.act.member = '';
      $('act-filter-error').hidden = true;
      loadDecisions(false);
      scheduleDecisions();
    });
    $('act-auto').addEventListener('change', scheduleDecisions);
    document.addEventListener('visibilitychange', scheduleDecisions);
  }

  async function start() {
    state.lang = initialLang();
    buildLangSelect();
    applyLang();
    wire();
    const ignored = takeTokenFromFragment();
    if (OIDC && await ssoFinish()) return;
    const saved = storeGet('sessionStorage', STORE.token);
    if (saved && startSession(saved, true)) return;
    if (ignored) showSignin(t('signin.link_ignored'), 'info', t('signin.link_ignored_hint'));
    else showSignin(null);
  }

  start();
}());
