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
      for (const list of Object.values(lists)) list.render();
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
    for (const list of Object.values(lists)) {
      if (list.tab === name) list.load(false);
    }
    for (const list of Object.values(lists)) list.schedule();
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
    lists.channels.load(false);
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

