// rush.js: a whole ticket rush. Each iteration is one user: enter the line
// (or the pre-queue of a scheduled sale), poll as the gateway asks, then list
// dates and seats, hold a free seat (another on 409 seat_taken), top up and
// pay with an Idempotency-Key.
//
//   k6 run -e BASE_URL=http://127.0.0.1:8080 -e USERS=2000 -e SEATS=500 rush.js
//
// USERS users arrive at once (or ARRIVAL_RATE per second when set); SEATS,
// when set, fails the run if more seats are sold than offered. POLL_SCALE
// multiplies poll_after_ms (0.1 for short runs). ABANDON (0 … 1) is the share
// of users who stop polling after their first poll, as people who close the
// tab do: admission should skip them. When the concert sells out, users
// learn it from an entry (409 sold_out) or a poll (status sold_out) and
// stop; one in ten of the latter polls once more SOLD_OUT_RECHECK seconds
// later, which must still say sold_out. PREQUEUE_SECONDS with ADMIN_TOKEN
// schedules the sale to open that many seconds after setup, so the users who
// arrive before it join the pre-queue and its draw. Every answer of the line
// is checked against the contract (flow.js): contract_violations must be 0.
import http from 'k6/http';
import { check } from 'k6';
import exec from 'k6/execution';
import { Counter, Trend } from 'k6/metrics';
import { ADMIN_TOKEN, BASE_URL, CONCERT_ID, RUN_ID, bearer, body, enter, entered, recheckSoldOut, waitActive } from './lib.js';
import { abandons } from './flow.js';

const USERS = parseInt(__ENV.USERS || '1000', 10);
const ARRIVAL_RATE = parseInt(__ENV.ARRIVAL_RATE || '0', 10);
const SEATS = parseInt(__ENV.SEATS || '0', 10);
const POLL_SCALE = parseFloat(__ENV.POLL_SCALE || '1');
const MAX_DURATION = __ENV.MAX_DURATION || '10m';
const ABANDON = parseFloat(__ENV.ABANDON || '0');
const SOLD_OUT_RECHECK = parseFloat(__ENV.SOLD_OUT_RECHECK || '10');
const PREQUEUE_SECONDS = parseInt(__ENV.PREQUEUE_SECONDS || '0', 10);

const timeToAdmission = new Trend('time_to_admission', true);
const seatsSold = new Counter('seats_sold');
const seatTaken = new Counter('seat_taken');
const soldOut = new Counter('sold_out');
const soldOutEntries = new Counter('sold_out_entries');
const soldOutPolls = new Counter('sold_out_polls');
const abandoned = new Counter('abandoned');
const prequeued = new Counter('prequeued');
const contractViolations = new Counter('contract_violations');

const thresholds = {
  http_req_failed: ['rate<0.01'],
  'http_req_duration{route:position}': ['p(95)<50'],
  'http_req_duration{route:tokens}': ['p(95)<100'],
  'http_req_duration{route:hold}': ['p(95)<200'],
  'http_req_duration{route:payment}': ['p(95)<500'],
  contract_violations: ['count<1'],
};
if (SEATS > 0) thresholds.seats_sold = [`count<=${SEATS}`];

export const options = {
  scenarios: {
    rush: ARRIVAL_RATE > 0
      ? { executor: 'constant-arrival-rate', rate: ARRIVAL_RATE, timeUnit: '1s',
          duration: `${Math.ceil(USERS / ARRIVAL_RATE)}s`, preAllocatedVUs: Math.min(USERS, 1000), maxVUs: USERS }
      : { executor: 'per-vu-iterations', vus: USERS, iterations: 1, maxDuration: MAX_DURATION },
  },
  thresholds,
};

// violations counts answers that break the contract, and logs the first few.
let logged = 0;
function violations(problems, user) {
  if (problems.length === 0) return;
  contractViolations.add(problems.length);
  if (logged++ < 5) console.warn(`${user}: ${problems.join('; ')}`);
}

export function setup() {
  if (PREQUEUE_SECONDS > 0 && ADMIN_TOKEN) {
    const opens = new Date(Date.now() + PREQUEUE_SECONDS * 1000).toISOString();
    const res = http.patch(`${BASE_URL}/admin/concerts/${CONCERT_ID}`, JSON.stringify({ opens_at: opens }),
      { headers: bearer(ADMIN_TOKEN), tags: { route: 'admin' } });
    check(res, { 'sale scheduled': (r) => r.status === 200 });
  }
}

