import { createHash } from 'node:crypto';

/**
 * The admin listener's status page: one self-contained HTML document (inline
 * CSS, JS and SVG; no build step, no CDN, works offline) that polls /stats
 * and /history. It holds no server data itself, so it is served to anyone who
 * may reach the admin listener; every figure is put in the page with
 * textContent, never as markup. A Content-Security-Policy allows exactly
 * this script and this style sheet (by hash) and connections to its own origin.
 */

const STYLE = `
:root{--bg:#f3f5f9;--card:#fff;--line:#e2e7ef;--text:#17202b;--muted:#687789;--accent:#2f6fde;--accent-soft:#dce7fb;
--ok:#17915a;--ok-soft:#dcf3e7;--warn:#b86e00;--warn-soft:#fdf0d9;--bad:#cf3a3a;--bad-soft:#fbe3e3;--mono:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
@media (prefers-color-scheme:dark){:root{--bg:#11161d;--card:#19202a;--line:#2a3441;--text:#e6ebf1;--muted:#8d9aab;--accent:#6d9cf0;--accent-soft:#213252;
--ok:#3fbf7f;--ok-soft:#173428;--warn:#e0a040;--warn-soft:#3a2d15;--bad:#f06b6b;--bad-soft:#3d1e1e}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--text);font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
header{display:flex;align-items:center;gap:16px;padding:14px 28px;background:var(--card);border-bottom:1px solid var(--line);flex-wrap:wrap}
header h1{font-size:18px;margin:0;font-weight:650;letter-spacing:-.01em}
header h1 span{color:var(--muted);font-weight:500}
.meta{color:var(--muted);font-size:13px}
.spacer{flex:1}
main{padding:22px 28px 40px;max-width:1400px;margin:0 auto}
.kpis{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:12px;margin-bottom:16px}
.kpi,.card{background:var(--card);border:1px solid var(--line);border-radius:10px}
.kpi{padding:12px 14px}
.kpi .label{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.04em}
.kpi .value{font-size:24px;font-weight:650;margin-top:2px;font-variant-numeric:tabular-nums}
.kpi .sub{color:var(--muted);font-size:12px;font-variant-numeric:tabular-nums}
.kpi.alert .value{color:var(--bad)}
.grid2,.grid3{display:grid;grid-template-columns:repeat(auto-fit,minmax(420px,1fr));gap:16px;margin-bottom:16px}
.grid3{grid-template-columns:repeat(auto-fit,minmax(360px,1fr));align-items:start}
.card{padding:14px 16px;margin-bottom:16px;overflow-x:auto}
.grid2 .card,.grid3 .card{margin-bottom:0}
.card h2{font-size:14px;margin:0 0 10px;font-weight:650;display:flex;align-items:center;gap:10px}
.card h2 .count{color:var(--muted);font-weight:500}
.card h2 .spacer{flex:1}
table{width:100%;border-collapse:collapse;font-variant-numeric:tabular-nums}
th{text-align:left;color:var(--muted);font-weight:600;font-size:12px;text-transform:uppercase;letter-spacing:.03em;padding:6px 10px;border-bottom:1px solid var(--line);white-space:nowrap}
td{padding:7px 10px;border-bottom:1px solid var(--line);white-space:nowrap}
tr:last-child td{border-bottom:none}
td.num,th.num{text-align:right}
td.mono{font-family:var(--mono);font-size:13px}
td.err{color:var(--bad);white-space:normal;max-width:340px}
.empty{color:var(--muted);padding:10px;text-align:center}
td.zero{color:var(--muted);font-size:12px;white-space:normal}
.pill{display:inline-block;padding:1px 9px;border-radius:999px;font-size:12px;font-weight:600}
.pill.ok{background:var(--ok-soft);color:var(--ok)}
.pill.warn{background:var(--warn-soft);color:var(--warn)}
.pill.bad{background:var(--bad-soft);color:var(--bad)}
.pill.muted{background:var(--line);color:var(--muted)}
.pill.tls{background:var(--accent-soft);color:var(--accent)}
.hot{color:var(--warn);font-weight:600}
button{font:inherit;font-size:12px;padding:3px 10px;border-radius:6px;border:1px solid var(--line);background:var(--card);color:var(--text);cursor:pointer}
button:hover{border-color:var(--accent);color:var(--accent)}
button.danger:hover{border-color:var(--bad);color:var(--bad)}
.token{display:flex;gap:6px;align-items:center;font-size:13px}
.token input{font:inherit;font-size:13px;padding:4px 8px;border:1px solid var(--line);border-radius:6px;background:var(--bg);color:var(--text);width:190px}
.token.wanted input{border-color:var(--warn);box-shadow:0 0 0 3px var(--warn-soft)}
#message{margin:-8px 0 12px;font-size:13px}#message:empty{display:none}
#message.ok{color:var(--ok)}#message.bad{color:var(--bad)}
.chart{position:relative;height:150px}
.chart svg{width:100%;height:150px;display:block}
.chart .ymax{position:absolute;top:0;left:0;color:var(--muted);font-size:11px}
.axis{display:flex;justify-content:space-between;color:var(--muted);font-size:11px;margin-top:4px}
.legend{display:flex;gap:14px;color:var(--muted);font-size:12px;font-weight:500}
.legend i{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:5px;vertical-align:-1px}
.bar{height:8px;border-radius:4px;background:var(--bad);opacity:.75;min-width:2px}
.barcell{width:40%}
footer{color:var(--muted);font-size:12px;text-align:center;margin-top:10px}
footer a{color:var(--accent)}
`;

