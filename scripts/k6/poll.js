// poll.js: polling at a constant arrival rate. setup() puts TOKENS users in
// line (pausing admission first when ADMIN_TOKEN is given, so that every
// poll is of a waiting token); then RATE polls a second for DURATION, each
// with the next token.
//
//   k6 run -e BASE_URL=http://127.0.0.1:8080 -e ADMIN_TOKEN=... -e RATE=5000 poll.js
import http from 'k6/http';
import { check } from 'k6';
import exec from 'k6/execution';
import { BASE_URL, RUN_ID, admin, bearer, body, enterMany } from './lib.js';
import { afterPoll } from './flow.js';

const TOKENS = parseInt(__ENV.TOKENS || '1000', 10);
const RATE = parseInt(__ENV.RATE || '2000', 10);
const DURATION = __ENV.DURATION || '30s';

export const options = {
  scenarios: {
    poll: { executor: 'constant-arrival-rate', rate: RATE, timeUnit: '1s', duration: DURATION,
      preAllocatedVUs: 64, maxVUs: 512 },
  },
  thresholds: {
    http_req_failed: ['rate<0.001'],
    'http_req_duration{route:position}': ['p(95)<20', 'p(99)<50'],
    dropped_iterations: ['count<1'],
  },
  setupTimeout: '5m',
};

export function setup() {
  admin({ paused: true });
  return { tokens: enterMany(`k6poll${RUN_ID}`, TOKENS).map((t) => t.token) };
}

export default function (data) {
  const token = data.tokens[exec.scenario.iterationInTest % data.tokens.length];
  const res = http.get(`${BASE_URL}/api/queue/position`, { headers: bearer(token), tags: { route: 'position' } });
  // Waiting (or in the pre-queue, or sold out) as the contract says it.
  check(res, {
    'answered': (r) => r.status === 200,
    'meets the contract': (r) => afterPoll(r.status, body(r), 1).problems.length === 0,
  });
}

export function teardown() {
  admin({ paused: false });
}
