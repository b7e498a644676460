
  // --- overview ------------------------------------------------------------------------------

  // The Overview tab: GET /stats over the last 24 hours or 7 days, drawn as inline SVG built
  // here (no library, no innerHTML): deliveries per hour stacked by status, failures by reason,
  // the time to WeCom (p50, p99) per hour, decisions by action. Each chart is an image with a
  // label that sums it up; its numbers are also in text beside it, and per hour in a table.

  const SVG_NS = 'http://www.w3.org/2000/svg';
  const OV_STATUSES = ['delivered', 'delayed', 'held', 'failed', 'skipped', 'recalled'];
  const OV_RANGES = [24, 168];

  function svg(tag, attrs) {
    const n = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v !== null && v !== undefined) n.setAttribute(k, String(v));
    }
    for (let i = 2; i < arguments.length; i++) {
      const c = arguments[i];
      if (c === null || c === undefined) continue;
      n.append(c instanceof Node ? c : String(c));
    }
    return n;
  }

  // A chart: an SVG image `width` wide (scaled to its box) labelled `label`.
  function chart(width, height, label, cls) {
    return svg('svg', { viewBox: '0 0 ' + width + ' ' + height, role: 'img', 'aria-label': label, class: 'chart ' + (cls || ''), preserveAspectRatio: 'xMinYMin meet' });
  }

  const num = (n) => new Intl.NumberFormat(state.lang).format(n);
  function fmtMs(ms) {
    if (ms === null || ms === undefined) return '\u2014';
    return ms < 1000 ? t('overview.ms', { n: num(Math.round(ms)) }) : t('overview.s', { n: num(Math.round(ms / 100) / 10) });
  }
  const hourLabel = (iso, withDay) => new Intl.DateTimeFormat(state.lang, withDay
    ? { month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hour12: false }
    : { hour: '2-digit', minute: '2-digit', hour12: false }).format(new Date(iso));
  const dayLabel = (iso) => new Intl.DateTimeFormat(state.lang, { month: '2-digit', day: '2-digit' }).format(new Date(iso));
  const sumOf = (o) => Object.values(o || {}).reduce((a, b) => a + (Number(b) || 0), 0);
  const reasonLabel = (r) => {
    const cat = CATALOGUES[state.lang] || {};
    // A label that names a time (paced, quiet hours) reads wrong as a total: the code then.
    const s = cat['reason.' + r];
    return typeof s === 'string' && !s.includes('{') ? s : r;
  };
  // A round top for an axis: 1, 2 or 5 times a power of ten, at least `max`.
  function niceMax(max) {
    if (max <= 0) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(max)));
    for (const m of [1, 2, 5, 10]) if (m * p >= max) return m * p;
    return 10 * p;
  }

  // The left axis and grid of a plot from (x0, y0) to (x1, y1) for values 0..top.
  function grid(g, x0, y0, x1, y1, top, fmt) {
    for (const f of [0, 0.5, 1]) {
      const y = y1 - (y1 - y0) * f;
      g.append(svg('line', { x1: x0, x2: x1, y1: y, y2: y, class: f === 0 ? 'axis' : 'grid' }));
      g.append(svg('text', { x: x0 - 6, y: y + 4, class: 'tick', 'text-anchor': 'end' }, fmt(top * f)));
    }
  }

  // Labels under the hours: every 3rd hour over a day, each local midnight over a week.
  function hourTicks(g, buckets, xOf, y) {
    const week = buckets.length > 48;
    buckets.forEach((b, i) => {
      const d = new Date(b.hour);
      const show = week ? d.getHours() === 0 : i % 3 === 0;
      if (show) g.append(svg('text', { x: xOf(i), y, class: 'tick', 'text-anchor': 'middle' }, week ? dayLabel(b.hour) : hourLabel(b.hour)));
    });
  }

  function deliveriesChart(data, rangeName) {
    const buckets = data.buckets;
    const totals = data.totals.deliveries || {};
    const stacks = buckets.map((b) => OV_STATUSES.map((s) => Number((b.deliveries || {})[s]) || 0));
    const sums = stacks.map((s) => s.reduce((a, b) => a + b, 0));
    const peak = Math.max(0, ...sums);
    const busiest = sums.indexOf(peak);
    const counted = OV_STATUSES.filter((s) => totals[s]).map((s) => num(totals[s]) + ' ' + tk('status.', s));
    const label = t('overview.deliveries.aria', {
      range: rangeName,
      counts: counted.join(', ') || t('overview.none'),
      hour: peak ? hourLabel(buckets[busiest].hour, true) : '\u2014',
      n: num(peak),
    });
    const [x0, x1, y0, y1] = [44, 952, 10, 200];
    const top = niceMax(peak);
    const c = chart(960, 226, label, 'bars');
    const g = svg('g', { 'aria-hidden': 'true' });
    grid(g, x0, y0, x1, y1, top, (v) => num(Math.round(v)));
    const slot = (x1 - x0) / buckets.length;
    const w = Math.max(1, slot * 0.75);
    stacks.forEach((stack, i) => {
      let y = y1;
      const parts = [];
      stack.forEach((n, k) => {
        if (!n) return;
        const h = (n / top) * (y1 - y0);
        y -= h;
        parts.push(num(n) + ' ' + tk('status.', OV_STATUSES[k]));
        g.append(svg('rect', { x: x0 + slot * i + (slot - w) / 2, y, width: w, height: h, class: 's-' + OV_STATUSES[k] }));
      });
      // A hover label per hour with data.
      if (parts.length) {
        g.append(svg('rect', { x: x0 + slot * i, y: y0, width: slot, height: y1 - y0, class: 'hover' },
          svg('title', {}, hourLabel(buckets[i].hour, true) + ': ' + parts.join(', '))));
      }
    });
    hourTicks(g, buckets, (i) => x0 + slot * (i + 0.5), 220);
    c.append(g);
    const legend = el('ul', { class: 'legend' }, OV_STATUSES.map((s) =>
      el('li', { class: totals[s] ? null : 'zero' },
        el('span', { class: 'swatch s-' + s, 'aria-hidden': 'true' }),
        el('span', {}, tk('status.', s)), ' ', el('strong', {}, num(Number(totals[s]) || 0)))));
    return [c, legend];
  }

  // Horizontal bars: one row per [label, count], largest first; each label above its bar, so
  // a long one (a reason, in either language) fits a half-width card.
  function barRows(rows, label, cls) {
    rows.sort((a, b) => b[1] - a[1]);
    const max = Math.max(1, ...rows.map((r) => r[1]));
    const row = 42;
    const c = chart(420, rows.length * row + 4, label, 'hbars');
    const g = svg('g', { 'aria-hidden': 'true' });
    const x1 = 370;
    rows.forEach(([name, n], i) => {
      const y = i * row;
      g.append(svg('text', { x: 0, y: y + 14, class: 'label' }, name));
      const w = Math.max(2, (n / max) * x1);
      g.append(svg('rect', { x: 0, y: y + 20, width: w, height: 14, rx: 2, class: cls }));
      g.append(svg('text', { x: w + 6, y: y + 32, class: 'value' }, num(n)));
    });
    c.append(g);
    return c;
  }

  function latencyChart(data, rangeName) {
    const buckets = data.buckets;
    const lat = data.totals.latency_ms || {};
    const label = t('overview.latency.aria', { range: rangeName, p50: fmtMs(lat.p50), p99: fmtMs(lat.p99) });
    const values = buckets.flatMap((b) => [b.latency_ms && b.latency_ms.p50, b.latency_ms && b.latency_ms.p99]).filter((v) => typeof v === 'number');
    const [x0, x1, y0, y1] = [60, 952, 10, 160];
    const top = niceMax(Math.max(0, ...values));
    const c = chart(960, 186, label, 'lines');
    const g = svg('g', { 'aria-hidden': 'true' });
    grid(g, x0, y0, x1, y1, top, fmtMs);
    const slot = (x1 - x0) / buckets.length;
    const xOf = (i) => x0 + slot * (i + 0.5);
    for (const p of ['p50', 'p99']) {
      let d = '';
      let joined = false;
      buckets.forEach((b, i) => {
        const v = b.latency_ms ? b.latency_ms[p] : null;
        if (typeof v !== 'number') { joined = false; return; }
        const y = y1 - (v / top) * (y1 - y0);
        d += (joined ? 'L' : 'M') + xOf(i).toFixed(1) + ' ' + y.toFixed(1);
        joined = true;
        g.append(svg('circle', { cx: xOf(i), cy: y, r: 2.5, class: 'l-' + p },
          svg('title', {}, hourLabel(b.hour, true) + ': ' + tk('overview.latency.', p) + ' ' + fmtMs(v))));
      });
      if (d) g.append(svg('path', { d, class: 'l-' + p }));
    }
    hourTicks(g, buckets, xOf, 180);
    c.append(g);
    const legend = el('ul', { class: 'legend' }, ['p50', 'p99'].map((p) =>
      el('li', {}, el('span', { class: 'swatch l-' + p, 'aria-hidden': 'true' }),
        el('span', {}, tk('overview.latency.', p)), ' ', el('strong', {}, fmtMs(lat[p])))));
    return [c, legend];
  }

  // The numbers per hour, for reading rather than looking: only the hours with something.
  function hoursTable(buckets) {
    const rows = buckets.filter((b) => sumOf(b.deliveries) || sumOf(b.decisions)).reverse();
    return el('details', { class: 'ov-table' },
      el('summary', {}, t('overview.table.summary', { n: num(rows.length) })),
      el('div', { class: 'table-wrap' }, el('table', { class: 'data' },
        el('thead', {}, el('tr', {},
          el('th', { scope: 'col' }, t('overview.table.hour')),
          OV_STATUSES.map((s) => el('th', { scope: 'col' }, tk('status.', s))),
          el('th', { scope: 'col' }, t('overview.latency.p50')),
          el('th', { scope: 'col' }, t('overview.latency.p99')),
          el('th', { scope: 'col' }, t('overview.table.decisions')))),
        el('tbody', {}, rows.map((b) => el('tr', {},
          el('th', { scope: 'row', class: 'nowrap' }, hourLabel(b.hour, true)),
          OV_STATUSES.map((s) => el('td', { class: 'num' }, num(Number((b.deliveries || {})[s]) || 0))),
          el('td', { class: 'num' }, fmtMs(b.latency_ms && b.latency_ms.p50)),
          el('td', { class: 'num' }, fmtMs(b.latency_ms && b.latency_ms.p99)),
          el('td', { class: 'num' }, num(sumOf(b.decisions)))))))));
  }

  function section(id, title, ...body) {
    return el('section', { class: 'ov-card', id: 'ov-' + id, 'aria-labelledby': 'ov-' + id + '-title' },
      el('h2', { id: 'ov-' + id + '-title' }, title), body);
  }

  const ov = { hours: 24, org: null, data: null, error: null, loading: false, updated: null, generation: 0 };

  function renderOverview() {
    const body = $('ov-body');
    if (!body) return;
    for (const h of OV_RANGES) {
      const b = $('ov-range-' + h);
      b.setAttribute('aria-pressed', String(ov.hours === h));
    }
    $('ov-status').textContent = ov.loading && !ov.data
      ? t('overview.loading')
      : ov.updated && !ov.error ? t('overview.updated_at', { time: fmtTime(ov.updated.toISOString()) }) : '';
    if (ov.error) {
      const retry = el('button', { type: 'button', class: 'secondary' }, t('overview.retry'));
      retry.addEventListener('click', () => loadOverview());
      const box = el('div', { class: 'alert', role: 'alert', id: 'ov-error' });
      showApiError(box, ov.error);
      box.querySelector('.alert-close').remove();
      box.prepend(el('p', { class: 'warning-title' }, t('overview.error')));
      box.append(retry);
      body.replaceChildren(box);
      return;
    }
    const data = ov.data;
    if (!data || data.hours !== ov.hours) { body.replaceChildren(); return; }
    const rangeName = tk('overview.range_name.', ov.hours);
    const totals = data.totals || {};
    const delivered = sumOf(totals.deliveries);
    const decided = sumOf(totals.decisions);
    if (!delivered && !decided) {
      const go = el('button', { type: 'button', class: 'primary', id: 'ov-go-channels' }, t('overview.empty.button'));
      go.addEventListener('click', () => selectTab('channels', true));
      body.replaceChildren(el('div', { class: 'ov-empty', id: 'ov-empty' },
        el('p', { class: 'warning-title' }, t('overview.empty.title', { range: rangeName })),
        el('p', {}, t('overview.empty.hint')), go));
      return;
    }
    const failures = Object.entries(totals.failures || {}).filter(([, n]) => n > 0);
    const decisions = Object.entries(totals.decisions || {}).filter(([, n]) => n > 0);
    const decide = totals.time_to_decide_ms && totals.time_to_decide_ms.p50;
    body.replaceChildren(
      section('deliveries', t('overview.deliveries.title'),
        el('p', { class: 'hint' }, t('overview.deliveries.hint')), deliveriesChart(data, rangeName)),
      el('div', { class: 'ov-pair' },
        section('failures', t('overview.failures.title'), failures.length
          ? [el('p', { class: 'hint' }, t('overview.failures.hint')),
            barRows(failures.map(([r, n]) => [reasonLabel(r), n]), t('overview.failures.aria', {
              range: rangeName, list: failures.map(([r, n]) => reasonLabel(r) + ' ' + num(n)).join(', '),
            }), 'fail')]
          : el('p', { class: 'ov-none' }, t('overview.failures.none'))),
        section('decisions', t('overview.decisions.title'), decisions.length
          ? [barRows(decisions.map(([a, n]) => [a, n]), t('overview.decisions.aria', {
            range: rangeName, list: decisions.map(([a, n]) => a + ' ' + num(n)).join(', '),
          }), 'decision'),
          el('p', { class: 'hint' }, decide === null || decide === undefined ? t('overview.decisions.no_time') : t('overview.decisions.time', { time: fmtMs(decide) }))]
          : el('p', { class: 'ov-none' }, t('overview.decisions.none')))),
      section('latency', t('overview.latency.title'),
        el('p', { class: 'hint' }, t('overview.latency.hint')),
        typeof (totals.latency_ms || {}).p50 === 'number' ? latencyChart(data, rangeName) : el('p', { class: 'ov-none' }, t('overview.latency.none'))),
      hoursTable(data.buckets || []));
  }

  async function loadOverview() {
    const gen = ++ov.generation;
    const hours = ov.hours;
    // Another session (another org): nothing of the last one shows meanwhile.
    if (ov.org !== state.org) { ov.org = state.org; ov.data = null; ov.updated = null; }
    ov.loading = true;
    ov.error = null;
    renderOverview();
    try {
      const data = await api('GET', orgPath('/stats?hours=' + hours));
      if (gen !== ov.generation) return;
      ov.data = data && Array.isArray(data.buckets) ? data : { hours, buckets: [], totals: {} };
      ov.updated = new Date();
    } catch (e) {
      if (gen !== ov.generation || e.status === 401) return;
      ov.error = e;
      ov.data = null;
    }
    ov.loading = false;
    renderOverview();
  }

  function buildOverview() {
    const panel = $('panel-overview');
    const range = el('div', { class: 'ov-range', role: 'group', 'aria-label': t('overview.range_label'), 'data-i18n-aria-label': 'overview.range_label' },
      OV_RANGES.map((h) => {
        const b = el('button', { type: 'button', class: 'secondary', id: 'ov-range-' + h, 'aria-pressed': String(ov.hours === h), 'data-i18n': 'overview.range.' + h });
        b.addEventListener('click', () => {
          if (ov.hours === h) return;
          ov.hours = h;
          ov.data = null;
          loadOverview();
        });
        return b;
      }));
    const refresh = el('button', { type: 'button', id: 'ov-refresh', class: 'secondary', 'data-i18n': 'common.refresh' });
    refresh.addEventListener('click', () => loadOverview());
    panel.replaceChildren(
      el('div', { class: 'panel-head' },
        el('div', {}, el('h1', { 'data-i18n': 'overview.title' }), el('p', { class: 'lead', 'data-i18n': 'overview.lead' })),
        el('div', { class: 'head-actions' }, range, refresh)),
      el('p', { class: 'status-line', id: 'ov-status', role: 'status' }),
      el('div', { id: 'ov-body', 'aria-live': 'polite' }));
  }

  // The tabs treat the Overview like a list: loaded when shown, drawn again in a new language.
  lists.overview = {
    tab: 'overview',
    load: () => loadOverview(),
    render: renderOverview,
    schedule() {},
    wire() {},
  };
  buildOverview();
