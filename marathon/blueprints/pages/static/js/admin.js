// The admin's live board: per bucket capacity, confirmed, held, waiting and admissions per second, polled every 2 s.
import { ApiError, createApi } from "./api.js";
import { drawChart } from "./chart.js";
import { installToggle, onLanguage, t } from "./i18n.js";
import { $, busy, clearAlert, confirmDialog, el, showAlert, showView } from "./ui.js";

const POLL_MS = 2000;
const api = createApi("marathon.admin", () => signedOut());
let race = null;        // slug of the race on the board
let previous = null;    // the last stats answer and when it came: {at, byLine, total}
let samples = [];       // [{t, value}] admissions per second of the whole race
let rates = {};         // line -> admissions per second
let timer = null;
let lastStats = null;

function signedOut() {
  clearTimeout(timer);
  $("#who").hidden = true;
  $("#sign-out").hidden = true;
  showView("auth");
}

async function signedIn() {
  const me = await api.get("/api/v1/auth/me");
  if (!(me.roles || []).includes("admin")) {
    api.signOut();
    showAlert(t("not_admin"));
    return;
  }
  $("#who").textContent = me.email;
  $("#who").hidden = false;
  $("#sign-out").hidden = false;
  showView("board");
  const races = await api.get("/api/v1/races");
  const select = $("#race-select");
  select.replaceChildren(...races.map((r) => el("option", { value: r.slug }, r.name)));
  const wanted = new URLSearchParams(location.search).get("race");
  if (wanted && races.some((r) => r.slug === wanted)) select.value = wanted;
  if (races.length) choose(select.value);
}

async function onLogin(event) {
  event.preventDefault();
  clearAlert();
  const form = event.target;
  try {
    await busy(form.querySelector("button"), () => api.login(form.email.value, form.password.value));
    form.reset();
    await signedIn();
  } catch (error) { showAlert(error); }
}

function choose(slug) {
  race = slug;
  previous = null;
  samples = [];
  rates = {};
  clearTimeout(timer);
  refresh();
}

async function refresh() {
  clearTimeout(timer);
  const asked = race;
  try {
    const stats = await api.get(`/api/v1/admin/races/${encodeURIComponent(asked)}/stats`);
    if (asked !== race) return;
    measure(stats, Date.now());
    render(stats);
    if ($("#alert").dataset.kind !== "info") clearAlert();
  } catch (error) {
    showAlert(error);
    if (error instanceof ApiError && error.status === 401) return;
  }
  timer = setTimeout(refresh, POLL_MS);
}

/** Admissions per second: the rise of admitted_total since the previous poll, over the time between them. */
function measure(stats, at) {
  const byLine = Object.fromEntries(stats.buckets.map((b) => [b.line, b.admitted_total]));
  const total = stats.buckets.reduce((sum, b) => sum + b.admitted_total, 0);
  if (previous) {
    const seconds = (at - previous.at) / 1000;
    rates = Object.fromEntries(stats.buckets.map((b) => [b.line, Math.max(0, b.admitted_total - (previous.byLine[b.line] ?? b.admitted_total)) / seconds]));
    samples.push({ t: at, value: Math.max(0, total - previous.total) / seconds });
    samples = samples.filter((s) => s.t >= at - 120_000);
  }
  previous = { at, byLine, total };
}

function rate(value) { return value === undefined ? "–" : value.toFixed(1); }

function render(stats) {
  lastStats = stats;
  const state = stats.sale_state;
  if (state) { $("#sale-state").textContent = t(`state_${state}`); $("#sale-state").dataset.state = state; }
  const totals = stats.totals || {};
  const sum = (key) => totals[key] ?? stats.buckets.reduce((acc, b) => acc + (b[key] || 0), 0);
  for (const key of ["capacity", "confirmed", "held", "waiting"]) $(`#total-${key}`).textContent = sum(key);
  $("#total-rate").textContent = rate(samples.at(-1)?.value);
  $("#updated").textContent = t("updated", { time: new Date().toLocaleTimeString("ko-KR", { hour12: false }) });
  $("#buckets tbody").replaceChildren(...stats.buckets.map((b) => {
    const confirmed = b.capacity ? (100 * b.confirmed) / b.capacity : 0;
    const held = b.capacity ? (100 * b.held) / b.capacity : 0;
    return el("tr", { dataset: { line: b.line } },
      el("th", { scope: "row" }, b.line),
      el("td", { dataset: { field: "capacity" } }, String(b.capacity)),
      el("td", { dataset: { field: "confirmed" } }, String(b.confirmed)),
      el("td", { dataset: { field: "held" } }, String(b.held)),
      el("td", { dataset: { field: "waiting" } }, String(b.waiting)),
      el("td", { dataset: { field: "rate" } }, rate(rates[b.line])),
      el("td", {}, el("span", { class: "fill", title: `${Math.round(confirmed + held)}%` },
        el("span", { class: "confirmed", style: `width:${confirmed}%` }),
        el("span", { class: "held", style: `width:${held}%` }))),
      // the ballot's and the waitlist's figures (zeros in a first-come race without a waitlist)
      el("td", { dataset: { field: "modes" } }, t("mode_figures", {
        entries: b.entries ?? 0, winners: b.winners ?? 0, offers: b.offers_open ?? 0, paid: b.paid ?? 0,
        expired: b.expired ?? 0, waitlist: b.waitlist ?? 0 })));
  }));
  drawChart($("#chart"), samples);
}

async function act(button) {
  const action = button.dataset.action;
  const name = $("#race-select").selectedOptions[0]?.textContent || race;
  if (!(await confirmDialog(t("action_q", { race: name, action: button.textContent })))) return;
  try {
    const answer = await busy(button, () => api.post(`/api/v1/admin/races/${encodeURIComponent(race)}/${action}`));
    showAlert(`${name}: ${t(`state_${answer.sale_state}`)}`, "info");
    refresh();
  } catch (error) { showAlert(error); }
}

installToggle();
onLanguage(() => { if (lastStats) render(lastStats); });
$("#login-form").addEventListener("submit", onLogin);
$("#sign-out").addEventListener("click", () => api.signOut());
$("#race-select").addEventListener("change", (event) => choose(event.target.value));
document.querySelectorAll("[data-action]").forEach((button) => button.addEventListener("click", () => act(button)));

if (api.signedIn) signedIn().catch((error) => showAlert(error));
else showView("auth");
