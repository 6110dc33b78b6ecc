// lib.js: what the rushgate k6 scripts share. Settings come from the
// environment (k6 run -e NAME=value): see README.md.
import http from 'k6/http';
import { sleep } from 'k6';
import { afterEntry, afterPoll, afterSoldOut } from './flow.js';

export const BASE_URL = (__ENV.BASE_URL || 'http://127.0.0.1:8080').replace(/\/$/, '');
export const CONCERT_ID = parseInt(__ENV.CONCERT_ID || '1', 10);
export const ADMIN_TOKEN = __ENV.ADMIN_TOKEN || '';
// A run id keeps the user ids of two runs apart.
export const RUN_ID = __ENV.RUN_ID || String(Date.now());

export const JSON_HEADERS = { 'Content-Type': 'application/json' };

export function bearer(token, extra) {
  return Object.assign({ Authorization: `Bearer ${token}` }, JSON_HEADERS, extra || {});
}

// 409 (seat_taken, sold_out) is an expected answer in a rush, not a failed request.
http.setResponseCallback(http.expectedStatuses({ min: 200, max: 299 }, 409));

// enter puts a user in line and returns the answer.
export function enter(user) {
  return http.post(`${BASE_URL}/api/tokens`, JSON.stringify({ user_id: user, concert_id: CONCERT_ID }),
    { headers: JSON_HEADERS, tags: { route: 'tokens' } });
}

// body parses an answer's JSON, or gives {} when it has none.
export function body(res) {
  try {
    return res.json() || {};
  } catch (e) {
    return {};
  }
}

// entered reads the answer to enter(): {next, problems} (see flow.js).
export function entered(res) {
  return afterEntry(res.status, body(res));
}

function poll(token) {
  return http.get(`${BASE_URL}/api/queue/position`, { headers: bearer(token), tags: { route: 'position' } });
}

// waitActive polls until the token is active, waiting poll_after_ms times
// scale between polls (in the pre-queue too: its poll_after_ms lands near the
// open). It returns {outcome, problems}: outcome 'admitted'; 'sold_out' when
// a poll says the concert sold out (it stops polling then, as a client must);
// 'abandoned' when leave is set, after the first poll (the user closed the
// tab: admission skips the silent token); or 'refused'. problems lists
// answers that break the contract (flow.js).
export function waitActive(token, scale, leave) {
  const problems = [];
  for (;;) {
    const res = poll(token);
    const step = afterPoll(res.status, body(res), scale);
    problems.push(...step.problems);
    if (step.next !== 'poll') return { outcome: step.next, problems };
    if (leave) return { outcome: 'abandoned', problems };
    sleep(step.sleepMs / 1000);
  }
}

// recheckSoldOut polls a token told sold_out once more after seconds, and
// returns the problems: the sale must still be sold out.
export function recheckSoldOut(token, seconds) {
  sleep(seconds);
  const res = poll(token);
  return afterSoldOut(res.status, body(res));
}

// admin changes the admission settings (PATCH /admin/queue) when an admin
// token is given.
export function admin(settings) {
  if (!ADMIN_TOKEN) return null;
  return http.patch(`${BASE_URL}/admin/queue?concert_id=${CONCERT_ID}`, JSON.stringify(settings),
    { headers: bearer(ADMIN_TOKEN), tags: { route: 'admin' } });
}

// enterMany puts n users in line, 100 requests at a time, and returns their
// tokens.
export function enterMany(prefix, n) {
  const tokens = [];
  for (let from = 0; from < n; from += 100) {
    const batch = [];
    for (let i = from; i < Math.min(from + 100, n); i++) {
      batch.push(['POST', `${BASE_URL}/api/tokens`,
        JSON.stringify({ user_id: `${prefix}-${i}`, concert_id: CONCERT_ID }),
        { headers: JSON_HEADERS, tags: { route: 'tokens' } }]);
    }
    for (const res of http.batch(batch)) {
      if (res.status !== 200 && res.status !== 201) throw new Error(`POST /api/tokens answered ${res.status}`);
      tokens.push({ token: res.json('token'), user: res.json('user_id') });
    }
  }
  return tokens;
}
