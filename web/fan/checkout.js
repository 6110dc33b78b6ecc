// The checkout, once the fan is admitted: a date, a seat on a map with price
// tiers and taken seats, a hold with its countdown, a top-up, and a payment
// whose Idempotency-Key is made once per hold, so a double click or a retry
// after a lost answer never pays twice.

import { call, id, serverNow } from './api.js';
import * as i18n from './i18n.js';
import { $, el, announce, alertNow, backoff } from './ui.js';
import { newKey } from './store.js';

const t = i18n.t;

// A date with more seats than this shows one page of them at a time.
const PAGE = 400;

export class Checkout {
  /**
   * opts: concertId, user, token, activeUntil (the server's RFC 3339 text), place (Place),
   * catalogue() (the concert from the catalogue, or null), onGone(), onSoldOut().
   */
  constructor(opts) {
    Object.assign(this, opts);
    this.dates = [];
    this.date = '';
    this.free = new Set(); // free seats of the date
    this.blocks = []; // [{from, to, price}] of the date
    this.block = 0;
    this.page = 0;
    this.seat = 0;
    this.busy = false;
    this.balance = null;
    this.retries = 0;
    this.timer = 0;
    this.warned = false;
    this.wire();
  }

  stop() {
    clearTimeout(this.timer);
    this.stopped = true;
  }

  // ---------------------------------------------------------- flow

  start() {
    const hold = this.place.get().hold;
    if (hold && Date.parse(hold.expires) > serverNow()) {
      this.showHold(hold);
    } else {
      if (hold) this.place.set({ hold: undefined });
      this.loadDates();
    }
  }

  async loadDates() {
    this.section('dates');
    $('dates').replaceChildren(el('p', { class: 'muted' }, t('loading')));
    try {
      const r = await this.api('GET', '/api/reservationData/available');
      this.dates = r.available_dates || [];
    } catch (e) {
      return this.failed(e, () => this.loadDates());
    }
    this.drawDates();
    if (this.dates.length === 1) this.pickDate(this.dates[0]);
  }

  async pickDate(date) {
    this.date = date;
    this.seat = 0;
    this.page = 0;
    this.drawDates();
    this.section('seats');
    $('seatmap').replaceChildren(el('p', { class: 'muted' }, t('loading')));
    try {
      const r = await this.api('GET', `/api/reservationSeat/available?reservation_date=${encodeURIComponent(date)}`);
      this.free = new Set(r.available_seats || []);
    } catch (e) {
      return this.failed(e, () => this.pickDate(date));
    }
    this.blocks = this.blocksOf(date);
    const first = this.blocks.findIndex((b) => this.freeIn(b) > 0);
    this.block = Math.max(0, first);
    this.drawSeats();
  }

  // blocksOf returns the seat blocks (with prices) the catalogue gives the
  // date, or, without a catalogue, one block spanning the free seats.
  blocksOf(date) {
    const c = this.catalogue?.();
    const d = c?.dates?.find?.((x) => typeof x === 'object' && x.date === date);
    const blocks = d?.seats || d?.blocks || c?.seats || c?.blocks;
    if (Array.isArray(blocks) && blocks.length && blocks[0].from != null) {
      return blocks.map((b) => ({ from: b.from, to: b.to, price: b.price })).sort((a, b) => a.from - b.from);
    }
    const seats = [...this.free];
    if (!seats.length) return [];
    return [{ from: 1, to: Math.max(...seats), price: null }];
  }

  freeIn(b) {
    let n = 0;
    for (const s of this.free) if (s >= b.from && s <= b.to) n++;
    return n;
  }

  priceOf(seat) {
    return this.blocks.find((b) => seat >= b.from && seat <= b.to)?.price ?? null;
  }

