// chaintrace workbench: the graph around an address or a saved case, over the JSON API.
// Every text from the store (labels, addresses) goes through textContent or cytoscape's canvas
// labels, never innerHTML.
'use strict';

const $ = (id) => document.getElementById(id);
const state = { chain: null, caseId: null, caseFile: null, chains: {}, selected: null, expanded: new Map(), filters: {}, panel: 0 };
// Every click that opens a panel takes the next number; an answer that arrives for an older one
// (the user clicked another node or an edge meanwhile) is dropped instead of replacing the panel.
function nextPanel() { state.panel += 1; return state.panel; }
function isCurrent(ticket) { return ticket === state.panel; }

// --- API -------------------------------------------------------------------------------------
(function token() {
  const m = location.hash.match(/token=([^&]+)/);
  if (m) { sessionStorage.setItem('chaintrace-token', decodeURIComponent(m[1])); history.replaceState(null, '', location.pathname + location.search); }
})();
function headers(extra) {
  const h = Object.assign({}, extra || {});
  const t = sessionStorage.getItem('chaintrace-token');
  if (t) h['Authorization'] = 'Bearer ' + t;
  return h;
}
async function api(path, opts) {
  opts = opts || {};
  const init = { method: opts.method || 'GET', headers: headers(opts.body ? { 'Content-Type': 'application/json' } : {}) };
  if (opts.body) init.body = JSON.stringify(opts.body);
  const r = await fetch('/api' + path, init);
  if (opts.raw) { if (!r.ok) throw new Error((await r.json()).error); return r; }
  const j = await r.json();
  if (!r.ok) throw new Error(j.error || r.statusText);
  return j;
}
function status(text, isError) { const s = $('status'); s.textContent = text; s.className = isError ? 'error' : 'muted'; }
function el(tag, text, cls) { const e = document.createElement(tag); if (text !== undefined && text !== null) e.textContent = String(text); if (cls) e.className = cls; return e; }
function short(a) { return a.length > 16 ? a.slice(0, 8) + '…' + a.slice(-6) : a; }
const enc = encodeURIComponent;

// --- graph -----------------------------------------------------------------------------------
let cy = null;
const PALETTE = ['#4e79a7', '#59a14f', '#b07aa1', '#76b7b2', '#9c755f', '#e15759', '#edc948', '#ff9da7'];
function assetColour(a) { let h = 0; for (const c of String(a)) h = (h * 31 + c.charCodeAt(0)) >>> 0; return PALETTE[h % PALETTE.length]; }

function initGraph() {
  cy = cytoscape({
    container: $('graph'),
    wheelSensitivity: 0.3,
    style: [
      { selector: 'node', style: { 'background-color': '#9aa7b4', 'label': 'data(label)', 'font-size': 10, 'text-valign': 'bottom', 'text-margin-y': 4, 'width': 22, 'height': 22, 'text-wrap': 'wrap', 'text-max-width': 160 } },
      { selector: 'node[kind = "seed"]', style: { 'background-color': '#d62728' } },
      { selector: 'node[kind = "deposit"]', style: { 'background-color': '#f4a300', 'shape': 'round-rectangle' } },
      { selector: 'node[kind = "exchange"]', style: { 'background-color': '#1f77b4', 'shape': 'diamond' } },
      { selector: 'node[kind = "stop"]', style: { 'border-width': 2, 'border-color': '#17212b' } },
      { selector: 'node:selected', style: { 'border-width': 3, 'border-color': '#000' } },
      { selector: 'edge', style: { 'width': 2, 'line-color': 'data(colour)', 'target-arrow-color': 'data(colour)', 'target-arrow-shape': 'triangle', 'curve-style': 'bezier', 'label': 'data(label)', 'font-size': 9, 'text-background-color': '#fff', 'text-background-opacity': 0.8 } },
      { selector: '.hidden', style: { 'display': 'none' } },
    ],
    layout: { name: 'preset' },
  });
  window.cy = cy; // for the browser test and the console
  cy.on('tap', 'node', (e) => { onNode(e.target); });
  cy.on('tap', 'edge', (e) => { showEdge(e.target); });
}

function layoutByHop() {
  const byHop = new Map();
  cy.nodes().forEach((n) => { const h = n.data('hop') || 0; if (!byHop.has(h)) byHop.set(h, []); byHop.get(h).push(n); });
  for (const [h, nodes] of byHop) {
    nodes.sort((a, b) => (a.data('id') < b.data('id') ? -1 : 1));
    nodes.forEach((n, i) => n.position({ x: h * 240, y: (i - (nodes.length - 1) / 2) * 70 }));
  }
  cy.fit(undefined, 40);
}

