// flow.js: what a rushgate client does with each answer of the line, and
// which answers break the contract. It imports nothing from k6, so that node
// tests it (check.test.mjs); lib.js drives it from k6.

// The statuses a token can have in an answer of the line.
const LIVE = ['waiting', 'active', 'prequeue'];

function isCount(v, least) {
  return Number.isInteger(v) && v >= least;
}

// problemsOf lists how a 200 answer of the line (entry or poll) breaks the
// contract for its status; poll says whether it answered a poll (polls carry
// poll_after_ms while there is something to wait for).
function problemsOf(body, poll) {
  const p = [];
  const st = body.status;
  if (st === 'sold_out') {
    if (!poll) p.push('an entry answered 200 with status sold_out (want 409 sold_out)');
    if (body.queue_position !== null) p.push('sold_out with a queue_position (want null)');
    if ('poll_after_ms' in body) p.push('sold_out with a poll_after_ms (nothing is left to poll for)');
  } else if (st === 'prequeue') {
    if (body.queue_position !== null) p.push('prequeue with a queue_position (want null until the draw)');
    if (typeof body.opens_at !== 'string') p.push('prequeue without opens_at');
    if (poll && !isCount(body.poll_after_ms, 1)) p.push(`prequeue poll_after_ms ${body.poll_after_ms}`);
  } else if (st === 'waiting') {
    if (!isCount(body.queue_position, 1)) p.push(`waiting at queue_position ${body.queue_position} (want 1 or more)`);
    if (poll && !isCount(body.poll_after_ms, 1)) p.push(`waiting poll_after_ms ${body.poll_after_ms}`);
  } else if (st === 'active') {
    if (body.queue_position !== 0) p.push(`active at queue_position ${body.queue_position} (want 0)`);
  } else {
    p.push(`unknown status ${JSON.stringify(st)}`);
  }
  return p;
}

// afterEntry reads the answer to POST /api/tokens (HTTP status, parsed
// body). next is 'poll' (in line or in the pre-queue), 'admitted' (already
// active), 'sold_out' (409 sold_out: nothing to wait for) or 'refused'.
export function afterEntry(status, body) {
  if (status === 409) {
    const code = body && body.error && body.error.code;
    if (code === 'sold_out') return { next: 'sold_out', problems: [] };
    return { next: 'refused', problems: [`entry answered 409 ${code} (want sold_out)`] };
  }
  if (status !== 200 && status !== 201) return { next: 'refused', problems: [] };
  const problems = problemsOf(body, false);
  if (!LIVE.includes(body.status)) return { next: 'refused', problems };
  return { next: body.status === 'active' ? 'admitted' : 'poll', problems };
}

// afterPoll reads an answer to GET /api/queue/position. next is 'admitted',
// 'poll' again after sleepMs (poll_after_ms times scale), 'sold_out' (stop
// polling: the concert sold out) or 'refused' (any other status code).
export function afterPoll(status, body, scale) {
  if (status !== 200) return { next: 'refused', sleepMs: 0, problems: [] };
  const problems = problemsOf(body, true);
  switch (body.status) {
    case 'active':
      return { next: 'admitted', sleepMs: 0, problems };
    case 'sold_out':
      return { next: 'sold_out', sleepMs: 0, problems };
    case 'waiting':
    case 'prequeue':
      return { next: 'poll', sleepMs: Math.max(0, (body.poll_after_ms || 1000) * scale), problems };
  }
  return { next: 'refused', sleepMs: 0, problems };
}

// afterSoldOut checks a poll sent some time after the token was told
// sold_out: the sale stays over, so the answer must be sold_out again.
export function afterSoldOut(status, body) {
  if (status === 200 && body.status === 'sold_out') return [];
  return [`a poll after sold_out answered ${status} ${body && body.status} (want sold_out for good)`];
}

// abandons says whether user i (0, 1, 2, …) of a run leaves the line after
// its first poll, for a share (0 … 1) of the users spread evenly over the
// run: with 0.3, three of every ten consecutive users, whatever the run's
// size.
export function abandons(i, share) {
  if (!(share > 0)) return false;
  return Math.floor((i + 1) * share) > Math.floor(i * share);
}
