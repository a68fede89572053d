// trip-receiver status page: reads the JSON API every REFRESH_MS and redraws in place (no reload).
// Credentials, when the API wants them, are asked for on the page, kept in sessionStorage and sent
// as an Authorization header; never put in a URL. Every text from the API goes in as textContent.
'use strict';

const REFRESH_MS = 2000;
const HEALED_RECENT_MS = 10 * 60 * 1000;
const ACTIONS_SHOWN = 50;
const RECENT_PER_CARD = 3;
const AUTH_KEY = 'trip-receiver.auth';
const RESOURCES = [
  { key: 'cpu', label: 'CPU' },
  { key: 'memory', label: 'Memory' },
  { key: 'replicas', label: 'Replicas' },
];
// Higher first. A state a filter can name is also the card's badge.
const URGENCY = {
  'crash-looping': 100, 'scaled-out': 30, healed: 20, stopped: 15, maintenance: 10, running: 0,
};
const FIRING_URGENCY = 40; // added when an alert fires: crash-looping still comes first

const $ = (id) => document.getElementById(id);
const page = {
  auth: sessionStorage.getItem(AUTH_KEY) || '',
  skewMs: 0, // server clock minus ours, from the Date header
  containers: [],
  actions: null, // null: the receiver has no action history
  cards: new Map(), // name -> {li, sig}
  timer: 0,
  busy: false,
};

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c);
  return e;
}

function now() {
  return Date.now() + page.skewMs;
}

function duration(ms) {
  if (ms <= 0) return '0s';
  const s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  if (h) return `${h}h${String(m).padStart(2, '0')}m`;
  if (m) return `${m}m${String(r).padStart(2, '0')}s`;
  return `${r}s`;
}

function bytes(n) {
  if (!n) return 'no limit';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1 && n % 1024 === 0) {
    n /= 1024;
    i++;
  }
  return `${n} ${units[i]}`;
}

function level(kind, key, v) {
  if (key === 'memory') return bytes(v);
  if (key === 'replicas') return `${v} replicas`;
  if (kind === 'service') return v ? `${v / 1e9} CPUs` : 'no limit';
  return `${v} shares`;
}

function clock(ms) {
  return new Date(ms).toLocaleTimeString([], { hour12: false });
}

// ---- API ----

async function api(path, options) {
  const headers = Object.assign({ Accept: 'application/json' }, (options && options.headers) || {});
  if (page.auth) headers.Authorization = page.auth;
  const res = await fetch(path, Object.assign({}, options, { headers, cache: 'no-store', credentials: 'omit' }));
  const date = Date.parse(res.headers.get('Date') || '');
  if (!Number.isNaN(date)) page.skewMs = date + 500 - Date.now();
  let body = null;
  try {
    body = await res.json();
  } catch (e) {
    body = null;
  }
  if (res.status === 401) {
    showLogin(page.auth ? 'The receiver refused these credentials.' : '');
    throw new Error('unauthorized');
  }
  return { status: res.status, body };
}

async function refresh() {
  clearTimeout(page.timer);
  try {
    const list = await api('/api/v1/containers');
    if (list.status !== 200 || !list.body) throw new Error(`containers: HTTP ${list.status}`);
    page.containers = list.body.containers || [];
    page.dryRun = !!list.body.dry_run;
    const acts = await api('/api/v1/actions?limit=200');
    page.actions = acts.status === 200 && acts.body ? acts.body.actions || [] : null;
    showBoard();
    render();
    setStatus('');
  } catch (e) {
    if (e.message !== 'unauthorized') setStatus(`Receiver unreachable (${e.message}); retrying.`);
  }
  page.timer = setTimeout(refresh, REFRESH_MS);
}

// ---- state of one container ----

