// Small DOM helpers. Text goes in with textContent only, never as HTML.

import { ApiError } from "./api.js";

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

export function table(headers, rows, attrs = {}) {
  return h("div", { class: "scroll" }, h("table", attrs,
    h("thead", {}, h("tr", {}, headers.map((name) => h("th", { scope: "col" }, name)))),
    h("tbody", {}, rows.map((cells) => h("tr", {}, cells.map((cell) => (
      cell instanceof Node && cell.tagName === "TD" ? cell : h("td", {}, cell))))))));
}

export function fmt(value, digits = 3) {
  if (value === null || value === undefined) return "–";
  return typeof value === "number" ? String(Number(value.toFixed(digits))) : String(value);
}

export function showError(error) {
  const box = document.getElementById("error");
  // the API's own message; anything else gets a fixed sentence (no stack traces on the page)
  box.textContent = error instanceof ApiError ? error.message : "Something went wrong.";
  if (!(error instanceof ApiError)) console.error(error);
  box.hidden = false;
}

export function clearError() {
  document.getElementById("error").hidden = true;
}

export function downloadFile(filename, text, type = "text/csv") {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = h("a", { href: url, download: filename, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

// Runs `load`, showing the API's error message when it fails; returns its result or undefined.
export async function guarded(load) {
  try {
    clearError();
    return await load();
  } catch (error) {
    showError(error);
    return undefined;
  }
}

export function form(fields, submitLabel, onSubmit, attrs = {}) {
  const el = h("form", { class: "form", ...attrs }, fields, h("button", { type: "submit" }, submitLabel));
  el.addEventListener("submit", (event) => {
    event.preventDefault();
    guarded(() => onSubmit(new FormData(el), el));
  });
  return el;
}

export function field(label, input) {
  return h("label", {}, h("span", {}, label), input);
}
