// spendline dashboard: plain ES modules, no build step, no inline script or style (works under
// Content-Security-Policy: default-src 'self'). Reads /api and /metrics; updates when /api/stream
// reports a committed call (no polling).

import {
  compactCount,
  costText,
  formatMs,
  formatNano,
  formatUsd,
  intFmt,
  tokensOf,
  toNano,
} from './format.js';
import { followStream } from './stream.js';
import uPlot from './vendor/uPlot.esm.js';

const TOKEN_KEY = 'spendline-api-token';
const DAY = 86400;
const TOP_N = 10;
const $ = (id) => document.getElementById(id);

const state = { range: 'today', customFrom: '', customTo: '', groupBy: 'auto', dim: 'model', search: '' };

// ---- DOM helpers (elements, never HTML strings with styles)
function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v;
    else if (k === 'title') e.title = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}
const muted = (text) => el('p', { class: 'muted' }, text);

/**
 * A table from columns {label, value(row) -> string|Node, num?, id? (identifier: one line, ellipsis),
 * wide? (hidden on narrow screens), nowrap?}.
 */
function table(rows, columns, empty = 'nothing in this range') {
  if (rows.length === 0) return muted(empty);
  const cls = (c) =>
    [
      c.num ? 'num' : '',
      c.id ? 'id' : '',
      c.wide ? 'wide-only' : '',
      c.nowrap ? 'nowrap' : '',
      c.money ? 'money' : '',
    ]
      .join(' ')
      .trim();
  const head = el('tr', {}, ...columns.map((c) => el('th', { class: cls(c) }, c.label)));
  const body = rows.map((r) =>
    el(
      'tr',
      {},
      ...columns.map((c) => {
        const v = c.value(r);
        const td = el('td', { class: cls(c) }, v);
        if (c.id && typeof v === 'string') td.title = v;
        return td;
      }),
    ),
  );
  return el('table', {}, el('thead', {}, head), el('tbody', {}, ...body));
}

function bar(fraction) {
  const outer = el('div', { class: 'bar-track' });
  const inner = el('div', { class: 'bar' });
  inner.style.width = `${Math.max(fraction > 0 ? 1 : 0, Math.round(fraction * 100))}%`;
  outer.append(inner);
  return outer;
}

function put(id, node) {
  $(id).replaceChildren(node);
}

/** A cost cell: the amount, and "+ unpriced" after it as a separate piece that may go to the next line. */
function costNode(totals) {
  const text = costText(totals);
  const cut = text.indexOf(' + ');
  if (cut < 0) return text;
  const pieces = document.createDocumentFragment();
  pieces.append(el('span', {}, text.slice(0, cut)), ' ', el('span', {}, text.slice(cut + 1)));
  return pieces;
}

const label = (v) => (v === '' || v === null || v === undefined ? '(none)' : String(v));

// ---- API
function authHeaders() {
  const token = localStorage.getItem(TOKEN_KEY);
  return token ? { authorization: `Bearer ${token}` } : {};
}

async function api(path) {
  const res = await fetch(path, { headers: authHeaders() });
  if (res.status === 401) {
    $('auth').hidden = false;
    throw new Error('unauthorized');
  }
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
  return res.json();
}

// ---- time range (UTC days)
const isoDay = (sec) => new Date(sec * 1000).toISOString().slice(0, 10);
const daySec = (text) => Date.parse(`${text}T00:00:00Z`) / 1000;

function currentRange() {
  const now = Date.now() / 1000;
  const today = Math.floor(now / DAY) * DAY;
  const tomorrow = today + DAY;
  const d = new Date(today * 1000);
  switch (state.range) {
    case '7d':
      return { from: today - 6 * DAY, to: tomorrow };
    case '30d':
      return { from: today - 29 * DAY, to: tomorrow };
    case 'month':
      return { from: Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1) / 1000, to: tomorrow };
    case 'custom':
      if (state.customFrom && state.customTo)
        return { from: daySec(state.customFrom), to: daySec(state.customTo) + DAY };
      return { from: today, to: tomorrow };
    default:
      return { from: today, to: tomorrow };
  }
}