function stateOf(c) {
  const t = now();
  const firing = [];
  const out = [];
  for (const r of RESOURCES) {
    const res = c[r.key];
    if (!res) continue;
    for (const f of res.firing || []) firing.push(f);
    if (res.scaled_out) out.push({ r, res, left: res.deadline_ms - t });
  }
  const lastHeal = c.heal && c.heal.last_heal ? Date.parse(c.heal.last_heal) : 0;
  let state = 'running';
  if (c.crash_looping) state = 'crash-looping';
  else if (c.maintenance) state = 'maintenance';
  else if (out.length) state = 'scaled-out';
  else if (c.heal && c.heal.operator_stopped) state = 'stopped';
  else if (lastHeal && t - lastHeal < HEALED_RECENT_MS) state = 'healed';
  const urgency = URGENCY[state] + (firing.length ? FIRING_URGENCY : 0);
  const soonest = out.length ? Math.min(...out.map((o) => o.left)) : Infinity;
  return { state, firing, out, urgency, soonest };
}

function matches(c, s, q) {
  if (!q) return true;
  const hay = [c.name, c.kind, s.state, ...s.firing.map((f) => f.alertname),
    s.firing.length ? 'firing' : '', c.last_action && c.last_action.action].join(' ').toLowerCase();
  return q.split(/\s+/).every((w) => hay.includes(w));
}

// ---- rendering ----

function resourceRows(c, s) {
  const dl = el('dl', { class: 'res' });
  const idle = [];
  for (const r of RESOURCES) {
    const res = c[r.key];
    if (!res) continue;
    if (!res.scaled_out && !res.baseline) {
      idle.push(r.label);
      continue;
    }
    let text;
    if (res.scaled_out) {
      text = `${level(c.kind, r.key, res.baseline)} → ${level(c.kind, r.key, res.current)}`;
    } else {
      text = res.baseline ? `${level(c.kind, r.key, res.baseline)} (baseline)` : 'baseline';
    }
    const dd = el('dd', { text });
    if (res.scaled_out) {
      dd.append(' · ', el('span', { class: 'left', 'data-deadline': String(res.deadline_ms) }));
    }
    dl.append(el('dt', { text: r.label }), dd);
  }
  if (idle.length) {
    const text = `${idle.join(', ').replace(/, ([^,]*)$/, ' and $1')} at baseline`;
    dl.append(el('dt', { class: 'sr-only', text: 'Resources' }), el('dd', { class: 'idle', text }));
  }
  return dl;
}

// The container's last actions from the history (newest first), or its last action from its state.
function lastLine(c, recent) {
  if (recent.length) {
    const p = el('p', { class: 'last' }, recent.length > 1 ? 'Last actions: ' : 'Last: ');
    recent.forEach((a, i) => {
      if (i) p.append(' · ');
      p.append(`${a.action.replace(/_/g, ' ')} `,
        el('span', { class: a.result === 'error' ? 'fail' : '', text: a.result }), ` ${clock(a.at_ms)}`);
    });
    if (recent[0].error) p.append(el('span', { class: 'fail', text: ` — ${recent[0].error}` }));
    return p;
  }
  const a = c.last_action;
  if (!a || !a.action) return null;
  const p = el('p', { class: 'last' }, `Last: ${a.action.replace(/_/g, ' ')} `);
  p.append(el('span', { class: a.result === 'error' ? 'fail' : '', text: a.result || '' }));
  if (a.at_ms) p.append(` at ${clock(a.at_ms)}`);
  if (a.error) p.append(el('span', { class: 'fail', text: ` — ${a.error}` }));
  return p;
}

function cardButtons(c, s) {
  const box = el('div', { class: 'actions' });
  const on = !c.maintenance;
  box.append(el('button', {
    type: 'button',
    'aria-label': `${on ? 'Start' : 'End'} maintenance of ${c.name}`,
    text: on ? 'Maintenance on' : 'Maintenance off',
    onclick: () => act(`${on ? 'Put' : 'Take'} ${c.name} ${on ? 'into' : 'out of'} maintenance?` +
      (on ? ' It will be neither healed nor scaled until you end it.' : ''),
    `/api/v1/containers/${encodeURIComponent(c.name)}/maintenance`, { enabled: on }),
  }));
  for (const o of s.out) {
    box.append(el('button', {
      type: 'button',
      class: 'danger',
      'aria-label': `Scale in ${o.r.label} of ${c.name} now`,
      text: `Scale in ${o.r.label} now`,
      onclick: () => act(`Scale ${c.name}'s ${o.r.label} back to ${level(c.kind, o.r.key, o.res.baseline)} now?`,
        `/api/v1/containers/${encodeURIComponent(c.name)}/scale`, { resource: o.r.key, direction: 'in' }),
    }));
  }
  return box;
}

