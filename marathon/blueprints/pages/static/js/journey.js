// The runner's journey after the choice: proof of work, the place in line, the hold, payment and the bib.
import { ApiError } from "./api.js";
import { clock, won } from "./format.js";
import { t } from "./i18n.js";
import { solve } from "./pow.js";
import { $, busy, clearAlert, confirmDialog, formData, showAlert, showView } from "./ui.js";
import qrcode from "../vendor/qrcode.mjs";

const ENDED = { expired: "status_expired", sold_out: "status_sold_out", left: "status_left" };
// errors in a row after which the page stops using pushed status and polls instead
const STREAM_ERRORS_MAX = 3;

export function createJourney(api, { backToRaces }) {
  let race = null;          // the race detail
  let last = null;          // the last queue answer
  let pollTimer = null;
  let source = null;        // the EventSource of the place in line (pushed status), while it is open
  let streamErrors = 0;
  let countdownTimer = null;
  let order = null;         // the payment order of the current hold
  let ticket = null;        // the registration shown
  let ticketRace = null;    // its race: detail or {name}

  const queuePath = () => `/api/v1/races/${race.id}/queue`;

  function stop() {
    clearTimeout(pollTimer);
    clearInterval(countdownTimer);
    pollTimer = countdownTimer = null;
    closeStream();
  }

  /** Pushed status where the browser has EventSource: the server sends the place whenever it changes, so the page
   * does not poll. Returns whether a stream is open; without one the caller polls. */
  function follow() {
    if (source) return true;
    if (!window.EventSource || streamErrors >= STREAM_ERRORS_MAX || !api.accessToken) return false;
    const stream = new EventSource(`${queuePath()}/me/events?access_token=${encodeURIComponent(api.accessToken)}`);
    source = stream;
    stream.onmessage = (event) => {
      streamErrors = 0;
      clearTimeout(pollTimer);
      render(JSON.parse(event.data));
    };
    stream.onerror = () => {
      // a dropped connection is retried by EventSource itself; CLOSED means refused (an expired token, say): a poll
      // says why and refreshes the token, and the stream opens again unless it keeps failing
      streamErrors += 1;
      if (stream.readyState === EventSource.CLOSED || streamErrors >= STREAM_ERRORS_MAX) {
        if (source === stream) closeStream();
        schedule(1);
      }
    };
    return true;
  }

  function closeStream() {
    if (source) source.close();
    source = null;
  }

  function schedule(seconds) {
    clearTimeout(pollTimer);
    // never sooner than the server asked (retry_after_s), plus a little so clocks need not agree
    pollTimer = setTimeout(poll, Math.max(1, seconds || 1) * 1000 + 100);
  }

  function bucketText(answer) {
    const [course, group] = (answer?.line || "").split("/");
    const c = race.courses.find((x) => x.code === course);
    const g = c && c.pace_groups.find((x) => x.code === group);
    return c && g ? `${c.name} · ${g.label}` : answer?.line || "";
  }

  // --- joining ---------------------------------------------------------------------------------------------------

  async function proofOfWork() {
    if (race.pow_difficulty === 0) return undefined;
    let challenge;
    try {
      challenge = await api.get(`/api/v1/races/${race.id}/pow`);
    } catch (error) {
      // a race without proof of work (or a server without the endpoint) joins without it
      if (error.status === 404 && !error.reason && race.pow_difficulty === undefined) return undefined;
      throw error;
    }
    const box = $("#pow-box");
    box.hidden = false;
    try {
      return await solve(challenge, (done) => { $("#pow-progress").value = done; });
    } finally { box.hidden = true; }
  }

  async function join(chosenRace, course, group) {
    race = chosenRace;
    order = null;
    showView("line");
    title("in_line");
    $("#line-race").textContent = race.name;
    $("#line-bucket").textContent = `${course.name} · ${group.label}`;
    $("#line-box").hidden = true;
    $("#leave").hidden = true;
    $("#back-to-races").hidden = true;
    try {
      const body = { course: course.code, pace_group: group.code };
      let pow = await proofOfWork();
      if (pow) body.pow = pow;
      let answer;
      try {
        answer = await api.post(queuePath(), body);
      } catch (error) {
        if (error.reason !== "bad_pow" || race.pow_difficulty === 0) throw error;
        body.pow = await proofOfWork();  // a stale challenge: one fresh try
        answer = await api.post(queuePath(), body);
      }
      render(answer);
    } catch (error) {
      if (error.reason === "already_in_line") { poll(); return; }
      showAlert(error);
      backToRaces();
    }
  }

  /** On choosing a race: pick the journey up where it stands (after a reload, say). */
  async function resume(chosenRace) {
    race = chosenRace;
    try {
      const answer = await api.get(`${queuePath()}/me`);
      if (["waiting", "admitted"].includes(answer.status)) {
        showView("line");
        $("#line-race").textContent = race.name;
        render(answer);
      }
    } catch (error) {
      if (error.status === 429) { showView("line"); $("#line-race").textContent = race.name; schedule(error.retryAfter); }
    }
  }

  // --- the place in line -----------------------------------------------------------------------------------------

  async function poll() {
    try {
      render(await api.get(`${queuePath()}/me`));
    } catch (error) {
      if (error.status === 429 || error.status === 503) { schedule(error.retryAfter || 2); return; }
      if (!(error instanceof ApiError)) { schedule(3); return; }  // the network: try again
      stop();
      showAlert(error);
      $("#leave").hidden = true;
      $("#back-to-races").hidden = false;
    }
  }

  function title(key) {
    $("#line-title").dataset.i18n = key;
    $("#line-title").textContent = t(key);
  }

  function render(answer) {
    last = answer;
    const following = ["line", "hold"].includes(document.body.dataset.view);
    if (!following && answer.status !== "admitted" && answer.status !== "confirmed") return;
    $("#line-bucket").textContent = bucketText(answer);
    if (answer.status === "waiting") {
      showView("line");
      title("in_line");
      $("#line-box").hidden = false;
      $("#leave").hidden = false;
      $("#back-to-races").hidden = true;
      $("#line-position").textContent = answer.position;
      $("#line-ahead").textContent = answer.ahead;
      $("#line-eta").textContent = eta(answer.eta_s);
      $("#line-status").textContent = answer.lobby ? t("lobby_note") : "";
      if (!follow()) schedule(answer.retry_after_s);
    } else if (answer.status === "admitted") {
      // an open stream stays: it tells of the hold's end (paid elsewhere, or run out)
      clearTimeout(pollTimer);
      showHold(answer.hold);
    } else if (answer.status === "confirmed") {
      stop();
      openRegistration(answer.registration_id);
    } else {
      stop();
      order = null;
      showView("line");
      title("line_ended");
      $("#line-box").hidden = true;
      $("#leave").hidden = true;
      $("#back-to-races").hidden = false;
      showAlert(t(ENDED[answer.status] || "status_left"), "info", answer.status);
    }
  }

  function eta(seconds) {
    if (seconds == null) return t("eta_unknown");
    return seconds < 60 ? t("seconds_short", { n: seconds }) : t("minutes_short", { n: Math.ceil(seconds / 60) });
  }

  async function leave() {
    if (!(await confirmDialog(t("leave_q")))) return;
    try {
      await api.del(`${queuePath()}/me`);
    } catch (error) { if (error.status !== 404) { showAlert(error); return; } }
    stop();
    backToRaces();
  }

  // --- the hold and payment --------------------------------------------------------------------------------------

  function showHold(hold) {
    showView("hold");
    clearAlert();
    $("#hold-bucket").textContent = `${race.name} · ${bucketText(last)}`;
    $("#hold-amount").textContent = won(hold.amount);
    const ends = Date.parse(hold.expires_at);
    const tick = () => {
      const left = (ends - Date.now()) / 1000;
      $("#hold-countdown").textContent = clock(left);
      $("#hold-countdown").dataset.urgent = String(left < 60);
      // time is up: ask how it ended, no sooner than the server allows (it may not have noticed yet)
      if (left <= 0) { clearInterval(countdownTimer); schedule(last?.retry_after_s); }
    };
    clearInterval(countdownTimer);
    countdownTimer = setInterval(tick, 1000);
    tick();
  }

  async function pay(event) {
    event.preventDefault();
    clearAlert();
    const form = event.target;
    const fields = formData(form);
    await busy($("#pay"), async () => {
      try {
        if (!order) order = await api.post("/api/v1/payments", { hold_id: last.hold.id });
        if (order.provider && order.provider !== "fake") { showAlert(t("unsupported_provider", { provider: order.provider })); return; }
        const body = { payment_key: fields.card === "decline" ? "fake_decline" : `fake_${crypto.randomUUID?.() ?? Date.now()}`,
                       amount: order.amount };
        if (fields.blood_type) body.blood_type = fields.blood_type;
        if (fields.emergency_contact) body.emergency_contact = fields.emergency_contact;
        const paid = await api.post(`/api/v1/payments/${encodeURIComponent(order.order_id)}/confirm`, body);
        stop();
        order = null;
        form.reset();
        showTicket({ ...paid.registration, status: "confirmed" }, race);
      } catch (error) {
        showAlert(error);
        if (error.reason === "hold_expired") { stop(); order = null; setTimeout(backToRaces, 0); }
      }
    });
  }

  async function giveBack() {
    if (!(await confirmDialog(t("give_back_q")))) return;
    try { await api.del(`${queuePath()}/me`); } catch (error) { if (error.status !== 404) { showAlert(error); return; } }
    stop();
    order = null;
    backToRaces();
  }

  // --- the bib ---------------------------------------------------------------------------------------------------

  async function openRegistration(id) {
    try { showTicket(await api.get(`/api/v1/registrations/${id}`), race); }
    catch (error) { showAlert(error); backToRaces(); }
  }

  /** Shows a registration as a bib; `ofRace` (the race's detail, or just its name) gives names to its codes. */
  function showTicket(registration, ofRace) {
    stop();
    ticket = registration;
    ticketRace = ofRace;
    showView("ticket");
    $("#ticket-race").textContent = ofRace?.name || "";
    const detail = ofRace?.courses ? ofRace : null;
    $("#ticket-bib").textContent = registration.bib;
    const course = detail?.courses.find((c) => c.code === registration.course);
    const group = course?.pace_groups.find((g) => g.code === registration.pace_group);
    $("#ticket-course").textContent = course?.name || registration.course;
    $("#ticket-pace").textContent = group?.label || registration.pace_group;
    $("#ticket-corral").textContent = registration.corral;
    $("#ticket-status").textContent = registration.status ? t(`reg_${registration.status}`) : "";
    const live = !registration.status || registration.status === "confirmed";
    $("#cancel-entry").hidden = !live;
    $("#transfer-box").hidden = !live;
    $("#ticket-qr").hidden = !live;  // a cancelled or given-away bib must not scan as valid
    $("#ticket").dataset.status = registration.status || "confirmed";
    const code = qrcode(0, "M");
    code.addData(`MARATHON:REG:${registration.id}:BIB:${registration.bib}`);
    code.make();
    $("#ticket-qr").innerHTML = code.createSvgTag({ cellSize: 4, margin: 2, scalable: true });
  }

  async function cancelEntry() {
    if (!(await confirmDialog(t("cancel_q")))) return;
    try {
      const answer = await api.post(`/api/v1/registrations/${ticket.id}/cancel`);
      showTicket({ ...ticket, status: "cancelled" }, ticketRace);
      showAlert(t("cancelled", { amount: won(answer.refund?.amount ?? 0), status: answer.refund?.status ?? "" }), "info");
    } catch (error) { showAlert(error); }
  }

  async function transfer(event) {
    event.preventDefault();
    const body = formData(event.target);
    if (!(await confirmDialog(t("transfer_q", { email: body.to_email })))) return;
    try {
      await api.post(`/api/v1/registrations/${ticket.id}/transfer`, body);
      event.target.reset();
      showTicket({ ...ticket, status: "transferred" }, ticketRace);
      showAlert(t("transferred"), "info");
    } catch (error) { showAlert(error); }
  }

  function rerender() {
    if (document.body.dataset.view === "line" && last?.status === "waiting") $("#line-eta").textContent = eta(last.eta_s);
    if (document.body.dataset.view === "hold" && last?.hold) $("#hold-amount").textContent = won(last.hold.amount);
    if (document.body.dataset.view === "ticket" && ticket) showTicket(ticket, ticketRace);
  }

  $("#leave").addEventListener("click", leave);
  $("#back-to-races").addEventListener("click", () => { clearAlert(); backToRaces(); });
  $("#checkout-form").addEventListener("submit", pay);
  $("#give-back").addEventListener("click", giveBack);
  $("#cancel-entry").addEventListener("click", cancelEntry);
  $("#transfer-form").addEventListener("submit", transfer);
  $("#ticket-back").addEventListener("click", () => { clearAlert(); backToRaces(); });

  return { join, resume, stop, rerender, showTicket };
}
