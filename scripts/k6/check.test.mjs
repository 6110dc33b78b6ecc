// Tests of check.mjs: node --test check.test.mjs (npm test).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkFiles, checkSource, defaults, readContract, readRoutes, scripts } from './check.mjs';

const routes = readRoutes(defaults.routesFile);
const contract = readContract(defaults.contractFile);
const check = (src) => checkSource('t.js', src, routes, contract);
const header = "import http from 'k6/http';\nconst BASE_URL = 'http://127.0.0.1:8080';\n";

test('the scripts of this folder pass', () => {
  const files = scripts();
  assert.ok(files.length >= 3, `scripts: ${files}`);
  assert.deepEqual(checkFiles(files).problems, []);
});

test('routes are read from routes.go with their groups', () => {
  const names = routes.map((r) => `${r.method} ${r.path}`);
  for (const want of ['POST /api/tokens', 'GET /api/queue/position', 'POST /api/reservation', 'PATCH /admin/queue', 'GET /healthz']) {
    assert.ok(names.includes(want), `${want} missing from ${names}`);
  }
});

for (const [name, src, want] of [
  ['a route the gateway does not serve', header + "export default function () { http.get(`${BASE_URL}/api/tickets`); }", /route \/api\/tickets is not one/],
  ['a route named outside a call', header + "const PATH = '/admin/users';", /route \/admin\/users is not one/],
  ['a route with the wrong method', header + "export default function () { http.get(`${BASE_URL}/api/payment`); }", /GET \/api\/payment is not served/],
  ['a batch entry with the wrong method', header + "http.batch([['DELETE', `${BASE_URL}/api/tokens`]]);", /DELETE \/api\/tokens is not served/],
  ['a response field not in the contract', header + "export default function () { http.get(`${BASE_URL}/api/queue/position`).json('queue_pos'); }", /field "queue_pos"/],
  ['a request field not in the contract', header + "http.post(`${BASE_URL}/api/tokens`, JSON.stringify({ user: 'a' }));", /request field "user"/],
  ['a query parameter not in the contract', header + "http.get(`${BASE_URL}/api/pay?userid=${1}`);", /query parameter "userid"/],
  ['a snake_case property not in the contract', header + "export default function (b) { return b.poll_after; }", /property "poll_after"/],
  ['a selector that cannot be checked', header + "export default function (r, s) { return r.json(s); }", /selector must be a literal/],
  ['a script that is not an ES module', "const x = ;", /does not parse/],
]) {
  test(`fails on ${name}`, () => {
    const problems = check(src);
    assert.ok(problems.some((p) => want.test(p)), `problems: ${JSON.stringify(problems)}`);
  });
}

test('custom metrics and k6 metrics are not fields', () => {
  const src = header + "import { Counter } from 'k6/metrics';\nconst c = new Counter('seat_won');\n" +
    "export const options = { thresholds: { seat_won: ['count==1'], http_req_failed: ['rate<0.01'], 'http_req_duration{route:hold}': ['p(95)<200'] } };";
  assert.deepEqual(check(src), []);
});

test('a template part stands for a path parameter, and only where the route has one', () => {
  assert.deepEqual(check(header + "export default function (id) { http.patch(`${BASE_URL}/admin/concerts/${id}`, JSON.stringify({ opens_at: null })); }"), []);
  assert.deepEqual(check(header + "export default function (id) { http.get(`${BASE_URL}/api/concerts/${id}/draw?offset=0&limit=10`); }"), []);
  assert.ok(check(header + "export default function (id) { http.get(`${BASE_URL}/api/tokens/${id}`); }").some((p) => /is not one the gateway serves/.test(p)));
  assert.ok(check(header + "export default function (id) { http.get(`${BASE_URL}/api/queue/${id}`); }").some((p) => /is not one the gateway serves/.test(p)));
  assert.deepEqual(check(header + "export default function (id) { http.get(`${BASE_URL}/api/concerts/c${id}`); }"), []);
});

// flow.js: what a client does with each answer of the line.
const flow = await import('./flow.js');

test('an entry refused as sold out stops the user; other 409s are contract problems', () => {
  assert.deepEqual(flow.afterEntry(409, { error: { code: 'sold_out' } }), { next: 'sold_out', problems: [] });
  const other = flow.afterEntry(409, { error: { code: 'seat_taken' } });
  assert.equal(other.next, 'refused');
  assert.equal(other.problems.length, 1);
  assert.equal(flow.afterEntry(503, {}).next, 'refused');
});

test('entries in line, in the pre-queue and already active', () => {
  assert.deepEqual(flow.afterEntry(201, { status: 'waiting', queue_position: 5 }), { next: 'poll', problems: [] });
  assert.deepEqual(flow.afterEntry(201, { status: 'prequeue', queue_position: null, opens_at: '2030-05-01T10:00:00Z' }),
    { next: 'poll', problems: [] });
  assert.deepEqual(flow.afterEntry(200, { status: 'active', queue_position: 0 }), { next: 'admitted', problems: [] });
  assert.equal(flow.afterEntry(201, { status: 'prequeue', queue_position: 3, opens_at: 'x' }).problems.length, 1);
  assert.equal(flow.afterEntry(200, { status: 'sold_out', queue_position: null }).problems.length, 1);
});

test('a poll that says sold_out stops polling, and must carry no poll_after_ms', () => {
  assert.deepEqual(flow.afterPoll(200, { status: 'sold_out', queue_position: null }, 1), { next: 'sold_out', sleepMs: 0, problems: [] });
  const bad = flow.afterPoll(200, { status: 'sold_out', queue_position: null, poll_after_ms: 1000 }, 1);
  assert.equal(bad.next, 'sold_out');
  assert.match(bad.problems.join(), /poll_after_ms/);
  assert.deepEqual(flow.afterSoldOut(200, { status: 'sold_out', queue_position: null }), []);
  assert.equal(flow.afterSoldOut(200, { status: 'waiting', queue_position: 4 }).length, 1);
  assert.equal(flow.afterSoldOut(401, {}).length, 1);
});

test('waiting and pre-queue polls wait poll_after_ms times the scale', () => {
  assert.deepEqual(flow.afterPoll(200, { status: 'waiting', queue_position: 9, poll_after_ms: 2000 }, 0.5),
    { next: 'poll', sleepMs: 1000, problems: [] });
  assert.deepEqual(flow.afterPoll(200, { status: 'prequeue', queue_position: null, opens_at: '2030-05-01T10:00:00Z', poll_after_ms: 9000 }, 1),
    { next: 'poll', sleepMs: 9000, problems: [] });
  assert.equal(flow.afterPoll(200, { status: 'active', queue_position: 0 }, 1).next, 'admitted');
  assert.equal(flow.afterPoll(401, {}, 1).next, 'refused');
  assert.equal(flow.afterPoll(200, { status: 'waiting', queue_position: 0, poll_after_ms: 1000 }, 1).problems.length, 1);
  assert.equal(flow.afterPoll(200, { status: 'gone' }, 1).next, 'refused');
});

test('the abandon share is spread evenly and exact', () => {
  for (const [n, share, want] of [[1000, 0.3, 300], [10, 0.3, 3], [2000, 0.05, 100], [100, 0, 0], [100, 1, 100]]) {
    let left = 0;
    for (let i = 0; i < n; i++) if (flow.abandons(i, share)) left++;
    assert.equal(left, want, `${n} users at ${share}`);
  }
  let run = 0;
  for (let i = 0; i < 10; i++) if (flow.abandons(i, 0.3)) run++;
  assert.equal(run, 3, 'three of the first ten leave');
});
