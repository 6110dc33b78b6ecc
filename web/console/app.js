// The operator's console: sign in with an admin key, pick a concert, watch
// its line live, change admission after seeing what the change will do, read
// the audit log, create concerts. Every number comes from the admin API.
import { call, savedKey, saveKey, forgetKey } from './api.js';
import { LiveChart } from './chart.js';

const $ = (id) => document.getElementById(id);
const windowSeconds = 300; // what the chart shows
const tickMs = 1000; // how often the live numbers refresh

const state = {
  concert: '', // id, as a string (63-bit)
  points: [],
  status: null,
  chart: null,
  timer: 0,
  slowTick: 0,
};

const num = (n) => (n == null ? '–' : Number(n).toLocaleString('en-US'));

function duration(s) {
  if (s == null) return 'never';
  if (s < 60) return s + ' s';
  const m = Math.floor(s / 60);
  if (m < 60) return m + ' min ' + (s % 60) + ' s';
  return Math.floor(m / 60) + ' h ' + (m % 60) + ' min';
}

function show(signedIn) {
  $('signin').hidden = signedIn;
  $('console').hidden = !signedIn;
  $('who').hidden = !signedIn;
}

// ---- sign in -------------------------------------------------------------

async function signIn(key) {
  const list = await call('GET', '/admin/concerts', undefined, key);
  saveKey(key);
  show(true);
  if (!state.chart) state.chart = new LiveChart($('chart'));
  fillConcerts(list.concerts);
  start();
}

function signOut() {
  forgetKey();
  clearInterval(state.timer);
  state.concert = '';
  show(false);
  $('key').value = '';
}

$('signin-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  $('signin-error').textContent = '';
  try {
    await signIn($('key').value.trim());
  } catch (e) {
    $('signin-error').textContent = e.status === 401 ? 'That key is not an admin key.' : e.message;
  }
});

$('signout').addEventListener('click', signOut);

// ---- concerts ------------------------------------------------------------

function fillConcerts(concerts, select) {
  const sel = $('concert');
  const keep = select || state.concert || new URLSearchParams(location.hash.slice(1)).get('concert');
  sel.replaceChildren(...concerts.map((c) => {
    const o = document.createElement('option');
    o.value = c.concert_id;
    o.textContent = c.name + ' (#' + c.concert_id + ')';
    return o;
  }));
  if (keep && concerts.some((c) => c.concert_id === keep)) sel.value = keep;
  choose(sel.value);
}

function choose(id) {
  if (id === state.concert) return;
  state.concert = id;
  state.points = [];
  history.replaceState(null, '', '#concert=' + id);
  refresh(true);
}

$('concert').addEventListener('change', (ev) => choose(ev.target.value));

// ---- live numbers --------------------------------------------------------

function start() {
  clearInterval(state.timer);
  state.timer = setInterval(() => refresh(false), tickMs);
}

async function refresh(full) {
  const id = state.concert;
  if (!id) return;
  const q = '?concert_id=' + id;
  try {
    const seconds = full || state.points.length === 0 ? windowSeconds : 10;
    const [status, stats] = await Promise.all([
      call('GET', '/admin/queue' + q),
      call('GET', '/admin/queue/stats' + q + '&seconds=' + seconds),
    ]);
    if (id !== state.concert) return;
    state.status = status;
    mergePoints(stats.points);
    renderStatus();
    state.chart.set(state.points);
    if (full || state.slowTick++ % 3 === 0) {
      await Promise.all([refreshSeats(), refreshAudit()]);
    }
    $('updated').textContent = 'Updated ' + new Date().toLocaleTimeString();
  } catch (e) {
    if (e.status === 401) return signOut();
    $('updated').textContent = 'Not updated: ' + e.message;
  }
}

function mergePoints(fresh) {
  const byT = new Map(state.points.map((p) => [p.t, p]));
  for (const p of fresh) byT.set(p.t, p);
  const all = [...byT.values()].sort((a, b) => Date.parse(a.t) - Date.parse(b.t));
  state.points = all.slice(-windowSeconds);
}

function renderStatus() {
  const s = state.status;
  const last = state.points[state.points.length - 1];
  $('waiting').textContent = num(s.waiting);
  $('active').textContent = num(s.active);
  $('admitted-rate').textContent = last ? num(last.admitted) : '–';
  $('set-rate').textContent = num(s.admit_per_second);
  $('free-seats').textContent = num(s.free_seats);
  $('state').textContent = s.state;
  $('state').dataset.state = s.state;
  $('pause').textContent = s.paused ? 'Resume…' : 'Pause…';
  $('pause').className = s.paused ? '' : 'warn';
  for (const [input, value] of [[$('rate'), s.admit_per_second], [$('max-active'), s.max_active]]) {
    if (document.activeElement !== input && !input.dataset.edited) input.value = value;
  }
}

for (const input of [$('rate'), $('max-active')]) {
  input.addEventListener('input', () => { input.dataset.edited = '1'; });
}

async function refreshSeats() {
  const c = await call('GET', '/admin/concerts/' + state.concert);
  $('seats').replaceChildren(...c.dates.map((d) => {
    const tr = document.createElement('tr');
    for (const v of [d.date, num(d.sold), num(d.held), num(d.free), num(d.seats)]) {
      const td = document.createElement('td');
      td.textContent = v;
      tr.append(td);
    }
    return tr;
  }));
}

