// Korean and English texts of the fan pages. The language is the one the
// server chose from Accept-Language (the <html lang> it sent), unless the fan
// switched it; the switch is remembered in this browser.

const texts = {
  en: {
    switchTo: '한국어',
    switchLabel: '한국어로 보기',
    skip: 'Skip to content',
    onSale: 'Concerts on sale',
    homeIntro: 'Pick a concert to join its line. Your place is kept if you reload or open a second tab.',
    loading: 'Loading…',
    noConcerts: 'No concert is on sale right now.',
    listFailed: 'The list of concerts could not be loaded. Retrying…',
    join: 'Join the line',
    opensAt: 'Sale opens {t}',
    stateOpen: 'On sale',
    stateScheduled: 'Opens soon',
    statePaused: 'Paused',
    stateSoldOut: 'Sold out',
    datesCount: '{n} dates',
    concert: 'Concert {id}',
    yourId: 'Your user id',
    idHint: '1–64 letters, digits or . _ @ -',
    idBad: 'Use 1–64 letters, digits or . _ @ -.',
    enter: 'Enter the line',
    signedAs: 'Signed in as {u}',
    switchUser: 'Not you?',
    entering: 'Getting your place in line…',
    prequeueTitle: 'You are in the pre-queue',
    prequeueBody: 'When the sale opens, everyone in the pre-queue gets a place in a fair random order, ahead of everyone who comes later. Keep this page open.',
    opensIn: 'Sale opens in',
    openingTime: 'Opening time: {t}',
    opening: 'The sale is opening…',
    drawnNote: 'The sale has opened. Your place was drawn in a fair random order among everyone who waited in the pre-queue.',
    waitTitle: 'You are in line',
    keepOpen: 'Keep this page open. It updates by itself; reloading keeps your place.',
    place: 'Your place',
    ahead: 'People ahead of you',
    estimate: 'Estimated wait',
    progress: 'Progress since you joined',
    pausedTitle: 'The line is paused',
    pausedBody: 'The organiser has paused admission for a moment. You keep your place; the line moves again as soon as it resumes.',
    pausedWait: 'paused',
    lessMinute: 'less than a minute',
    aboutMin: 'about {m} min',
    aboutHour: 'about {h} h {m} min',
    reconnecting: 'Reconnecting… your place is kept.',
    retryIn: 'Trying again in {s} s.',
    reconnected: 'Connected again.',
    soldOutTitle: 'Sold out',
    soldOutBody: 'Every seat of this concert has been sold. Thank you for waiting.',
    expiredTitle: 'Your place in line ended',
    expiredBody: 'Your turn expired or was used. You can join the line again, at its end.',
    enterAgain: 'Join the line again',
    notFoundTitle: 'No such concert',
    backHome: 'See concerts on sale',
    yourTurn: "It's your turn!",
    turnBody: 'Choose a seat and pay before your turn ends.',
    turnEnds: 'Your turn ends at',
    turnLeft: 'Time left',
    pickDate: '1. Pick a date',
    noDates: 'No date has free seats any more.',
    pickSeat: '2. Pick a seat',
    seatMapHelp: 'Use the arrow keys to move between seats, Enter to choose.',
    free: 'free',
    taken: 'taken',
    seatN: 'Seat {n}',
    tier: '{p}',
    noSeats: 'No seat is free on this date.',
    chosen: 'Seat {n} on {d}, {p}',
    hold: 'Hold this seat',
    holding: 'Holding…',
    holdTitle: '3. Pay for your seat',
    heldFor: 'Seat {n} on {d} is held for you.',
    holdLeft: 'Hold ends in',
    holdSoon: 'Your hold ends in {s} seconds.',
    price: 'Price',
    balance: 'Your balance',
    topUp: 'Top up',
    topUpMissing: 'Top up {a}',
    topUpAmount: 'Amount to top up (won)',
    toppedUp: 'Your balance is now {a}.',
    pay: 'Pay {a}',
    paying: 'Paying…',
    checking: 'Checking your payment…',
    paidTitle: 'Your seat is yours',
    paidBody: 'Seat {n} on {d}: paid {a}. Payment number {id}.',
    paidBalance: 'Balance left: {a}',
    changeSeat: 'Choose another seat',
    working: 'Working…',
    lang: 'Language',
    err: {
      invalid_request: 'Something you entered is not valid. Please check it and try again.',
      body_too_large: 'That request was too large.',
      invalid_token: 'Your place in line could not be read. Getting a place again…',
      token_expired: 'Your turn has ended: it expired or was used for a payment.',
      not_admitted: "It's not your turn yet. Please wait in line.",
      user_mismatch: 'This place in line belongs to another user id.',
      concert_not_found: 'This concert does not exist.',
      date_not_found: 'This date is not on sale.',
      seat_not_found: 'This seat does not exist on this date.',
      seat_taken: 'Someone else just took this seat. Please pick another one.',
      hold_limit: 'You already hold as many unpaid seats as allowed. Pay for one or let a hold lapse first.',
      user_not_found: 'You have no balance yet: top up to create it.',
      amount_mismatch: "The amount doesn't match the seat's price. Please try again.",
      insufficient_balance: 'Your balance is too low. Top up, then pay; your seat stays held.',
      reservation_not_found: 'This hold was not found. Please pick a seat again.',
      hold_expired: 'Your hold lapsed before payment. Please pick a seat again.',
      already_paid: 'This seat is already paid for.',
      payment_in_progress: 'Your payment is being processed. Checking again in a moment…',
      idempotency_conflict: 'This payment attempt was already used for another request. Please pick the seat again.',
      rate_limited: 'Too many attempts from your network. Trying again shortly…',
      sold_out: 'Sold out: every seat has been sold.',
      sale_open: 'The sale has already opened.',
      not_found: 'This page or request does not exist.',
      unavailable: 'The ticket service is busy. Trying again shortly…',
      internal: 'Something went wrong on our side. Please try again.',
      network: 'No connection. Trying again shortly…',
      unknown: 'Something unexpected happened. Please try again.',
    },
  },
  ko: {
    switchTo: 'English',
    switchLabel: 'View in English',
    skip: '본문으로 건너뛰기',
    onSale: '예매 중인 공연',
    homeIntro: '공연을 골라 대기열에 들어가세요. 새로고침하거나 다른 탭을 열어도 순서는 그대로입니다.',
    loading: '불러오는 중…',
    noConcerts: '지금 예매 중인 공연이 없습니다.',
    listFailed: '공연 목록을 불러오지 못했습니다. 다시 시도하는 중…',
    join: '대기열 들어가기',
    opensAt: '예매 시작 {t}',
    stateOpen: '예매 중',
    stateScheduled: '오픈 예정',
    statePaused: '일시 정지',
    stateSoldOut: '매진',
    datesCount: '{n}회 공연',
    concert: '공연 {id}',
    yourId: '사용자 ID',
    idHint: '영문, 숫자, . _ @ - 로 1–64자',
    idBad: '영문, 숫자, . _ @ - 로 1–64자를 입력하세요.',
    enter: '대기열 들어가기',
    signedAs: '{u} 님',
    switchUser: '다른 사용자인가요?',
    entering: '대기 순서를 받는 중…',
    prequeueTitle: '사전 대기열에 있습니다',
    prequeueBody: '예매가 시작되면 사전 대기열의 모든 분이 공정한 무작위 순서로, 나중에 오신 분들보다 앞 순서를 받습니다. 이 페이지를 열어 두세요.',
    opensIn: '예매 시작까지',
    openingTime: '시작 시각: {t}',
    opening: '예매를 시작하는 중…',
    drawnNote: '예매가 시작되었습니다. 사전 대기열에서 기다린 모든 분 가운데 공정한 무작위 순서로 순서가 정해졌습니다.',
    waitTitle: '대기 중입니다',
    keepOpen: '이 페이지를 열어 두세요. 자동으로 갱신되며, 새로고침해도 순서는 그대로입니다.',
    place: '나의 대기 순서',
    ahead: '내 앞의 대기 인원',
    estimate: '예상 대기 시간',
    progress: '입장 후 진행률',
    pausedTitle: '대기열이 일시 정지되었습니다',
    pausedBody: '주최 측이 잠시 입장을 멈췄습니다. 순서는 그대로 유지되며, 다시 시작되면 바로 줄이 움직입니다.',
    pausedWait: '일시 정지',
    lessMinute: '1분 미만',
    aboutMin: '약 {m}분',
    aboutHour: '약 {h}시간 {m}분',
    reconnecting: '다시 연결하는 중… 순서는 그대로입니다.',
    retryIn: '{s}초 후 다시 시도합니다.',
    reconnected: '다시 연결되었습니다.',
    soldOutTitle: '매진',
    soldOutBody: '이 공연의 모든 좌석이 판매되었습니다. 기다려 주셔서 감사합니다.',
    expiredTitle: '대기 순서가 끝났습니다',
    expiredBody: '입장 시간이 지났거나 이미 사용되었습니다. 대기열 맨 뒤로 다시 들어갈 수 있습니다.',
    enterAgain: '대기열에 다시 들어가기',
    notFoundTitle: '없는 공연입니다',
    backHome: '예매 중인 공연 보기',
    yourTurn: '입장 차례입니다!',
    turnBody: '입장 시간이 끝나기 전에 좌석을 고르고 결제하세요.',
    turnEnds: '입장 종료 시각',
    turnLeft: '남은 시간',
    pickDate: '1. 날짜 선택',
    noDates: '남은 좌석이 있는 날짜가 없습니다.',
    pickSeat: '2. 좌석 선택',
    seatMapHelp: '화살표 키로 좌석을 옮기고 Enter 키로 고르세요.',
    free: '선택 가능',
    taken: '선택 불가',
    seatN: '{n}번 좌석',
    tier: '{p}',
    noSeats: '이 날짜에 남은 좌석이 없습니다.',
    chosen: '{d} {n}번 좌석, {p}',
    hold: '이 좌석 선점하기',
    holding: '선점하는 중…',
    holdTitle: '3. 결제',
    heldFor: '{d} {n}번 좌석을 선점했습니다.',
    holdLeft: '선점 남은 시간',
    holdSoon: '선점이 {s}초 후 끝납니다.',
    price: '가격',
    balance: '잔액',
    topUp: '충전',
    topUpMissing: '{a} 충전',
    topUpAmount: '충전 금액 (원)',
    toppedUp: '잔액: {a}',
    pay: '{a} 결제',
    paying: '결제하는 중…',
    checking: '결제를 확인하는 중…',
    paidTitle: '예매가 완료되었습니다',
    paidBody: '{d} {n}번 좌석: {a} 결제. 결제 번호 {id}.',
    paidBalance: '남은 잔액: {a}',
    changeSeat: '다른 좌석 고르기',
    working: '처리 중…',
    lang: '언어',
    err: {
      invalid_request: '입력한 내용이 올바르지 않습니다. 확인 후 다시 시도하세요.',
      body_too_large: '요청이 너무 큽니다.',
      invalid_token: '대기 정보를 읽을 수 없습니다. 순서를 다시 받는 중…',
      token_expired: '입장 시간이 끝났거나 결제에 이미 사용되었습니다.',
      not_admitted: '아직 차례가 아닙니다. 대기열에서 기다려 주세요.',
      user_mismatch: '이 대기 순서는 다른 사용자 ID의 것입니다.',
      concert_not_found: '없는 공연입니다.',
      date_not_found: '판매하지 않는 날짜입니다.',
      seat_not_found: '이 날짜에 없는 좌석입니다.',
      seat_taken: '방금 다른 분이 이 좌석을 선택했습니다. 다른 좌석을 고르세요.',
      hold_limit: '결제하지 않은 선점 좌석이 이미 최대 개수입니다. 먼저 결제하거나 선점이 끝나기를 기다리세요.',
      user_not_found: '아직 잔액이 없습니다. 충전하면 생성됩니다.',
      amount_mismatch: '금액이 좌석 가격과 다릅니다. 다시 시도하세요.',
      insufficient_balance: '잔액이 부족합니다. 충전 후 결제하세요. 좌석 선점은 유지됩니다.',
      reservation_not_found: '선점 내역을 찾을 수 없습니다. 좌석을 다시 고르세요.',
      hold_expired: '결제 전에 선점 시간이 끝났습니다. 좌석을 다시 고르세요.',
      already_paid: '이미 결제된 좌석입니다.',
      payment_in_progress: '결제를 처리하고 있습니다. 잠시 후 다시 확인합니다…',
      idempotency_conflict: '이 결제 시도는 다른 요청에 이미 사용되었습니다. 좌석을 다시 고르세요.',
      rate_limited: '요청이 너무 많습니다. 잠시 후 다시 시도합니다…',
      sold_out: '매진: 모든 좌석이 판매되었습니다.',
      sale_open: '예매가 이미 시작되었습니다.',
      not_found: '없는 페이지 또는 요청입니다.',
      unavailable: '예매 서비스가 혼잡합니다. 잠시 후 다시 시도합니다…',
      internal: '일시적인 오류가 발생했습니다. 다시 시도하세요.',
      network: '연결이 끊겼습니다. 잠시 후 다시 시도합니다…',
      unknown: '예상하지 못한 오류입니다. 다시 시도하세요.',
    },
  },
};

