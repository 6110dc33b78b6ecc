// The console is a client of the gateway's admin API like any other. The
// admin key lives in sessionStorage: this tab only, gone when it closes.

const storageKey = 'rushgate.adminKey';

export function savedKey() {
  return sessionStorage.getItem(storageKey) || '';
}

export function saveKey(key) {
  sessionStorage.setItem(storageKey, key);
}

export function forgetKey() {
  sessionStorage.removeItem(storageKey);
}

// Concert ids may be any 63-bit integer, past what a JS number holds
// exactly: they are read from the JSON source as strings.
function reviver(key, value, context) {
  if (key === 'concert_id' && context && typeof context.source === 'string') {
    return context.source;
  }
  return value;
}

export class APIError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

// call sends one request with the admin key and returns the decoded body,
// or throws an APIError carrying the contract's code and message.
export async function call(method, path, body, key = savedKey()) {
  const init = { method, headers: { Authorization: 'Bearer ' + key } };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    throw new APIError(0, 'network', 'the gateway does not answer');
  }
  const text = await res.text();
  let data = null;
  try {
    data = text ? JSON.parse(text, reviver) : null;
  } catch (e) {
    data = null;
  }
  if (!res.ok) {
    const err = (data && data.error) || {};
    throw new APIError(res.status, err.code || 'http_' + res.status, err.message || res.statusText);
  }
  return data;
}