function groupByFor(range) {
  if (state.groupBy !== 'auto') return state.groupBy;
  const days = (range.to - range.from) / DAY;
  if (days <= 2) return 'hour';
  if (days <= 62) return 'day';
  if (days <= 400) return 'week';
  return 'month';
}

/** Every period start in [from, to) for a grouping, with the key /api/usage uses for it. */
function periods(range, groupBy) {
  const out = [];
  let t = range.from;
  if (groupBy === 'week') t -= ((Math.floor(t / DAY) + 3) % 7) * DAY;
  if (groupBy === 'month') {
    const d = new Date(t * 1000);
    t = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1) / 1000;
  }
  while (t < range.to && out.length < 2000) {
    const iso = new Date(t * 1000).toISOString();
    if (groupBy === 'hour') {
      out.push({ t, key: `${iso.slice(0, 13)}:00:00Z` });
      t += 3600;
    } else if (groupBy === 'day') {
      out.push({ t, key: iso.slice(0, 10) });
      t += DAY;
    } else if (groupBy === 'week') {
      out.push({ t, key: iso.slice(0, 10) });
      t += 7 * DAY;
    } else {
      out.push({ t, key: iso.slice(0, 7) });
      const d = new Date(t * 1000);
      t = Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1) / 1000;
    }
  }
  return out;
}

// ---- chart (uPlot)
let chart;
function drawChart(range, groupBy, rows) {
  const byKey = new Map(rows.map((r) => [r[groupBy], r]));
  // Periods that have not started yet are not drawn as zero.
  const nowSec = Date.now() / 1000;
  const ps = periods(range, groupBy).filter((p) => p.t <= nowSec);
  const xs = ps.map((p) => p.t);
  const spend = ps.map((p) => Number(toNano(byKey.get(p.key)?.cost_usd ?? '0')) / 1e9);
  const tokens = ps.map((p) => tokensOf(byKey.get(p.key) ?? {}));
  const box = $('chart');
  const width = Math.max(280, box.clientWidth);
  const money = (v) => (v === null || v === undefined ? '—' : formatNano(BigInt(Math.round(v * 1e9))));
  const step = groupBy === 'hour' ? 3600 : groupBy === 'day' ? DAY : groupBy === 'week' ? 7 * DAY : 30 * DAY;
  const opts = {
    width,
    height: 240,
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'),
    scales: {
      x: { time: true, range: (_u, min, max) => [min - step / 2, max + step / 2] },
      usd: {},
      tok: {},
    },
    series: [
      {},
      {
        label: 'spend',
        scale: 'usd',
        value: (_u, v) => money(v),
        fill: 'rgba(59,108,246,0.55)',
        stroke: '#3b6cf6',
        paths: uPlot.paths.bars({ size: [0.7, 60] }),
        points: { show: false },
      },
      {
        label: 'tokens',
        scale: 'tok',
        value: (_u, v) => (v === null || v === undefined ? '—' : intFmt(v)),
        stroke: '#c2410c',
        width: 2,
        points: { show: ps.length < 60 },
      },
    ],
    axes: [
      {
        label: 'time (UTC)',
        labelSize: 18,
        size: 40,
        // 24-hour UTC times within a day, dates (month-day) across days.
        values: (_u, ticks) => {
          const spacing = ticks.length > 1 ? ticks[1] - ticks[0] : DAY;
          return ticks.map((t) => {
            const iso = new Date(t * 1000).toISOString();
            return spacing < DAY ? iso.slice(11, 16) : iso.slice(5, 10);
          });
        },
      },
      {
        scale: 'usd',
        label: 'spend (USD)',
        labelSize: 18,
        size: 78,
        values: (_u, ticks) => ticks.map(money),
      },
      {
        scale: 'tok',
        side: 1,
        label: 'tokens',
        labelSize: 18,
        size: 56,
        grid: { show: false },
        values: (_u, ticks) => ticks.map(compactCount),
      },
    ],
    legend: { show: true },
  };
  chart?.destroy();
  box.replaceChildren();
  chart = new uPlot(opts, [xs, spend, tokens], box);
  put(
    'chart-table',
    table(
      ps.map((p) => ({ p, row: byKey.get(p.key) })),
      [
        { label: groupBy, value: (x) => x.p.key, id: true },
        { label: 'spend', num: true, value: (x) => (x.row ? costText(x.row) : formatNano(0n)) },
        { label: 'tokens', num: true, value: (x) => intFmt(x.row ? tokensOf(x.row) : 0) },
      ],
    ),
  );
}