  async hold() {
    if (this.busy || !this.seat) return;
    this.setBusy(true, 'hold', t('holding'));
    let r;
    try {
      r = await this.api('POST', '/api/reservation', {
        body: { user_id: this.user, reservation_date: this.date, reservation_seat: this.seat },
      });
    } catch (e) {
      this.setBusy(false, 'hold', t('hold'));
      if (['seat_taken', 'seat_not_found', 'date_not_found'].includes(e.code)) {
        this.message(i18n.errorText(e.code));
        return this.pickDate(this.date);
      }
      return this.failed(e);
    }
    this.setBusy(false, 'hold', t('hold'));
    // One key per hold attempt: every click and every retry of this
    // payment sends the same one.
    const hold = {
      id: String(r.reservation_id),
      date: r.reservation_date,
      seat: r.reservation_seat,
      price: r.price,
      expires: r.expiration_time,
      key: newKey(),
    };
    this.place.set({ hold });
    this.showHold(hold);
    alertNow(t('heldFor', { n: hold.seat, d: i18n.day(hold.date) }));
  }

  showHold(hold) {
    this.held = hold;
    this.warned = false;
    this.section('pay');
    this.message('');
    this.draw();
    this.loadBalance();
    $('pay').focus();
  }

  async loadBalance() {
    try {
      const r = await call('GET', `/api/pay?user_id=${encodeURIComponent(this.user)}`);
      this.balance = r.amount;
    } catch (e) {
      if (e.code === 'user_not_found') this.balance = 0;
      else return this.failed(e, () => this.loadBalance());
    }
    this.drawPay();
    // Short of money: the next thing to do is the top-up.
    const lost = document.activeElement === $('pay') || document.activeElement === document.body;
    if (!$('topup-missing').hidden && lost) $('topup-missing').focus();
  }

  async topUp(amount) {
    if (this.busy) return;
    if (!Number.isInteger(amount) || amount < 1 || amount > 100000000) {
      return this.message(i18n.errorText('invalid_request'));
    }
    this.setBusy(true, 'topup-btn', t('working'));
    try {
      const r = await call('POST', '/api/chargePay', { body: { user_id: this.user, amount } });
      this.balance = r.pay;
      this.message('');
      announce(t('toppedUp', { a: i18n.won(r.pay) }));
    } catch (e) {
      this.failed(e);
    } finally {
      this.setBusy(false, 'topup-btn', t('topUp'));
      this.drawPay();
    }
    if (this.held && this.balance >= this.held.price) $('pay').focus();
  }

  async pay() {
    const h = this.held;
    if (this.busy || !h) return;
    this.setBusy(true, 'pay', this.retries ? t('checking') : t('paying'));
    let r;
    try {
      r = await this.api(
        'POST',
        '/api/payment',
        { body: { user_id: this.user, reservation_id: id(h.id), amount: h.price }, key: h.key, timeout: 15000 },
        true,
      );
    } catch (e) {
      this.setBusy(false, 'pay');
      if (e.transient || e.code === 'payment_in_progress') {
        // The answer may be lost, not the payment: ask again with the same
        // key, which returns the first answer if it was paid.
        this.message(i18n.errorText(e.code));
        this.timer = setTimeout(() => this.pay(), backoff(this.retries++, e.retryAfter));
        return this.drawPay();
      }
      this.retries = 0;
      this.drawPay();
      if (e.code === 'insufficient_balance') {
        this.message(i18n.errorText(e.code));
        return this.loadBalance();
      }
      if (['hold_expired', 'reservation_not_found', 'idempotency_conflict', 'amount_mismatch'].includes(e.code)) {
        return this.lapsed(e.code);
      }
      if (e.code === 'already_paid') return this.message(i18n.errorText(e.code));
      return this.failed(e);
    }
    this.retries = 0;
    this.setBusy(false, 'pay');
    const receipt = {
      payment_id: String(r.payment_id),
      date: r.reservation_date,
      seat: r.reservation_seat,
      amount: r.amount,
      balance: r.balance,
    };
    // Paying released the token: the place is done.
    this.place.set({ receipt, hold: undefined, token: undefined });
    this.token = '';
    this.showPaid();
    alertNow(t('paidTitle'));
  }

