// Sign-in: authorization code with PKCE, as the server's built-in public client, against the
// server's own authorization endpoints (found through OpenID discovery). Tokens live in this
// tab's sessionStorage; the refresh token renews the access token before it runs out.

export const CLIENT_ID = "6a0f3c1e-2b7d-4e58-9c4a-0d1f5e7b8a21";
const SCOPE = "openid profile offline_access Files.ReadWrite";
const KEY = "graphdrive.tokens";
const PENDING = "graphdrive.signin";

let config = null;
let refreshing = null;

/** The server's OpenID configuration, and the URL the page must run at (its public URL). */
export async function discover() {
  if (config) return config;
  const res = await fetch("/common/v2.0/.well-known/openid-configuration");
  if (!res.ok) throw new Error("The server's sign-in configuration could not be read.");
  const c = await res.json();
  const base = c.authorization_endpoint.replace(/\/common\/oauth2\/v2\.0\/authorize$/, "");
  config = { ...c, base, redirect: base + "/" };
  return config;
}

function b64url(bytes) {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function random(n) {
  return b64url(crypto.getRandomValues(new Uint8Array(n)));
}

/** Sends the browser to the sign-in page. */
export async function signIn() {
  const c = await discover();
  const verifier = random(32);
  const state = random(16);
  // crypto.subtle exists only in secure contexts (https, localhost); elsewhere PKCE is plain.
  let challenge = verifier;
  let method = "plain";
  if (crypto.subtle) {
    const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
    challenge = b64url(new Uint8Array(digest));
    method = "S256";
  }
  sessionStorage.setItem(PENDING, JSON.stringify({ verifier, state, back: location.hash }));
  const q = new URLSearchParams({
    client_id: CLIENT_ID,
    response_type: "code",
    redirect_uri: c.redirect,
    scope: SCOPE,
    state,
    code_challenge: challenge,
    code_challenge_method: method,
    response_mode: "query",
  });
  location.assign(`${c.authorization_endpoint}?${q}`);
}

/**
 * Finishes a sign-in when the page was opened by the sign-in's redirect. Returns the hash to
 * go back to, or null when this was not a redirect.
 */
export async function completeSignIn() {
  const q = new URLSearchParams(location.search);
  if (!q.has("code") && !q.has("error")) return null;
  const pending = JSON.parse(sessionStorage.getItem(PENDING) || "null");
  sessionStorage.removeItem(PENDING);
  history.replaceState(null, "", location.pathname);
  if (q.has("error")) {
    throw new Error(q.get("error_description") || "The sign-in was cancelled.");
  }
  if (!pending || pending.state !== q.get("state")) {
    throw new Error("This sign-in was started in another tab or is stale. Sign in again.");
  }
  const c = await discover();
  await redeem({
    grant_type: "authorization_code",
    code: q.get("code"),
    redirect_uri: c.redirect,
    code_verifier: pending.verifier,
  });
  return pending.back || "";
}

async function redeem(fields) {
  const c = await discover();
  let res;
  try {
    res = await fetch(c.token_endpoint, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ client_id: CLIENT_ID, scope: SCOPE, ...fields }),
    });
  } catch {
    const e = new Error("The server can't be reached. Check your network connection, then try again.");
    e.offline = true;
    throw e;
  }
  const body = await res.json().catch(() => ({}));
  if (res.status >= 500) {
    const e = new Error("The server is busy or restarting. Wait a moment and try again.");
    e.offline = true;
    throw e;
  }
  if (!res.ok) {
    // The grant itself was refused (expired, revoked): only a new sign-in helps.
    sessionStorage.removeItem(KEY);
    const e = new Error(body.error_description?.split("\r\n")[0] || "The sign-in failed.");
    e.signIn = true;
    throw e;
  }
  const saved = {
    access: body.access_token,
    refresh: body.refresh_token || stored()?.refresh,
    expires: Date.now() + (body.expires_in || 3600) * 1000,
    user: body.id_token ? claims(body.id_token) : stored()?.user,
  };
  sessionStorage.setItem(KEY, JSON.stringify(saved));
  return saved;
}

function claims(jwt) {
  try {
    const part = jwt.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(new TextDecoder().decode(Uint8Array.from(atob(part), (ch) => ch.charCodeAt(0))));
  } catch {
    return {};
  }
}

function stored() {
  return JSON.parse(sessionStorage.getItem(KEY) || "null");
}

export function signedIn() {
  return stored() !== null;
}

/** Who is signed in: the ID token's claims. */
export function user() {
  return stored()?.user || {};
}

/** A valid access token, renewed first when it is about to run out (or `force`). */
export async function accessToken(force = false) {
  const t = stored();
  if (!t) return null;
  if (!force && t.expires - Date.now() > 60_000) return t.access;
  if (!t.refresh) return force ? null : t.access;
  refreshing ??= redeem({ grant_type: "refresh_token", refresh_token: t.refresh }).finally(() => {
    refreshing = null;
  });
  return (await refreshing).access;
}

export async function signOut() {
  sessionStorage.removeItem(KEY);
  const c = await discover();
  const q = new URLSearchParams({ post_logout_redirect_uri: c.redirect });
  location.assign(`${c.end_session_endpoint}?${q}`);
}