window.addEventListener('resize', () => {
  if (chart) chart.setSize({ width: Math.max(280, $('chart').clientWidth), height: 240 });
});

// ---- sections
function renderTiles(totals, recon) {
  $('spend').textContent = costText(totals);
  $('spend-note').textContent =
    `exact ${formatUsd(totals.exact_cost_usd)} · estimated ${formatUsd(totals.estimated_cost_usd)}`;
  $('requests').textContent = intFmt(totals.requests);
  $('errors').textContent = `${intFmt(totals.errors)} failed`;
  $('tokens').textContent = intFmt(tokensOf(totals));
  const t = totals.tokens;
  $('tokens-note').textContent =
    `in ${intFmt(t.input + t.cache_read + t.cache_write)} · out ${intFmt(t.output + t.reasoning)}`;
  const billed = recon.filter((d) => d.billed_usd !== null && d.billed_usd !== undefined);
  if (billed.length === 0) {
    $('untracked').textContent = 'no bills';
    // In <code>, which does not wrap: a line break after "--" would not read as a flag.
    const flag = document.createElement('code');
    flag.textContent = '--billing';
    $('untracked-note').replaceChildren('import provider billing exports with ', flag);
  } else {
    const billedNano = billed.reduce((a, d) => a + toNano(d.billed_usd), 0n);
    const untracked = billed.reduce((a, d) => a + toNano(d.untracked_usd), 0n);
    $('untracked').textContent = formatNano(untracked);
    const share = billedNano > 0n ? Number((untracked * 10000n) / billedNano) / 100 : 0;
    $('untracked-note').textContent = `${share}% of ${formatNano(billedNano)} billed in this range`;
  }
}

function renderBreakdown(dim, rows, count) {
  let max = 0n;
  for (const r of rows) {
    const n = toNano(r.cost_usd);
    if (n > max) max = n;
  }
  const cols = [
    { label: dim, id: true, value: (r) => label(dim === 'session' ? r.key : r[dim]) },
    { label: 'calls', num: true, value: (r) => intFmt(r.requests) },
    { label: 'tokens', num: true, wide: true, value: (r) => intFmt(tokensOf(r)) },
    { label: 'cost', num: true, money: true, value: (r) => costNode(r) },
  ];
  if (dim === 'session')
    cols.push({
      label: 'last seen',
      num: true,
      wide: true,
      value: (r) => r.last_seen.slice(0, 16).replace('T', ' '),
    });
  else
    cols.push({
      label: 'share',
      wide: true,
      value: (r) => bar(max > 0n ? Number((toNano(r.cost_usd) * 1000n) / max) / 1000 : 0),
    });
  put(
    'breakdown',
    table(rows, cols, state.search ? `no ${dim} matches "${state.search}"` : 'nothing in this range'),
  );
  const note =
    dim === 'session'
      ? 'Sessions active in the range, with their totals since they began.'
      : dim === 'user' || dim === 'task'
        ? `Per-${dim} usage (calls without a ${dim} id are not listed).`
        : '';
  $('breakdown-note').textContent =
    `${count > rows.length ? `Top ${rows.length} of ${intFmt(count)}. ` : ''}${note}`;
}

