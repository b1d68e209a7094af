// The Sluice console: a small single-page app over /api/ (see /api/openapi.json).
// Hash routes: #/ overview, #/topics, #/topic/NAME, #/groups, #/group/NAME,
// #/share-group/NAME, #/transactions, #/access (ACLs and SCRAM users), #/schemas,
// #/schema/SUBJECT/VERSION. Charts are drawn on <canvas> by lineChart below. No dependencies.
// When the broker has a SASL listener the API answers 401 until a login: any 401 shows
// the login form (loginPage), which posts to /api/login and then shows the page again.
'use strict';

const main = document.getElementById('main');
let cleanup = []; // timers and event sources of the page shown now

// ---------- helpers ----------
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}
async function api(method, path, body) {
  const opts = { method, headers: {} };
  if (body !== undefined) { opts.body = JSON.stringify(body); opts.headers['content-type'] = 'application/json'; }
  const r = await fetch(path, opts);
  const data = await r.json().catch(() => ({ error: 'HTTP ' + r.status }));
  if (r.status === 401 && path !== '/api/login') loginPage();
  if (!r.ok) { const e = new Error(data.error_name ? data.error_name + ': ' + data.error : data.error); e.status = r.status; throw e; }
  return data;
}
function toast(msg, error) {
  const t = document.getElementById('toast');
  t.textContent = msg; t.className = error ? 'error' : ''; t.style.display = 'block';
  clearTimeout(toast.timer); toast.timer = setTimeout(() => { t.style.display = 'none'; }, 5000);
}
// Runs fn now and every ms until the page changes; a failed poll shows a toast and the
// next one tries again (a broker restarting, a topic deleted meanwhile).
function every(ms, fn) {
  const run = () => Promise.resolve().then(fn).catch(e => toast(e.message, true));
  run(); const id = setInterval(run, ms); cleanup.push(() => clearInterval(id));
}
function fmtBytes(n) {
  if (n === null || n === undefined) return '';
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB']; let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : n) + ' ' + u[i];
}
function fmtDuration(ms) {
  const s = Math.floor(ms / 1000), d = Math.floor(s / 86400), hh = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60);
  return (d ? d + 'd ' : '') + (d || hh ? hh + 'h ' : '') + m + 'm ' + (s % 60) + 's';
}
function card(label, value, id) { return h('div', { class: 'card' }, h('div', { class: 'label' }, label), h('div', { class: 'value', id }, value)); }
function table(headers, rows, attrs) {
  return h('table', attrs || {}, h('thead', {}, h('tr', {}, headers.map(c => h('th', { class: /^(size|lag|offsets?|partitions|count|high watermark|last stable offset|log start offset|held back|committed offset|rate \/s|segments|start offset|end offset|versions|iterations)$/i.test(c) ? 'num' : null }, c)))),
    h('tbody', {}, rows));
}
function b64ToBytes(b) { const s = atob(b); const out = new Uint8Array(s.length); for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i); return out; }
// Renders a base64 key/value as text, pretty JSON or hex; `auto` picks JSON if it parses,
// else text if it is valid UTF-8, else hex.
function render(b64, mode) {
  if (b64 === null || b64 === undefined) return h('span', { class: 'muted' }, 'null');
  const bytes = b64ToBytes(b64);
  const hex = () => Array.from(bytes, x => x.toString(16).padStart(2, '0')).join(' ');
  let text = null;
  try { text = new TextDecoder('utf-8', { fatal: true }).decode(bytes); } catch (e) { text = null; }
  if (mode === 'hex' || (mode !== 'text' && text === null)) return h('pre', { class: 'value' }, hex());
  if (mode === 'json' || mode === 'auto') {
    try { return h('pre', { class: 'value' }, JSON.stringify(JSON.parse(text), null, 2)); } catch (e) { if (mode === 'json') return h('pre', { class: 'value' }, '(not JSON) ' + text); }
  }
  return h('pre', { class: 'value' }, text === null ? hex() : text);
}
function keyText(b64) {
  if (b64 === null || b64 === undefined) return 'null';
  try { return new TextDecoder('utf-8', { fatal: true }).decode(b64ToBytes(b64)); } catch (e) { return '0x' + Array.from(b64ToBytes(b64), x => x.toString(16).padStart(2, '0')).join(''); }
}

// A line chart on a canvas: series = [{label, color, points: [[t, y], ...]}].
function lineChart(canvas, series, fmt) {
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth || 400, hgt = canvas.clientHeight || 180;
  canvas.width = w * dpr; canvas.height = hgt * dpr;
  const c = canvas.getContext('2d'); c.scale(dpr, dpr); c.clearRect(0, 0, w, hgt);
  const all = series.flatMap(s => s.points);
  const left = 64, bottom = 20, top = 8, right = 8;
  c.font = '11px system-ui'; c.fillStyle = '#66737f'; c.strokeStyle = '#dde3e9';
  if (all.length < 2) { c.fillText('collecting…', left, hgt / 2); return; }
  const t0 = Math.min(...all.map(p => p[0])), t1 = Math.max(...all.map(p => p[0]));
  const ymax = Math.max(1, ...all.map(p => p[1])) * 1.1;
  const x = t => left + (w - left - right) * (t1 === t0 ? 1 : (t - t0) / (t1 - t0));
  const y = v => top + (hgt - top - bottom) * (1 - v / ymax);
  for (let i = 0; i <= 4; i++) {
    const v = ymax * i / 4; c.beginPath(); c.moveTo(left, y(v)); c.lineTo(w - right, y(v)); c.stroke();
    c.fillText(fmt(v), 2, y(v) + 4);
  }
  c.fillText(Math.round((t1 - t0) / 1000) + ' s', w - 40, hgt - 4);
  for (const s of series) {
    if (!s.points.length) continue;
    c.strokeStyle = s.color; c.lineWidth = s.width || 2; c.setLineDash(s.dash || []); c.beginPath();
    s.points.forEach((p, i) => i ? c.lineTo(x(p[0]), y(p[1])) : c.moveTo(x(p[0]), y(p[1])));
    c.stroke(); c.lineWidth = 1; c.setLineDash([]); c.strokeStyle = '#dde3e9';
  }
}

