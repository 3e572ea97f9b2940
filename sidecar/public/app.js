// spendline status page: plain ES module, no build step. Reads the sidecar's /api and /metrics.
const REFRESH_MS = 5000;
const TOKEN_KEY = 'spendline-api-token';
const $ = (id) => document.getElementById(id);

// ---- money: the API sends exact decimal strings ("12.345000000"); sum and round them exactly.
function toNano(usd) {
  const m = /^(-?)(\d+)(?:\.(\d{0,9}))?/.exec(String(usd ?? '0'));
  if (!m) return 0n;
  const nano = BigInt(m[2]) * 1000000000n + BigInt((m[3] ?? '').padEnd(9, '0'));
  return m[1] === '-' ? -nano : nano;
}
function formatNano(nano) {
  const neg = nano < 0n;
  const abs = neg ? -nano : nano;
  if (abs > 0n && abs < 50000n) return `${neg ? '>-' : '<'}$0.0001`; // priced, but under the smallest shown unit
  const decimals = abs >= 1000000000n ? 2 : abs >= 10000000n ? 3 : 4;
  const unit = 10n ** BigInt(9 - decimals);
  const rounded = (abs + unit / 2n) / unit;
  const whole = (rounded / 10n ** BigInt(decimals)).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  const frac = (rounded % 10n ** BigInt(decimals)).toString().padStart(decimals, '0');
  return `${neg ? '-' : ''}$${whole}.${frac}`;
}
const formatUsd = (usd) => formatNano(toNano(usd));
const intFmt = (n) => Number(n ?? 0).toLocaleString('en-US');

// A cost is complete only when nothing in it is unpriced or of unknown usage; otherwise say so
// instead of implying $0.
function costText(totals) {
  let text = formatUsd(totals.cost_usd);
  if (totals.unpriced_requests > 0) text += ' + unpriced';
  if (totals.unknown_usage_requests > 0) text += ' + unknown';
  return text;
}

async function api(path) {
  const token = localStorage.getItem(TOKEN_KEY);
  const res = await fetch(path, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  if (res.status === 401) {
    $('auth').hidden = false;
    throw new Error('unauthorized');
  }
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
  return res.json();
}

function utcDayStart(d) {
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()) / 1000;
}

function table(rows, columns) {
  if (rows.length === 0) return '<p class="muted">nothing yet</p>';
  const max = Math.max(...rows.map((r) => Number(r.cost_usd)), 0);
  const head = columns.map((c) => `<th class="${c.num ? 'num' : ''}">${c.label}</th>`).join('');
  const body = rows
    .map((r) => {
      const cells = columns.map((c) => `<td class="${c.num ? 'num' : ''}">${c.value(r)}</td>`).join('');
      const width = max > 0 ? Math.max(1, Math.round((Number(r.cost_usd) / max) * 100)) : 0;
      return `<tr>${cells}<td style="width:30%"><div class="bar" style="width:${width}%"></div></td></tr>`;
    })
    .join('');
  return `<table><thead><tr>${head}<th></th></tr></thead><tbody>${body}</tbody></table>`;
}

const escapeHtml = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function breakdown(id, key, rows) {
  $(id).innerHTML = table(rows.slice(0, 10), [
    { label: key, value: (r) => escapeHtml(r[key] === '' ? '(none)' : r[key]) },
    { label: 'requests', num: true, value: (r) => intFmt(r.requests) },
    { label: 'cost', num: true, value: (r) => costText(r) },
  ]);
}

function hourlyChart(hours) {
  const w = 720;
  const h = 160;
  const max = Math.max(...hours.map((x) => Number(x.cost)), 0);
  const bw = w / hours.length;
  const bars = hours
    .map((x, i) => {
      const bh = max > 0 ? Math.round((Number(x.cost) / max) * (h - 24)) : 0;
      const label = i % 3 === 0 ? `<text x="${i * bw + 2}" y="${h - 2}">${x.label}</text>` : '';
      return `<rect x="${i * bw + 1}" y="${h - 14 - bh}" width="${bw - 2}" height="${bh}"><title>${x.label} UTC: ${formatUsd(x.cost)}</title></rect>${label}`;
    })
    .join('');
  $('chart-hourly').innerHTML =
    `<svg viewBox="0 0 ${w} ${h}" preserveAspectRatio="none" role="img" aria-label="spend by hour">${bars}</svg>`;
}

