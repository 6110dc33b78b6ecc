// The waiting page, /wait/{concert_id}: enters the line for a user, polls the
// place exactly as the gateway asks (poll_after_ms, stretched by jitter, never
// sooner), shows the pre-queue, paused, sold-out and reconnecting states, and
// hands over to the checkout once admitted.

import { call, id, serverNow, USER_ID } from './api.js';
import * as i18n from './i18n.js';
import { $, announce, alertNow, backoff, jittered } from './ui.js';
import { Place, lastUser, rememberUser } from './store.js';
import { Checkout } from './checkout.js';

const t = i18n.t;
const concertId = id(location.pathname.split('/').filter(Boolean)[1] || '');
const main = $('main');

const st = {
  user: '',
  place: null,
  token: '',
  view: 'loading', // which section is shown; also main's data-state for tests and styles
  pos: 0,
  ahead: 0,
  est: null,
  paused: false,
  start: 0,
  opensAt: 0,
  drawn: false, // came through the pre-queue: the place was drawn at the open
  activeUntil: '', // RFC 3339, as the server wrote it
  concert: null, // the catalogue's concert, when known
  failures: 0, // transient failures in a row
  retryAt: 0, // when the next retry goes out, while reconnecting
  lastSaid: 0,
};

let pollTimer = 0;
const prequeueJitterMs = 2000;
let checkout = null;

const views = ['loading', 'who', 'entering', 'prequeue', 'waiting', 'soldout', 'expired', 'notfound', 'checkout'];

function show(view) {
  st.view = view;
  main.dataset.state = view;
  for (const v of views) $(`s-${v}`).hidden = v !== view;
}

// ------------------------------------------------------------ drawing

function drawConcert() {
  const c = st.concert;
  const name = c?.name || t('concert', { id: concertId });
  $('concert-name').textContent = name;
  document.title = `${st.view === 'waiting' && st.pos ? `#${i18n.num(st.pos)} · ` : ''}${name} · rushgate`;
  const dates = c?.dates?.map((d) => (typeof d === 'string' ? d : d.date)).filter(Boolean) || [];
  $('concert-when').textContent = dates.map(i18n.day).join(' · ');
  $('who-line').hidden = !st.user || st.view === 'who';
  $('who-text').textContent = t('signedAs', { u: st.user });
}

function drawWaiting() {
  $('w-pos').textContent = st.pos ? i18n.num(st.pos) : '—';
  $('w-ahead').textContent = i18n.num(st.ahead);
  $('w-est').textContent = st.paused ? t('pausedWait') : st.est == null ? '—' : i18n.estimate(st.est);
  $('paused').hidden = !st.paused;
  $('drawn').hidden = !st.drawn;
  main.dataset.paused = st.paused ? 'yes' : 'no';
  const span = Math.max(st.start - 1, 1);
  const pct = st.pos ? Math.round((100 * (st.start - st.pos)) / span) : 0;
  $('w-progress').value = Math.min(100, Math.max(0, pct));
  $('w-progress').setAttribute('aria-valuetext', `${Math.min(100, Math.max(0, pct))}%`);
}

function drawPrequeue() {
  const left = st.opensAt - serverNow();
  $('pq-countdown').textContent = left > 0 ? i18n.countdown(left) : t('opening');
  // The ticking clock is hidden from screen readers (a change every second
  // is noise); they read the time left in words, which changes by the minute.
  $('pq-left').textContent = left > 0 ? `${t('opensIn')} ${i18n.estimate(left / 1000)}` : t('opening');
  $('pq-at').textContent = st.opensAt ? t('openingTime', { t: i18n.when(new Date(st.opensAt)) }) : '';
}

function drawBanner() {
  const on = st.retryAt > 0;
  $('banner').hidden = !on;
  main.dataset.reconnecting = on ? 'yes' : 'no';
  if (!on) return;
  $('banner-text').textContent = t('reconnecting');
  const s = Math.max(0, Math.ceil((st.retryAt - Date.now()) / 1000));
  $('banner-sub').textContent = s > 0 ? t('retryIn', { s }) : '';
}

function draw() {
  drawConcert();
  drawBanner();
  if (st.view === 'waiting') drawWaiting();
  if (st.view === 'prequeue') drawPrequeue();
  checkout?.draw();
}

// Once a second: countdowns move.
setInterval(() => {
  drawBanner();
  if (st.view === 'prequeue') drawPrequeue();
  checkout?.tick();
}, 1000);

