// Small helpers the fan pages share: finding elements, announcing changes to
// screen readers, and waiting with back-off.

/** $ returns the element with this id. */
export const $ = (id) => document.getElementById(id);

/** el makes an element with attributes and text. */
export function el(tag, attrs = {}, text) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === false || v == null) continue;
    if (k === 'class') e.className = v;
    else e.setAttribute(k, v === true ? '' : v);
  }
  if (text != null) e.textContent = text;
  return e;
}

let lastPolite = '';

/** announce says msg through the polite live region (skipped when it repeats). */
export function announce(msg) {
  if (msg === lastPolite) return;
  lastPolite = msg;
  const r = $('announce');
  r.textContent = '';
  // A new text node after a tick makes every screen reader read it.
  setTimeout(() => (r.textContent = msg), 50);
}

/** alertNow says msg through the assertive live region. */
export function alertNow(msg) {
  const r = $('alert');
  r.textContent = '';
  setTimeout(() => (r.textContent = msg), 50);
}

/**
 * jittered stretches ms by up to a fifth, and by no more than capMs: many tabs
 * never land in step, and never sooner than asked.
 */
export const jittered = (ms, capMs = Infinity) => ms + Math.random() * Math.min(ms * 0.2, capMs);

/**
 * backoff is the wait before retry number n (0-based) after a transient
 * failure: doubling from 1 s to 30 s, never less than the server's
 * Retry-After, with jitter.
 */
export function backoff(n, retryAfterSec = 0) {
  const base = Math.min(30000, 1000 * 2 ** Math.min(n, 5));
  return jittered(Math.max(base, retryAfterSec * 1000));
}