const SCRIPT = `
'use strict';
var TOKEN_KEY = 'ics-ts-admin-token';
var POLL_MS = 2000;
var CLIENT_ROWS = 200;
var $ = function (id) { return document.getElementById(id); };
var SVGNS = 'http://www.w3.org/2000/svg';

function token() { return sessionStorage.getItem(TOKEN_KEY) || ''; }
function authHeaders() { var t = token(); return t ? { authorization: 'Bearer ' + t } : {}; }

function el(tag, text, cls) {
  var e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}
function num(n) { return Number(n).toLocaleString('en-US'); }
function bytes(n) {
  var units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  var i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i === 0 ? String(n) : n.toFixed(n < 10 ? 1 : 0)) + ' ' + units[i];
}
function duration(ms) {
  var s = Math.floor(ms / 1000);
  if (s < 60) return s + ' s';
  var m = Math.floor(s / 60);
  if (m < 60) return m + ' min ' + (s % 60) + ' s';
  var h = Math.floor(m / 60);
  if (h < 48) return h + ' h ' + (m % 60) + ' min';
  return Math.floor(h / 24) + ' d ' + (h % 24) + ' h';
}
function sum(record) { var t = 0; for (var k in record) t += record[k]; return t; }
function pill(text, kind) { return el('span', text, 'pill ' + kind); }
function td(content, cls) {
  var cell = el('td', null, cls);
  if (content instanceof Node) cell.appendChild(content); else cell.textContent = content === undefined ? '' : String(content);
  return cell;
}
function fill(tbody, rows, columns, emptyText) {
  tbody.replaceChildren();
  if (rows.length === 0) {
    var tr = el('tr'); var cell = el('td', emptyText, 'empty'); cell.colSpan = columns; tr.appendChild(cell); tbody.appendChild(tr);
  }
  rows.forEach(function (row) { tbody.appendChild(row); });
}
function setField(name, value) {
  document.querySelectorAll('[data-field="' + name + '"]').forEach(function (e) { e.textContent = value; });
}
function say(text, ok) { var m = $('message'); m.textContent = text; m.className = ok ? 'ok' : 'bad'; }

function certBadge(days) {
  if (days === undefined || days === null) return pill('no TLS', 'muted');
  if (days < 0) return pill('expired', 'bad');
  if (days <= 7) return pill(days + ' days', 'bad');
  if (days <= 30) return pill(days + ' days', 'warn');
  return pill(days + ' days', 'ok');
}
function stateBadge(state) {
  return pill(state, state === 'listening' ? 'ok' : state === 'failed' ? 'bad' : 'muted');
}
function actionButton(label, path, confirmText, danger) {
  var b = el('button', label, danger ? 'danger' : '');
  b.dataset.action = path;
  b.addEventListener('click', function () { act(path, confirmText); });
  return b;
}

function render(s) {
  var t = s.totals;
  setField('state', s.state);
  $('state').className = 'pill ' + (s.state === 'listening' ? 'ok' : 'muted');
  setField('at', new Date(s.at).toLocaleTimeString());
  setField('uptime', duration(s.uptimeMs));
  setField('clientsNow', num(t.clientsNow));
  setField('clientsPeak', num(t.clientsPeak));
  setField('accepted', num(t.accepted));
  setField('admitted', num(t.admitted));
  var refused = sum(t.refused), failed = sum(t.handshakesFailed);
  setField('refused', num(refused));
  $('kpi-refused').classList.toggle('alert', refused > 0);
  setField('handshakesDone', num(t.handshakesDone));
  setField('handshakesFailed', num(failed));
  setField('bytesIn', bytes(t.bytesIn));
  setField('bytesOut', bytes(t.bytesOut));
  setField('bytesQueued', bytes(t.bytesQueued));
  setField('aborts', num(t.aborts));
  setField('timeouts', num(t.idleTimeouts + t.lineTimeouts));
  setField('bgExceptions', num(t.bgExceptions));

  setField('listenerCount', s.listeners.length);
  fill($('listeners'), s.listeners.map(function (l) {
    var tr = el('tr');
    tr.dataset.listener = l.index;
    tr.appendChild(td(l.index < 0 ? 'main' : '#' + l.index));
    tr.appendChild(td(l.url, 'mono'));
    tr.appendChild(td(stateBadge(l.state)));
    tr.appendChild(td(l.tls ? pill('TLS', 'tls') : pill('TCP', 'muted')));
    tr.appendChild(td(num(l.clientsNow), 'num'));
    tr.appendChild(td(num(l.accepted), 'num'));
    tr.appendChild(td(num(sum(l.refused) + sum(l.handshakesFailed)), 'num'));
    tr.appendChild(td(bytes(l.bytesIn), 'num'));
    tr.appendChild(td(bytes(l.bytesOut), 'num'));
    tr.appendChild(td(l.lastError || '', 'err'));
    tr.appendChild(td(l.state === 'listening'
      ? actionButton('Close', '/listeners/' + l.index + '/close', 'Stop listener ' + l.url + '? Its clients stay connected.', true)
      : actionButton('Open', '/listeners/' + l.index + '/open')));
    return tr;
  }), 11, 'no listener');

  setField('hostCount', s.hosts.length);
  $('hosts-card').hidden = s.hosts.length === 0;
  fill($('hosts'), s.hosts.map(function (h) {
    var tr = el('tr');
    tr.dataset.host = h.hostTag;
    tr.appendChild(td(h.hostTag));
    tr.appendChild(td(h.hostNames.join(', '), 'mono'));
    tr.appendChild(td(num(h.connections), 'num'));
    tr.appendChild(td(h.certSubject || '', 'mono'));
    tr.appendChild(td(h.certNotAfter ? h.certNotAfter.slice(0, 10) : ''));
    tr.appendChild(td(certBadge(h.certDaysLeft)));
    var r = h.lastRecheck;
    tr.appendChild(r ? td(r.ok ? pill(new Date(r.at).toLocaleTimeString(), 'ok') : pill('failed: ' + (r.error || ''), 'bad')) : td(''));
    return tr;
  }), 7, 'no host');

  // The reasons that moved, largest first; the ones still at 0 named in one muted line.
  var reasons = [], idle = [];
  Object.keys(t.refused).forEach(function (k) { (t.refused[k] > 0 ? reasons : idle).push(['refused', k, t.refused[k]]); });
  Object.keys(t.handshakesFailed).forEach(function (k) { (t.handshakesFailed[k] > 0 ? reasons : idle).push(['TLS handshake', k, t.handshakesFailed[k]]); });
  reasons.sort(function (a, b) { return b[2] - a[2]; });
  var top = Math.max(1, Math.max.apply(null, reasons.map(function (r) { return r[2]; }).concat([0])));
  var reasonRows = reasons.map(function (r) {
    var tr = el('tr');
    tr.dataset.reason = r[0] + ':' + r[1];
    tr.appendChild(td(r[0]));
    tr.appendChild(td(r[1], 'mono'));
    tr.appendChild(td(num(r[2]), 'num'));
    var bar = el('div', null, 'bar');
    bar.style.width = (100 * r[2] / top) + '%';
    tr.appendChild(td(bar, 'barcell'));
    return tr;
  });
  if (reasons.length > 0 && idle.length > 0) {
    var rest = el('tr');
    var cell = el('td', 'at 0: ' + idle.map(function (r) { return r[1]; }).join(', '), 'zero');
    cell.colSpan = 4;
    rest.appendChild(cell);
    reasonRows.push(rest);
  }
  fill($('reasons'), reasonRows, 4, 'nothing refused, no failed handshake');

  setField('clientCount', num(t.clientsNow));
  setField('clientsOmitted', s.clientsOmitted > 0 ? '(' + num(s.clientsOmitted) + ' more not listed)' : '');
  fill($('clients'), s.clients.map(function (c) {
    var tr = el('tr');
    tr.dataset.cliId = c.cliId;
    tr.appendChild(td(c.cliId, 'num'));
    tr.appendChild(td((c.peerAddr.indexOf(':') >= 0 ? '[' + c.peerAddr + ']' : c.peerAddr) + ':' + c.peerPort, 'mono'));
    tr.appendChild(td(c.listener < 0 ? 'main' : '#' + c.listener));
    tr.appendChild(td(c.hostTag || '-'));
    tr.appendChild(td(bytes(c.bytesIn), 'num'));
    tr.appendChild(td(bytes(c.bytesOut), 'num'));
    tr.appendChild(td(bytes(c.queued), c.queued > 0 ? 'num hot' : 'num'));
    tr.appendChild(td(duration(c.idleMs), 'num'));
    tr.appendChild(td(duration(c.connectedMs), 'num'));
    tr.appendChild(td(actionButton('Disconnect', '/clients/' + c.cliId + '/disconnect', null, true)));
    return tr;
  }), 10, 'no client connected');
}

function svg(tag, attrs) {
  var e = document.createElementNS(SVGNS, tag);
  for (var k in attrs) e.setAttribute(k, attrs[k]);
  return e;
}
function drawCharts(h) {
  var samples = h.samples;
  var W = 600, H = 150;
  var clients = $('chart-clients'), refusals = $('chart-refusals');
  clients.replaceChildren(); refusals.replaceChildren();
  for (var g = 1; g <= 3; g++) {
    clients.appendChild(svg('line', { x1: 0, x2: W, y1: H * g / 4, y2: H * g / 4, class: 'c-grid', 'vector-effect': 'non-scaling-stroke' }));
    refusals.appendChild(svg('line', { x1: 0, x2: W, y1: H * g / 4, y2: H * g / 4, class: 'c-grid', 'vector-effect': 'non-scaling-stroke' }));
  }
  // Samples are taken every intervalMs: spaced by index, the newest at the right edge.
  setField('chartSpan', duration(Math.max(1, samples.length - 1) * h.intervalMs));
  if (samples.length === 0) return;
  var n = samples.length;
  var x = function (i) { return n === 1 ? W : (W * i) / (n - 1); };
  var maxClients = Math.max(1, Math.max.apply(null, samples.map(function (p) { return p.clients; })));
  setField('chartClientsMax', num(maxClients));
  var line = '', area = '';
  samples.forEach(function (p, i) {
    var px = x(i).toFixed(1), py = (H - 4 - (H - 12) * p.clients / maxClients).toFixed(1);
    line += (i ? 'L' : 'M') + px + ' ' + py;
  });
  area = line + 'L' + x(n - 1).toFixed(1) + ' ' + H + 'L' + x(0).toFixed(1) + ' ' + H + 'Z';
  clients.appendChild(svg('path', { d: area, class: 'c-area' }));
  clients.appendChild(svg('path', { d: line, class: 'c-line', 'vector-effect': 'non-scaling-stroke', 'stroke-linejoin': 'round' }));
  var last = samples[samples.length - 1];
  clients.appendChild(svg('circle', { cx: x(n - 1), cy: H - 4 - (H - 12) * last.clients / maxClients, r: 3.5, class: 'c-dot', 'vector-effect': 'non-scaling-stroke' }));

  var deltas = [];
  for (var i = 1; i < samples.length; i++) {
    deltas.push({ i: i, refused: Math.max(0, samples[i].refused - samples[i - 1].refused), failed: Math.max(0, samples[i].handshakesFailed - samples[i - 1].handshakesFailed) });
  }
  var maxDelta = Math.max(1, Math.max.apply(null, deltas.map(function (d) { return d.refused + d.failed; }).concat([0])));
  setField('chartRefusalsMax', num(maxDelta));
  var barW = Math.max(2, W / Math.max(1, n - 1) - 3);
  deltas.forEach(function (d) {
    var hr = (H - 8) * d.refused / maxDelta, hf = (H - 8) * d.failed / maxDelta;
    var bx = x(d.i) - barW - 1;
    if (hr > 0) refusals.appendChild(svg('rect', { x: bx, y: H - hr, width: barW, height: hr, class: 'c-refused', rx: 1 }));
    if (hf > 0) refusals.appendChild(svg('rect', { x: bx, y: H - hr - hf, width: barW, height: hf, class: 'c-failed', rx: 1 }));
  });
}

var busy = false;
async function poll() {
  if (busy || document.hidden) return;
  busy = true;
  try {
    var r = await fetch('stats?clients=' + CLIENT_ROWS, { headers: authHeaders(), cache: 'no-store' });
    if (r.status === 401 || r.status === 403) { $('token-box').classList.add('wanted'); say('This admin listener needs the token to show figures.', false); return; }
    if (!r.ok) throw new Error('HTTP ' + r.status);
    render(await r.json());
    var hr = await fetch('history', { headers: authHeaders(), cache: 'no-store' });
    if (hr.ok) drawCharts(await hr.json());
    setField('link', 'live');
    $('link').className = 'pill ok';
  } catch (e) {
    setField('link', 'unreachable');
    $('link').className = 'pill bad';
  } finally {
    busy = false;
  }
}

async function act(path, confirmText) {
  if (!token()) {
    $('token-box').classList.add('wanted');
    $('token-input').focus();
    say('Enter the admin token (Authorization: Bearer) to use the actions.', false);
    return;
  }
  if (confirmText && !window.confirm(confirmText)) return;
  try {
    var r = await fetch(path.slice(1), { method: 'POST', headers: authHeaders() });
    var body = await r.json().catch(function () { return {}; });
    if (r.status === 401) { sessionStorage.removeItem(TOKEN_KEY); showToken(); say('Wrong token: enter it again.', false); return; }
    if (!r.ok) { say(path + ': ' + (body.error || 'HTTP ' + r.status), false); return; }
    say(path + ': done' + (body.reloaded ? ' (reloaded ' + body.reloaded.length + ', failed ' + body.failed.length + ')' : ''), true);
  } catch (e) {
    say(path + ': ' + e.message, false);
  }
  poll();
}

function showToken() {
  var has = !!token();
  $('token-input').hidden = has; $('token-save').hidden = has;
  $('token-forget').hidden = !has; $('token-state').textContent = has ? 'token kept for this tab' : 'admin token';
  $('token-box').classList.remove('wanted');
}
$('token-form').addEventListener('submit', function (e) {
  e.preventDefault();
  var v = $('token-input').value.trim();
  if (!v) return;
  sessionStorage.setItem(TOKEN_KEY, v);
  $('token-input').value = '';
  showToken(); say('Token kept in this tab (sessionStorage).', true); poll();
});
$('token-forget').addEventListener('click', function () { sessionStorage.removeItem(TOKEN_KEY); showToken(); say('Token forgotten.', true); });
$('recheck').addEventListener('click', function () { act('/recheck'); });
showToken();
poll();
setInterval(poll, POLL_MS);
document.addEventListener('visibilitychange', poll);
`;