// ---------- pages ----------
const history = { samples: [] }; // overview samples, kept across page changes (last 5 min)

async function overviewPage() {
  const cards = h('div', { class: 'cards' });
  const canvas = h('canvas', { class: 'chart', id: 'throughput-chart' });
  const topicsBox = h('div', {}), groupsBox = h('div', {}), listeners = h('div', {});
  main.replaceChildren(h('h1', {}, 'Overview'), cards,
    h('div', { class: 'panel' }, h('h2', {}, 'Throughput'),
      h('div', { class: 'legend' }, h('span', { class: 'in' }, '■ bytes in /s'), h('span', { class: 'out' }, '■ bytes out /s'), h('span', { id: 'rates', class: 'muted' })), canvas),
    h('div', { class: 'row' }, h('div', { class: 'panel' }, h('h2', {}, h('a', { href: '#/topics' }, 'Topics')), topicsBox),
      h('div', { class: 'panel' }, h('h2', {}, h('a', { href: '#/groups' }, 'Groups')), groupsBox)),
    h('div', { class: 'panel' }, h('h2', {}, 'Listeners'), listeners));
  every(1000, async () => {
    const o = await api('GET', '/api/overview');
    const now = Date.now();
    history.samples.push([now, o.bytes_in_total, o.bytes_out_total]);
    while (history.samples.length && history.samples[0][0] < now - 300000) history.samples.shift();
    cards.replaceChildren(card('Version', o.version), card('Uptime', fmtDuration(o.uptime_ms)), card('Topics', o.topics, 'ov-topics'),
      card('Partitions', o.partitions), card('Groups', o.groups), card('Disk use', fmtBytes(o.disk_bytes)),
      card('Bytes in', fmtBytes(o.bytes_in_total)), card('Bytes out', fmtBytes(o.bytes_out_total)));
    listeners.replaceChildren(table(['Name', 'Protocol', 'Bind', 'Advertised'], o.listeners.map(l => h('tr', {}, h('td', {}, l.name), h('td', {}, l.security_protocol), h('td', {}, l.bind), h('td', {}, l.advertised)))));
    const rate = idx => { const pts = []; const s = history.samples; for (let i = 1; i < s.length; i++) { const dt = (s[i][0] - s[i - 1][0]) / 1000; if (dt > 0) pts.push([s[i][0], Math.max(0, (s[i][idx] - s[i - 1][idx]) / dt)]); } return pts; };
    const ins = rate(1), outs = rate(2);
    // In is drawn wide and out dashed over it, so equal rates stay visible as two lines.
    lineChart(canvas, [{ color: '#1f8a4c', points: ins, width: 4 }, { color: '#c2571a', points: outs, dash: [6, 4] }], v => fmtBytes(v) + '/s');
    if (ins.length) document.getElementById('rates').textContent = 'now: ' + fmtBytes(ins[ins.length - 1][1]) + '/s in, ' + fmtBytes(outs[outs.length - 1][1]) + '/s out';
  });
  every(3000, async () => {
    const t = await api('GET', '/api/topics');
    topicsBox.replaceChildren(topicTable(t.topics.filter(x => !x.internal), false));
    const g = await api('GET', '/api/groups');
    groupsBox.replaceChildren(groupTable(g.groups));
  });
}

function topicTable(topics, withDelete) {
  return table(['Topic', 'Partitions', 'Offsets', 'Size', ''], topics.map(t => h('tr', { 'data-topic': t.name },
    h('td', {}, h('a', { href: '#/topic/' + encodeURIComponent(t.name) }, t.name), t.internal ? h('span', { class: 'badge' }, ' internal') : null),
    h('td', { class: 'num' }, t.partitions), h('td', { class: 'num' }, t.offsets), h('td', { class: 'num' }, fmtBytes(t.size_bytes)),
    h('td', {}, withDelete && !t.internal ? h('button', { class: 'danger', 'data-delete': t.name, onclick: async () => {
      if (!confirm('Delete topic ' + t.name + '?')) return;
      try { await api('DELETE', '/api/topics/' + encodeURIComponent(t.name)); toast('Deleted ' + t.name); route(); } catch (e) { toast(e.message, true); }
    } }, 'Delete') : null))), { id: 'topics-table' });
}
function groupTable(groups) {
  if (!groups.length) return h('p', { class: 'muted' }, 'No groups yet.');
  // Share groups (KIP-932) have their own page: no committed offsets, share-partitions.
  const link = g => (g.type === 'share' ? '#/share-group/' : '#/group/') + encodeURIComponent(g.group_id);
  return table(['Group', 'Type', 'State', 'Protocol type'], groups.map(g => h('tr', { 'data-group': g.group_id },
    h('td', {}, h('a', { href: link(g) }, g.group_id)), h('td', {}, h('span', { class: 'badge' }, g.type || 'classic')), h('td', {}, g.state), h('td', {}, g.protocol_type))), { id: 'groups-table' });
}