function recentOf(c) {
  return (page.actions || []).filter((a) => a.container === c.name).slice(0, RECENT_PER_CARD);
}

function card(c, s, recent) {
  const li = el('li', { class: `card state-${s.state}`, 'data-name': c.name, 'data-state': s.state });
  const head = el('div', { class: 'card-head' },
    el('h3', { text: c.name }),
    el('span', { class: `badge ${s.state}`, text: s.state }),
    c.kind === 'service' ? el('span', { class: 'kind', text: 'Swarm service' }) : null);
  li.append(head, resourceRows(c, s));
  if (s.firing.length) {
    const p = el('p', { class: 'alerts' }, el('strong', { text: 'Firing: ' }));
    p.append(s.firing.map((f) => `${f.alertname} (${f.fingerprint})`).join(', '));
    li.append(p);
  }
  if (c.heal && c.heal.heals) {
    li.append(el('p', { class: 'last', text: `Healed ${c.heal.heals}×, streak ${c.heal.streak}` +
      (c.heal.last_heal ? `, last at ${clock(Date.parse(c.heal.last_heal))}` : '') }));
  }
  const last = lastLine(c, recent);
  if (last) li.append(last);
  li.append(cardButtons(c, s));
  return li;
}

function tickDeadlines() {
  const t = now();
  for (const span of document.querySelectorAll('[data-deadline]')) {
    const left = Number(span.getAttribute('data-deadline')) - t;
    span.textContent = left > 0 ? `${duration(left)} left before scale-in` : 'scale-in due';
  }
}

function renderCards() {
  const q = $('filter').value.trim().toLowerCase();
  const rows = page.containers.map((c) => ({ c, s: stateOf(c) }));
  rows.sort((a, b) => b.s.urgency - a.s.urgency || a.s.soonest - b.s.soonest ||
    a.c.name.localeCompare(b.c.name));
  const list = $('containers');
  const seen = new Set();
  let shown = 0;
  let prev = null;
  for (const { c, s } of rows) {
    seen.add(c.name);
    const recent = recentOf(c);
    const sig = JSON.stringify([c, s.state, s.firing.length, recent.map((a) => a.seq)]);
    let entry = page.cards.get(c.name);
    if (!entry || entry.sig !== sig) {
      const li = card(c, s, recent);
      if (entry) {
        const hadFocus = entry.li.contains(document.activeElement);
        const label = hadFocus ? document.activeElement.getAttribute('aria-label') : null;
        entry.li.replaceWith(li);
        if (label) {
          const again = [...li.querySelectorAll('button')].find((b) => b.getAttribute('aria-label') === label);
          if (again) again.focus();
        }
      }
      entry = { li, sig };
      page.cards.set(c.name, entry);
    }
    entry.li.hidden = !matches(c, s, q);
    if (!entry.li.hidden) shown++;
    // keep document order = urgency order, moving only what is out of place
    const want = prev ? prev.nextSibling : list.firstChild;
    if (want !== entry.li) list.insertBefore(entry.li, want);
    prev = entry.li;
  }
  for (const [name, entry] of page.cards) {
    if (!seen.has(name)) {
      entry.li.remove();
      page.cards.delete(name);
    }
  }
  $('filter-count').textContent = q ? `${shown} of ${rows.length} shown` : `${rows.length} managed`;
  return rows;
}

function renderSummary(rows) {
  const count = (f) => rows.filter(f).length;
  const parts = [
    `${rows.length} managed`,
    `${count((r) => r.s.out.length)} scaled out`,
    `${count((r) => r.s.firing.length)} with alerts firing`,
    `${count((r) => r.s.state === 'crash-looping')} crash-looping`,
    `${count((r) => r.c.maintenance)} in maintenance`,
  ];
  if (page.dryRun) parts.push('DRY RUN: nothing is changed in Docker');
  $('summary').textContent = `${parts.join(' · ')} · updated ${clock(Date.now())}`;
}