function kindOf(role, labels) {
  if (role === 'seed') return 'seed';
  if (role === 'deposit' || (labels || []).some((l) => l.category === 'exchange_deposit')) return 'deposit';
  if ((labels || []).some((l) => l.category === 'exchange')) return 'exchange';
  return role === 'stop' ? 'stop' : 'other';
}
function nodeLabel(addr, labels) {
  const l = (labels || [])[0];
  return short(addr) + (l ? '\n' + l.entity : '');
}
function addNode(addr, hop, role, labels, parent, chain) {
  const ex = cy.getElementById(addr);
  if (ex.nonempty()) return ex;
  return cy.add({ group: 'nodes', data: { id: addr, label: nodeLabel(addr, labels), hop, role, kind: kindOf(role, labels), labels: labels || [], parent_of: parent || null, chain: chain || state.chain } });
}
// The chain an address of the graph is on (a case over several chains names each node's).
function chainOf(node) { return node.data('chain') || state.chain; }
function addTransfer(t) {
  const id = t.from + '->' + t.to;
  let e = cy.getElementById(id);
  if (e.empty()) {
    e = cy.add({ group: 'edges', data: { id, source: t.from, target: t.to, transfers: [], colour: assetColour(t.asset), label: '' } });
  }
  const list = e.data('transfers');
  const key = t.tx + ':' + (t.position ? t.position.tx_index + '.' + t.position.sub : t.amount_raw);
  if (!list.some((x) => x._key === key)) { t._key = key; list.push(t); }
  const sym = list[0].symbol || list[0].asset;
  e.data('label', list.length === 1 ? list[0].amount + ' ' + sym : list.length + ' transfers');
  return e;
}

// --- loading ---------------------------------------------------------------------------------
async function openAddress(chain, address) {
  const ticket = nextPanel();
  state.chain = chain; state.caseId = null; state.caseFile = null; state.expanded.clear();
  cy.elements().remove();
  fillDeposits([]); fillExports();
  const s = await api('/address/' + enc(chain) + '/' + enc(address));
  addNode(s.address, 0, 'seed', s.labels);
  await expand(cy.getElementById(s.address));
  layoutByHop();
  if (isCurrent(ticket)) showNode(cy.getElementById(s.address), s);
  status(chain + ' ' + s.address);
}

async function openCase(id) {
  const c = await api('/cases/' + enc(id));
  // A walk over several chains: the selector shows the first; each node keeps its own chain.
  state.caseId = id; state.caseFile = c; state.chain = (c.chains && c.chains.length) ? c.chains[0] : c.chain; state.expanded.clear();
  $('chain').value = state.chain;
  cy.elements().remove();
  for (const n of c.nodes) addNode(n.address, n.hop, n.role, n.labels, null, n.chain || state.chain);
  for (const e of c.edges) addTransfer(Object.assign({}, e, { direction: 'out' }));
  layoutByHop();
  fillDeposits(c.deposits); fillExports();
  applyFilters();
  status('case ' + id + ': ' + c.nodes.length + ' addresses, ' + c.edges.length + ' transfers, ' + c.deposits.length + ' deposits');
}

async function expand(node) {
  const addr = node.id();
  const chain = chainOf(node);
  const r = await api('/address/' + enc(chain) + '/' + enc(addr) + '/transfers?direction=out&limit=200');
  const added = [];
  for (const t of r.transfers) {
    const existed = cy.getElementById(t.to).nonempty();
    if (!existed) { addNode(t.to, (node.data('hop') || 0) + 1, 'address', [], addr, chain); added.push(t.to); }
    addTransfer(t);
  }
  state.expanded.set(addr, added);
  return added;
}

function collapse(addr) {
  const added = state.expanded.get(addr) || [];
  state.expanded.delete(addr);
  for (const a of added) {
    if (state.expanded.has(a)) collapse(a);
    const n = cy.getElementById(a);
    if (n.nonempty() && n.incomers('edge').filter((e) => e.source().id() !== addr).empty()) n.remove();
  }
  cy.edges().filter((e) => e.source().id() === addr && !(state.caseFile && state.caseFile.edges.some((c) => c.from === addr && c.to === e.target().id()))).remove();
}

