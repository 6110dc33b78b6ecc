// check.mjs: k6 cannot run in CI, so this checks the k6 scripts without it.
//
//   node check.mjs [script.js ...]     (default: every .js beside this file)
//
// Each script must parse as an ES module (acorn, sourceType module), and
// every route and JSON field it uses must be in the contract:
//   - routes: every string or template literal naming /api/..., /admin/...,
//     /healthz, /readyz or /metrics is matched against the routes the
//     gateway registers (httpapi/routes.go, groups resolved), with the HTTP
//     method when the literal is the URL of an http.get/post/patch/put/del/
//     request call or of an http.batch entry; the route must also be in the
//     API reference (docs/api.md);
//   - fields: selectors of res.json('a.b'), keys of objects passed to
//     JSON.stringify, query parameters of those URLs, and every snake_case
//     property name, must be JSON keys or `names` of docs/api.md (k6's own
//     metric names and the scripts' custom metrics aside).
// Exits 1 and lists the problems when any is found.
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve, basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as acorn from 'acorn';
import * as walk from 'acorn-walk';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..', '..');

export const defaults = {
  routesFile: join(repo, 'httpapi', 'routes.go'),
  contractFile: join(repo, 'docs', 'api.md'),
};

// k6's built-in metrics (and the option names that look like fields).
const K6_NAMES = new Set([
  'http_reqs', 'http_req_duration', 'http_req_failed', 'http_req_blocked', 'http_req_connecting',
  'http_req_tls_handshaking', 'http_req_sending', 'http_req_waiting', 'http_req_receiving',
  'iteration_duration', 'iterations', 'dropped_iterations', 'data_sent', 'data_received',
  'vus', 'vus_max', 'checks', 'group_duration',
]);

// A ${...} part of a template (NUL in literalText) may stand for a path
// parameter: /admin/concerts/${id} is /admin/concerts/:id.
const ROUTE_RE = /\/(?:api|admin)\/[A-Za-z0-9_/\u0000]*|\/(?:healthz|readyz|metrics)(?![A-Za-z0-9_])/;
const SNAKE_RE = /^[a-z][a-z0-9]*(?:_[a-z0-9]+)+$/;
const METHODS = { get: 'GET', post: 'POST', patch: 'PATCH', put: 'PUT', del: 'DELETE', head: 'HEAD', options: 'OPTIONS' };

// routes reads the gateway's routes from routes.go: "METHOD /path" strings.
export function readRoutes(file) {
  const src = readFileSync(file, 'utf8');
  const prefix = { e: '' };
  const groups = [...src.matchAll(/(\w+)\s*:=\s*(\w+)\.Group\(\s*"([^"]*)"/g)];
  // Groups may nest; resolve until nothing changes.
  for (let changed = true; changed;) {
    changed = false;
    for (const [, name, parent, path] of groups) {
      if (prefix[parent] !== undefined && prefix[name] === undefined) {
        prefix[name] = prefix[parent] + path;
        changed = true;
      }
    }
  }
  const routes = [];
  for (const [, v, method, path] of src.matchAll(/(\w+)\.(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS)\(\s*"([^"]*)"/g)) {
    if (prefix[v] === undefined) throw new Error(`${file}: route ${method} ${path} on unknown group ${v}`);
    routes.push({ method, path: prefix[v] + path });
  }
  if (routes.length === 0) throw new Error(`${file}: no routes found`);
  return routes;
}

// contractFields reads the JSON keys and `snake_case` names of the API reference.
export function readContract(file) {
  const src = readFileSync(file, 'utf8');
  const fields = new Set();
  for (const [, k] of src.matchAll(/"([a-z][a-z0-9_]*)"\s*:/g)) fields.add(k);
  for (const [, k] of src.matchAll(/`([a-z][a-z0-9_]*)`/g)) fields.add(k);
  for (const [, k] of src.matchAll(/[?&]([a-z][a-z0-9_]*)=/g)) fields.add(k);
  return { text: src, fields };
}

function pathMatches(pattern, path) {
  const a = pattern.split('/');
  const b = path.split('/');
  return a.length === b.length && a.every((seg, i) => seg.startsWith(':') ? b[i] !== '' : seg === b[i]);
}

// documented says whether the API reference names path, where a parameter
// segment (${...}) is written as {name} (/admin/concerts/{id}).
function documented(text, path) {
  if (!path.includes('\u0000')) return text.includes(path);
  const re = path.split('/').map((seg) => (seg === '\u0000' ? '\\{[a-z_]+\\}' : seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))).join('/');
  return new RegExp(re).test(text);
}

// literalText is the text of a string or template literal, with ${...}
// parts as NUL; null for anything else.
function literalText(node) {
  if (!node) return null;
  if (node.type === 'Literal' && typeof node.value === 'string') return node.value;
  if (node.type === 'TemplateLiteral') return node.quasis.map((q) => q.value.cooked).join('\u0000');
  return null;
}

function urlOf(text) {
  const m = ROUTE_RE.exec(text);
  if (!m) return null;
  const rest = text.slice(m.index + m[0].length);
  const query = rest.startsWith('?') ? rest.slice(1).split('\u0000').join('') : '';
  const params = [...query.matchAll(/(?:^|&)([A-Za-z0-9_]+)=/g)].map((x) => x[1]);
  // A segment with a ${...} part is a parameter's value as a whole.
  const path = (m[0].replace(/\/$/, '') || '/').split('/').map((seg) => (seg.includes('\u0000') ? '\u0000' : seg)).join('/');
  return { path, params };
}