async function topicsPage() {
  const box = h('div', {});
  const name = h('input', { name: 'name', id: 'new-topic-name', required: true, placeholder: 'orders' });
  const parts = h('input', { name: 'partitions', id: 'new-topic-partitions', type: 'number', min: 1, max: 1000, value: 3 });
  const cfg = h('textarea', { id: 'new-topic-configs', placeholder: 'cleanup.policy=compact\nretention.ms=86400000' });
  const showInternal = h('input', { type: 'checkbox' });
  const refresh = async () => {
    const t = await api('GET', '/api/topics');
    box.replaceChildren(topicTable(t.topics.filter(x => showInternal.checked || !x.internal), true));
  };
  showInternal.addEventListener('change', refresh);
  main.replaceChildren(h('h1', {}, 'Topics'),
    h('div', { class: 'panel' }, h('h2', {}, 'Create a topic'),
      h('form', { id: 'create-topic', onsubmit: async ev => {
        ev.preventDefault();
        const configs = parseLines(cfg.value);
        try {
          await api('POST', '/api/topics', { name: name.value, partitions: Number(parts.value), configs: Object.fromEntries(configs) });
          toast('Created ' + name.value); location.hash = '#/topic/' + encodeURIComponent(name.value);
        } catch (e) { toast(e.message, true); }
      } }, h('label', {}, 'Name', name), h('label', {}, 'Partitions', parts), h('label', {}, 'Configs (name=value per line)', cfg), h('button', { type: 'submit' }, 'Create'))),
    h('div', { class: 'panel' }, h('label', { style: 'flex-direction:row;gap:6px' }, showInternal, 'show internal topics'), box));
  every(3000, refresh);
}
function parseLines(text) {
  return text.split('\n').map(l => l.trim()).filter(Boolean).map(l => { const i = l.indexOf('='); return i < 0 ? [l, ''] : [l.slice(0, i).trim(), l.slice(i + 1)]; });
}

