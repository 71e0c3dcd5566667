// The dashboard: signs the caller in (login.js; the token is kept in memory only), asks the API who the caller is,
// and shows one view at a time. Admin controls are drawn only for admins; the API checks every call anyway.

import { createApi } from "./api.js";
import { guarded, h, showError } from "./dom.js";
import { beginSignIn, hostedUi, signOut, takeToken } from "./login.js";
import * as audit from "./audit.js";
import * as generate from "./generate.js";
import * as models from "./models.js";
import * as privacy from "./privacy.js";
import * as runs from "./runs.js";

const VIEWS = { runs, privacy, models, audit, generate };

function showLogin(ui) {
  document.getElementById("login").hidden = false;
  const button = document.getElementById("login-button");
  if (ui && button) button.onclick = () => beginSignIn(ui).catch(showError);
}

// The token was refused (it expires an hour after signing in): stop the view, drop every view and the API
// client with its token, and offer to sign in again. The failed call shows why (api.js).
function signedOut(ui, stopView) {
  stopView();
  document.getElementById("tabs").hidden = true;
  for (const section of document.querySelectorAll("[data-view]")) {
    section.hidden = true;
    section.replaceChildren();
  }
  document.getElementById("who").replaceChildren();
  delete document.body.dataset.role;
  showLogin(ui);
}

async function start() {
  const ui = hostedUi();
  let token = null;
  try {
    token = await takeToken(ui);
  } catch (error) {
    showError(error);
  }
  if (!token) return showLogin(ui);
  let close = null;
  let ctx = null;
  const api = createApi(token, undefined, {
    onUnauthorized: () => {
      if (ctx) ctx.api = null; // the views' only way to the token
      signedOut(ui, () => typeof close === "function" && close());
    },
  });
  token = null; // the API client keeps it; nothing else does
  const me = await guarded(() => api.get("me"));
  if (!me) return showLogin(ui);
  ctx = { api, admin: me.role === "admin", me };
  document.body.dataset.role = me.role;
  document.getElementById("who").replaceChildren(h("span", {}, me.username), " ", h("span", { class: "badge", id: "role" }, me.role),
    " ", h("button", { type: "button", class: "link", id: "sign-out", onclick: () => signOut(ui) }, "Sign out"));
  const nav = document.getElementById("tabs");
  const show = (name) => {
    if (typeof close === "function") close();
    for (const button of nav.querySelectorAll("button")) button.setAttribute("aria-selected", String(button.dataset.tab === name));
    for (const section of document.querySelectorAll("[data-view]")) section.hidden = section.id !== `view-${name}`;
    close = VIEWS[name].render(document.getElementById(`view-${name}`), ctx);
  };
  nav.addEventListener("click", (event) => {
    const tab = event.target.closest("button[data-tab]");
    if (tab && document.body.dataset.role) show(tab.dataset.tab);
  });
  nav.hidden = false;
  show("runs");
}

start();