function renderLatency(rows) {
  put(
    'latency',
    table(rows, [
      { label: 'model', id: true, value: (r) => label(r.model) },
      { label: 'calls', num: true, wide: true, value: (r) => intFmt(r.duration.count) },
      { label: 'p50', num: true, value: (r) => formatMs(r.duration.p50_ms) },
      { label: 'p90', num: true, wide: true, value: (r) => formatMs(r.duration.p90_ms) },
      { label: 'p99', num: true, value: (r) => formatMs(r.duration.p99_ms) },
      { label: 'TTFT p50', num: true, value: (r) => formatMs(r.ttft.p50_ms) },
      { label: 'TTFT p99', num: true, wide: true, value: (r) => formatMs(r.ttft.p99_ms) },
    ]),
  );
}

function renderErrors(data) {
  put(
    'errors-by-type',
    table(
      data.rows,
      [
        { label: 'error type', id: true, value: (r) => label(r.error_type) },
        { label: 'model', id: true, value: (r) => label(r.model) },
        { label: 'calls', num: true, value: (r) => intFmt(r.requests) },
      ],
      'no failed calls in this range',
    ),
  );
}

function renderQuality(data) {
  const node =
    data.rows.length === 0
      ? el('p', { class: 'ok' }, 'every call in this range has a price and reported usage')
      : el(
          'div',
          {},
          table(data.rows, [
            { label: 'model', id: true, value: (r) => label(r.model) },
            { label: 'unpriced', num: true, value: (r) => intFmt(r.unpriced_requests) },
            { label: 'their tokens', num: true, wide: true, value: (r) => intFmt(r.unpriced_tokens) },
            { label: 'usage unknown', num: true, value: (r) => intFmt(r.unknown_usage_requests) },
          ]),
          muted('Their cost is missing from the totals (never counted as $0): add a price with --prices.'),
        );
  put('quality', node);
}

function renderBudgets(data) {
  if (!data.configured) {
    put('budgets', muted('No budgets: start the sidecar with --budgets FILE.'));
    return;
  }
  put(
    'budgets',
    table(data.budgets, [
      { label: 'budget', id: true, value: (b) => b.budget },
      { label: 'period', wide: true, value: (b) => b.period },
      { label: 'limit', num: true, value: (b) => formatUsd(b.limit_usd) },
      {
        label: 'spent',
        num: true,
        value: (b) =>
          b.per_value
            ? 'per value'
            : `${formatUsd(b.spent_usd)}${b.unpriced_requests > 0 ? ' + unpriced' : ''}`,
      },
      {
        label: 'status',
        value: (b) =>
          b.status === null ? '—' : el('span', { class: b.status === 'exceeded' ? 'warn' : 'ok' }, b.status),
      },
    ]),
  );
}

function renderReconciliation(days, range) {
  const rows = days.filter((d) => daySec(d.day) >= range.from && daySec(d.day) < range.to).reverse();
  put(
    'reconciliation',
    table(
      rows,
      [
        { label: 'day', nowrap: true, value: (d) => d.day },
        { label: 'provider', id: true, value: (d) => d.provider },
        {
          label: 'billed',
          num: true,
          value: (d) =>
            d.billed_usd === null || d.billed_usd === undefined ? 'no bill' : formatUsd(d.billed_usd),
        },
        {
          label: 'tracked',
          num: true,
          value: (d) => costText({ cost_usd: d.tracked_usd, unpriced_requests: d.unpriced_requests }),
        },
        {
          label: 'untracked',
          num: true,
          wide: true,
          value: (d) =>
            d.untracked_usd === null || d.untracked_usd === undefined ? '—' : formatUsd(d.untracked_usd),
        },
        {
          // Where the export carries token totals: billed vs tracked tokens (input + output, every kind).
          label: 'tokens billed / tracked',
          num: true,
          wide: true,
          value: (d) =>
            `${d.billed_tokens === null || d.billed_tokens === undefined ? '—' : d.billed_tokens.toLocaleString('en-US')} / ${(d.tracked_tokens ?? 0).toLocaleString('en-US')}`,
        },
        {
          label: 'status',
          wide: true,
          value: (d) =>
            el(
              'span',
              { class: d.status === 'beyond_tolerance' ? 'warn' : '' },
              d.status.replaceAll('_', ' '),
            ),
        },
      ],
      'no tracked or billed spend in this range',
    ),
  );
}

