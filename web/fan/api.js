// The public API of the gateway, as any client calls it: JSON bodies with
// their Content-Type, the queue token as a Bearer header, errors as the
// contract's {"error": {"code", "message"}}.

/** ApiError is a failed call: status 0 and code 'network' when no answer came. */
export class ApiError extends Error {
  constructor(status, code, message, body, retryAfter) {
    super(message || code);
    this.status = status;
    this.code = code;
    this.body = body;
    this.retryAfter = retryAfter; // seconds, or 0 when the server named none
  }

  /** transient reports whether retrying later may succeed by itself. */
  get transient() {
    return this.status === 0 || this.status === 503 || this.status === 429 || this.status === 502 || this.status === 504;
  }
}

// skew is the server's clock minus this browser's, learnt from Date headers,
// so countdowns to the server's times are right on a machine whose clock is off.
let skew = 0;

/** serverNow is the current time by the server's clock, in milliseconds. */
export const serverNow = () => Date.now() + skew;

/**
 * call sends one request and returns its parsed body.
 * opts: body (sent as JSON), token (Bearer), key (Idempotency-Key),
 * timeout (ms, default 10 s), cache (fetch's cache mode, default
 * 'no-store'). Throws ApiError.
 */
export async function call(method, path, opts = {}) {
  const headers = { Accept: 'application/json' };
  if (opts.body !== undefined) headers['Content-Type'] = 'application/json';
  if (opts.token) headers.Authorization = `Bearer ${opts.token}`;
  if (opts.key) headers['Idempotency-Key'] = opts.key;
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), opts.timeout ?? 10000);
  const sent = Date.now();
  let res;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: opts.body === undefined ? undefined : encode(opts.body),
      signal: ctl.signal,
      // Queue and booking answers are live; the catalogue may come from
      // the browser's cache as briefly as the gateway allows.
      cache: opts.cache ?? 'no-store',
      credentials: 'same-origin',
    });
  } catch (e) {
    throw new ApiError(0, 'network', String(e), null, 0);
  } finally {
    clearTimeout(timer);
  }
  const date = Date.parse(res.headers.get('Date') || '');
  if (!Number.isNaN(date)) {
    // The header has whole seconds: the server's clock read somewhere in
    // that second, so its middle is the best guess.
    const mid = (sent + Date.now()) / 2;
    const s = date + 500 - mid;
    if (Math.abs(s) > 1500) skew = s;
  }
  let body = null;
  try {
    body = decode(await res.text());
  } catch {
    // An answer without JSON (a proxy's error page): handled by status below.
  }
  if (!res.ok) {
    const code = body?.error?.code || (res.status >= 500 ? 'unavailable' : 'unknown');
    const ra = Number(res.headers.get('Retry-After')) || 0;
    throw new ApiError(res.status, code, body?.error?.message, body, ra);
  }
  return body;
}

// Ids may be any positive 63-bit integer, beyond what a JS number holds
// exactly: such numbers are read as BigInt from their source text and written
// back as they were (where the browser can; a current Chromium, Firefox and
// Safari can).
const decode = (text) =>
  JSON.parse(text, (k, v, ctx) =>
    typeof v === 'number' && Number.isInteger(v) && !Number.isSafeInteger(v) && ctx?.source ? BigInt(ctx.source) : v);

const encode = (obj) =>
  JSON.stringify(obj, (k, v) => (typeof v === 'bigint' ? (JSON.rawJSON ? JSON.rawJSON(String(v)) : Number(v)) : v));

/** id reads a positive integer id from text: a number, or a BigInt when a number cannot hold it; NaN when it is no id. */
export function id(text) {
  if (!/^[1-9][0-9]{0,18}$/.test(text)) return NaN;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : BigInt(text);
}

/** USER_ID is the contract's user id rule. */
export const USER_ID = /^[A-Za-z0-9._@-]{1,64}$/;
