  // --- list tabs -----------------------------------------------------------------------------

  // What the list tabs' panels share, built around what each panel holds of its own
  // (index.html): the heading with Refresh (and the panel's [data-head-action] buttons), the
  // member filter (data-filter), the panel's own parts, the status line (data-status), the
  // table of data-columns (data-actions-column: a last column named for screen readers only)
  // with its empty note, Load more. Ids and catalogue keys begin with the list's name
  // (data-list), as the list's controller expects them.
  function buildListPanel(panel) {
    const name = panel.dataset.list;
    const key = (part) => name + '.' + part;
    const id = (part) => name + '-' + part;
    const own = [...panel.children];
    const headActions = own.filter((n) => n.hasAttribute('data-head-action'));
    const head = el('div', { class: 'panel-head' },
      el('div', {},
        el('h1', { 'data-i18n': key('title') }),
        el('p', { class: 'lead', 'data-i18n': key('lead') })),
      el('div', { class: 'head-actions' }, headActions,
        el('button', { type: 'button', id: id('refresh'), class: 'secondary', 'data-i18n': 'common.refresh' })));
    const filter = panel.hasAttribute('data-filter') && el('form', { id: id('filter'), class: 'toolbar', novalidate: true },
      el('div', { class: 'field inline' },
        el('label', { for: id('member'), 'data-i18n': key('filter_label') }),
        el('input', { id: id('member'), autocomplete: 'off', spellcheck: 'false', 'aria-describedby': id('filter-error'), 'data-i18n-placeholder': key('filter_placeholder') })),
      el('button', { type: 'submit', class: 'primary', 'data-i18n': key('filter_button') }),
      el('button', { type: 'button', id: id('clear'), class: 'secondary', 'data-i18n': key('filter_clear') }),
      el('div', { class: 'field inline check push-right' },
        el('input', { type: 'checkbox', id: id('auto'), checked: true }),
        el('label', { for: id('auto'), 'data-i18n': key('auto_refresh') })),
      el('p', { class: 'field-error', id: id('filter-error'), hidden: true }));
    const status = panel.hasAttribute('data-status') && el('p', { class: 'status-line', id: id('status'), role: 'status' });
    const columns = panel.dataset.columns.split(/\s+/).map((c) => el('th', { scope: 'col', 'data-i18n': key('col.' + c) }));
    if (panel.hasAttribute('data-actions-column')) {
      columns.push(el('th', { scope: 'col' }, el('span', { class: 'visually-hidden', 'data-i18n': key('col.actions') })));
    }
    const table = el('div', { class: 'table-wrap' },
      el('table', { class: 'data' },
        el('caption', { class: 'visually-hidden', 'data-i18n': key('title') }),
        el('thead', {}, el('tr', {}, columns)),
        el('tbody', { id: id('body') })),
      el('p', { class: 'empty', id: id('empty'), 'data-i18n': key('empty'), hidden: true }));
    const more = el('button', { type: 'button', id: id('more'), class: 'secondary', 'data-i18n': 'common.load_more', hidden: true });
    panel.replaceChildren(...[head, filter, ...own.filter((n) => !headActions.includes(n)), status, table, more].filter(Boolean));
  }

  // A list tab's data (`state[name]`): its pages from GET `path`, `limit` items a page, shown a
  // row each (`row`; `after` then adds what the rows sum up to). A log (deliveries, decisions)
  // is also filtered by member, says when it was last read, and reads its first page again
  // every few seconds while its tab is shown.
  function listController(name, { tab, path, limit, row, after, log }) {
    const part = (p) => $(name + '-' + p);
    // Read afresh each time: signing out replaces the list's state.
    const list = () => state[name];

    async function load(more) {
      const params = new URLSearchParams({ limit: String(limit) });
      if (list().member) params.set('member', list().member);
      if (more && list().next) params.set('next', list().next);
      try {
        show(await api('GET', orgPath(path + '?' + params)), more);
      } catch (e) {
        if (e.status === 401) return;
        if (log && e.error && e.error.field === 'member') showFieldError(part('filter-error'), e.error);
        else showApiError($('alert'), e);
      }
    }

    // A page the API answered: the list from its start, or the next page after those shown.
    function show(page, more) {
      const s = list();
      const items = Array.isArray(page.items) ? page.items : [];
      s.items = more ? s.items.concat(items) : items;
      s.next = page.next || null;
      s.loaded = true;
      if (log) {
        s.updated = new Date();
        s.shownMember = s.member;
        part('filter-error').hidden = true;
      }
      render();
    }

    function render() {
      const s = list();
      part('body').replaceChildren(...s.items.map(row));
      if (after) after(s);
      part('empty').hidden = !s.loaded || s.items.length > 0;
      part('more').hidden = !s.next;
      if (log) part('status').textContent = s.updated ? t(name + '.updated_at', { time: fmtTime(s.updated.toISOString()) }) : '';
    }

    function schedule() {
      const s = list();
      clearTimeout(s.timer);
      s.timer = null;
      const active = log && state.token && state.tab === tab && part('auto').checked && document.visibilityState === 'visible';
      if (!active) return;
      s.timer = setTimeout(async () => {
        // Not while more than the first page is shown: it would take the rest away.
        if (!list().next || list().items.length <= limit) await load(false);
        schedule();
      }, DELIVERIES_MS);
    }

    function filterBy(member) {
      list().member = member;
      load(false);
      schedule();
    }

    function wire() {
      part('refresh').addEventListener('click', () => load(false));
      part('more').addEventListener('click', () => load(true));
      if (!log) return;
      part('filter').addEventListener('submit', (e) => {
        e.preventDefault();
        filterBy(part('member').value.trim());
      });
      part('clear').addEventListener('click', () => {
        part('member').value = '';
        part('filter-error').hidden = true;
        filterBy('');
      });
      part('auto').addEventListener('change', schedule);
      document.addEventListener('visibilitychange', schedule);
    }

    return { tab, load, show, render, schedule, wire };
  }

  // --- subscriptions -------------------------------------------------------------------------

  function subRow(s, i) {
    const id = 'sub-' + i;
    const box = el('input', { type: 'checkbox', id: id + '-personal' });
    box.checked = !!s.personal_channel;
    box.addEventListener('change', () => putSub({ ...s, personal_channel: box.checked }, box));
    return el('tr', {},
      el('th', { scope: 'row', class: 'mono' }, s.subscription_type),
      el('td', { class: 'mono' }, s.node),
      el('td', {}, el('div', { class: 'check' }, box,
        el('label', { for: id + '-personal' }, el('span', { class: 'visually-hidden' }, t('subs.personal_for', { type: s.subscription_type, node: s.node })),
          el('span', { 'aria-hidden': 'true' }, s.personal_channel ? t('subs.on') : t('subs.off'))))),
      el('td', {}, formatCell(s, id)),
      el('td', {}, approvalCell(s, id)));
  }

  // The approval rules of a card subscription (decide, reminders, escalation): what they say,
  // and a form to change them. Messages without buttons have nothing to decide.
  function approvalCell(s, id) {
    if (!(Array.isArray(s.actions) && s.actions.length)) {
      return el('span', { class: 'muted small' }, t('subs.approval.cards_only'));
    }
    const escalate = (s.escalate_to || []).join(', ');
    const lines = [el('div', {}, t(s.decide === 'any' ? 'subs.approval.any' : 'subs.approval.each'))];
    if (s.remind_after_minutes && s.reminders) {
      lines.push(el('div', { class: 'muted small' }, t('subs.approval.remind', { n: s.reminders, m: s.remind_after_minutes })
        + (escalate ? ' \u00b7 ' + t('subs.approval.escalate', { members: escalate }) : '')));
    } else if (s.remind_after_minutes && escalate) {
      lines.push(el('div', { class: 'muted small' }, t('subs.approval.escalate_after', { m: s.remind_after_minutes, members: escalate })));
    }
    const field = (name, label, control) => el('div', { class: 'field' },
      el('label', { for: id + '-' + name }, t(label)), control);
    const decide = el('select', { id: id + '-decide' },
      el('option', { value: 'each' }, t('subs.approval.decide_each')),
      el('option', { value: 'any' }, t('subs.approval.decide_any')));
    decide.value = s.decide === 'any' ? 'any' : 'each';
    const after = el('input', { id: id + '-remind-after', type: 'number', min: '1', max: '1440', inputmode: 'numeric',
      placeholder: t('subs.approval.remind_after_placeholder'), value: s.remind_after_minutes ? String(s.remind_after_minutes) : '' });
    const count = el('input', { id: id + '-reminders', type: 'number', min: '0', max: '5', inputmode: 'numeric', value: String(s.reminders || 0) });
    const to = el('input', { id: id + '-escalate', autocomplete: 'off', spellcheck: 'false',
      placeholder: t('subs.approval.escalate_placeholder'), value: escalate });
    const error = el('p', { class: 'field-error', id: id + '-approval-error', role: 'alert', hidden: true });
    const save = el('button', { type: 'submit', class: 'primary' }, t('subs.approval.save'));
    const form = el('form', { class: 'approval-form', novalidate: true, 'aria-label': t('subs.approval.edit_for', { type: s.subscription_type, node: s.node }) },
      field('decide', 'subs.approval.decide', decide),
      field('remind-after', 'subs.approval.remind_after', after),
      field('reminders', 'subs.approval.reminders', count),
      field('escalate', 'subs.approval.escalate_to', to),
      el('p', { class: 'hint' }, t('subs.approval.hint')),
      error, save);
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      error.hidden = true;
      // Sent as typed: the API checks the numbers and names, and its error names the field.
      const number = (v) => (v.trim() === '' ? undefined : Number(v));
      const item = {
        ...s,
        decide: decide.value,
        remind_after_minutes: number(after.value),
        reminders: number(count.value) ?? 0,
        escalate_to: to.value.split(/[,，\s]+/).filter(Boolean),
      };
      for (const c of [decide, after, count, to]) c.removeAttribute('aria-invalid');
      await putSub(item, save, (err) => {
        // `items[0].escalate_to[1]` → the Escalate to box, named in the message.
        const name = String(err.field).split('.').pop().replace(/\[\d+\]$/, '');
        const [control, label] = {
          decide: [decide, 'subs.approval.decide'],
          remind_after_minutes: [after, 'subs.approval.remind_after'],
          reminders: [count, 'subs.approval.reminders'],
          escalate_to: [to, 'subs.approval.escalate_to'],
        }[name] || [save, null];
        showFieldError(error, { ...err, message: (label ? t(label) + ': ' : '') + err.message });
        control.setAttribute('aria-invalid', 'true');
        control.setAttribute('aria-describedby', error.id);
        control.focus();
      });
    });
    return el('div', { class: 'approval' }, lines,
      el('details', {}, el('summary', {}, t('subs.approval.edit')), form));
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

  // Saves one subscription; a field error goes to `onFieldError` when the form has one.
  async function putSub(item, control, onFieldError) {
    const status = $('subs-status');
    if (control) control.disabled = true;
    try {
      const page = await api('PUT', orgPath('/subscriptions'), {
        items: [{
          subscription_type: item.subscription_type,
          node: item.node,
          personal_channel: !!item.personal_channel,
          message_format: item.message_format || 'textcard',
          // A PUT replaces the subscription: what was set through the API is sent back as read.
          ...(item.actions ? { actions: item.actions } : {}),
          decide: item.decide || 'each',
          ...(item.remind_after_minutes !== undefined && item.remind_after_minutes !== null ? { remind_after_minutes: item.remind_after_minutes } : {}),
          reminders: item.reminders || 0,
          escalate_to: item.escalate_to || [],
        }],
      });
      lists.subs.show(page, false);
      status.textContent = t('subs.saved', { type: item.subscription_type, node: item.node, time: fmtTime(new Date().toISOString()) });
      return true;
    } catch (e) {
      if (e.status === 401) return false;
      if (onFieldError && e.error && e.error.field) {
        onFieldError(e.error);
        return false;
      }
      showApiError($('alert'), e);
      lists.subs.render();
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
      lists.subs.show(page, false);
      $('subs-status').textContent = t('subs.saved', { type, node, time: fmtTime(new Date().toISOString()) });
      $('add-sub-type').value = '';
      $('add-sub-node').value = '';
    } catch (ex) {
      if (ex.status === 401) return;
      if (ex.error && ex.error.field) showFieldError(err, ex.error);
      else showApiError($('alert'), ex);
    } finally {
      setBusy(button, false);
    }
  }

  // --- deliveries ----------------------------------------------------------------------------

  const STATUS_KIND = { delivered: 'ok', delayed: 'warn', held: 'info', failed: 'fail', skipped: 'muted', recalled: 'muted', duplicate: 'muted' };

  function deliveryRow(d) {
    const details = [];
    if (d.kind === 'reminder') details.push(el('div', {}, badge('info', t('dlv.kind.reminder', { round: d.round || 1 }))));
    if (d.kind === 'escalation') details.push(el('div', {}, badge('info', t('dlv.kind.escalation'))));
    if (d.digest) details.push(el('div', {}, badge('info', t('dlv.digest'))));
    if (d.reason) details.push(el('div', {}, tk('reason.', d.reason, { time: fmtTime(d.not_before) })));
    if (d.hint) details.push(el('div', { class: 'hint' }, localTimes(d.hint)));
    const facts = [];
    if (d.userid) facts.push(t('dlv.userid', { userid: d.userid }));
    if (d.wecom_errcode !== undefined && d.wecom_errcode !== null) facts.push(t('test.errcode', { code: d.wecom_errcode }));
    if (d.attempts) facts.push(t('dlv.attempts', { n: d.attempts }));
    if (facts.length) details.push(el('div', { class: 'muted small' }, facts.join(' \u00b7 ')));
    return el('tr', {},
      el('td', { class: 'nowrap' }, fmtTime(d.at)),
      el('td', { class: 'mono' }, d.member),
      el('td', {}, el('div', { class: 'mono' }, d.event_id), el('div', { class: 'muted small mono' }, d.subscription_type + ' / ' + d.node)),
      el('td', {}, badge(STATUS_KIND[d.status] || 'muted', tk('status.', d.status))),
      el('td', {}, details.length ? details : '\u2014'));
  }

  // --- decisions -----------------------------------------------------------------------------

  // Members' decisions on interactive cards (GET /actions): was each passed on to the
  // workflow system, was the card answered, is anything stuck.

  const SINKS = ['eventbridge', 'webhook'];
  const CARDS = ['pending', 'updated', 'code_used', 'code_expired', 'expired', 'failed', 'skipped'];

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
    // An any-decision (或签) answers the other recipients' cards too.
    if (Array.isArray(a.peers) && a.peers.length) {
      const cards = a.peers.map((p) => p.member + ': ' + tk('act.card.', CARDS.includes(p.card) ? p.card : 'failed')).join(', ');
      parts.push(el('div', { class: 'muted small' }, t('act.peers', { cards })));
    }
    return parts;
  }

  function stateCell(a) {
    if (a.finished) return el('span', { class: 'state ok' }, mark('ok'), ' ', t('act.state.finished'));
    const parts = [a.overdue ? badge('warn', t('act.state.overdue')) : el('span', { class: 'state' }, t('act.state.in_progress'))];
    if (a.next_try) parts.push(el('div', { class: 'muted small' }, t('act.next_try', { time: fmtTime(a.next_try) })));
    return parts;
  }

  function decisionRow(a) {
    const later = Array.isArray(a.later) && a.later.length
      ? el('div', { class: 'muted small' }, t('act.later', { actions: a.later.map((l) => l.action).join(', ') }))
      : null;
    return el('tr', { class: a.overdue ? 'overdue' : null },
      el('td', {}, el('div', { class: 'mono' }, a.member),
        // The WeCom account that clicked, when it is not named like the member.
        a.userid && a.userid.toLowerCase() !== String(a.member).toLowerCase() ? el('div', { class: 'muted small' }, t('dlv.userid', { userid: a.userid })) : null),
      el('td', {}, el('div', { class: 'mono strong' }, a.action),
        a.decide === 'any' ? el('div', { class: 'muted small' }, t('act.decide.any', { member: a.member })) : null,
        el('div', { class: 'muted small mono' }, a.event_id),
        el('div', { class: 'muted small mono' }, a.subscription_type + ' / ' + a.node), later),
      el('td', { class: 'nowrap' }, fmtTime(a.at)),
      el('td', { class: 'text-cell' }, sinkCell(a)),
      el('td', { class: 'text-cell' }, cardCell(a)),
      el('td', { class: 'text-cell' }, stateCell(a)));
  }

  // Stuck decisions: how many, and where to look; and the empty note naming the filter.
  function decisionsSummary(list) {
    const overdue = list.items.filter((a) => a.overdue);
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
    $('act-empty').textContent = list.shownMember ? t('act.empty_member', { member: list.shownMember }) : t('act.empty');
  }

  // --- audit trail -------------------------------------------------------------------------

  // Admin changes (GET /audit): who did what to which member or list, and how it ended.
  // Secrets appear only by name, as the API gives them.

  function auditRow(a) {
    const target = [el('div', { class: 'mono' }, a.target)];
    if (Array.isArray(a.changed) && a.changed.length) {
      // A probe changes nothing: its list is the members it checked.
      const key = a.action === 'probe_run' ? 'audit.checked' : 'audit.changed';
      target.push(el('div', { class: 'muted small' }, t(key, { fields: a.changed.join(', ') })));
    }
    const ok = a.outcome === 'ok';
    return el('tr', {},
      el('td', { class: 'nowrap' }, fmtTime(a.at)),
      el('td', { class: 'mono' }, a.who || '\u2014'),
      el('td', { class: 'nowrap' }, tk('audit.action.', a.action)),
      el('td', {}, target),
      el('td', {}, ok ? el('span', { class: 'state ok' }, mark('ok'), ' ', t('audit.outcome.ok'))
        : el('span', { class: 'badge fail', title: a.outcome }, t('audit.outcome.failed', { code: codeLabel(a.outcome) || a.outcome }))));
  }

  // --- the tabs' lists -----------------------------------------------------------------------

  const lists = {
    channels: listController('channels', { tab: 'channels', path: '/wecom-channels', limit: 100, row: channelRow }),
    subs: listController('subs', { tab: 'subscriptions', path: '/subscriptions', limit: 500, row: subRow }),
    dlv: listController('dlv', { tab: 'deliveries', path: '/deliveries', limit: 50, row: deliveryRow, log: true }),
    act: listController('act', { tab: 'decisions', path: '/actions', limit: 50, row: decisionRow, after: decisionsSummary, log: true }),
    audit: listController('audit', { tab: 'audit', path: '/audit', limit: 50, row: auditRow, log: true }),
  };

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

    for (const list of Object.values(lists)) list.wire();
    $('channels-probe').addEventListener('click', probeChannels);
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
    $('f-quiet_hours').addEventListener('change', showQuiet);
    document.addEventListener('click', (e) => {
      const b = e.target.closest && e.target.closest('button[data-copy]');
      if (b) copyFrom(b);
    });

    $('add-sub').addEventListener('submit', onAddSub);
  }

  async function start() {
    state.lang = initialLang();
    document.querySelectorAll('[data-list]').forEach(buildListPanel);
    document.querySelectorAll('[data-copy-row]').forEach(buildCopyRow);
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