  showPaid() {
    this.held = null;
    this.section('paid');
    $('turn').hidden = true;
    this.drawPaid();
    $('co-paid').setAttribute('tabindex', '-1');
    $('co-paid').focus();
  }

  // lapsed: the hold is gone; back to picking a seat.
  lapsed(code) {
    this.place.set({ hold: undefined });
    this.held = null;
    this.message(i18n.errorText(code));
    alertNow(i18n.errorText(code));
    if (this.date) this.pickDate(this.date);
    else this.loadDates();
  }

  // ---------------------------------------------------------- calls

  // api calls a route that needs the active token; a gone token or a sold-out
  // concert leaves the checkout. (A payment replay is answered even after its
  // token was released, so payment failures are the caller's.)
  async api(method, path, opts = {}, isPayment = false) {
    try {
      return await call(method, path, { ...opts, token: this.token });
    } catch (e) {
      if (!isPayment && (e.code === 'token_expired' || e.code === 'invalid_token')) {
        this.stop();
        this.onGone?.();
      }
      if (e.code === 'sold_out') {
        this.stop();
        this.onSoldOut?.();
      }
      throw e;
    }
  }

  // failed says what went wrong; a transient failure of a read retries by itself.
  failed(e, retry) {
    if (this.stopped) return;
    this.message(i18n.errorText(e.code));
    if (e.transient && retry) this.timer = setTimeout(retry, backoff(this.retries++, e.retryAfter));
  }

  // ---------------------------------------------------------- drawing

  message(text) {
    $('co-msg').textContent = text;
  }

  section(name) {
    $('co-dates').hidden = !(name === 'dates' || name === 'seats');
    $('co-seats').hidden = name !== 'seats';
    $('co-pay').hidden = name !== 'pay';
    $('co-paid').hidden = name !== 'paid';
    document.getElementById('main').dataset.step = name;
  }

  setBusy(on, btn, label) {
    this.busy = on;
    const b = $(btn);
    b.disabled = on;
    b.setAttribute('aria-busy', on ? 'true' : 'false');
    if (label) b.textContent = label;
    else if (btn === 'pay') this.drawPay();
  }

  draw() {
    this.drawTurn();
    if (!$('co-dates').hidden) this.drawDates();
    if (!$('co-seats').hidden) this.drawSeats();
    if (!$('co-pay').hidden) this.drawPay();
    if (!$('co-paid').hidden) this.drawPaid();
  }

  // tick runs every second: the countdowns.
  tick() {
    if (this.stopped) return;
    this.drawTurn();
    // The turn is over by the clock: a poll confirms it (401 ends the checkout).
    if (this.token && this.activeUntil && Date.parse(this.activeUntil) - serverNow() < -1000 && !this.endChecked) {
      this.endChecked = true;
      this.api('GET', '/api/queue/position').catch(() => {});
    }
    if (this.held && !$('co-pay').hidden) {
      const left = Date.parse(this.held.expires) - serverNow();
      $('hold-left').textContent = i18n.countdown(left);
      if (left <= 30000 && !this.warned) {
        this.warned = true;
        alertNow(t('holdSoon', { s: Math.ceil(left / 1000) }));
      }
      if (left <= 0 && !this.busy && !this.retries) this.lapsed('hold_expired');
    }
  }

  // drawTurn shows until when the admitted token is active, and the time left.
  drawTurn() {
    if (!this.activeUntil || $('turn').hidden) return;
    const at = Date.parse(this.activeUntil);
    $('turn-time').dateTime = this.activeUntil;
    $('turn-time').textContent = i18n.clock(new Date(at));
    $('turn-left').textContent = i18n.countdown(at - serverNow());
  }

  drawDates() {
    const box = $('dates');
    if (!this.dates.length) {
      box.replaceChildren(el('p', {}, t('noDates')));
      return;
    }
    box.replaceChildren(
      ...this.dates.map((d) => {
        const b = el('button', { type: 'button', class: 'chip', 'aria-pressed': d === this.date ? 'true' : 'false', 'data-date': d }, i18n.day(d));
        b.addEventListener('click', () => this.pickDate(d));
        return b;
      }),
    );
  }

