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
