// What the browser keeps of a fan's place, per (user, concert), in
// localStorage: a reload or a second tab finds the same token, hold and
// receipt. (Re-entering the line returns the same token anyway; keeping it
// spares the entry and keeps the progress bar's starting point.)

const lastUserKey = 'rushgate:user';

/** Place is the stored record of one user in one concert's line. */
export class Place {
  constructor(user, concert) {
    this.key = `rushgate:place:${concert}:${user}`;
  }

  /** get returns the record: {token, start, hold, receipt}, any of them missing. */
  get() {
    try {
      return JSON.parse(localStorage.getItem(this.key)) || {};
    } catch {
      return {};
    }
  }

  /** set merges fields into the record; a field set to undefined is removed. */
  set(fields) {
    const r = { ...this.get(), ...fields };
    for (const k of Object.keys(r)) if (r[k] === undefined) delete r[k];
    localStorage.setItem(this.key, JSON.stringify(r));
    return r;
  }
}

/** lastUser is the user id this browser entered with last, or ''. */
export const lastUser = () => localStorage.getItem(lastUserKey) || '';

/** rememberUser keeps the user id for the next visit. */
export const rememberUser = (u) => localStorage.setItem(lastUserKey, u);

/** newKey returns a fresh random Idempotency-Key (crypto.getRandomValues works without HTTPS too). */
export function newKey() {
  const b = crypto.getRandomValues(new Uint8Array(16));
  return 'fan-' + Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}
