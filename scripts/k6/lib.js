// lib.js: what the rushgate k6 scripts share. Settings come from the
// environment (k6 run -e NAME=value): see README.md.
import http from 'k6/http';
import { sleep } from 'k6';

export const BASE_URL = (__ENV.BASE_URL || 'http://127.0.0.1:8080').replace(/\/$/, '');
export const CONCERT_ID = parseInt(__ENV.CONCERT_ID || '1', 10);
export const ADMIN_TOKEN = __ENV.ADMIN_TOKEN || '';
// A run id keeps the user ids of two runs apart.
export const RUN_ID = __ENV.RUN_ID || String(Date.now());

export const JSON_HEADERS = { 'Content-Type': 'application/json' };

export function bearer(token, extra) {
  return Object.assign({ Authorization: `Bearer ${token}` }, JSON_HEADERS, extra || {});
}

// 409 (seat_taken) is an expected answer in a rush, not a failed request.
http.setResponseCallback(http.expectedStatuses({ min: 200, max: 299 }, 409));

// enter puts a user in line and returns the answer.
export function enter(user) {
  return http.post(`${BASE_URL}/api/tokens`, JSON.stringify({ user_id: user, concert_id: CONCERT_ID }),
    { headers: JSON_HEADERS, tags: { route: 'tokens' } });
}

// waitActive polls until the token is active, waiting poll_after_ms times
// scale between polls. It returns false when the token is refused.
export function waitActive(token, scale) {
  for (;;) {
    const res = http.get(`${BASE_URL}/api/queue/position`, { headers: bearer(token), tags: { route: 'position' } });
    if (res.status !== 200) return false;
    if (res.json('status') === 'active') return true;
    sleep((res.json('poll_after_ms') * scale) / 1000);
  }
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