const langKey = 'rushgate:lang';

function initialLang() {
  const saved = localStorage.getItem(langKey);
  if (saved === 'ko' || saved === 'en') return saved;
  return document.documentElement.lang === 'ko' ? 'ko' : 'en';
}

let lang = initialLang();
const listeners = [];

/** The current language, 'ko' or 'en'. */
export const current = () => lang;

/** t returns the text of key in the current language, with {name} filled from vars. */
export function t(key, vars) {
  const s = texts[lang][key] ?? texts.en[key] ?? key;
  return vars ? s.replace(/\{(\w+)\}/g, (_, k) => vars[k] ?? '') : s;
}

/** errorText is the sentence a fan reads for an API error code. */
export function errorText(code) {
  return texts[lang].err[code] ?? texts[lang].err.unknown;
}

/** onChange calls fn whenever the language changes. */
export const onChange = (fn) => listeners.push(fn);

/** setLang switches the language, remembers it, and redraws every [data-t] text. */
export function setLang(l) {
  lang = l;
  localStorage.setItem(langKey, l);
  apply();
  for (const fn of listeners) fn();
}

/** apply fills every element with a data-t attribute with its text. */
export function apply(root = document) {
  document.documentElement.lang = lang;
  for (const el of root.querySelectorAll('[data-t]')) el.textContent = t(el.dataset.t);
  for (const el of root.querySelectorAll('[data-t-label]')) el.setAttribute('aria-label', t(el.dataset.tLabel));
}

