// The runner's page: races, courses and pace groups for anyone; sign-in when the runner joins a line; then the
// journey (journey.js).
import { ApiError, createApi } from "./api.js";
import { day, dateTime, finishRange, pace, won } from "./format.js";
import { installToggle, onLanguage, t } from "./i18n.js";
import { createJourney } from "./journey.js";
import { solve } from "./pow.js";
import { $, busy, clearAlert, el, formData, showAlert, showView } from "./ui.js";

const api = createApi("marathon.runner", () => signedOut());
const choice = { race: null, course: null, group: null };
let refreshTimer = null;
let joinAfterSignIn = false;  // the runner chose a place before signing in: the join follows the sign-in
const journey = createJourney(api, { backToRaces: () => showRaces() });

function signedOut() {
  journey.stop();
  clearInterval(refreshTimer);
  joinAfterSignIn = false;
  $("#who").hidden = true;
  $("#sign-out").hidden = true;
  $("#sign-in").hidden = false;
  showRaces();  // the races stay public
}

async function signedIn() {
  const me = await api.get("/api/v1/auth/me");
  $("#who").textContent = me.name;
  $("#who").hidden = false;
  $("#sign-out").hidden = false;
  $("#sign-in").hidden = true;
  await showRaces();
  if (joinAfterSignIn && choice.race && choice.course && choice.group && document.body.dataset.view === "races") {
    joinAfterSignIn = false;
    await onJoin();
  }
}

function showSignIn() {
  journey.stop();
  clearInterval(refreshTimer);
  showView("auth");
}

// --- sign-in and sign-up -------------------------------------------------------------------------------------------

function switchTab(signup) {
  $("#tab-login").setAttribute("aria-selected", String(!signup));
  $("#tab-signup").setAttribute("aria-selected", String(signup));
  $("#login-form").hidden = signup;
  $("#signup-form").hidden = !signup;
}

async function onLogin(event) {
  event.preventDefault();
  const form = event.target;
  clearAlert();
  try {
    await busy(form.querySelector("button"), () => api.login(form.email.value, form.password.value));
    form.reset();
    await signedIn();
  } catch (error) { showAlert(error); }
}

async function onSignup(event) {
  event.preventDefault();
  const form = event.target;
  clearAlert();
  const body = formData(form);
  try {
    await busy(form.querySelector("button"), async () => {
      await api.signup(body);
      showAlert(t("signed_up"), "info");
      await api.login(body.email, body.password);
    });
    form.reset();
    clearAlert();
    await signedIn();
  } catch (error) { showAlert(error); }
}

// --- races, courses, pace groups -----------------------------------------------------------------------------------

async function showRaces() {
  journey.stop();
  showView("races");
  const races = await api.get("/api/v1/races").catch((error) => { showAlert(error); return []; });
  if (api.signedIn) loadEntries(races);
  else $("#my-entries").hidden = true;
  const list = $("#race-list");
  list.replaceChildren(...races.map((race) => el("li", {},
    el("button", { type: "button", class: "choice", dataset: { race: race.slug },
                   "aria-pressed": String(choice.race?.id === race.id), onclick: () => { clearAlert(); selectRace(race.slug); } },
      el("strong", {}, race.name), el("span", { class: "meta" }, `${day(race.date)} · ${t(`state_${race.sale_state}`)}`)))));
  if (!races.length) list.append(el("li", { class: "note" }, t("no_races")));
  // with one race there is nothing to choose: its detail follows
  list.hidden = races.length === 1;
  $("#races-heading").hidden = races.length === 1;
  const again = choice.race && races.find((race) => race.id === choice.race.id);
  if (again || races.length === 1) await selectRace((again || races[0]).slug);
}