const BODY = `
<header>
  <h1>ics-ts <span>server status</span></h1>
  <span id="state" class="pill muted" data-field="state">...</span>
  <span id="link" class="pill muted" data-field="link">connecting</span>
  <span class="meta">updated <span data-field="at">-</span> &middot; up <span data-field="uptime">-</span></span>
  <span class="spacer"></span>
  <form id="token-form" class="token" autocomplete="off">
    <span id="token-box" class="token"><span id="token-state" class="meta">admin token</span>
    <input id="token-input" type="password" placeholder="Bearer token" aria-label="admin token">
    <button id="token-save" type="submit">Keep</button>
    <button id="token-forget" type="button" hidden>Forget</button></span>
  </form>
</header>
<main>
  <div id="message" role="status"></div>
  <section class="kpis">
    <div class="kpi"><div class="label">Clients</div><div class="value" data-field="clientsNow">-</div><div class="sub">peak <span data-field="clientsPeak">-</span></div></div>
    <div class="kpi"><div class="label">Accepted</div><div class="value" data-field="accepted">-</div><div class="sub">admitted <span data-field="admitted">-</span></div></div>
    <div class="kpi" id="kpi-refused"><div class="label">Refused</div><div class="value" data-field="refused">-</div><div class="sub">TLS failed <span data-field="handshakesFailed">-</span></div></div>
    <div class="kpi"><div class="label">TLS handshakes</div><div class="value" data-field="handshakesDone">-</div><div class="sub">completed</div></div>
    <div class="kpi"><div class="label">Received</div><div class="value" data-field="bytesIn">-</div><div class="sub">sent <span data-field="bytesOut">-</span></div></div>
    <div class="kpi"><div class="label">Queued now</div><div class="value" data-field="bytesQueued">-</div><div class="sub">to all peers</div></div>
    <div class="kpi"><div class="label">Aborts</div><div class="value" data-field="aborts">-</div><div class="sub">timeouts <span data-field="timeouts">-</span> &middot; exc. <span data-field="bgExceptions">-</span></div></div>
  </section>
  <section class="grid3">
    <div class="card"><h2>Clients <span class="count">last <span data-field="chartSpan">-</span></span><span class="spacer"></span>
      <span class="legend"><span><i class="sw-accent"></i>connected</span></span></h2>
      <div class="chart"><span class="ymax" data-field="chartClientsMax"></span><svg id="chart-clients" viewBox="0 0 600 150" preserveAspectRatio="none" role="img" aria-label="clients over time"></svg></div>
      <div class="axis"><span>earlier</span><span>now</span></div></div>
    <div class="card"><h2>Refusals <span class="count">per sample</span><span class="spacer"></span>
      <span class="legend"><span><i class="sw-bad"></i>refused</span><span><i class="sw-warn"></i>TLS failed</span></span></h2>
      <div class="chart"><span class="ymax" data-field="chartRefusalsMax"></span><svg id="chart-refusals" viewBox="0 0 600 150" preserveAspectRatio="none" role="img" aria-label="refusals over time"></svg></div>
      <div class="axis"><span>earlier</span><span>now</span></div></div>
    <div class="card"><h2>Refusal reasons</h2>
      <table><thead><tr><th>stage</th><th>reason</th><th class="num">count</th><th></th></tr></thead>
      <tbody id="reasons"></tbody></table></div>
  </section>
  <section class="card"><h2>Listeners <span class="count" data-field="listenerCount"></span></h2>
    <table><thead><tr><th></th><th>address</th><th>state</th><th></th><th class="num">clients</th><th class="num">accepted</th><th class="num">refused</th><th class="num">in</th><th class="num">out</th><th>last error</th><th></th></tr></thead>
    <tbody id="listeners"></tbody></table></section>
  <section class="card" id="hosts-card"><h2>Hosts <span class="count" data-field="hostCount"></span><span class="spacer"></span><button id="recheck" data-action="/recheck">Recheck certificates</button></h2>
    <table><thead><tr><th>host</th><th>names</th><th class="num">clients</th><th>certificate</th><th>expires</th><th>left</th><th>last recheck</th></tr></thead>
    <tbody id="hosts"></tbody></table></section>
  <section class="card"><h2>Clients <span class="count" data-field="clientCount"></span> <span class="count" data-field="clientsOmitted"></span></h2>
    <table><thead><tr><th class="num">id</th><th>peer</th><th>listener</th><th>host</th><th class="num">in</th><th class="num">out</th><th class="num">queued</th><th class="num">idle</th><th class="num">connected</th><th></th></tr></thead>
    <tbody id="clients"></tbody></table></section>
  <footer>raw figures: <a href="metrics">/metrics</a> (Prometheus) &middot; <a href="stats">/stats</a> (JSON) &middot; refreshed every 2 s</footer>
</main>
`;

const SWATCHES = `.sw-accent{background:var(--accent)}.sw-bad{background:var(--bad)}.sw-warn{background:var(--warn)}
.c-grid{stroke:var(--line)}.c-area{fill:var(--accent);fill-opacity:.14}.c-line{fill:none;stroke:var(--accent);stroke-width:2}
.c-dot{fill:var(--accent)}.c-refused{fill:var(--bad);fill-opacity:.8}.c-failed{fill:var(--warn);fill-opacity:.8}`;
const FULL_STYLE = STYLE + SWATCHES;

function sha256(text: string): string {
  return `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;
}

export const STATUS_PAGE_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>ics-ts status</title><link rel="icon" href="data:,"><style>${FULL_STYLE}</style></head>
<body>${BODY}<script>${SCRIPT}</script></body></html>
`;

export const STATUS_PAGE_CSP = [
  "default-src 'none'",
  `script-src ${sha256(SCRIPT)}`,
  `style-src ${sha256(FULL_STYLE)}`,
  "connect-src 'self'",
  'img-src data:',
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');