async function topicPage(topic) {
  const enc = encodeURIComponent(topic);
  const partsBox = h('div', {}), cfgBox = h('div', {});
  const t = await api('GET', '/api/topics/' + enc);
  const partOptions = () => t.partitions.map(p => h('option', { value: p.partition }, String(p.partition)));
  // Message browser
  const bPart = h('select', { id: 'browse-partition' }, partOptions());
  const bOrder = h('select', { id: 'browse-order' }, h('option', { value: 'newest' }, 'newest first'), h('option', { value: 'oldest' }, 'oldest first'));
  const bOffset = h('input', { id: 'browse-offset', type: 'number', min: 0, placeholder: 'offset', style: 'width:90px' });
  const bTime = h('input', { id: 'browse-time', type: 'datetime-local' });
  const bKey = h('input', { id: 'browse-key', placeholder: 'key (exact)' });
  const bLimit = h('input', { id: 'browse-limit', type: 'number', min: 1, max: 500, value: 50, style: 'width:70px' });
  const bMode = h('select', { id: 'browse-render' }, ['auto', 'text', 'json', 'hex'].map(m => h('option', { value: m }, m)));
  // A value framed with a schema of the broker's registry, decoded by the broker.
  const decodedValue = d => h('div', { class: 'decoded' }, h('span', { class: 'badge' }, d.format + ' #' + d.schema_id), h('pre', {}, JSON.stringify(d.value, null, 1)));
  const results = h('div', { id: 'browse-results' });
  let lastPage = null;
  const showPage = () => {
    if (!lastPage) return;
    const mode = bMode.value;
    results.replaceChildren(h('p', { class: 'muted' }, lastPage.messages.length + ' records (scanned ' + lastPage.scanned + '), offsets ' + lastPage.log_start_offset + '…' + lastPage.high_watermark),
      table(['Offset', 'Timestamp', 'Key', 'Value', 'Headers'], lastPage.messages.map(m => h('tr', { 'data-offset': m.offset },
        h('td', { class: 'num' }, m.offset), h('td', {}, new Date(m.timestamp).toISOString()),
        h('td', {}, render(m.key, mode === 'auto' ? 'text' : mode)), h('td', { class: 'msg-value' }, m.value_decoded && (mode === 'auto' || mode === 'json') ? decodedValue(m.value_decoded) : render(m.value, mode)),
        h('td', {}, m.headers.map(x => h('div', {}, h('b', {}, x.key), ': ', keyText(x.value)))))), { id: 'messages-table' }));
  };
  bMode.addEventListener('change', showPage);
  const browse = async ev => {
    if (ev) ev.preventDefault();
    const q = new URLSearchParams({ partition: bPart.value, order: bOrder.value, limit: bLimit.value || 50 });
    if (bOffset.value !== '') q.set('offset', bOffset.value);
    else if (bTime.value) q.set('timestamp', String(new Date(bTime.value).getTime()));
    if (bKey.value) q.set('key', bKey.value);
    try { lastPage = await api('GET', '/api/topics/' + enc + '/messages?' + q); showPage(); } catch (e) { toast(e.message, true); }
  };
  // Produce form
  const pPart = h('select', { id: 'produce-partition' }, h('option', { value: '' }, 'by key'), partOptions());
  const pKey = h('input', { id: 'produce-key', placeholder: 'key' });
  const pValue = h('textarea', { id: 'produce-value', placeholder: '{"hello": "world"}' });
  const pHeaders = h('textarea', { id: 'produce-headers', placeholder: 'name=value per line (names may repeat)' });
  const produce = async ev => {
    ev.preventDefault();
    const body = { key: pKey.value === '' ? null : pKey.value, value: pValue.value, headers: parseLines(pHeaders.value).map(([key, value]) => ({ key, value })) };
    if (pPart.value !== '') body.partition = Number(pPart.value);
    try { const r = await api('POST', '/api/topics/' + enc + '/messages', body); toast('Produced to partition ' + r.partition + ' at offset ' + r.offset); document.getElementById('produce-result').textContent = 'partition ' + r.partition + ', offset ' + r.offset; refresh(); }
    catch (e) { toast(e.message, true); }
  };
  // Config editor
  const cName = h('input', { id: 'config-name', placeholder: 'retention.ms' });
  const cValue = h('input', { id: 'config-value', placeholder: 'value (empty: back to default)' });
  const alter = async ev => {
    ev.preventDefault();
    const body = cValue.value === '' ? { delete: [cName.value] } : { set: { [cName.value]: cValue.value } };
    try { await api('PATCH', '/api/topics/' + enc + '/configs', body); toast('Updated ' + cName.value); refresh(); } catch (e) { toast(e.message, true); }
  };
  // Live tail
  const tailBox = h('div', { class: 'tail', id: 'tail-records' }), topBox = h('div', { id: 'tail-top' }), tailStatus = h('span', { class: 'muted', id: 'tail-status' }, 'stopped');
  const tailWindow = h('input', { id: 'tail-window', type: 'number', min: 1, max: 300, value: 60, style: 'width:70px' });
  let source = null, tailCount = 0;
  const stopTail = () => { if (source) { source.close(); source = null; tailStatus.textContent = 'stopped'; } };
  const startTail = () => {
    stopTail(); tailCount = 0; tailBox.replaceChildren();
    source = new EventSource('/api/topics/' + enc + '/tail?top=10&window_ms=' + (Number(tailWindow.value || 60) * 1000));
    tailStatus.textContent = 'live';
    source.addEventListener('records', ev => {
      const d = JSON.parse(ev.data); tailCount += d.count;
      tailStatus.textContent = 'live: ' + tailCount + ' records';
      for (const m of d.messages) tailBox.prepend(h('div', { class: 'tail-record' }, h('span', { class: 'badge' }, 'p' + m.partition + '@' + m.offset), ' ', h('b', {}, keyText(m.key)), ' ', keyText(m.value).slice(0, 200)));
      while (tailBox.childNodes.length > 200) tailBox.lastChild.remove();
    });
    source.addEventListener('top_keys', ev => {
      const d = JSON.parse(ev.data);
      topBox.replaceChildren(table(['Key', 'Count', 'Rate /s'], d.keys.map(k => h('tr', { 'data-key': keyText(k.key) }, h('td', {}, keyText(k.key)), h('td', { class: 'num' }, k.count), h('td', { class: 'num' }, k.rate_per_sec.toFixed(2)))), { id: 'top-keys-table' }));
    });
    source.onerror = () => { tailStatus.textContent = 'reconnecting…'; };
  };
  cleanup.push(stopTail);
  const refresh = async () => {
    const d = await api('GET', '/api/topics/' + enc);
    partsBox.replaceChildren(table(['Partition', 'Log start offset', 'High watermark', 'Last stable offset', 'Size', 'Segments'], d.partitions.map(p => h('tr', {},
      h('td', {}, p.partition), h('td', { class: 'num' }, p.log_start_offset), h('td', { class: 'num' }, p.high_watermark), h('td', { class: 'num' }, p.last_stable_offset),
      h('td', { class: 'num' }, fmtBytes(p.size_bytes)), h('td', { class: 'num' }, p.segments))), { id: 'partitions-table' }));
    cfgBox.replaceChildren(table(['Config', 'Value', 'Source'], d.configs.map(c => h('tr', {}, h('td', {}, c.name), h('td', {}, c.sensitive ? '(sensitive)' : (c.value ?? '')), h('td', { class: 'muted' }, c.source))), { id: 'configs-table' }));
  };
  main.replaceChildren(h('h1', {}, 'Topic ', h('span', { id: 'topic-name' }, topic), ' ', h('span', { class: 'badge' }, t.partitions.length + ' partitions')),
    h('div', { class: 'panel' }, h('h2', {}, 'Partitions'), partsBox),
    h('div', { class: 'panel' }, h('h2', {}, 'Messages'),
      h('form', { id: 'browse-form', onsubmit: browse }, h('label', {}, 'Partition', bPart), h('label', {}, 'Order', bOrder), h('label', {}, 'Offset', bOffset), h('label', {}, 'or time', bTime),
        h('label', {}, 'Key search', bKey), h('label', {}, 'Limit', bLimit), h('label', {}, 'Show as', bMode), h('button', { type: 'submit', id: 'browse-button' }, 'Browse')), results),
    h('div', { class: 'row' },
      h('div', { class: 'panel' }, h('h2', {}, 'Produce'),
        h('form', { id: 'produce-form', onsubmit: produce }, h('label', {}, 'Partition', pPart), h('label', {}, 'Key', pKey), h('label', {}, 'Value', pValue), h('label', {}, 'Headers', pHeaders),
          h('button', { type: 'submit', id: 'produce-button' }, 'Produce')), h('p', { class: 'muted', id: 'produce-result' })),
      h('div', { class: 'panel' }, h('h2', {}, 'Live tail ', tailStatus),
        h('form', { onsubmit: ev => { ev.preventDefault(); startTail(); } }, h('label', {}, 'Top-keys window (s)', tailWindow), h('button', { type: 'submit', id: 'tail-start' }, 'Start'), h('button', { type: 'button', class: 'secondary', onclick: stopTail }, 'Stop')),
        h('h2', {}, 'Top keys'), topBox, h('h2', {}, 'Newest records'), tailBox)),
    h('div', { class: 'panel' }, h('h2', {}, 'Configs'),
      h('form', { id: 'config-form', onsubmit: alter }, h('label', {}, 'Name', cName), h('label', {}, 'Value', cValue), h('button', { type: 'submit' }, 'Set')), cfgBox));
  await refresh();
  every(2000, refresh);
  browse();
}