// Committed figures (not /metrics, which holds a new series at 0 until Prometheus has seen it:
// the panel would read 0 beside the calls already shown above).
async function refreshPipeline() {
  const p = await api('/api/pipeline');
  const rows = [
    ['sidecar', el('span', { class: p.ready ? 'ok' : 'warn' }, p.ready ? 'ready' : 'catching up')],
    ['usage records counted', intFmt(p.records.counted)],
    ['duplicates (second copies)', intFmt(p.records.duplicate)],
    ['rejected', p.records.rejected > 0 ? el('span', { class: 'warn' }, intFmt(p.records.rejected)) : '0'],
    ['ignored (not usage)', intFmt(p.records.ignored)],
    ['unread bytes', intFmt(p.unread_bytes)],
    ['last record', p.last_record_at === null ? '—' : p.last_record_at.slice(0, 19).replace('T', ' ')],
    ...Object.entries(p.rejected_by_reason).map(([reason, n]) => [`rejected: ${reason}`, intFmt(n)]),
    ...Object.entries(p.lost_bytes).map(([reason, n]) => [
      `bytes lost (${reason} before read)`,
      el('span', { class: 'warn' }, intFmt(n)),
    ]),
    ...p.unreadable_files.map((u) => [
      `unreadable (${u.reason}): ${u.file}`,
      el('span', { class: 'warn' }, `${intFmt(u.bytes)} bytes`),
    ]),
  ];
  put(
    'pipeline',
    table(rows, [
      { label: 'figure', value: (r) => r[0] },
      { label: 'value', num: true, value: (r) => r[1] },
    ]),
  );
}

async function refreshInsights() {
  let insights;
  try {
    ({ insights } = await api('/api/insights?days_back=30'));
  } catch (err) {
    if (err.message === 'unauthorized') throw err;
    return; // the insights extension is optional
  }
  if (insights.length === 0) {
    put('insights', muted('Nothing to change yet: no insight crossed its threshold over the last 30 days.'));
    return;
  }
  put(
    'insights',
    table(insights.slice(0, 8), [
      { label: 'kind', id: true, value: (i) => i.kind },
      {
        label: 'saving',
        num: true,
        value: (i) =>
          i.monthly_saving_usd === 'unknown' ? 'unknown' : `${formatUsd(i.monthly_saving_usd)}/month`,
      },
      { label: 'change', value: (i) => i.change },
    ]),
  );
}

async function refreshBreakdown(range) {
  const q = `from=${range.from}&to=${range.to}${state.search ? `&search=${encodeURIComponent(state.search)}` : ''}`;
  if (state.dim === 'session') {
    const r = await api(`/api/usage/sessions?${q}&limit=${TOP_N}`);
    renderBreakdown('session', r.rows, r.session_count);
  } else {
    const r = await api(`/api/usage?${q}&group_by=${state.dim}&limit=${TOP_N}`);
    renderBreakdown(state.dim, r.rows, r.group_count);
  }
  // What the table shows (tests wait for it).
  $('breakdown').dataset.key = `${state.dim}|${range.from}|${range.to}|${state.search}`;
}

