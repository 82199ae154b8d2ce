// The recycle bin (restore what was deleted) and a file's versions (restore an earlier one).

import { call, itemPath, pages } from "./graph.js";
import { formatDate, formatSize } from "./list.js";
import { $, quiet, say, state } from "./state.js";

function row(title, detail, action, label, run) {
  const li = document.createElement("li");
  const text = document.createElement("span");
  text.className = "entry";
  const strong = document.createElement("strong");
  strong.textContent = title;
  const small = document.createElement("span");
  small.className = "detail";
  small.textContent = detail;
  text.append(strong, small);
  li.append(text);
  if (action) {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = action;
    b.setAttribute("aria-label", label);
    b.addEventListener("click", () => run(b, li));
    li.append(b);
  }
  return li;
}

function who(identity) {
  return identity?.user?.displayName || identity?.application?.displayName || "someone";
}

export async function showBin(driveId) {
  quiet("bin-message");
  const ul = $("bin-list");
  ul.replaceChildren();
  $("bin-status").textContent = "Loading…";
  let n = 0;
  await pages(`/drives/${encodeURIComponent(driveId)}/recycleBin/items?$top=200`, (items) => {
    n += items.length;
    for (const item of items) {
      const from = (item.deletedFromLocation || "").replace(/^\/drive\/root:?/, "") || "/";
      const detail = `${item.folder ? "Folder" : formatSize(item.size)} · from ${from} · deleted ${formatDate(item.deletedDateTime)} by ${who(item.deletedBy)}`;
      ul.append(row(item.name, detail, "Restore", `Restore ${item.name}`, (b, li) => restore(driveId, item, b, li)));
    }
  });
  $("bin-status").textContent = n ? `${n.toLocaleString()} deleted item${n === 1 ? "" : "s"}.` : "The recycle bin is empty.";
}

async function restore(driveId, item, button, li) {
  button.disabled = true;
  try {
    const back = await call("POST", `${itemPath(driveId, item.id)}/restore`, { body: {}, what: item.name });
    li.remove();
    const where = (back.parentReference?.path || "").replace(/^\/drive\/root:?/, "") || "/";
    say(`Restored “${back.name}” to ${where}.`, { kind: "info", where: "bin-message" });
  } catch (e) {
    button.disabled = false;
    say(e.message, { where: "bin-message" });
  }
}

export async function showVersions(driveId, itemId) {
  quiet("history-message");
  const ul = $("history-list");
  ul.replaceChildren();
  const item = await call("GET", `${itemPath(driveId, itemId)}?$select=id,name`);
  $("history-title").textContent = `Versions of “${item.name}”`;
  const { value } = await call("GET", `${itemPath(driveId, itemId)}/versions`);
  value.forEach((v, i) => {
    const detail = `${formatSize(v.size)} · ${formatDate(v.lastModifiedDateTime)} by ${who(v.lastModifiedBy)}`;
    const title = i === 0 ? `Version ${v.id} (current)` : `Version ${v.id}`;
    ul.append(i === 0
      ? row(title, detail)
      : row(title, detail, "Restore", `Restore version ${v.id}`, async (b) => {
        b.disabled = true;
        try {
          await call("POST", `${itemPath(driveId, itemId)}/versions/${encodeURIComponent(v.id)}/restoreVersion`);
          await showVersions(driveId, itemId);
          say(`Restored version ${v.id}: it is the current version now.`, { kind: "info", where: "history-message" });
        } catch (e) {
          b.disabled = false;
          say(e.message, { where: "history-message" });
        }
      }));
  });
  state.historyOf = item;
}