// ------------------------------------------------------------ the line

let next = { fn: null, at: 0 };

function schedule(fn, ms) {
  clearTimeout(pollTimer);
  next = { fn, at: Date.now() + ms };
  pollTimer = setTimeout(() => {
    next = { fn: null, at: 0 };
    fn();
  }, ms);
}

// A hidden tab's timers are throttled by the browser (to once a minute after
// a while), and a line skips those who stop polling: when the tab shows
// again and its poll is overdue, send it now (never before it is due).
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible' && pollTimer && next.fn && Date.now() >= next.at) schedule(next.fn, 0);
});

function stop() {
  clearTimeout(pollTimer);
  pollTimer = 0;
  next = { fn: null, at: 0 };
}

// transient failure: show "reconnecting" and try fn again after a back-off.
function reconnect(fn, err) {
  const wait = backoff(st.failures++, err.retryAfter);
  st.retryAt = Date.now() + wait;
  if (st.failures === 1) alertNow(t('reconnecting'));
  drawBanner();
  schedule(fn, wait);
}

function recovered() {
  if (st.retryAt) {
    st.retryAt = 0;
    announce(t('reconnected'));
  }
  st.failures = 0;
  drawBanner();
}

async function enter() {
  if (st.view !== 'waiting' && st.view !== 'prequeue') show('entering');
  let r;
  try {
    r = await call('POST', '/api/tokens', { body: { user_id: st.user, concert_id: concertId } });
  } catch (e) {
    return entryFailed(e);
  }
  recovered();
  if (r.token !== st.token && st.drawn) {
    // A new place in line (the kept token had ended): what the draw gave
    // the old one no longer applies.
    st.drawn = false;
    st.place.set({ drawn: undefined });
  }
  st.token = r.token;
  st.place.set({ token: r.token });
  // Poll at once: the poll carries the estimate and how long to wait.
  take(r);
  poll();
}

function entryFailed(e) {
  if (e.code === 'sold_out') return soldOut();
  if (e.code === 'concert_not_found') return notFound();
  if (e.code === 'invalid_request') return askUser(i18n.errorText(e.code));
  // 429, 503, no network: the same back-off; anything else too, since
  // entering again is always safe (it returns the same token).
  reconnect(enter, e);
}

async function poll() {
  if (!st.token) return enter();
  let p;
  try {
    p = await call('GET', '/api/queue/position', { token: st.token });
  } catch (e) {
    if (e.code === 'invalid_token') {
      // Not a token of this gateway (a changed secret): entering again is
      // the only way on, and returns the live place if there is one.
      st.place.set({ token: undefined });
      st.token = '';
      return enter();
    }
    if (e.code === 'token_expired') return expired();
    return reconnect(poll, e);
  }
  recovered();
  take(p);
}

// take shows what an entry or a poll said, and plans the next poll.
function take(p) {
  switch (p.status) {
    case 'waiting': {
      const was = st.pos;
      st.pos = p.queue_position;
      st.ahead = p.ahead ?? Math.max(0, p.queue_position - 1);
      st.est = p.estimated_wait_seconds ?? null;
      const paused = 'estimated_wait_seconds' in p && p.estimated_wait_seconds === null;
      if (paused !== st.paused && st.view === 'waiting') alertNow(paused ? t('pausedTitle') : t('waitTitle'));
      st.paused = paused;
      if (!st.start || st.pos > st.start) {
        st.start = st.pos;
        st.place.set({ start: st.start });
      }
      if (st.view !== 'waiting') {
        const fromPrequeue = st.view === 'prequeue';
        show('waiting');
        if (fromPrequeue) alertNow(`${t('drawnNote')} ${t('place')}: ${i18n.num(st.pos)}`);
        else announce(`${t('place')}: ${i18n.num(st.pos)}`);
      } else if (was !== st.pos && Date.now() - st.lastSaid > 10000) {
        st.lastSaid = Date.now();
        announce(`${t('place')}: ${i18n.num(st.pos)}. ${t('estimate')}: ${$('w-est').textContent}`);
      }
      draw();
      if (p.poll_after_ms != null) schedule(poll, jittered(p.poll_after_ms));
      return;
    }
    case 'prequeue': {
      st.opensAt = p.opens_at ? Date.parse(p.opens_at) : st.opensAt;
      if (!st.drawn) {
        st.drawn = true;
        st.place.set({ drawn: true });
      }
      if (st.view !== 'prequeue') {
        show('prequeue');
        announce(t('prequeueTitle'));
      }
      draw();
      // The gateway already times this poll to land just after the open,
      // spread by the token over a second; a fifth more of a long wait
      // would leave a fan staring at "opening…" for seconds after it.
      if (p.poll_after_ms != null) schedule(poll, jittered(p.poll_after_ms, prequeueJitterMs));
      return;
    }
    case 'active':
      st.activeUntil = p.active_until || st.activeUntil;
      if (p.queue_position === undefined && !p.active_until) {
        // An entry's answer for an admitted token: the poll tells until when.
        return poll();
      }
      return admitted();
    case 'sold_out':
      return soldOut();
    default:
      // A state this page does not know: keep asking at a gentle pace.
      schedule(poll, jittered(p.poll_after_ms ?? 5000));
  }
}

