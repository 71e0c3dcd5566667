// The dashboard: takes the token from the URL fragment (kept in memory only), asks the API who the caller is,
// and shows one view at a time. Admin controls are drawn only for admins; the API checks every call anyway.

import { createApi } from "./api.js";
import { guarded, h } from "./dom.js";
import * as audit from "./audit.js";
import * as generate from "./generate.js";
import * as models from "./models.js";
import * as privacy from "./privacy.js";
import * as runs from "./runs.js";

const VIEWS = { runs, privacy, models, audit, generate };

// #token=... (demo --serve's links) or #id_token=... (Cognito's hosted UI); removed from the address bar at once.
export function takeToken() {
  const params = new URLSearchParams(location.hash.slice(1));
  const token = params.get("token") || params.get("id_token");
  if (location.hash) history.replaceState(null, "", location.pathname + location.search);
  return token;
}

function showLogin() {
  document.getElementById("login").hidden = false;
}

async function start() {
  const token = takeToken();
  if (!token) return showLogin();
  const api = createApi(token);
  const me = await guarded(() => api.get("me"));
  if (!me) return showLogin();
  const ctx = { api, admin: me.role === "admin", me };
  document.body.dataset.role = me.role;
  document.getElementById("who").replaceChildren(h("span", {}, me.username), " ", h("span", { class: "badge", id: "role" }, me.role));
  const nav = document.getElementById("tabs");
  let close = null;
  const show = (name) => {
    if (typeof close === "function") close();
    for (const button of nav.querySelectorAll("button")) button.setAttribute("aria-selected", String(button.dataset.tab === name));
    for (const section of document.querySelectorAll("[data-view]")) section.hidden = section.id !== `view-${name}`;
    close = VIEWS[name].render(document.getElementById(`view-${name}`), ctx);
  };
  nav.addEventListener("click", (event) => {
    const tab = event.target.closest("button[data-tab]");
    if (tab) show(tab.dataset.tab);
  });
  nav.hidden = false;
  show("runs");
}

start();
