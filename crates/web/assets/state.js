// What the page is showing, shared by its views, and the message line.

export const state = {
  /** Drives the user reaches: [{id, label, drive}] (theirs first). */
  drives: [],
  driveId: null,
  /** Folder names from the drive's root to the folder shown. */
  path: [],
  /** The folder shown (a driveItem). */
  folder: null,
  me: {},
};

export const $ = (id) => document.getElementById(id);

export function driveLabel(id) {
  return state.drives.find((d) => d.id === id)?.label || "Drive";
}

/** The hash that shows folder `path` of drive `driveId`. */
export function folderHash(driveId, path) {
  return `#/d/${encodeURIComponent(driveId)}/${path.map(encodeURIComponent).join("/")}`;
}

/** Shows `text` in the message line of `where` (an alert, read out), with optional buttons. */
export function say(text, { kind = "error", where = "message", actions = [] } = {}) {
  const box = $(where);
  const line = $(`${where}-text`);
  line.textContent = text;
  box.dataset.kind = kind;
  box.querySelectorAll(".message-action").forEach((b) => b.remove());
  for (const [label, run] of actions) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "message-action";
    b.textContent = label;
    b.addEventListener("click", run);
    box.insertBefore(b, line.nextSibling);
  }
  box.hidden = false;
}

export function quiet(where = "message") {
  $(where).hidden = true;
}