function admitted() {
  stop();
  if (st.view !== 'checkout') {
    show('checkout');
    alertNow(t('yourTurn'));
    $('turn').focus();
    checkout = new Checkout({
      concertId,
      user: st.user,
      token: st.token,
      activeUntil: st.activeUntil,
      place: st.place,
      catalogue: () => st.concert,
      onGone: expired,
      onSoldOut: soldOut,
    });
    checkout.start();
  }
  draw();
}

function soldOut() {
  stop();
  st.place.set({ token: undefined });
  st.token = '';
  checkout?.stop();
  show('soldout');
  alertNow(`${t('soldOutTitle')}. ${t('soldOutBody')}`);
  draw();
  $('soldout-title').focus();
}

function expired() {
  stop();
  const rec = st.place.set({ token: undefined });
  st.token = '';
  if (rec.receipt) return showReceipt();
  show('expired');
  alertNow(t('expiredTitle'));
  draw();
  $('again').focus();
}

function notFound() {
  stop();
  show('notfound');
  draw();
}

function showReceipt() {
  show('checkout');
  checkout = new Checkout({ concertId, user: st.user, token: '', place: st.place, catalogue: () => st.concert });
  checkout.showPaid();
  draw();
}

// ------------------------------------------------------------ the user

function askUser(error = '') {
  stop();
  show('who');
  $('who-id').value = st.user || lastUser();
  $('who-err').textContent = error;
  $('who-id').setAttribute('aria-invalid', error ? 'true' : 'false');
  draw();
  $('who-id').focus();
}

function begin(user) {
  st.user = user;
  rememberUser(user);
  const u = new URL(location.href);
  if (u.searchParams.get('user_id') !== user) {
    u.searchParams.set('user_id', user);
    history.replaceState(null, '', u);
  }
  st.place = new Place(user, concertId);
  const rec = st.place.get();
  st.start = rec.start || 0;
  st.drawn = !!rec.drawn;
  st.token = rec.token || '';
  if (rec.receipt && !rec.token) return showReceipt();
  st.token ? poll() : enter();
}

$('who-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const u = $('who-id').value.trim();
  if (!USER_ID.test(u)) return askUser(t('idBad'));
  begin(u);
});

$('who-switch').addEventListener('click', (ev) => {
  ev.preventDefault();
  checkout?.stop();
  checkout = null;
  st.user = '';
  askUser();
});

$('again').addEventListener('click', () => {
  st.place.set({ start: undefined, hold: undefined, receipt: undefined, drawn: undefined });
  st.start = 0;
  st.drawn = false;
  st.pos = 0;
  enter();
});

// A second tab of the same user that entered first: take its token instead
// of waiting for our own poll to find it.
window.addEventListener('storage', (ev) => {
  if (!st.place || ev.key !== st.place.key) return;
  const rec = st.place.get();
  if (rec.token && rec.token !== st.token && (st.view === 'entering' || st.view === 'expired')) {
    st.token = rec.token;
    poll();
  }
});

// The catalogue names the concert; the page works without it.
async function loadConcert() {
  try {
    st.concert = await call('GET', `/api/concerts/${concertId}`, { cache: 'default' });
    draw();
  } catch (e) {
    if (e.code === 'concert_not_found') notFound();
  }
}

// ------------------------------------------------------------ start

i18n.apply();
i18n.switcher($('lang'));
i18n.onChange(draw);

if (Number.isNaN(concertId)) {
  notFound();
} else {
  loadConcert();
  const q = new URLSearchParams(location.search);
  const u = q.get('user_id') || q.get('user') || '';
  if (USER_ID.test(u)) begin(u);
  else askUser(u ? t('idBad') : '');
}