async function groupsPage() {
  const box = h('div', {});
  main.replaceChildren(h('h1', {}, 'Groups'), h('p', { class: 'muted' }, 'Classic and consumer (KIP-848) groups, and share groups (KIP-932).'), h('div', { class: 'panel' }, box));
  every(3000, async () => { const g = await api('GET', '/api/groups'); box.replaceChildren(groupTable(g.groups)); });
}

const lagHistory = {}; // group -> [[t, lag_sum]], kept across page changes (last 10 min)
async function groupPage(group) {
  const enc = encodeURIComponent(group);
  const head = h('div', { class: 'cards' }), members = h('div', {}), offsets = h('div', {}), inFlight = h('div', {});
  const canvas = h('canvas', { class: 'chart', id: 'lag-chart' });
  const to = h('select', { id: 'reset-to' }, ['earliest', 'latest', 'timestamp'].map(x => h('option', { value: x }, x)));
  const when = h('input', { id: 'reset-time', type: 'datetime-local' });
  const topicSel = h('input', { id: 'reset-topic', placeholder: 'topic (default: all committed)' });
  const hist = lagHistory[group] = lagHistory[group] || [];
  main.replaceChildren(h('h1', {}, 'Group ', h('span', { id: 'group-name' }, group)), head,
    h('div', { class: 'panel' }, h('h2', {}, 'Lag over time (sum over partitions)'), canvas),
    h('div', { class: 'panel' }, h('h2', {}, 'Lag per partition'), offsets),
    h('div', { class: 'panel' }, h('h2', {}, 'Members'), members),
    h('div', { class: 'panel' }, h('h2', {}, 'Reset offsets (only while the group is Empty)'),
      h('form', { id: 'reset-form', onsubmit: async ev => {
        ev.preventDefault();
        const body = { to: to.value };
        if (to.value === 'timestamp') body.timestamp = new Date(when.value).getTime();
        if (topicSel.value) body.topic = topicSel.value;
        try { const r = await api('POST', '/api/groups/' + enc + '/reset-offsets', body); toast('Reset ' + r.offsets.length + ' partitions'); } catch (e) { toast(e.message, true); }
      } }, h('label', {}, 'To', to), h('label', {}, 'Time', when), h('label', {}, 'Topic', topicSel), h('button', { type: 'submit' }, 'Reset'))));
  every(1000, async () => {
    const g = await api('GET', '/api/groups/' + enc);
    hist.push([Date.now(), g.lag_sum]); while (hist.length && hist[0][0] < Date.now() - 600000) hist.shift();
    head.replaceChildren(card('State', g.state, 'group-state'), card('Protocol', (g.protocol_type || '-') + ' / ' + (g.protocol || '-')), card('Members', g.members.length), card('Total lag', g.lag_sum, 'group-lag'));
    offsets.replaceChildren(table(['Topic', 'Partition', 'Committed offset', 'High watermark', 'Lag'], g.offsets.map(o => h('tr', { 'data-partition': o.topic + '-' + o.partition },
      h('td', {}, h('a', { href: '#/topic/' + encodeURIComponent(o.topic) }, o.topic)), h('td', {}, o.partition), h('td', { class: 'num' }, o.committed_offset), h('td', { class: 'num' }, o.high_watermark ?? ''), h('td', { class: 'num lag' }, o.lag ?? ''))), { id: 'lag-table' }));
    members.replaceChildren(g.members.length ? table(['Member', 'Client id', 'Host', 'Assignment'], g.members.map(m => h('tr', {}, h('td', {}, m.member_id), h('td', {}, m.client_id), h('td', {}, m.client_host),
      h('td', {}, m.assignments.map(a => a.topic + ': ' + a.partitions.join(',')).join('; '))))) : h('p', { class: 'muted' }, 'No members.'));
    lineChart(canvas, [{ color: '#1264a3', points: hist }], v => String(Math.round(v)));
  });
}