async function loadEntries(races) {
  // the list is a convenience: without it (or with none) the box stays hidden
  const box = $("#my-entries");
  try {
    const entries = await api.get("/api/v1/registrations");
    const live = entries.filter((entry) => entry.status !== "transferred");
    box.hidden = !live.length;
    $("#entries-list").replaceChildren(...live.map((entry) => el("li", {},
      el("button", { type: "button", class: "choice", onclick: () => journey.showTicket(entry, raceOf(entry, races)) },
        el("strong", {}, `#${entry.bib}`),
        el("span", { class: "meta" }, `${entry.course} · ${entry.pace_group} · ${t(`reg_${entry.status}`)}`)))));
  } catch { box.hidden = true; }
}

/** The race a registration belongs to: the detail on show if it is that one, else its name from the list. */
function raceOf(entry, races) {
  const ref = entry.race?.id ?? entry.race?.slug ?? entry.race;
  if (choice.race && [choice.race.id, choice.race.slug].includes(ref)) return choice.race;
  return races.find((race) => race.id === ref || race.slug === ref) || (typeof entry.race === "object" ? entry.race : null);
}

async function selectRace(slug) {
  let race;
  try { race = await api.get(`/api/v1/races/${encodeURIComponent(slug)}`); } catch (error) { showAlert(error); return; }
  const changed = choice.race?.id !== race.id;
  choice.race = race;
  if (changed) { choice.course = null; choice.group = null; }
  document.querySelectorAll("#race-list .choice").forEach((button) => {
    button.setAttribute("aria-pressed", String(button.dataset.race === race.slug));
  });
  renderRace();
  showModeResult().catch(() => {});
  clearInterval(refreshTimer);
  refreshTimer = setInterval(refreshRace, 5000);
  if (api.signedIn) await journey.resume(race);
}

async function refreshRace() {
  // the places left and the waiting counts move while a runner chooses
  if (document.body.dataset.view !== "races" || !choice.race) return;
  try {
    choice.race = await api.get(`/api/v1/races/${choice.race.id}`);
    renderRace();
  } catch { /* the next tick tries again */ }
}

function renderRace() {
  const race = choice.race;
  $("#race-detail").hidden = false;
  $("#race-name").textContent = race.name;
  $("#race-date").textContent = day(race.date);
  const state = $("#race-state");
  state.textContent = t(`state_${race.sale_state}`);
  state.dataset.state = race.sale_state;
  if (race.sale_state === "scheduled" || race.sale_state === "lobby") {
    state.textContent += ` · ${t("opens_at", { when: dateTime(race.sale_opens_at) })}`;
  }
  $("#course-list").replaceChildren(...race.courses.map((course) => el("button", {
    type: "button", role: "radio", class: "segment", dataset: { course: course.code },
    "aria-checked": String(choice.course === course.code),
    onclick: () => { choice.course = course.code; choice.group = null; renderRace(); },
  }, el("strong", {}, course.name), el("span", {}, won(course.price)))));
  renderPaces();
}

function renderPaces() {
  const course = choice.race.courses.find((c) => c.code === choice.course);
  $("#pace-heading").hidden = !course;
  $("#pace-list").replaceChildren(...(course ? course.pace_groups : []).map((group) => {
    const soldOut = group.remaining <= 0;
    return el("li", {}, el("button", {
      type: "button", class: "pace", dataset: { paceGroup: group.code }, "aria-pressed": String(choice.group === group.code),
      onclick: () => { choice.group = group.code; renderPaces(); },
    },
      el("span", { class: "pace-head" },
        el("strong", {}, group.label),
        el("span", { class: "badge", dataset: { state: soldOut ? "closed" : "open" } },
          // none left may still come back (a hold that runs out): the line stays open to join
          soldOut ? t("none_left") : t("remaining", { n: group.remaining }))),
      el("span", { class: "finish" }, t("finish", { range: finishRange(course.distance_km, group.min_pace_s, group.max_pace_s) })),
      el("span", { class: "meta" },
        `${pace(group.min_pace_s)}–${pace(group.max_pace_s)}${t("per_km")} · ${t("corral")} ${group.corral} · `
        + t("waiting_n", { n: group.waiting })),
    ));
  }));
  const group = course && course.pace_groups.find((g) => g.code === choice.group);
  $("#join-bar").hidden = !group;
  if (group) $("#join-summary").textContent = t("chosen", { course: course.name, pace: group.label, price: won(course.price) });
  // a ballot race takes entries instead of joins; a sold-out bucket takes its waitlist
  const join = $("#join");
  join.dataset.i18n = choice.race.sale_mode === "ballot" ? "enter_ballot" : "join_line";
  join.textContent = t(join.dataset.i18n);
  // the line still answers for itself (409 sold_out); the waitlist is offered beside it
  $("#waitlist-join").hidden = !(group && group.sold_out);
}