async function onNode(node) {
  state.selected = node.id();
  const ticket = nextPanel();
  try {
    if (state.expanded.has(node.id())) { collapse(node.id()); }
    else { const added = await expand(node); const p = node.position(); added.forEach((a, i) => cy.getElementById(a).position({ x: p.x + 240, y: p.y + (i - (added.length - 1) / 2) * 60 })); }
    applyFilters();
    if (!isCurrent(ticket)) return;
    const s = await api('/address/' + enc(chainOf(node)) + '/' + enc(node.id()));
    // Another node or an edge was opened while this answer was on its way.
    if (!isCurrent(ticket)) return;
    showNode(node, s);
  } catch (err) { if (isCurrent(ticket)) status(err.message, true); }
}

// --- panel -----------------------------------------------------------------------------------
function showNode(node, s) {
  state.selected = node.id();
  const p = $('panel'); p.replaceChildren();
  p.append(el('h3', s.address, 'mono'));
  p.append(el('div', 'in ' + s.degree.in + ' · out ' + s.degree.out + ' transfers', 'muted'));
  const chips = el('div'); chips.id = 'node-labels';
  for (const l of s.labels) chips.append(el('span', l.category + ': ' + l.entity + ' (' + l.source + ')', 'label-chip'));
  p.append(chips);
  const t = el('table'); const head = el('tr');
  ['asset', 'in', 'out', 'USD in', 'USD out'].forEach((h) => head.append(el('th', h)));
  t.append(head);
  for (const [asset, v] of Object.entries(s.totals)) {
    const r = el('tr');
    [v.symbol || asset, v.in, v.out, v.usd ? v.usd.in : '', v.usd ? v.usd.out : ''].forEach((x) => r.append(el('td', x)));
    t.append(r);
  }
  p.append(t);
  const f = el('form'); f.id = 'label-form';
  const cat = el('select'); cat.id = 'l-category';
  ['exchange', 'exchange_deposit', 'sanctioned', 'mixer', 'bridge', 'dex', 'otc', 'service', 'scam', 'other'].forEach((c) => { const o = el('option', c); cat.append(o); });
  const ent = el('input'); ent.id = 'l-entity'; ent.placeholder = 'entity'; ent.size = 16;
  const b = el('button', 'Add label'); b.type = 'submit';
  f.append(cat, ent, b);
  f.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      const l = await api('/labels', { method: 'POST', body: { chain: chainOf(node), address: s.address, category: cat.value, entity: ent.value } });
      chips.append(el('span', l.category + ': ' + l.entity + ' (' + l.source + ')', 'label-chip'));
      const n = cy.getElementById(s.address);
      const labels = (n.data('labels') || []).concat([l]);
      n.data({ labels, label: nodeLabel(s.address, labels), kind: kindOf(n.data('role'), labels) });
      status('label added');
    } catch (err) { status(err.message, true); }
  });
  p.append(el('h4', 'Add a label'), f);
}

function showEdge(edge) {
  nextPanel();
  const p = $('panel'); p.replaceChildren();
  p.append(el('h3', 'Transactions ' + short(edge.source().id()) + ' → ' + short(edge.target().id())));
  const t = el('table'); t.id = 'edge-transactions';
  const head = el('tr'); ['time', 'amount', 'USD', 'block', 'tx'].forEach((h) => head.append(el('th', h))); t.append(head);
  for (const x of edge.data('transfers')) {
    const r = el('tr');
    [x.time, x.amount + ' ' + (x.symbol || x.asset), x.usd || '', x.block].forEach((v) => r.append(el('td', v)));
    r.append(el('td', x.tx, 'mono'));
    t.append(r);
  }
  p.append(t);
}

function fillDeposits(deps) {
  const tb = $('deposits').querySelector('tbody'); tb.replaceChildren();
  for (const d of deps) {
    const r = el('tr');
    [d.exchange, d.address, d.symbol || d.asset, d.amount, d.usd || '', d.hops, d.time].forEach((v) => r.append(el('td', v)));
    r.append(el('td', d.tx, 'mono'));
    tb.append(r);
  }
}

function fillExports() {
  const x = $('exports'); x.replaceChildren();
  if (!state.caseId) return;
  x.append(el('span', 'export: ', 'muted'));
  for (const f of ['html', 'graphml', 'gexf', 'dot', 'json', 'csv']) {
    const b = el('button', f); b.type = 'button'; b.dataset.format = f;
    b.addEventListener('click', async () => {
      try {
        const r = await api('/cases/' + enc(state.caseId) + '/export/' + f, { raw: true });
        const blob = await r.blob();
        const name = (r.headers.get('Content-Disposition') || '').match(/filename="([^"]+)"/);
        const a = document.createElement('a'); a.href = URL.createObjectURL(blob); a.download = name ? name[1] : 'case.' + f;
        document.body.append(a); a.click(); a.remove();
        status('exported ' + f + ' (' + blob.size + ' bytes)');
      } catch (err) { status(err.message, true); }
    });
    x.append(b);
  }
}