async function shareGroupPage(group) {
  const enc = encodeURIComponent(group);
  const head = h('div', { class: 'cards' }), members = h('div', {}), offsets = h('div', {}), inFlight = h('div', {});
  main.replaceChildren(h('h1', {}, 'Share group ', h('span', { id: 'share-group-name' }, group)), head,
    h('div', { class: 'panel' }, h('h2', {}, 'Share-partitions: start offset, end offset, lag'),
      h('p', { class: 'muted' }, 'Lag as DescribeShareGroupOffsets v1 computes it: end offset - start offset - records past the start whose delivery is complete (acknowledged or archived).'), offsets),
    h('div', { class: 'panel' }, h('h2', {}, 'In flight'),
      h('p', { class: 'muted' }, 'Records past the start offset, in runs of one state, delivery count and holder: acquired ones with their member and the time left on the lock, the rest with the deliveries they had.'), inFlight),
    h('div', { class: 'panel' }, h('h2', {}, 'Members'), members));
  every(1000, async () => {
    const g = await api('GET', '/api/share-groups/' + enc);
    const runs = g.offsets.flatMap(o => o.in_flight ? o.in_flight.runs.map(r => [o, r]) : []);
    const truncated = g.offsets.some(o => o.in_flight && o.in_flight.truncated);
    inFlight.replaceChildren(runs.length ? table(['Topic', 'Partition', 'Offsets', 'State', 'Deliveries', 'Member', 'Lock left (ms)'], runs.map(([o, r]) => h('tr', { 'data-partition': o.topic + '-' + o.partition, 'data-state': r.state },
      h('td', {}, o.topic), h('td', {}, o.partition), h('td', { class: 'num' }, r.first_offset === r.last_offset ? r.first_offset : r.first_offset + '…' + r.last_offset),
      h('td', {}, r.state), h('td', { class: 'num' }, r.delivery_count), h('td', {}, r.member_id ?? ''), h('td', { class: 'num' }, r.lock_remaining_ms ?? ''))), { id: 'share-in-flight-table' })
      : h('p', { class: 'muted' }, 'Nothing in flight.'));
    if (truncated) inFlight.append(h('p', { class: 'muted' }, 'Only the first 200 runs of a share-partition are listed.'));
    head.replaceChildren(card('State', g.state, 'share-group-state'), card('Group epoch', g.group_epoch, 'share-group-epoch'), card('Assignment epoch', g.assignment_epoch),
      card('Members', g.members.length, 'share-group-members'), card('Total lag', g.lag_sum, 'share-group-lag'));
    offsets.replaceChildren(g.offsets.length ? table(['Topic', 'Partition', 'Start offset', 'End offset', 'Lag'], g.offsets.map(o => h('tr', { 'data-partition': o.topic + '-' + o.partition },
      h('td', {}, h('a', { href: '#/topic/' + encodeURIComponent(o.topic) }, o.topic)), h('td', {}, o.partition), h('td', { class: 'num' }, o.start_offset ?? '-'),
      h('td', { class: 'num' }, o.end_offset ?? ''), h('td', { class: 'num lag' }, o.lag ?? '-'))), { id: 'share-lag-table' }) : h('p', { class: 'muted' }, 'No share-partition is initialized yet.'));
    members.replaceChildren(g.members.length ? table(['Member', 'Client id', 'Host', 'Epoch', 'Assignment'], g.members.map(m => h('tr', {}, h('td', {}, m.member_id), h('td', {}, m.client_id), h('td', {}, m.client_host),
      h('td', { class: 'num' }, m.member_epoch), h('td', {}, m.assignments.map(a => a.topic + ': ' + a.partitions.join(',')).join('; ')))), { id: 'share-members-table' }) : h('p', { class: 'muted' }, 'No members.'));
  });
}

const ACL_RESOURCES = ['TOPIC', 'GROUP', 'CLUSTER', 'TRANSACTIONAL_ID', 'DELEGATION_TOKEN', 'USER'];
const ACL_OPERATIONS = ['ALL', 'READ', 'WRITE', 'CREATE', 'DELETE', 'ALTER', 'DESCRIBE', 'CLUSTER_ACTION', 'DESCRIBE_CONFIGS', 'ALTER_CONFIGS', 'IDEMPOTENT_WRITE', 'CREATE_TOKENS', 'DESCRIBE_TOKENS'];
async function accessPage() {
  const options = list => list.map(x => h('option', { value: x }, x));
  const aclBox = h('div', { id: 'acls-box' }), userBox = h('div', { id: 'users-box' });
  const rType = h('select', { id: 'acl-resource-type' }, options(ACL_RESOURCES));
  const rName = h('input', { id: 'acl-resource-name', required: true, placeholder: 'orders (kafka-cluster for CLUSTER)' });
  const pType = h('select', { id: 'acl-pattern-type' }, options(['LITERAL', 'PREFIXED']));
  const principal = h('input', { id: 'acl-principal', required: true, placeholder: 'User:alice' });
  const host = h('input', { id: 'acl-host', value: '*', style: 'width:110px' });
  const op = h('select', { id: 'acl-operation' }, options(ACL_OPERATIONS));
  const perm = h('select', { id: 'acl-permission' }, options(['ALLOW', 'DENY']));
  const uName = h('input', { id: 'user-name', required: true, placeholder: 'carol', autocomplete: 'off' });
  const uPassword = h('input', { id: 'user-password', type: 'password', required: true, autocomplete: 'new-password' });
  const uMech = h('select', { id: 'user-mechanism' }, options(['SCRAM-SHA-512', 'SCRAM-SHA-256']));
  const uIter = h('input', { id: 'user-iterations', type: 'number', min: 4096, max: 16384, value: 4096, style: 'width:90px' });
  const refreshAcls = async () => {
    const d = await api('GET', '/api/acls');
    if (!d.authorizer_enabled) { aclBox.replaceChildren(h('p', { class: 'muted', id: 'acls-disabled' }, 'No authorizer is configured on this broker (authorizer.class.name): every request is allowed and there are no ACLs.')); return; }
    aclBox.replaceChildren(d.acls.length ? table(['Resource', 'Name', 'Pattern', 'Principal', 'Host', 'Operation', 'Permission', ''], d.acls.map(a => h('tr', { 'data-acl': [a.resource_type, a.resource_name, a.principal, a.operation].join('|') },
      h('td', {}, a.resource_type), h('td', {}, a.resource_name), h('td', {}, a.pattern_type), h('td', {}, a.principal), h('td', {}, a.host), h('td', {}, a.operation),
      h('td', {}, h('span', { class: a.permission === 'DENY' ? 'badge deny' : 'badge' }, a.permission)),
      h('td', {}, h('button', { class: 'danger', onclick: async () => {
        if (!confirm('Delete this ACL?')) return;
        try { await api('DELETE', '/api/acls?' + new URLSearchParams(a)); toast('Deleted the ACL'); refreshAcls(); } catch (e) { toast(e.message, true); }
      } }, 'Delete')))), { id: 'acls-table' }) : h('p', { class: 'muted' }, 'No ACLs.'), d.truncated ? h('p', { class: 'muted' }, 'Only the first 1000 bindings are listed.') : '');
  };
  const refreshUsers = async () => {
    const d = await api('GET', '/api/users');
    userBox.replaceChildren(d.users.length ? table(['User', 'Mechanisms (iterations)', ''], d.users.map(u => h('tr', { 'data-user': u.user },
      h('td', {}, u.user), h('td', {}, u.credentials.map(c => c.mechanism + ' (' + c.iterations + ')').join(', ')),
      h('td', {}, h('button', { class: 'danger', onclick: async () => {
        if (!confirm('Remove user ' + u.user + '?')) return;
        try { await api('DELETE', '/api/users/' + encodeURIComponent(u.user)); toast('Removed ' + u.user); refreshUsers(); } catch (e) { toast(e.message, true); }
      } }, 'Remove')))), { id: 'users-table' }) : h('p', { class: 'muted' }, 'No SCRAM users.'));
  };
  main.replaceChildren(h('h1', {}, 'ACLs and users'),
    h('div', { class: 'panel' }, h('h2', {}, 'ACL bindings'), aclBox),
    h('div', { class: 'panel' }, h('h2', {}, 'Create an ACL'),
      h('form', { id: 'acl-form', onsubmit: async ev => {
        ev.preventDefault();
        const body = { resource_type: rType.value, resource_name: rName.value, pattern_type: pType.value, principal: principal.value, host: host.value, operation: op.value, permission: perm.value };
        try { await api('POST', '/api/acls', body); toast('Created the ACL'); refreshAcls(); } catch (e) { toast(e.message, true); }
      } }, h('label', {}, 'Resource type', rType), h('label', {}, 'Resource name', rName), h('label', {}, 'Pattern', pType), h('label', {}, 'Principal', principal),
        h('label', {}, 'Host', host), h('label', {}, 'Operation', op), h('label', {}, 'Permission', perm), h('button', { type: 'submit', id: 'acl-create' }, 'Create'))),
    h('div', { class: 'panel' }, h('h2', {}, 'SCRAM users'), userBox),
    h('div', { class: 'panel' }, h('h2', {}, 'Add a user or change a password'),
      h('p', { class: 'muted' }, 'The console salts and hashes the password (PBKDF2) and sends the broker only the salted password (AlterUserScramCredentials).'),
      h('form', { id: 'user-form', onsubmit: async ev => {
        ev.preventDefault();
        try {
          await api('PUT', '/api/users/' + encodeURIComponent(uName.value), { password: uPassword.value, mechanism: uMech.value, iterations: Number(uIter.value) });
          uPassword.value = ''; toast('Saved ' + uName.value); refreshUsers();
        } catch (e) { toast(e.message, true); }
      } }, h('label', {}, 'User', uName), h('label', {}, 'Password', uPassword), h('label', {}, 'Mechanism', uMech), h('label', {}, 'Iterations', uIter), h('button', { type: 'submit', id: 'user-save' }, 'Save'))));
  await Promise.all([refreshAcls(), refreshUsers()]);
  every(5000, () => Promise.all([refreshAcls(), refreshUsers()]));
}