function parseMetrics(text) {
  const series = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
    series.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return series;
}

async function refreshPipeline() {
  const [metricsRes, readyRes] = await Promise.all([fetch('/metrics'), fetch('/readyz')]);
  const series = parseMetrics(await metricsRes.text());
  const sum = (name, pred = () => true) =>
    series.filter((s) => s.name === name && pred(s.labels)).reduce((a, s) => a + s.value, 0);
  const byResult = (r) => sum('spendline_records_total', (l) => l.result === r);
  const unread = sum('spendline_unread_bytes');
  const last = sum('spendline_last_record_timestamp_seconds');
  const rejectedReasons = series.filter((s) => s.name === 'spendline_rejected_records_total' && s.value > 0);
  const rows = [
    ['sidecar', readyRes.ok ? '<span class="ok">ready</span>' : '<span class="warn">catching up</span>'],
    ['records counted', intFmt(byResult('counted'))],
    ['duplicates', intFmt(byResult('duplicate'))],
    [
      'rejected',
      byResult('rejected') > 0 ? `<span class="warn">${intFmt(byResult('rejected'))}</span>` : '0',
    ],
    ['ignored (not usage)', intFmt(byResult('ignored'))],
    ['unread bytes', intFmt(unread)],
    ['last record', last > 0 ? new Date(last * 1000).toISOString().replace('.000Z', 'Z') : '—'],
    ...rejectedReasons.map((s) => [`rejected: ${escapeHtml(s.labels.reason)}`, intFmt(s.value)]),
  ];
  $('pipeline').innerHTML =
    `<table><tbody>${rows.map(([k, v]) => `<tr><td>${k}</td><td class="num">${v}</td></tr>`).join('')}</tbody></table>`;
}

