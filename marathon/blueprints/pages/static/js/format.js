// Formatting of times, money and dates for both pages.
import { lang } from "./i18n.js";

/** h:mm of a number of seconds, rounded to the minute. */
export function hmm(seconds) {
  const minutes = Math.round(seconds / 60);
  return `${Math.floor(minutes / 60)}:${String(minutes % 60).padStart(2, "0")}`;
}

/** m:ss (or h:mm:ss) of a countdown. */
export function clock(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  const mm = h ? String(m).padStart(2, "0") : String(m);
  return `${h ? h + ":" : ""}${mm}:${String(r).padStart(2, "0")}`;
}

/** The finish-time range that a pace band means over a course: distance × min pace .. distance × max pace. */
export function finishRange(distanceKm, minPaceS, maxPaceS) {
  return `${hmm(distanceKm * minPaceS)}–${hmm(distanceKm * maxPaceS)}`;
}

/** m:ss per km of a pace in seconds. */
export function pace(seconds) {
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
}

export function won(amount) {
  const n = new Intl.NumberFormat("ko-KR").format(amount);
  return lang() === "ko" ? `${n}원` : `KRW ${n}`;
}

export function day(isoDate) {
  const [y, m, d] = isoDate.slice(0, 10).split("-").map(Number);
  return new Intl.DateTimeFormat(lang() === "ko" ? "ko-KR" : "en-GB", { dateStyle: "long", timeZone: "UTC" })
    .format(new Date(Date.UTC(y, m - 1, d)));
}

export function dateTime(iso) {
  return new Intl.DateTimeFormat(lang() === "ko" ? "ko-KR" : "en-GB",
    { dateStyle: "medium", timeStyle: "short", timeZone: "Asia/Seoul" }).format(new Date(iso));
}