/** won formats an amount of money. */
export const won = (n) => (lang === 'ko' ? `${n.toLocaleString('ko-KR')}원` : `₩${n.toLocaleString('en-US')}`);

/** num formats a count. */
export const num = (n) => n.toLocaleString(lang === 'ko' ? 'ko-KR' : 'en-US');

/** clock formats a time of day. */
export const clock = (d) => d.toLocaleTimeString(lang === 'ko' ? 'ko-KR' : 'en-US', { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });

/** when formats a date and time. */
export const when = (d) => d.toLocaleString(lang === 'ko' ? 'ko-KR' : 'en-US', { dateStyle: 'medium', timeStyle: 'short' });

/** day formats a YYYY-MM-DD date with its weekday. */
export function day(iso) {
  const [y, m, d] = iso.split('-').map(Number);
  return new Date(y, m - 1, d).toLocaleDateString(lang === 'ko' ? 'ko-KR' : 'en-US', { weekday: 'short', month: 'short', day: 'numeric', year: 'numeric' });
}

/** estimate turns seconds of waiting into words that do not overpromise. */
export function estimate(sec) {
  if (sec < 60) return t('lessMinute');
  const m = Math.ceil(sec / 60);
  if (m < 60) return t('aboutMin', { m });
  return t('aboutHour', { h: Math.floor(m / 60), m: m % 60 });
}

/** countdown formats milliseconds left as m:ss or h:mm:ss. */
export function countdown(ms) {
  const s = Math.max(0, Math.ceil(ms / 1000));
  const h = Math.floor(s / 3600);
  const mm = String(Math.floor((s % 3600) / 60));
  const ss = String(s % 60).padStart(2, '0');
  return h ? `${h}:${mm.padStart(2, '0')}:${ss}` : `${mm}:${ss}`;
}

/** switcher wires a button that toggles the language. */
export function switcher(btn) {
  const draw = () => {
    btn.textContent = t('switchTo');
    btn.setAttribute('aria-label', t('switchLabel'));
    btn.lang = lang === 'ko' ? 'en' : 'ko';
  };
  draw();
  onChange(draw);
  btn.addEventListener('click', () => setLang(lang === 'ko' ? 'en' : 'ko'));
}