// What started an action: the alert (name and fingerprint), the manual caller, the timer, an event.
function why(a) {
  if (a.trigger === 'alert') return [a.alertname || 'alert', a.fingerprint ? `fingerprint ${a.fingerprint}` : ''];
  if (a.trigger === 'manual') return ['manual', a.caller ? `from ${a.caller}` : ''];
  if (a.trigger === 'timer') return ['timer', 'deadline reached'];
  if (a.trigger === 'event') return ['Docker event', ''];
  return [a.trigger || '', a.caller || ''];
}

function renderTimeline() {
  const sec = $('timeline-section');
  sec.hidden = page.actions === null;
  if (page.actions === null) return;
  const tbody = $('timeline').tBodies[0];
  const rows = page.actions.slice(0, ACTIONS_SHOWN).map((a) => {
    const [w, detail] = why(a);
    const resCell = el('td', { class: `result-${a.result}`, text: a.result });
    const note = a.error || (a.result !== 'ok' ? a.reason : '');
    if (note) resCell.append(el('span', { class: 'detail', text: note }));
    return el('tr', { 'data-seq': String(a.seq) },
      el('td', { title: a.at || '', text: clock(a.at_ms) }),
      el('td', { text: a.container }),
      el('td', { text: a.action.replace(/_/g, ' ') }, a.kind === 'service' ? el('span', { class: 'detail', text: 'Swarm service' }) : null),
      el('td', { text: w }, detail ? el('span', { class: 'detail', text: detail }) : null),
      resCell,
      el('td', { text: a.took_ms ? `${a.took_ms} ms` : '' }));
  });
  if (!rows.length) {
    rows.push(el('tr', {}, el('td', { colspan: '6', text: 'No action yet.' })));
  }
  tbody.replaceChildren(...rows);
}

function render() {
  const rows = renderCards();
  renderSummary(rows);
  renderTimeline();
  tickDeadlines();
}

// ---- actions, login ----

function confirmDialog(text) {
  const d = $('confirm');
  $('confirm-text').textContent = text;
  return new Promise((resolve) => {
    d.addEventListener('close', () => resolve(d.returnValue === 'ok'), { once: true });
    d.returnValue = 'cancel';
    d.showModal();
    $('confirm-ok').focus();
  });
}

async function act(question, path, body) {
  if (page.busy || !(await confirmDialog(question))) return;
  page.busy = true;
  setStatus('Working…');
  try {
    const r = await api(path, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });
    const b = r.body || {};
    setStatus(r.status < 300 ? `Done: ${b.result || 'ok'}${b.reason ? ` (${b.reason})` : ''}`
      : `Refused (HTTP ${r.status}): ${b.error || b.reason || 'no reason given'}`);
  } catch (e) {
    if (e.message !== 'unauthorized') setStatus(`Failed: ${e.message}`);
  } finally {
    page.busy = false;
  }
  refresh();
}

function setStatus(text) {
  $('status').textContent = text;
}

function showLogin(error) {
  $('login').hidden = false;
  $('board').hidden = true;
  $('timeline-section').hidden = true;
  $('login-error').textContent = error || '';
  $('summary').textContent = 'Sign in to see the containers.';
  $('login-token').focus();
}

function showBoard() {
  $('login').hidden = true;
  $('board').hidden = false;
  $('logout').hidden = !page.auth;
}

function utf8Base64(s) {
  return btoa(String.fromCharCode(...new TextEncoder().encode(s)));
}

function onLogin(ev) {
  ev.preventDefault();
  const token = $('login-token').value.trim();
  const user = $('login-user').value;
  if (user) page.auth = `Basic ${utf8Base64(`${user}:${$('login-password').value}`)}`;
  else if (token) page.auth = `Bearer ${token}`;
  else {
    $('login-error').textContent = 'Enter a token, or a user and password.';
    return;
  }
  sessionStorage.setItem(AUTH_KEY, page.auth);
  $('login-form').reset();
  refresh();
}

function onLogout() {
  page.auth = '';
  sessionStorage.removeItem(AUTH_KEY);
  showLogin('');
}

document.addEventListener('DOMContentLoaded', () => {
  $('login-form').addEventListener('submit', onLogin);
  $('logout').addEventListener('click', onLogout);
  $('filter').addEventListener('input', () => renderCards());
  setInterval(tickDeadlines, 1000);
  refresh();
});