// --- filters ---------------------------------------------------------------------------------
function applyFilters() {
  const since = Date.parse($('f-since').value) || null;
  const until = Date.parse($('f-until').value) || null;
  const asset = $('f-asset').value.trim().toLowerCase();
  const minUsd = parseFloat($('f-usd').value) || 0;
  let shown = 0;
  cy.edges().forEach((e) => {
    const ok = e.data('transfers').some((t) => {
      const time = Date.parse(t.time);
      if (since && time < since) return false;
      if (until && time > until) return false;
      if (asset && String(t.asset).toLowerCase() !== asset && String(t.symbol || '').toLowerCase() !== asset) return false;
      if (minUsd > 0 && !(parseFloat(t.usd || '0') >= minUsd)) return false;
      return true;
    });
    e.toggleClass('hidden', !ok);
    if (ok) shown++;
  });
  $('graph').dataset.visibleEdges = String(shown);
}

// --- start -----------------------------------------------------------------------------------
async function refreshCases() {
  const list = await api('/cases');
  const s = $('cases'); s.replaceChildren(el('option', 'saved cases…'));
  s.firstChild.value = '';
  for (const c of list) { const o = el('option', c.created + ' ' + c.chain + ' ' + c.seeds.map(short).join(',')); o.value = c.id; s.append(o); }
}

async function start() {
  initGraph();
  const stats = await api('/stats');
  const sel = $('chain');
  for (const name of Object.keys(stats.chains)) sel.append(Object.assign(el('option', name), { value: name }));
  await refreshCases();
  $('search').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const q = $('q').value.trim(); const chain = sel.value;
    if (!q) return;
    try { await openAddress(chain, q); history.replaceState(null, '', '/?chain=' + enc(chain) + '&address=' + enc(q)); }
    catch (err) {
      try {
        const r = await api('/labels?q=' + enc(q) + '&chain=' + enc(chain));
        const box = $('search-results'); box.replaceChildren();
        if (!r.labels.length) { status(err.message, true); return; }
        for (const l of r.labels) {
          const d = el('div', l.entity + ' — ' + l.category + ' — ' + l.address);
          d.addEventListener('click', () => { box.hidden = true; $('q').value = l.address; openAddress(chain, l.address).catch((e) => status(e.message, true)); });
          box.append(d);
        }
        box.hidden = false;
      } catch (err2) { status(err2.message, true); }
    }
  });
  $('cases').addEventListener('change', (ev) => { if (ev.target.value) openCase(ev.target.value).then(() => history.replaceState(null, '', '/?case=' + enc(ev.target.value))).catch((e) => status(e.message, true)); });
  $('f-apply').addEventListener('click', applyFilters);
  $('f-clear').addEventListener('click', () => { ['f-since', 'f-until', 'f-asset', 'f-usd'].forEach((i) => { $(i).value = ''; }); applyFilters(); });
  $('trace-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const seed = state.selected || (state.caseFile && state.caseFile.seeds[0]);
    if (!seed) { status('select a node to trace from', true); return; }
    try {
      status('tracing…');
      // An open case over several chains is traced again over all of them.
      const chains = (state.caseFile && state.caseFile.chains && state.caseFile.chains.length > 1) ? state.caseFile.chain : state.chain;
      const r = await api('/trace', { method: 'POST', body: { chain: chains, seeds: [seed], policy: $('t-policy').value, hops: parseInt($('t-hops').value, 10), direction: $('t-dir').value } });
      await refreshCases();
      await openCase(r.id);
      history.replaceState(null, '', '/?case=' + enc(r.id));
    } catch (err) { status(err.message, true); }
  });
  const u = new URLSearchParams(location.search);
  try {
    if (u.get('case')) await openCase(u.get('case'));
    else if (u.get('chain') && u.get('address')) { sel.value = u.get('chain'); $('q').value = u.get('address'); await openAddress(u.get('chain'), u.get('address')); }
  } catch (err) { status(err.message, true); }
  document.body.dataset.ready = '1';
}
document.addEventListener('DOMContentLoaded', () => { start().catch((e) => status(e.message, true)); });