// checkSource checks one script's text; it returns a list of problems.
export function checkSource(name, src, routes, contract) {
  const problems = [];
  let ast;
  try {
    ast = acorn.parse(src, { sourceType: 'module', ecmaVersion: 'latest', locations: true });
  } catch (err) {
    return [`${name}: does not parse as an ES module: ${err.message}`];
  }
  const metrics = new Set(K6_NAMES);
  const at = (node) => `${name}:${node.loc.start.line}`;
  const field = (f, node, how) => {
    if (!contract.fields.has(f) && !metrics.has(f)) problems.push(`${at(node)}: ${how} "${f}" is not in the contract`);
  };
  const used = new Map(); // literal node -> method
  const route = (node, method) => {
    const text = literalText(node);
    const url = text === null ? null : urlOf(text);
    if (!url) return;
    used.set(node, method);
    const known = routes.filter((r) => pathMatches(r.path, url.path) &&
      url.path.split('/').every((seg, i) => seg !== '\u0000' || r.path.split('/')[i].startsWith(':')));
    if (known.length === 0) {
      problems.push(`${at(node)}: route ${url.path.replace(/\u0000/g, '{…}')} is not one the gateway serves (httpapi/routes.go)`);
    } else if (method && !known.some((r) => r.method === method)) {
      problems.push(`${at(node)}: ${method} ${url.path} is not served (it has ${known.map((r) => r.method).join(', ')})`);
    } else if (!documented(contract.text, url.path)) {
      problems.push(`${at(node)}: route ${url.path.replace(/\u0000/g, '{…}')} is not in the API reference`);
    }
    for (const p of url.params) field(p, node, 'query parameter');
  };

  // Custom metrics first: their names may appear as threshold keys.
  walk.simple(ast, {
    NewExpression(n) {
      if (['Trend', 'Counter', 'Rate', 'Gauge'].includes(n.callee.name) && literalText(n.arguments[0]) !== null) {
        metrics.add(literalText(n.arguments[0]));
      }
    },
  });
  walk.simple(ast, {
    CallExpression(n) {
      const c = n.callee;
      if (c.type !== 'MemberExpression' || c.computed) return;
      const obj = c.object.type === 'Identifier' ? c.object.name : null;
      const prop = c.property.name;
      if (obj === 'http' && METHODS[prop]) route(n.arguments[0], METHODS[prop]);
      if (obj === 'http' && prop === 'request') route(n.arguments[1], (literalText(n.arguments[0]) || '').toUpperCase() || null);
      if (prop === 'json' && n.arguments.length > 0) {
        const sel = literalText(n.arguments[0]);
        if (sel === null) {
          problems.push(`${at(n)}: .json() selector must be a literal, to be checked`);
        } else {
          for (const seg of sel.split('.')) {
            if (seg && !/^\d+$/.test(seg) && !seg.startsWith('#')) field(seg, n, 'field');
          }
        }
      }
      if (obj === 'JSON' && prop === 'stringify' && n.arguments[0] && n.arguments[0].type === 'ObjectExpression') {
        for (const p of n.arguments[0].properties) {
          if (p.type === 'Property' && !p.computed) field(p.key.name ?? p.key.value, p, 'request field');
        }
      }
    },
    ArrayExpression(n) {
      // http.batch entries: ['POST', url, body, params]
      const m = literalText(n.elements[0]);
      if (n.elements.length >= 2 && m && /^(GET|POST|PUT|PATCH|DELETE|HEAD)$/.test(m)) route(n.elements[1], m);
    },
    MemberExpression(n) {
      if (!n.computed && SNAKE_RE.test(n.property.name)) field(n.property.name, n.property, 'property');
    },
    Property(n) {
      const k = n.computed ? null : (n.key.name ?? n.key.value);
      if (typeof k !== 'string') return;
      const bare = k.split('{')[0];
      if (SNAKE_RE.test(bare) && !metrics.has(bare)) field(bare, n, 'property');
    },
  });
  // Any other literal naming a route: the path must exist, whatever the method.
  walk.full(ast, (n) => {
    if ((n.type === 'Literal' || n.type === 'TemplateLiteral') && !used.has(n)) route(n, null);
  });
  return [...new Set(problems)];
}

export function checkFiles(files, opts = defaults) {
  const routes = readRoutes(opts.routesFile);
  const contract = readContract(opts.contractFile);
  const problems = [];
  for (const f of files) problems.push(...checkSource(basename(f), readFileSync(f, 'utf8'), routes, contract));
  return { problems, routes };
}

export function scripts(dir = here) {
  return readdirSync(dir).filter((f) => f.endsWith('.js')).sort().map((f) => join(dir, f));
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const files = process.argv.length > 2 ? process.argv.slice(2) : scripts();
  const { problems, routes } = checkFiles(files);
  if (problems.length > 0) {
    for (const p of problems) console.error(`k6 check: ${p}`);
    console.error(`k6 check: ${problems.length} problems in ${files.length} scripts`);
    process.exit(1);
  }
  console.log(`k6 check: ${files.length} scripts parse as ES modules and use only the ${routes.length} routes and the fields of the contract`);
}