// A schema's text as stored, pretty-printed when it is JSON (Avro and JSON Schema).
function prettySchema(text) {
  try { return JSON.stringify(JSON.parse(text), null, 2); } catch (e) { return text; }
}
async function schemasPage() {
  const box = h('div', {});
  main.replaceChildren(h('h1', {}, 'Schemas'), box);
  const d = await api('GET', '/api/schemas');
  if (!d.enabled) { box.replaceChildren(h('div', { class: 'panel' }, h('p', { class: 'muted', id: 'schemas-disabled' }, 'The schema registry is disabled on this broker (sluice.schema.registry.listen is empty).'))); return; }
  box.replaceChildren(h('div', { class: 'cards' }, card('Subjects', d.subjects.length, 'schema-subjects'), card('Global compatibility', d.compatibility)),
    h('div', { class: 'panel' }, h('h2', {}, 'Subjects'), d.subjects.length ? table(['Subject', 'Type', 'Latest id', 'Compatibility', 'Versions'], d.subjects.map(s => h('tr', { 'data-subject': s.subject },
      h('td', {}, h('a', { href: '#/schema/' + encodeURIComponent(s.subject) + '/latest' }, s.subject)), h('td', {}, s.schema_type ?? ''), h('td', { class: 'num' }, s.latest_id ?? ''), h('td', {}, s.compatibility),
      h('td', {}, s.versions.map(v => h('a', { href: '#/schema/' + encodeURIComponent(s.subject) + '/' + v, class: 'version' }, String(v)))))), { id: 'schemas-table' })
      : h('p', { class: 'muted' }, 'No subjects yet: register a schema through the registry\'s REST API.'), d.truncated ? h('p', { class: 'muted' }, 'Only the first 1000 subjects are listed.') : null));
}
async function schemaPage(arg) {
  const i = arg.lastIndexOf('/');
  const subject = decodeURIComponent(i < 0 ? arg : arg.slice(0, i)), version = i < 0 ? 'latest' : arg.slice(i + 1);
  const s = await api('GET', '/api/schemas/' + encodeURIComponent(subject) + '/versions/' + encodeURIComponent(version));
  main.replaceChildren(...[h('h1', {}, 'Subject ', h('span', { id: 'schema-subject' }, s.subject), ' ', h('span', { class: 'badge' }, 'version ' + s.version)),
    h('div', { class: 'cards' }, card('Version', s.version, 'schema-version'), card('Id', s.id, 'schema-id'), card('Type', s.schema_type, 'schema-type'), card('Compatibility', s.compatibility, 'schema-compatibility')),
    h('div', { class: 'panel' }, h('h2', {}, 'Versions'), h('p', {}, s.versions.map(v => h('a', { href: '#/schema/' + encodeURIComponent(s.subject) + '/' + v, class: v === s.version ? 'version active' : 'version' }, String(v))))),
    s.references.length ? h('div', { class: 'panel' }, h('h2', {}, 'References'), table(['Name', 'Subject', 'Version'], s.references.map(r => h('tr', {}, h('td', {}, r.name), h('td', {}, r.subject), h('td', {}, r.version))))) : null,
    h('div', { class: 'panel' }, h('h2', {}, 'Schema'), h('pre', { class: 'schema', id: 'schema-text' }, prettySchema(s.schema))),
    h('p', {}, h('a', { href: '#/schemas' }, '← all subjects'))].filter(Boolean));
}

