// The pages' words in Korean (the default) and English, and the toggle between them.

const STRINGS = {
  ko: {
    brand: "마라톤 참가 신청", brand_admin: "마라톤 관리자", sign_out: "로그아웃", sign_in: "로그인", sign_up: "회원가입",
    auth_title: "로그인하고 참가 신청하기", email: "이메일", password: "비밀번호", password_hint: "10자 이상",
    name: "이름", birth_date: "생년월일", phone: "휴대전화", one_account: "한 사람당 계정 하나 (이름·생년월일·전화번호).",
    signed_up: "가입되었습니다. 로그인합니다…",
    my_entries: "나의 참가 신청", choose_race: "대회 선택", choose_course: "코스", choose_pace: "페이스 그룹",
    join_line: "대기열 들어가기", enter_ballot: "추첨 응모하기", join_waitlist: "대기자 명단 등록",
    ballot_status: "추첨: {status}", ballot_rank: " · 순번 {rank}", waitlist_status: "대기자 명단: {status}", waitlist_position: " · {position}번째", finish: "예상 완주 {range}", per_km: "/km", remaining: "남은 자리 {n}",
    waiting_n: "대기 {n}명", sold_out: "매진", none_left: "남은 자리 없음", corral: "출발 그룹", course: "코스", pace_group: "페이스 그룹",
    chosen: "{course} · {pace} · {price}",
    state_scheduled: "접수 예정", state_lobby: "대기실 열림", state_open: "접수 중", state_paused: "일시 중지",
    state_closed: "접수 마감", opens_at: "접수 시작 {when}",
    in_line: "대기 중입니다", line_ended: "대기가 끝났습니다", pow_solving: "브라우저 확인 중…", position: "나의 순서", ahead: "앞 사람",
    eta: "예상 대기 시간", eta_unknown: "계산 중", keep_open: "이 화면을 열어 두세요. 자동으로 새로고침됩니다.",
    leave_line: "대기열 나가기", back: "돌아가기", lobby_note: "접수 시작 전 대기실입니다. 시작 시각에 순서가 무작위로 정해집니다.",
    status_expired: "결제 시간이 지나 자리가 풀렸습니다.", status_sold_out: "이 그룹은 매진되었습니다.",
    status_left: "대기열에서 나왔습니다.", status_confirmed: "이미 참가 신청이 완료되었습니다.",
    admitted: "자리가 확보되었습니다", hold_left: "남은 결제 시간", checkout: "결제",
    fake_provider: "테스트 결제입니다. 실제로 청구되지 않습니다.", blood_type: "혈액형 (배번에 인쇄)",
    emergency_contact: "비상 연락처", card_result: "테스트 카드", card_ok: "승인", card_decline: "거절",
    pay: "결제하기", give_back: "자리 반납하기", give_back_q: "확보한 자리를 반납할까요?",
    your_bib: "나의 배번", transfer: "다른 러너에게 양도", to_email: "받는 사람 계정 이메일", transfer_do: "양도하기",
    transfer_q: "{email} 님에게 배번을 양도할까요?", transferred: "양도되었습니다.",
    cancel_entry: "참가 취소", cancel_q: "참가를 취소하고 환불받을까요?", cancelled: "취소되었습니다. 환불 {amount} ({status})",
    yes: "예", no: "아니요", seconds_short: "{n}초", minutes_short: "약 {n}분", leave_q: "대기열에서 나갈까요? 순서를 잃습니다.",
    reg_confirmed: "확정", reg_cancelled: "취소됨", reg_transferred: "양도됨", reg_voided: "무효",
    see_races: "대회 둘러보기", no_races: "판매 중인 대회가 없습니다.", unsupported_provider: "이 화면은 테스트 결제만 지원합니다 ({provider}).",
    retry_in: "{s}초 후 다시 시도해 주세요.",
    admin_sign_in: "관리자 로그인", not_admin: "관리자 계정이 아닙니다.", race: "대회", open_sale: "접수 시작",
    pause_sale: "일시 중지", close_sale: "접수 마감", capacity: "정원", confirmed: "확정", held: "결제 대기",
    waiting: "대기", rate: "초당 입장", bucket: "그룹", fill: "현황", updated: "{time} 갱신",
    modes: "추첨 · 대기자", mode_figures: "응모 {entries} · 당첨 {winners} · 제안 {offers} · 결제 {paid} · 만료 {expired} · 대기자 {waitlist}",
    chart_caption: "초당 입장 수 (최근 2분)", action_q: "{race}: '{action}' 하시겠습니까?",
    // the API's refusals that a runner meets most, said in Korean (the API's own message is shown beneath)
    reason_sold_out: "이 그룹은 매진되었습니다.", reason_sale_not_open: "지금은 접수 기간이 아닙니다.",
    reason_already_in_line: "이미 대기열에 있습니다.", reason_already_registered: "이미 참가 신청을 했습니다.",
    reason_hold_expired: "결제 시간이 지났습니다.", reason_payment_declined: "카드 결제가 거절되었습니다.",
    reason_email_taken: "이미 가입된 이메일입니다.", reason_identity_taken: "이미 가입된 사람입니다 (이름·생년월일·전화번호).",
    reason_bad_pow: "브라우저 확인에 실패했습니다. 다시 시도해 주세요.", reason_refund_window_closed: "환불 기간이 지났습니다.",
    reason_recipient_registered: "받는 사람이 이미 참가 신청을 했습니다.", reason_transfer_closed: "양도 기간이 지났습니다.",
    reason_transferred_away: "이 대회의 참가권을 양도하셨으므로 다시 대기열에 들어갈 수 없습니다.",
    reason_transfer_limit: "이 대회에서는 한 번만 양도할 수 있습니다.",
  },
  en: {
    brand: "Marathon entry", brand_admin: "Marathon admin", sign_out: "Sign out", sign_in: "Sign in", sign_up: "Sign up",
    auth_title: "Sign in to enter", email: "Email", password: "Password", password_hint: "At least 10 characters",
    name: "Name", birth_date: "Birth date", phone: "Mobile phone", one_account: "One account per person (name, birth date and phone).",
    signed_up: "Account created. Signing you in…",
    my_entries: "My entries", choose_race: "Choose a race", choose_course: "Course", choose_pace: "Pace group",
    join_line: "Join the line", enter_ballot: "Enter the ballot", join_waitlist: "Join the waitlist",
    ballot_status: "Ballot: {status}", ballot_rank: " · rank {rank}", waitlist_status: "Waitlist: {status}", waitlist_position: " · position {position}", finish: "Finish {range}", per_km: "/km", remaining: "{n} left",
    waiting_n: "{n} waiting", sold_out: "Sold out", none_left: "None left", corral: "Corral", course: "Course", pace_group: "Pace group",
    chosen: "{course} · {pace} · {price}",
    state_scheduled: "Scheduled", state_lobby: "Lobby open", state_open: "On sale", state_paused: "Paused",
    state_closed: "Closed", opens_at: "Sale opens {when}",
    in_line: "You are in line", line_ended: "Your wait has ended", pow_solving: "Checking this is a real browser…", position: "Your place",
    ahead: "Ahead of you", eta: "Estimated wait", eta_unknown: "estimating",
    keep_open: "Keep this page open; it updates by itself.", leave_line: "Leave the line", back: "Back",
    lobby_note: "You are in the lobby: at the opening everyone here is put in a random order.",
    status_expired: "Your time to pay ran out and the place was released.", status_sold_out: "This group is sold out.",
    status_left: "You left the line.", status_confirmed: "You are already registered.",
    admitted: "Your place is held", hold_left: "Time left to pay", checkout: "Checkout",
    fake_provider: "Test payments: no card is charged.", blood_type: "Blood type (printed on the bib)",
    emergency_contact: "Emergency contact", card_result: "Test card", card_ok: "Approved", card_decline: "Declined",
    pay: "Pay", give_back: "Give the place back", give_back_q: "Give your held place back?",
    your_bib: "Your bib", transfer: "Transfer to another runner", to_email: "Their account email", transfer_do: "Transfer",
    transfer_q: "Transfer your bib to {email}?", transferred: "Transferred.",
    cancel_entry: "Cancel my entry", cancel_q: "Cancel your entry and get a refund?", cancelled: "Cancelled. Refund {amount} ({status})",
    yes: "Yes", no: "No", seconds_short: "{n} s", minutes_short: "about {n} min", leave_q: "Leave the line? You lose your place.",
    reg_confirmed: "confirmed", reg_cancelled: "cancelled", reg_transferred: "transferred", reg_voided: "voided",
    see_races: "See the races", no_races: "No race is on sale.", unsupported_provider: "This page supports test payments only ({provider}).",
    retry_in: "Please try again in {s} s.",
    admin_sign_in: "Admin sign-in", not_admin: "This account is not an admin.", race: "Race", open_sale: "Open",
    pause_sale: "Pause", close_sale: "Close", capacity: "Capacity", confirmed: "Confirmed", held: "Held",
    waiting: "Waiting", rate: "Admissions/s", bucket: "Bucket", fill: "Fill", updated: "updated {time}",
    modes: "Ballot · waitlist", mode_figures: "entries {entries} · winners {winners} · offers {offers} · paid {paid} · expired {expired} · waitlist {waitlist}",
    chart_caption: "Admissions per second (last 2 minutes)", action_q: "{race}: {action}?",
  },
};

