// The list of concerts, /: each on sale links to its waiting page with the
// user id the fan typed (kept for the next visit); sold-out ones come last.

import { call, USER_ID } from './api.js';
import * as i18n from './i18n.js';
import { $, el, backoff } from './ui.js';
import { lastUser, rememberUser } from './store.js';

const t = i18n.t;
let concerts = null;
let failures = 0;

const stateText = { open: 'stateOpen', scheduled: 'stateScheduled', paused: 'statePaused', sold_out: 'stateSoldOut' };

function link(c) {
  const u = $('who-id').value.trim();
  return `/wait/${c.concert_id}${USER_ID.test(u) ? `?user_id=${encodeURIComponent(u)}` : ''}`;
}

function draw() {
  const main = $('main');
  if (concerts === null) return;
  // A sold-out concert stays listed, last and without a way in: a fan who
  // comes looking for it learns it is over instead of finding nothing.
  const shown = concerts.filter((c) => c.state !== 'closed');
  const list = [...shown.filter((c) => c.state !== 'sold_out'), ...shown.filter((c) => c.state === 'sold_out')];
  main.dataset.state = list.length ? 'list' : 'empty';
  $('status').textContent = list.length ? '' : t('noConcerts');
  $('concerts').replaceChildren(
    ...list.map((c) => {
      const dates = (c.dates || []).map((d) => (typeof d === 'string' ? d : d.date)).filter(Boolean);
      const li = el('li', { class: 'card concert' });
      li.append(
        el('h2', {}, c.name || t('concert', { id: c.concert_id })),
        el('p', { class: 'muted' }, dates.map(i18n.day).join(' · ')),
      );
      const badge = stateText[c.state];
      if (badge) li.append(el('span', { class: `badge ${c.state}` }, t(badge)));
      if (c.opens_at && Date.parse(c.opens_at) > Date.now()) {
        li.append(el('p', {}, t('opensAt', { t: i18n.when(new Date(c.opens_at)) })));
      }
      if (c.state !== 'sold_out') {
        li.append(el('a', { class: 'button primary', href: link(c), 'data-concert': String(c.concert_id) }, t('join')));
      }
      return li;
    }),
  );
}

async function load() {
  try {
    const r = await call('GET', '/api/concerts', { cache: 'default' });
    concerts = r.concerts || [];
    failures = 0;
    draw();
  } catch (e) {
    $('status').textContent = t('listFailed');
    setTimeout(load, backoff(failures++, e.retryAfter));
  }
}

$('who').addEventListener('submit', (ev) => ev.preventDefault());
$('who-id').value = lastUser();
$('who-id').addEventListener('input', () => {
  const u = $('who-id').value.trim();
  if (USER_ID.test(u)) rememberUser(u);
  for (const a of document.querySelectorAll('a[data-concert]')) a.href = link({ concert_id: a.dataset.concert });
});

i18n.apply();
i18n.switcher($('lang'));
i18n.onChange(draw);
$('status').textContent = t('loading');
load();
