// Signing in. Two ways, both ending with an ID token held in this page's memory only:
// - Cognito's hosted UI (a deployment): OAuth 2.0 authorization code with PKCE (RFC 7636). The code verifier and
//   the state wait in sessionStorage across the one redirect and are deleted when the page comes back; the token
//   endpoint's answer is never stored. The code in the query string is useless without the verifier.
// - #token=... (python -m fedcore demo --serve's links): read and removed from the address bar at once.

import { ApiError } from "./api.js";

const PENDING = "fedcore.pkce"; // sessionStorage key of the one sign-in in flight: {state, verifier}

function base64url(bytes) {
  let text = "";
  for (const byte of bytes) text += String.fromCharCode(byte);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function randomString(size = 32) {
  return base64url(crypto.getRandomValues(new Uint8Array(size)));
}

export async function codeChallenge(verifier) {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  return base64url(new Uint8Array(digest));
}

// The hosted UI's settings from the page shell: {domain, clientId} or null (no hosted UI: local tokens).
export function hostedUi(body = document.body) {
  const domain = body.dataset.authDomain;
  const clientId = body.dataset.clientId;
  return domain && clientId ? { domain, clientId } : null;
}

// The registered callback: this page's own address, without query or fragment.
export function redirectUri(href = location.href) {
  const url = new URL(href);
  url.search = "";
  url.hash = "";
  return url.toString();
}

export async function beginSignIn(ui) {
  const state = randomString(16);
  const verifier = randomString(32);
  sessionStorage.setItem(PENDING, JSON.stringify({ state, verifier }));
  const url = new URL("/oauth2/authorize", ui.domain);
  url.search = new URLSearchParams({
    response_type: "code",
    client_id: ui.clientId,
    redirect_uri: redirectUri(),
    scope: "openid email profile",
    state,
    code_challenge: await codeChallenge(verifier),
    code_challenge_method: "S256",
  }).toString();
  location.assign(url.toString());
}

function takePending() {
  const raw = sessionStorage.getItem(PENDING);
  sessionStorage.removeItem(PENDING);
  try {
    return raw ? JSON.parse(raw) : null;
  } catch {
    return null;
  }
}

// Shown on the page as the API's own errors are (dom.js showError).
export class SignInError extends ApiError {
  constructor(message) {
    super(0, "sign_in_failed", message);
  }
}

// Back from the hosted UI (?code=&state=): the ID token, after checking the state; null when not coming back.
async function finishSignIn(ui) {
  const params = new URLSearchParams(location.search);
  if (!params.has("code") && !params.has("error")) return null;
  history.replaceState(null, "", location.pathname);
  const pending = takePending();
  if (params.has("error")) throw new SignInError(`Sign-in failed: ${params.get("error")}.`);
  if (!pending || params.get("state") !== pending.state) {
    throw new SignInError("Sign-in failed: this page did not start that sign-in. Sign in again.");
  }
  let response;
  try {
    response = await fetch(new URL("/oauth2/token", ui.domain), {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "authorization_code",
        client_id: ui.clientId,
        code: params.get("code"),
        redirect_uri: redirectUri(),
        code_verifier: pending.verifier,
      }),
      cache: "no-store",
      credentials: "omit",
    });
  } catch {
    throw new SignInError("Sign-in failed: the sign-in service could not be reached.");
  }
  const body = response.ok ? await response.json().catch(() => null) : null;
  if (!body || typeof body.id_token !== "string") {
    throw new SignInError(`Sign-in failed: the sign-in service answered ${response.status}. Sign in again.`);
  }
  return body.id_token;
}

function takeFragmentToken() {
  const params = new URLSearchParams(location.hash.slice(1));
  const token = params.get("token");
  if (location.hash) history.replaceState(null, "", location.pathname + location.search);
  return token;
}

// The caller's token, or null: from the hosted UI's redirect, else from the fragment.
export async function takeToken(ui = hostedUi()) {
  if (ui) {
    const token = await finishSignIn(ui);
    if (token) return token;
  }
  return takeFragmentToken();
}

// Forgets the token (a reload) and, with the hosted UI, ends its session too.
export function signOut(ui = hostedUi()) {
  if (!ui) {
    location.replace(redirectUri());
    return;
  }
  const url = new URL("/logout", ui.domain);
  url.search = new URLSearchParams({ client_id: ui.clientId, logout_uri: redirectUri() }).toString();
  location.assign(url.toString());
}
