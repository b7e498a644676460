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
  const TABS = ['overview', 'channels', 'subscriptions', 'deliveries', 'decisions', 'audit'];
  const FIELDS = ['corp_id', 'app_secret', 'agent_id', 'source_column', 'encoding_aes_key', 'token', 'receiver'];
  const SECRETS = ['app_secret', 'encoding_aes_key', 'token'];
  // Quiet hours: the API names each part (quiet_hours.start, …) or the whole (quiet_hours).
  const QUIET_FIELDS = ['quiet_hours', 'quiet_hours.start', 'quiet_hours.end', 'quiet_hours.time_zone'];
  const FORMATS = ['textcard', 'text', 'markdown'];
  const STEP_MARK = { ok: '\u2713', failed: '\u2717', not_run: '\u2013' };
  // The API's base: the directory the console is served from (a stage prefix on AWS).
  const BASE = new URL('.', location.href);

  const state = {
    lang: 'en',
    token: null,
    org: null,
    claims: null,
    tab: 'overview',
    channels: { items: [], next: null, loaded: false },
    subs: { items: [], next: null, loaded: false },
    dlv: { items: [], next: null, loaded: false, member: '', timer: null, updated: null },
    act: { items: [], next: null, loaded: false, member: '', timer: null, updated: null },
    audit: { items: [], next: null, loaded: false, member: '', timer: null, updated: null },
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
    return typeof cat['code.' + code] === 'string' ? tk('code.', code) : null;
  }
  function showApiError(box, e) {
    const err = (e && e.error) || {};
    const extra = err.trusted_ip ? t('error.trusted_ip', { ip: err.trusted_ip }) : null;
    showAlert(box, err.message || String(e && e.message ? e.message : e), err.hint, extra);
    const label = codeLabel(err.code);
    // What kind of error it is, in the admin's words, and the code to look up in docs/API.md.
    if (label) box.insertBefore(el('p', { class: 'alert-code' }, label, ' \u00b7 ', el('code', {}, err.code)), box.querySelector('.alert-message'));
  }
  // An API error that names a field, in the field's own error line: its message and what to do.
  function showFieldError(box, error) {
    box.textContent = [error.message, error.hint].filter(Boolean).join(' ');
    box.hidden = false;
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
    selectTab(TABS.includes(saved) ? saved : 'overview', false);
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