async function refreshUsage() {
  const now = new Date();
  const today = utcDayStart(now);
  const month = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1) / 1000;
  const tomorrow = today + 86400;
  const hourNow = Math.floor(now.getTime() / 3600000) * 3600;
  const hourStarts = Array.from({ length: 24 }, (_, i) => hourNow - (23 - i) * 3600);
  const [day, monthUsage, byModel, byService, byFeature, byAgent, bySource, recon, ...hours] =
    await Promise.all([
      api(`/api/usage?from=${today}&to=${tomorrow}`),
      api(`/api/usage?from=${month}&to=${tomorrow}`),
      api(`/api/usage?from=${month}&to=${tomorrow}&group_by=model`),
      api(`/api/usage?from=${month}&to=${tomorrow}&group_by=service`),
      api(`/api/usage?from=${month}&to=${tomorrow}&group_by=feature`),
      api(`/api/usage?from=${month}&to=${tomorrow}&group_by=agent&limit=10`),
      api(`/api/usage?from=${month}&to=${tomorrow}&group_by=source&limit=10`),
      api('/api/reconciliation?days=7'),
      ...hourStarts.map((h) => api(`/api/usage?from=${h}&to=${h + 3600}`)),
    ]);
  $('spend-today').textContent = costText(day.totals);
  $('spend-today-note').textContent =
    `exact ${formatUsd(day.totals.exact_cost_usd)} · estimated ${formatUsd(day.totals.estimated_cost_usd)}`;
  $('spend-month').textContent = costText(monthUsage.totals);
  $('spend-month-note').textContent = `${intFmt(monthUsage.totals.requests)} requests this month`;
  $('requests-today').textContent = intFmt(day.totals.requests);
  $('errors-today').textContent = `${intFmt(day.totals.errors)} failed`;
  breakdown('by-model', 'model', byModel.rows);
  breakdown('by-service', 'service', byService.rows);
  breakdown('by-feature', 'feature', byFeature.rows);
  // Agents (gen_ai.agent.name, JSONL agent) and JSONL sources: multi-source attribution.
  breakdown('by-agent', 'agent', byAgent.rows);
  breakdown('by-source', 'source', bySource.rows);
  hourlyChart(
    hours.map((u, i) => ({
      label: new Date(hourStarts[i] * 1000).toISOString().slice(11, 16),
      cost: u.totals.cost_usd,
    })),
  );

  const unpriced = byModel.rows.filter((r) => r.unpriced_requests > 0);
  $('unpriced').innerHTML =
    unpriced.length === 0
      ? '<p class="ok">every model seen this month has a price</p>'
      : `<table><thead><tr><th>model</th><th class="num">unpriced requests</th><th class="num">tokens</th></tr></thead><tbody>${unpriced
          .map(
            (r) =>
              `<tr><td>${escapeHtml(r.model)}</td><td class="num">${intFmt(r.unpriced_requests)}</td><td class="num">${intFmt(r.unpriced_tokens)}</td></tr>`,
          )
          .join(
            '',
          )}</tbody></table><p class="muted">Add a price with <code>--prices</code>: these calls cost money the totals cannot show.</p>`;
  // Calls whose emitter reported no usage (usage_type "unknown"): counted, their tokens and cost unknown.
  const noUsage = byService.rows.filter((r) => r.unknown_usage_requests > 0);
  $('unknown-usage').innerHTML =
    noUsage.length === 0
      ? '<p class="ok">every call seen this month reported its usage</p>'
      : `<table><thead><tr><th>service</th><th class="num">calls without usage</th><th class="num">of requests</th></tr></thead><tbody>${noUsage
          .map(
            (r) =>
              `<tr><td>${escapeHtml(r.service)}</td><td class="num">${intFmt(r.unknown_usage_requests)}</td><td class="num">${intFmt(r.requests)}</td></tr>`,
          )
          .join(
            '',
          )}</tbody></table><p class="muted">Failed calls and streams without usage: see docs/emitters.md for what each instrumentation reports.</p>`;

  const billedDays = recon.days.filter((d) => d.billed_usd !== null && d.billed_usd !== undefined);
  if (billedDays.length === 0) {
    $('untracked').textContent = 'no bills';
    $('untracked-note').textContent = 'import provider billing exports with --billing';
  } else {
    const billed = billedDays.reduce((a, d) => a + toNano(d.billed_usd), 0n);
    const untracked = billedDays.reduce((a, d) => a + toNano(d.untracked_usd), 0n);
    $('untracked').textContent = formatNano(untracked);
    const share = billed > 0n ? Number((untracked * 10000n) / billed) / 100 : 0;
    $('untracked-note').textContent =
      `${share}% of ${formatNano(billed)} billed · ${recon.flagged.length} day(s) beyond tolerance`;
  }
}

async function refreshInsights() {
  const { insights } = await api('/api/insights?days_back=30');
  if (insights.length === 0) {
    $('insights').innerHTML =
      '<p class="muted">Nothing to change yet: no insight crossed its threshold over the last 30 days.</p>';
    return;
  }
  const rows = insights
    .slice(0, 8)
    .map((i) => {
      const saving =
        i.monthly_saving_usd === 'unknown'
          ? '<span class="muted">unknown</span>'
          : `${formatUsd(i.monthly_saving_usd)}/month`;
      const scope = Object.entries(i.scope)
        .filter(([, v]) => v)
        .map(([k, v]) => `${k}=${escapeHtml(v)}`)
        .join(' ');
      return `<tr><td>${escapeHtml(i.kind)}</td><td>${scope}</td><td class="num">${saving}</td><td>${escapeHtml(i.change)}</td></tr>`;
    })
    .join('');
  $('insights').innerHTML =
    `<table><thead><tr><th>kind</th><th>scope</th><th class="num">saving</th><th>change</th></tr></thead><tbody>${rows}</tbody></table>`;
}

async function refresh() {
  try {
    await Promise.all([refreshUsage(), refreshPipeline(), refreshInsights()]);
    $('updated').textContent = `updated ${new Date().toISOString().slice(11, 19)} UTC`;
  } catch (err) {
    $('updated').textContent =
      err.message === 'unauthorized' ? 'API token needed' : `refresh failed: ${err.message}`;
  }
}

$('auth-form').addEventListener('submit', (e) => {
  e.preventDefault();
  localStorage.setItem(TOKEN_KEY, $('auth-token').value.trim());
  $('auth').hidden = true;
  refresh();
});

refresh();
setInterval(refresh, REFRESH_MS);
