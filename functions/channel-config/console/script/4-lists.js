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