async function refreshUsage() {
  const range = currentRange();
  const groupBy = groupByFor(range);
  const w = `from=${range.from}&to=${range.to}`;
  const reconDays = Math.min(400, Math.max(1, Math.ceil((Date.now() / 1000 - range.from) / DAY)));
  const [total, series, latency, errors, quality, budgets, recon] = await Promise.all([
    api(`/api/usage?${w}`),
    api(`/api/usage?${w}&group_by=${groupBy}`),
    api(`/api/latency?${w}`),
    api(`/api/errors?${w}`),
    api(`/api/usage/quality?${w}`),
    api('/api/budgets'),
    api(`/api/reconciliation?days=${reconDays}`),
    refreshBreakdown(range),
  ]);
  const inRange = recon.days.filter((d) => daySec(d.day) >= range.from && daySec(d.day) < range.to);
  renderTiles(total.totals, inRange);
  drawChart(range, groupBy, series.rows);
  renderLatency(latency.rows);
  renderErrors(errors);
  renderQuality(quality);
  renderBudgets(budgets);
  renderReconciliation(recon.days, range);
  $('range-label').textContent =
    range.to - range.from === DAY
      ? `${isoDay(range.from)} UTC`
      : `${isoDay(range.from)} – ${isoDay(range.to - DAY)} UTC`;
}

let refreshing = false;
let again = false;
async function refresh() {
  if (refreshing) {
    again = true;
    return;
  }
  refreshing = true;
  try {
    await Promise.all([refreshUsage(), refreshPipeline(), refreshInsights()]);
    $('updated').textContent = `updated ${new Date().toISOString().slice(11, 19)} UTC`;
    document.body.dataset.refreshes = String(Number(document.body.dataset.refreshes ?? 0) + 1);
  } catch (err) {
    $('updated').textContent =
      err.message === 'unauthorized' ? 'API token needed' : `refresh failed: ${err.message}`;
  } finally {
    refreshing = false;
    if (again) {
      again = false;
      refresh();
    }
  }
}

// A burst of calls becomes one refresh.
let pending;
function refreshSoon() {
  clearTimeout(pending);
  pending = setTimeout(refresh, 150);
}

// ---- controls
function selectRange(range) {
  state.range = range;
  for (const b of $('ranges').querySelectorAll('button'))
    b.classList.toggle('active', b.dataset.range === range);
  $('custom').hidden = range !== 'custom';
  if (range !== 'custom' || (state.customFrom && state.customTo)) refresh();
}

$('ranges').addEventListener('click', (e) => {
  const b = e.target.closest('button');
  if (b) selectRange(b.dataset.range);
});
$('custom').addEventListener('submit', (e) => {
  e.preventDefault();
  if ($('custom-from').value > $('custom-to').value) return;
  state.customFrom = $('custom-from').value;
  state.customTo = $('custom-to').value;
  refresh();
});
$('group-by').addEventListener('change', () => {
  state.groupBy = $('group-by').value;
  refresh();
});
$('dims').addEventListener('click', (e) => {
  const b = e.target.closest('button');
  if (!b) return;
  state.dim = b.dataset.dim;
  for (const x of $('dims').querySelectorAll('button')) x.classList.toggle('active', x === b);
  refreshBreakdown(currentRange()).catch(() => undefined);
});
let searchTimer;
$('search').addEventListener('input', () => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(() => {
    state.search = $('search').value.trim();
    refreshBreakdown(currentRange()).catch(() => undefined);
  }, 200);
});
$('auth-form').addEventListener('submit', (e) => {
  e.preventDefault();
  localStorage.setItem(TOKEN_KEY, $('auth-token').value.trim());
  $('auth').hidden = true;
  refresh();
});

const today = isoDay(Math.floor(Date.now() / 1000));
$('custom-from').value = today;
$('custom-to').value = today;
$('dims').querySelector('[data-dim="model"]').classList.add('active');
selectRange('today');

// ---- live: every committed call arrives on the stream; figures refresh when it falls in the range.
followStream({
  url: '/api/stream',
  headers: authHeaders,
  onState: (s) => {
    $('live').textContent = s === 'live' ? 'live' : s === 'unauthorized' ? 'token needed' : 'reconnecting…';
    $('live').classList.toggle('on', s === 'live');
  },
  onUsage: (ev) => {
    const at = Date.parse(ev.at) / 1000;
    const range = currentRange();
    if (at >= range.from && at < range.to) refreshSoon();
    else refreshPipeline().catch(() => undefined);
  },
  onReset: () => refreshSoon(),
});