/** The caller's ballot entry and waitlist seat in the race on show, if any: status and rank or position. */
async function showModeResult() {
  const race = choice.race;
  const parts = [];
  for (const [path, render] of [
    ["ballot/me", (e) => t("ballot_status", { status: e.status }) + (e.rank ? t("ballot_rank", { rank: e.rank }) : "")],
    ["waitlist/me", (w) => t("waitlist_status", { status: w.status })
      + (w.position ? t("waitlist_position", { position: w.position }) : "")],
  ]) {
    try {
      parts.push(render(await api.get(`/api/v1/races/${race.id}/${path}`)));
    } catch (error) {
      if (!(error instanceof ApiError && error.status === 404)) throw error;
    }
  }
  $("#mode-result").textContent = parts.join(" / ");
  $("#mode-result").hidden = !parts.length;
}

async function enterBallot(course, group) {
  const body = { course: course.code, pace_group: group.code };
  if (choice.race.pow_difficulty > 0) body.pow = await solve(await api.get(`/api/v1/races/${choice.race.id}/pow`));
  try {
    await api.post(`/api/v1/races/${choice.race.id}/ballot`, body);
  } catch (error) {
    if (error.reason !== "already_entered") throw error;
  }
  await showModeResult();
}

async function onWaitlist() {
  clearAlert();
  const course = choice.race.courses.find((c) => c.code === choice.course);
  await busy($("#waitlist-join"), async () => {
    try {
      await api.post(`/api/v1/races/${choice.race.id}/waitlist`, { course: course.code, pace_group: choice.group });
    } catch (error) {
      if (error.reason !== "already_waitlisted") { showAlert(error); return; }
    }
    await showModeResult();
  });
}

async function onJoin() {
  clearAlert();
  clearInterval(refreshTimer);
  if (!api.signedIn) {
    joinAfterSignIn = true;
    showSignIn();
    return;
  }
  const course = choice.race.courses.find((c) => c.code === choice.course);
  const group = course.pace_groups.find((g) => g.code === choice.group);
  if (choice.race.sale_mode === "ballot") {
    await busy($("#join"), () => enterBallot(course, group).catch(showAlert));
    return;
  }
  await busy($("#join"), () => journey.join(choice.race, course, group));
}

// --- start ---------------------------------------------------------------------------------------------------------

installToggle();
onLanguage(() => {
  if (document.body.dataset.view === "races" && choice.race) renderRace();
  journey.rerender();
});
$("#tab-login").addEventListener("click", () => switchTab(false));
$("#tab-signup").addEventListener("click", () => switchTab(true));
$("#login-form").addEventListener("submit", onLogin);
$("#signup-form").addEventListener("submit", onSignup);
$("#sign-out").addEventListener("click", () => api.signOut());
$("#sign-in").addEventListener("click", () => { clearAlert(); joinAfterSignIn = false; showSignIn(); });
$("#auth-back").addEventListener("click", () => { clearAlert(); joinAfterSignIn = false; showRaces(); });
$("#join").addEventListener("click", onJoin);
$("#waitlist-join").addEventListener("click", onWaitlist);

if (api.signedIn) {
  signedIn().catch((error) => { if (!(error instanceof ApiError && error.status === 401)) showAlert(error); });
} else {
  $("#sign-in").hidden = false;
  showRaces();
}
