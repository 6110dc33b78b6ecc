// contention.js: a seat race. setup() puts VUS users in line and waits until
// they are admitted (raising the admission rate first when ADMIN_TOKEN is
// given), then picks ROUNDS free seats of the first date. Every VU then
// races for the same seats: each must be won by exactly one (201), every
// other attempt must be 409 seat_taken.
//
//   k6 run -e BASE_URL=http://127.0.0.1:8080 -e ADMIN_TOKEN=... -e VUS=100 contention.js
import http from 'k6/http';
import { check, fail } from 'k6';
import exec from 'k6/execution';
import { Counter } from 'k6/metrics';
import { BASE_URL, RUN_ID, admin, bearer, enterMany, waitActive } from './lib.js';

const VUS = parseInt(__ENV.VUS || '50', 10);
// A user holds at most MAX_HOLDS_PER_USER (4 by default) seats at once.
const ROUNDS = Math.min(parseInt(__ENV.ROUNDS || '3', 10), 4);

const seatWon = new Counter('seat_won');
const seatLost = new Counter('seat_lost');

export const options = {
  scenarios: {
    race: { executor: 'per-vu-iterations', vus: VUS, iterations: ROUNDS, maxDuration: '2m' },
  },
  thresholds: {
    seat_won: [`count==${ROUNDS}`],
    seat_lost: [`count==${VUS * ROUNDS - ROUNDS}`],
    http_req_failed: ['rate<0.01'],
    'http_req_duration{route:hold}': ['p(95)<200'],
  },
  setupTimeout: '5m',
};

export function setup() {
  admin({ admit_per_second: 10000, max_active: 100000, paused: false });
  const users = enterMany(`k6race${RUN_ID}`, VUS);
  for (const u of users) {
    if (waitActive(u.token, 0.1).outcome !== 'admitted') fail(`user ${u.user} was never admitted`);
  }
  const first = users[0].token;
  const days = http.get(`${BASE_URL}/api/reservationData/available`, { headers: bearer(first) }).json('available_dates') || [];
  if (days.length === 0) fail('no date has a free seat');
  const seats = http.get(`${BASE_URL}/api/reservationSeat/available?reservation_date=${days[0]}`,
    { headers: bearer(first) }).json('available_seats') || [];
  if (seats.length < ROUNDS) fail(`only ${seats.length} free seats on ${days[0]}`);
  return { users, day: days[0], seats: seats.slice(0, ROUNDS) };
}

export default function (data) {
  const u = data.users[exec.vu.idInTest - 1];
  const seat = data.seats[exec.vu.iterationInScenario % data.seats.length];
  const res = http.post(`${BASE_URL}/api/reservation`,
    JSON.stringify({ user_id: u.user, reservation_date: data.day, reservation_seat: seat }),
    { headers: bearer(u.token), tags: { route: 'hold' } });
  if (res.status === 201) {
    seatWon.add(1);
  } else if (check(res, { 'lost the race as seat_taken': (r) => r.status === 409 && r.json('error.code') === 'seat_taken' })) {
    seatLost.add(1);
  }
}
