// The Graph API, as any client calls it: bearer tokens, JSON, paging, and errors turned into
// sentences a person can act on.

import { accessToken } from "./auth.js";

export const API = "/v1.0";

/** An error to show: `message` is plain words; `code` is Graph's, when the server sent one. */
export class Problem extends Error {
  constructor(message, { code = null, status = 0, signIn = false } = {}) {
    super(message);
    this.code = code;
    this.status = status;
    this.signIn = signIn;
  }
}

const OFFLINE = "The server can't be reached. Check your network connection, then try again.";

/** Turns a failed response (or a thrown network error) into a Problem; `what` names the item. */
export function explain(status, body, what = "") {
  const code = body?.error?.code || null;
  const inner = body?.error?.innerError?.code || "";
  const said = body?.error?.message || "";
  const name = what ? `“${what}”` : "this item";
  const words = {
    nameAlreadyExists: `An item named ${name} is already in that folder. Choose another name, or rename or delete the one that is there first.`,
    accessDenied: "You don't have permission to do that here. Ask the drive's owner for access.",
    quotaLimitReached: "There is not enough space left in this drive. Empty the recycle bin or delete files you no longer need, then try again.",
    insufficientStorage: "The server is out of disk space. Try again later, or tell the server's administrator.",
    itemNotFound: `${what ? name : "This item"} is not there any more: someone may have moved or deleted it. Refresh the folder to see what is there now.`,
    maxFileSizeExceeded: "This file is larger than the server accepts.",
    resourceModified: "Someone changed this item meanwhile. Refresh the folder and try again.",
    serviceNotAvailable: "The server is busy or restarting. Wait a moment and try again.",
    InvalidAuthenticationToken: "Your sign-in has ended. Sign in again to go on.",
  };
  if (status === 401 || code === "InvalidAuthenticationToken") {
    return new Problem(words.InvalidAuthenticationToken, { code, status, signIn: true });
  }
  if (words[code]) return new Problem(words[code], { code, status });
  if (inner === "invalidName") {
    return new Problem(`That name can't be used: ${said}`, { code, status });
  }
  if (status >= 500 || status === 0) {
    return new Problem("Something went wrong on the server. Wait a moment and try again.", { code, status });
  }
  return new Problem(said || `The server refused the request (HTTP ${status}).`, { code, status });
}

/** Calls the API; returns the parsed JSON body (or the Response for `raw`). Throws Problems. */
export async function call(method, path, { body, what, headers = {}, raw = false } = {}) {
  const url = /^https?:/.test(path) || path.startsWith(API + "/") ? path : API + path;
  for (let attempt = 0; ; attempt++) {
    const token = await accessToken(attempt > 0).catch((e) => {
      throw new Problem(e.message, { signIn: !e.offline, status: e.offline ? 0 : 401 });
    });
    if (!token) throw new Problem("Sign in to go on.", { signIn: true });
    let res;
    try {
      res = await fetch(url, {
        method,
        headers: {
          Authorization: `Bearer ${token}`,
          ...(body !== undefined ? { "Content-Type": "application/json" } : {}),
          ...headers,
        },
        body: body !== undefined ? JSON.stringify(body) : undefined,
      });
    } catch {
      throw new Problem(OFFLINE, { status: 0 });
    }
    // An access token that was revoked or ran out early: renew it once and ask again.
    if (res.status === 401 && attempt === 0) continue;
    if (raw && res.ok) return res;
    const text = await res.text();
    const json = text ? safeJson(text) : null;
    if (!res.ok) throw explain(res.status, json, what);
    return json;
  }
}

function safeJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/** Every page of a collection, handed to `onPage` as each arrives. */
export async function pages(path, onPage, { signal } = {}) {
  let next = path;
  while (next && !signal?.aborted) {
    const page = await call("GET", next);
    if (signal?.aborted) return;
    onPage(page.value || []);
    next = page["@odata.nextLink"] || null;
  }
}

/** The address of an item in a drive. */
export function itemPath(driveId, itemId) {
  return `/drives/${encodeURIComponent(driveId)}/items/${encodeURIComponent(itemId)}`;
}

/** Percent-encodes each segment of a path (`a/b c` → `a/b%20c`). */
export function encodePath(path) {
  return path.split("/").map(encodeURIComponent).join("/");
}

/** The network error a failed XMLHttpRequest stands for. */
export function offline() {
  return new Problem(OFFLINE, { status: 0 });
}