const KEY = "marathon.lang";
const listeners = [];
let current = localStorage.getItem(KEY) === "en" ? "en" : "ko";

export function lang() { return current; }

/** The current language's own words for an API refusal `reason`, if it has any. */
export function reasonText(reason) {
  return reason && current !== "en" ? STRINGS[current][`reason_${reason}`] : undefined;
}

/** The string `key` in the current language, with {name} filled from `vars`. */
export function t(key, vars = {}) {
  const text = STRINGS[current][key] ?? STRINGS.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in vars ? vars[name] : `{${name}}`));
}

/** Puts the current language's words into every [data-i18n] element under `root`. */
export function translate(root = document) {
  document.documentElement.lang = current;
  root.querySelectorAll("[data-i18n]").forEach((element) => { element.textContent = t(element.dataset.i18n); });
  const toggle = document.getElementById("lang-toggle");
  if (toggle) toggle.textContent = current === "ko" ? "EN" : "한국어";
}

export function onLanguage(callback) { listeners.push(callback); }

export function setLanguage(next) {
  current = next;
  localStorage.setItem(KEY, next);
  translate();
  listeners.forEach((callback) => callback(next));
}

export function installToggle() {
  translate();
  document.getElementById("lang-toggle").addEventListener("click", () => setLanguage(current === "ko" ? "en" : "ko"));
}