// teardown prints what admission did, as the admin sees it.
export function teardown() {
  if (!ADMIN_TOKEN) return;
  const res = http.get(`${BASE_URL}/admin/queue?concert_id=${CONCERT_ID}`, { headers: bearer(ADMIN_TOKEN), tags: { route: 'admin' } });
  if (!check(res, { 'read the line': (r) => r.status === 200 })) return;
  const q = body(res);
  console.log(`line: state ${q.state}, admitted_total ${q.admitted_total}, skipped_inactive_total ${q.skipped_inactive_total}, ` +
    `free_seats ${q.free_seats}, waiting ${q.waiting}`);
}

export default function () {
  const user = `k6${RUN_ID}-${exec.scenario.iterationInTest}`;
  const start = Date.now();
  const res = enter(user);
  const entry = entered(res);
  violations(entry.problems, user);
  if (entry.next === 'sold_out') {
    soldOutEntries.add(1);
    return;
  }
  if (!check(res, { 'entered the line': (r) => r.status === 201 || r.status === 200 })) return;
  const token = res.json('token');
  if (res.json('status') === 'prequeue') prequeued.add(1);
  if (entry.next !== 'admitted') {
    const wait = waitActive(token, POLL_SCALE, abandons(exec.scenario.iterationInTest, ABANDON));
    violations(wait.problems, user);
    if (wait.outcome === 'abandoned') abandoned.add(1);
    if (wait.outcome === 'sold_out') {
      soldOutPolls.add(1);
      if (SOLD_OUT_RECHECK > 0 && exec.scenario.iterationInTest % 10 === 0) {
        violations(recheckSoldOut(token, SOLD_OUT_RECHECK), user);
      }
    }
    check(wait, { 'no refused poll': (w) => w.outcome !== 'refused' });
    if (wait.outcome !== 'admitted') return;
  }
  timeToAdmission.add(Date.now() - start);

  for (let round = 0; round < 5; round++) {
    const dates = http.get(`${BASE_URL}/api/reservationData/available`, { headers: bearer(token), tags: { route: 'dates' } });
    if (!check(dates, { 'listed dates': (r) => r.status === 200 })) return;
    const days = dates.json('available_dates') || [];
    if (days.length === 0) {
      soldOut.add(1);
      return;
    }
    const day = days[Math.floor(Math.random() * days.length)];
    const listing = http.get(`${BASE_URL}/api/reservationSeat/available?reservation_date=${day}`,
      { headers: bearer(token), tags: { route: 'seats' } });
    if (!check(listing, { 'listed seats': (r) => r.status === 200 })) return;
    const seats = listing.json('available_seats') || [];
    for (let tries = 0; tries < 8 && seats.length > 0; tries++) {
      const seat = seats.splice(Math.floor(Math.random() * seats.length), 1)[0];
      const hold = http.post(`${BASE_URL}/api/reservation`,
        JSON.stringify({ user_id: user, reservation_date: day, reservation_seat: seat }),
        { headers: bearer(token), tags: { route: 'hold' } });
      if (hold.status === 409 && hold.json('error.code') === 'seat_taken') {
        seatTaken.add(1);
        continue;
      }
      if (!check(hold, { 'held a seat': (r) => r.status === 201 })) return;
      const price = hold.json('price');
      const reservation = hold.json('reservation_id');
      const charged = http.post(`${BASE_URL}/api/chargePay`, JSON.stringify({ user_id: user, amount: price }),
        { headers: bearer(token), tags: { route: 'charge' } });
      if (!check(charged, { 'topped up': (r) => r.status === 200 && r.json('pay') >= price })) return;
      const pay = http.post(`${BASE_URL}/api/payment`,
        JSON.stringify({ user_id: user, reservation_id: reservation, amount: price }),
        { headers: bearer(token, { 'Idempotency-Key': `k6-${user}-${reservation}` }), tags: { route: 'payment' } });
      if (check(pay, { 'paid': (r) => r.status === 201 && r.json('payment_status') === 'COMPLETED' })) {
        seatsSold.add(1);
        const balance = http.get(`${BASE_URL}/api/pay?user_id=${user}`, { tags: { route: 'balance' } });
        check(balance, { 'balance is what was left': (r) => r.status === 200 && r.json('amount') === pay.json('balance') });
      }
      return;
    }
  }
}