  drawSeats() {
    const map = $('seatmap');
    const tiers = [...new Set(this.blocks.map((b) => b.price))];
    const tierOf = (p) => `tier-${tiers.indexOf(p) % 5}`;
    // Legend: one swatch per price tier, and the taken seats.
    $('legend').replaceChildren(
      ...tiers.map((p) => el('span', { class: `swatch ${tierOf(p)}` }, p != null ? i18n.won(p) : t('free'))),
      el('span', { class: 'swatch taken' }, t('taken')),
    );
    // A date small enough is one map of every block; a large one is shown
    // a block, and a page of it, at a time, with the blocks as tabs.
    const total = this.blocks.reduce((n, b) => n + b.to - b.from + 1, 0);
    const whole = total <= PAGE;
    const blocks = $('blocks');
    blocks.hidden = whole || this.blocks.length < 2;
    blocks.replaceChildren(
      ...this.blocks.map((b, i) => {
        const label = `${b.from}–${b.to}${b.price != null ? ` · ${i18n.won(b.price)}` : ''}`;
        const btn = el('button', { type: 'button', class: `chip ${tierOf(b.price)}`, 'aria-pressed': i === this.block ? 'true' : 'false' }, label);
        btn.addEventListener('click', () => {
          this.block = i;
          this.page = 0;
          this.drawSeats();
        });
        return btn;
      }),
    );
    const b = this.blocks[this.block];
    if (!b || this.free.size === 0) {
      map.replaceChildren(el('p', {}, t('noSeats')));
      $('pager').hidden = true;
      this.drawChosen();
      return;
    }
    const count = b.to - b.from + 1;
    const pages = whole ? 1 : Math.ceil(count / PAGE);
    this.page = Math.min(this.page, pages - 1);
    const shown = whole ? this.blocks : [{ ...b, from: b.from + this.page * PAGE, to: Math.min(b.to, b.from + (this.page + 1) * PAGE - 1) }];
    const cells = [];
    let focusable = null;
    for (const blk of shown) for (let s = blk.from; s <= blk.to; s++) {
      const free = this.free.has(s);
      const price = blk.price != null ? i18n.won(blk.price) : '';
      const c = el(
        'button',
        {
          type: 'button',
          class: `seat ${free ? tierOf(blk.price) : 'taken'}`,
          'data-seat': s,
          'aria-pressed': s === this.seat ? 'true' : 'false',
          'aria-label': [t('seatN', { n: s }), price, free ? t('free') : t('taken')].filter(Boolean).join(', '),
          disabled: !free,
          tabindex: '-1',
        },
        String(s),
      );
      cells.push(c);
      if (free && (s === this.seat || (!focusable && !this.free.has(this.seat)))) focusable = c;
    }
    (focusable || cells.find((c) => !c.disabled))?.setAttribute('tabindex', '0');
    map.replaceChildren(...cells);
    $('pager').hidden = pages < 2;
    $('page').textContent = `${shown[0].from}–${shown[shown.length - 1].to}`;
    $('prev').disabled = this.page === 0;
    $('next').disabled = this.page >= pages - 1;
    this.drawChosen();
  }

  drawChosen() {
    const ok = this.seat && this.free.has(this.seat);
    const p = this.priceOf(this.seat);
    const text = ok ? t('chosen', { n: this.seat, d: i18n.day(this.date), p: p != null ? i18n.won(p) : '' }) : '';
    $('chosen').textContent = p != null ? text : text.replace(/[,\s]+$/, '');
    $('hold').disabled = !ok || this.busy;
    if (!this.busy) $('hold').textContent = t('hold');
  }