function describe(doc) {
  if (!doc) return '—';
  return Object.entries(doc)
    .filter(([k]) => k !== 'concert_id')
    .map(([k, v]) => k + ': ' + (Array.isArray(v) ? v.map((x) => (typeof x === 'object' ? x.from + '–' + x.to + ' @' + x.price : x)).join(', ') : v))
    .join('; ');
}

async function refreshAudit() {
  const log = await call('GET', '/admin/audit?limit=20&concert_id=' + state.concert);
  $('audit').replaceChildren(...log.entries.map((e) => {
    const li = document.createElement('li');
    const head = document.createElement('div');
    head.className = 'head';
    head.textContent = new Date(e.at).toLocaleString() + ' · ' + e.actor + ' · ' + e.action;
    const change = document.createElement('div');
    change.className = 'change';
    change.textContent = (e.before ? describe(e.before) + '  →  ' : '') + describe(e.after);
    li.append(head, change);
    return li;
  }));
}

// ---- changes, each confirmed after its projection -------------------------

function confirmWith(title, rows) {
  $('confirm-title').textContent = title;
  $('confirm-body').replaceChildren(...rows.flatMap(([k, v]) => {
    const dt = document.createElement('dt');
    dt.textContent = k;
    const dd = document.createElement('dd');
    dd.textContent = v;
    return [dt, dd];
  }));
  const dlg = $('confirm');
  dlg.returnValue = '';
  dlg.showModal();
  return new Promise((resolve) => {
    dlg.addEventListener('close', () => resolve(dlg.returnValue === 'ok'), { once: true });
  });
}

async function projectionRows(rate) {
  const p = await call('GET', '/admin/queue/projection?concert_id=' + state.concert + '&admit_per_second=' + rate);
  return [
    ['Rate', num(p.admit_per_second) + ' per second'],
    ['Waiting now', num(p.waiting)],
    ['Arriving', num(Math.round(p.arrivals_per_second)) + ' per second'],
    ['Line empty in', duration(p.drain_seconds)],
    ['Last in line waits', duration(p.tail_wait_seconds)],
    ['Free seats', num(p.free_seats)],
    ['Sold out in', p.sold_out_in_seconds == null ? 'seats outlast the line' : duration(p.sold_out_in_seconds)],
  ];
}

async function patchQueue(body) {
  await call('PATCH', '/admin/queue?concert_id=' + state.concert, body);
  delete $('rate').dataset.edited;
  delete $('max-active').dataset.edited;
  await refresh(false);
  await refreshAudit();
}

$('settings-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  $('settings-error').textContent = '';
  const rate = Number($('rate').value);
  const maxActive = Number($('max-active').value);
  try {
    const rows = await projectionRows(rate);
    rows.push(['Max active', num(maxActive)]);
    if (await confirmWith('Set the rate to ' + num(rate) + '/s?', rows)) {
      await patchQueue({ admit_per_second: rate, max_active: maxActive });
    }
  } catch (e) {
    $('settings-error').textContent = e.message;
  }
});

$('pause').addEventListener('click', async () => {
  $('settings-error').textContent = '';
  const paused = state.status && state.status.paused;
  try {
    let rows;
    if (paused) {
      rows = await projectionRows(state.status.admit_per_second);
    } else {
      rows = [['Waiting now', num(state.status.waiting)], ['Effect', 'nobody is admitted until you resume; everyone keeps their place']];
    }
    if (await confirmWith(paused ? 'Resume admission?' : 'Pause admission?', rows)) {
      await patchQueue({ paused: !paused });
    }
  } catch (e) {
    $('settings-error').textContent = e.message;
  }
});

// ---- creating a concert --------------------------------------------------

function parseBlocks(text) {
  return text.split('\n').map((l) => l.trim()).filter(Boolean).map((line) => {
    const m = line.match(/^(\d+)\s*[-–]\s*(\d+)\s+(\d+)$/);
    if (!m) throw new Error('Seat blocks: write each as "from-to price", e.g. 1-100 150000 (not "' + line + '")');
    return { from: Number(m[1]), to: Number(m[2]), price: Number(m[3]) };
  });
}

$('create-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  $('create-error').textContent = '';
  $('create-ok').textContent = '';
  try {
    const body = {
      name: $('new-name').value,
      dates: $('new-dates').value.split(/[\s,]+/).filter(Boolean),
      seats: parseBlocks($('new-seats').value),
    };
    const opens = $('new-opens').value;
    if (opens) body.opens_at = new Date(opens).toISOString();
    const c = await call('POST', '/admin/concerts', body);
    $('create-ok').textContent = 'Created ' + c.name + ' (#' + c.concert_id + ').';
    ev.target.reset();
    const list = await call('GET', '/admin/concerts');
    fillConcerts(list.concerts, c.concert_id);
  } catch (e) {
    $('create-error').textContent = e.message;
  }
});

// ---- start ---------------------------------------------------------------

window.addEventListener('DOMContentLoaded', () => {
  if (savedKey()) {
    signIn(savedKey()).catch(() => signOut());
  } else {
    show(false);
  }
});
