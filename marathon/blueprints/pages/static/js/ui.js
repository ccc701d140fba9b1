// Small DOM helpers shared by both pages: views, the alert line, the confirmation dialog.
import { ApiError } from "./api.js";
import { reasonText, t } from "./i18n.js";

export const $ = (selector, root = document) => root.querySelector(selector);

export function el(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name === "class") element.className = value;
    // through the CSSOM: the pages' CSP (style-src 'self') refuses style attributes, not element.style
    else if (name === "style") element.style.cssText = value;
    else if (name === "dataset") Object.assign(element.dataset, value);
    else if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (value !== false && value != null) element.setAttribute(name, value === true ? "" : value);
  }
  element.append(...children.filter((child) => child != null));
  return element;
}

/** Shows the section #view-`name` and hides the others. */
export function showView(name) {
  document.querySelectorAll(".view").forEach((view) => { view.hidden = view.id !== `view-${name}`; });
  document.body.dataset.view = name;
  window.scrollTo(0, 0);
}

/** Shows an error (the API's own message) or a note on the alert line. */
export function showAlert(what, kind = "error", reason = undefined) {
  const box = $("#alert");
  let text = what instanceof Error ? what.message : String(what);
  if (what instanceof ApiError && what.status === 429 && what.retryAfter) text += ` ${t("retry_in", { s: what.retryAfter })}`;
  const own = what instanceof ApiError ? reasonText(what.reason) : undefined;
  if (own) box.replaceChildren(el("strong", {}, own), el("small", {}, text));
  else box.textContent = text;
  box.dataset.kind = kind;
  const why = reason ?? (what instanceof ApiError ? what.reason : undefined);
  if (why) box.dataset.reason = why;
  else delete box.dataset.reason;
  box.hidden = false;
}

export function clearAlert() {
  const box = $("#alert");
  box.hidden = true;
  box.textContent = "";
}

/** Asks a yes/no question in the page's <dialog>; resolves true for yes. */
export function confirmDialog(text) {
  const dialog = $("#confirm");
  $("#confirm-text", dialog).textContent = text;
  dialog.returnValue = "";
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
  });
}

/** Disables `button` while `work` runs, so a double tap sends one request. */
export async function busy(button, work) {
  button.disabled = true;
  try { return await work(); } finally { button.disabled = false; }
}

export function formData(form) {
  return Object.fromEntries(new FormData(form).entries());
}