  drawPay() {
    const h = this.held;
    if (!h) return;
    $('held').textContent = t('heldFor', { n: h.seat, d: i18n.day(h.date) });
    $('hold-left').textContent = i18n.countdown(Date.parse(h.expires) - serverNow());
    $('price').textContent = i18n.won(h.price);
    $('balance').textContent = this.balance == null ? '…' : i18n.won(this.balance);
    const missing = this.balance == null ? 0 : h.price - this.balance;
    const mb = $('topup-missing');
    mb.hidden = missing <= 0;
    mb.textContent = t('topUpMissing', { a: i18n.won(Math.max(missing, 0)) });
    mb.dataset.amount = String(Math.max(missing, 0));
    if (!this.busy) {
      $('pay').textContent = this.retries ? t('checking') : t('pay', { a: i18n.won(h.price) });
      // Short of money the payment would only fail: top up first.
      $('pay').disabled = this.retries > 0 || missing > 0;
      $('topup-btn').textContent = t('topUp');
    }
  }

  drawPaid() {
    const r = this.place.get().receipt;
    if (!r) return;
    $('paid-text').textContent = t('paidBody', { n: r.seat, d: i18n.day(r.date), a: i18n.won(r.amount), id: r.payment_id });
    $('paid-balance').textContent = t('paidBalance', { a: i18n.won(r.balance) });
  }

  // ---------------------------------------------------------- events

  wire() {
    if (Checkout.wired) {
      Checkout.wired.current = this;
      return;
    }
    // The elements outlive one checkout (a user switch makes a new one):
    // listeners call whichever is current.
    const ref = { current: this };
    Checkout.wired = ref;
    const cur = () => ref.current;
    $('seatmap').addEventListener('click', (ev) => {
      const b = ev.target.closest('button[data-seat]');
      if (!b || b.disabled) return;
      cur().choose(Number(b.dataset.seat));
    });
    $('seatmap').addEventListener('keydown', (ev) => cur().seatKey(ev));
    $('hold').addEventListener('click', () => cur().hold());
    $('pay').addEventListener('click', () => cur().pay());
    $('topup').addEventListener('submit', (ev) => {
      ev.preventDefault();
      cur().topUp(Number($('topup-amount').value));
    });
    $('topup-missing').addEventListener('click', () => cur().topUp(Number($('topup-missing').dataset.amount)));
    $('change').addEventListener('click', () => cur().lapsedByChoice());
    $('prev').addEventListener('click', () => cur().turnPage(-1));
    $('next').addEventListener('click', () => cur().turnPage(1));
  }

  lapsedByChoice() {
    // The hold stays until it lapses (the contract has no release); the fan
    // picks another seat meanwhile.
    this.place.set({ hold: undefined });
    this.held = null;
    this.message('');
    if (this.date) this.pickDate(this.date);
    else this.loadDates();
  }

  turnPage(d) {
    this.page += d;
    this.drawSeats();
  }

  choose(seat) {
    this.seat = seat;
    for (const c of $('seatmap').querySelectorAll('button[data-seat]')) {
      const on = Number(c.dataset.seat) === seat;
      c.setAttribute('aria-pressed', on ? 'true' : 'false');
      c.setAttribute('tabindex', on ? '0' : '-1');
    }
    this.drawChosen();
  }

  // seatKey moves the focus over the free seats with the arrow keys (one
  // tab stop for the whole map), and chooses with Enter or Space (native).
  seatKey(ev) {
    const cells = [...$('seatmap').querySelectorAll('button[data-seat]')];
    const i = cells.indexOf(document.activeElement);
    if (i < 0) return;
    const top = cells[0].offsetTop;
    const k = cells.findIndex((c) => c.offsetTop !== top);
    const cols = k > 0 ? k : cells.length;
    const step = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: cols, ArrowUp: -cols, Home: -i, End: cells.length - 1 - i }[ev.key];
    if (step == null) return;
    ev.preventDefault();
    let j = i + step;
    const dir = Math.sign(step) || 1;
    while (j >= 0 && j < cells.length && cells[j].disabled) j += dir;
    if (j < 0 || j >= cells.length) return;
    cells[i].setAttribute('tabindex', '-1');
    cells[j].setAttribute('tabindex', '0');
    cells[j].focus();
  }
}