async function transactionsPage() {
  const txBox = h('div', {}), heldBox = h('div', {});
  main.replaceChildren(h('h1', {}, 'Transactions'), h('div', { class: 'panel' }, h('h2', {}, 'Transactional producers'), txBox),
    h('div', { class: 'panel' }, h('h2', {}, 'Partitions held back by open transactions'), heldBox));
  every(2000, async () => {
    const d = await api('GET', '/api/transactions');
    txBox.replaceChildren(d.transactions.length ? table(['Transactional id', 'State', 'Producer', 'Timeout', 'Started', 'Partitions'], d.transactions.map(t => h('tr', {},
      h('td', {}, t.transactional_id), h('td', {}, t.state), h('td', {}, t.producer_id + ' / ' + t.producer_epoch), h('td', {}, t.timeout_ms + ' ms'),
      h('td', {}, t.start_time_ms > 0 ? new Date(t.start_time_ms).toISOString() : '-'), h('td', {}, t.partitions.map(p => p.topic + ': ' + p.partitions.join(',')).join('; ')))), { id: 'transactions-table' }) : h('p', { class: 'muted' }, 'No transactional ids.'));
    heldBox.replaceChildren(d.held_back_partitions.length ? table(['Topic', 'Partition', 'High watermark', 'Last stable offset', 'Held back', 'Open transactions (producer @ first offset)'], d.held_back_partitions.map(p => h('tr', {},
      h('td', {}, p.topic), h('td', {}, p.partition), h('td', { class: 'num' }, p.high_watermark), h('td', { class: 'num' }, p.last_stable_offset), h('td', { class: 'num' }, p.held_back),
      h('td', {}, p.open_transactions.map(o => o.producer_id + '@' + o.current_txn_start_offset).join(', '))))) : h('p', { class: 'muted' }, 'No partition is held back: every last stable offset equals its high watermark.'));
  });
}

// ---------- login ----------
function loginPage() {
  if (document.getElementById('login-form')) return;
  for (const f of cleanup) f();
  cleanup = [];
  const user = h('input', { id: 'login-user', name: 'user', autocomplete: 'username', required: true });
  const password = h('input', { id: 'login-password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const error = h('p', { class: 'error', id: 'login-error' });
  const form = h('form', { id: 'login-form', onsubmit: async ev => {
    ev.preventDefault();
    try {
      await api('POST', '/api/login', { user: user.value, password: password.value });
      await showWho();
      main.replaceChildren(h('p', {}, 'Loading…'));
      route();
    } catch (e) { error.textContent = e.message; }
  } },
  h('h1', {}, 'Log in'),
  h('p', { class: 'muted' }, 'This broker has SASL listeners: log in with a Kafka user (PLAIN or SCRAM).'),
  h('label', {}, 'User ', user), ' ', h('label', {}, 'Password ', password), ' ',
  h('button', { type: 'submit', id: 'login-submit' }, 'Log in'), error);
  main.replaceChildren(form);
  document.getElementById('who').replaceChildren();
  user.focus();
}
async function showWho() {
  const who = document.getElementById('who');
  const r = await fetch('/api/whoami');
  if (!r.ok) { who.replaceChildren(); return; }
  const w = await r.json();
  if (!w.login_required) { who.replaceChildren(); return; }
  who.replaceChildren(w.principal + ' ', h('button', { id: 'logout', onclick: async () => {
    await api('POST', '/api/logout');
    loginPage();
  } }, 'Log out'));
}

// ---------- router ----------
async function route() {
  for (const f of cleanup) f();
  cleanup = [];
  const hash = location.hash || '#/';
  const [, page, arg] = hash.match(/^#\/([^/]*)\/?(.*)$/) || [];
  const nav = page === 'share-group' ? 'groups' : (page || 'overview');
  document.querySelectorAll('[data-nav]').forEach(a => a.classList.toggle('active', a.dataset.nav === nav || a.dataset.nav === nav + 's'));
  try {
    if (!page) await overviewPage();
    else if (page === 'topics') await topicsPage();
    else if (page === 'topic') await topicPage(decodeURIComponent(arg));
    else if (page === 'groups') await groupsPage();
    else if (page === 'group') await groupPage(decodeURIComponent(arg));
    else if (page === 'share-group') await shareGroupPage(decodeURIComponent(arg));
    else if (page === 'transactions') await transactionsPage();
    else if (page === 'access') await accessPage();
    else if (page === 'schemas') await schemasPage();
    else if (page === 'schema') await schemaPage(arg);
    else main.replaceChildren(h('p', {}, 'No such page. ', h('a', { href: '#/' }, 'Overview')));
  } catch (e) {
    if (e.status === 401) loginPage();
    else main.replaceChildren(h('p', { class: 'error' }, e.message));
  }
}
window.addEventListener('hashchange', route);
showWho().catch(() => {});
route();
