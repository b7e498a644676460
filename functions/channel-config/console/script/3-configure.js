  // --- the Configure dialog ------------------------------------------------------------------

  async function openConfigure(member, opener) {
    const gen = ++cfg.generation;
    let view;
    try {
      view = await api('GET', memberPath(member));
    } catch (e) {
      if (e.status === 401) return;
      if (e.error && e.error.field === 'member' && opener === $('add-member-name')) {
        showFieldError($('add-member-error'), e.error);
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
    resetQuiet(view.quiet_hours);
    for (const f of SECRETS) $('f-' + f).value = '';
    $('cfg-callback-url').value = view.callback_url || '';
    const ips = Array.isArray(view.trusted_ips) ? view.trusted_ips : [];
    $('cfg-trusted-ips').value = ips.join(';');
    $('cfg-test').hidden = true;
    $('cfg-test').replaceChildren();
    renderDialogTexts();
  }

  // The member's time zone as the browser knows it: a good guess for an admin setting up their
  // own team; WeCom's users are mostly in China, hence the fallback.
  function browserTimeZone() {
    try {
      return Intl.DateTimeFormat().resolvedOptions().timeZone || 'Asia/Shanghai';
    } catch (_) {
      return 'Asia/Shanghai';
    }
  }

  // Quiet hours as saved, or off with a night's window ready to switch on.
  function resetQuiet(q) {
    $('f-quiet_hours').checked = !!q;
    $('f-quiet_hours.start').value = q ? q.start : '22:00';
    $('f-quiet_hours.end').value = q ? q.end : '08:00';
    $('f-quiet_hours.time_zone').value = q ? q.time_zone : browserTimeZone();
    showQuiet();
  }

  function showQuiet() {
    const on = $('f-quiet_hours').checked;
    $('quiet-hours-fields').hidden = !on;
  }

  // The PUT's quiet_hours: null switches them off.
  function quietValue() {
    if (!$('f-quiet_hours').checked) return null;
    return {
      start: $('f-quiet_hours.start').value.trim(),
      end: $('f-quiet_hours.end').value.trim(),
      time_zone: $('f-quiet_hours.time_zone').value.trim(),
    };
  }

  // Cloud providers' default domains: WeCom accepts a callback URL only on a domain of the
  // company itself (ICP-filed), so a URL on one of these is refused when the admin saves it.
  const CLOUD_DOMAINS = [
    'amazonaws.com', 'on.aws', 'cloudfront.net', 'azurewebsites.net', 'azurecontainerapps.io',
    'appspot.com', 'run.app', 'cloudfunctions.net', 'vercel.app', 'netlify.app', 'herokuapp.com',
    'fly.dev', 'aliyuncs.com', 'fcapp.run', 'tencentcs.com', 'myqcloud.com', 'tcloudbaseapp.com',
  ];

  // The callback URL's host when it is a cloud default domain, else null.
  function refusedHost(url) {
    let host;
    try {
      host = new URL(url).hostname.toLowerCase();
    } catch (_) {
      return null;
    }
    return CLOUD_DOMAINS.some((d) => host === d || host.endsWith('.' + d)) ? host : null;
  }

  // Texts of the dialog that depend on the view or the form (re-rendered on a language change).
  function renderDialogTexts() {
    const view = cfg.view || {};
    $('cfg-title').textContent = t('cfg.title', { member: cfg.member || '' });
    $('cfg-subtitle').textContent = view.configured
      ? t('cfg.subtitle_configured', { time: fmtTime(view.updated_at) })
      : t('cfg.subtitle_new');
    const refused = refusedHost(view.callback_url || '');
    $('cfg-callback-domain').hidden = !refused;
    $('cfg-callback-domain').textContent = refused ? t('cfg.callback_domain_refused', { host: refused }) : '';
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
    for (const f of [...FIELDS, ...QUIET_FIELDS]) {
      const e = $('e-' + f);
      e.hidden = true;
      e.textContent = '';
      $('f-' + f).removeAttribute('aria-invalid');
    }
  }

  // A field error next to its field; anything else in the dialog's alert area.
  function showFormError(e) {
    const field = e.error && e.error.field;
    if (field && QUIET_FIELDS.includes(field)) {
      $('f-quiet_hours').checked = true;
      showQuiet();
    }
    if (field && (FIELDS.includes(field) || QUIET_FIELDS.includes(field))) {
      showFieldError($('e-' + field), e.error);
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
    if (which === 'saved') lists.channels.load(false);
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
      const view = await api('PUT', memberPath(cfg.member), { ...body(v), wechat_plugin: $('f-wechat_plugin').checked, quiet_hours: quietValue() });
      cfg.view = view;
      cfg.savedAt = view.updated_at || new Date().toISOString();
      cfg.typed = { token: v.token, key: v.encoding_aes_key };
      enterWait();
      lists.channels.load(false);
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
      lists.channels.load(false).then(() => {
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

  // A value to copy (index.html: .copy-row[data-copy-row]): its label (data-label), the
  // read-only field named by data-copy-row and its Copy button, then what the row holds of its
  // own (a hint, which describes the field).
  function buildCopyRow(row) {
    const id = row.dataset.copyRow;
    const own = [...row.children];
    row.replaceChildren(
      el('label', { for: id, 'data-i18n': row.dataset.label }),
      el('div', { class: 'copy-field' },
        el('input', { id, readonly: true, spellcheck: 'false', 'aria-describedby': own.map((n) => n.id).join(' ') || null }),
        el('button', { type: 'button', class: 'secondary copy', 'data-copy': id, 'data-i18n': 'common.copy' })),
      ...own);
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

