// What the toolbar does with the selected items: new folder, rename, move, copy (with the
// copy's live progress from its monitor), delete to the recycle bin, download.

import { askName, confirmIt, pickFolder } from "./dialogs.js";
import { call, explain, itemPath } from "./graph.js";
import { folderList, refresh, removeFromList, upsert } from "./folder.js";
import { $, driveLabel, folderHash, say, state } from "./state.js";
import { addTask } from "./tasks.js";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const selected = () => folderList().selection();
const here = () => itemPath(state.driveId, state.folder.id);

export async function newFolder() {
  if (!state.folder) return;
  const name = await askName("New folder", "Folder name", "New folder");
  if (!name) return;
  try {
    const made = await call("POST", `${here()}/children`, {
      body: { name, folder: {}, "@microsoft.graph.conflictBehavior": "fail" },
      what: name,
    });
    upsert(made);
    say(`Made the folder “${name}”.`, { kind: "info" });
  } catch (e) {
    say(e.message);
  }
}

export async function rename() {
  const [item] = selected();
  const name = await askName(`Rename “${item.name}”`, "New name", item.name);
  if (!name || name === item.name) return;
  try {
    const changed = await call("PATCH", itemPath(state.driveId, item.id), { body: { name }, what: name });
    upsert(changed);
    say(`Renamed “${item.name}” to “${name}”.`, { kind: "info" });
  } catch (e) {
    say(e.message);
  }
}

export async function move() {
  const items = selected();
  const folders = new Set(items.filter((i) => i.folder).map((i) => i.id));
  const drives = [{ id: state.driveId, label: driveLabel(state.driveId) }];
  const to = await pickFolder(`Move ${count(items)} to…`, "Move here", drives, state.driveId, folders);
  if (!to) return;
  const moved = new Set();
  for (const item of items) {
    try {
      await call("PATCH", itemPath(state.driveId, item.id), {
        body: { parentReference: { id: to.id } },
        what: item.name,
      });
      moved.add(item.id);
    } catch (e) {
      say(`“${item.name}” was not moved. ${e.message}`);
    }
  }
  if (moved.size && to.id !== state.folder?.id) removeFromList(moved);
  if (moved.size === items.length) {
    say(`Moved ${count(items)} to ${["", ...to.path].join("/") || "/"}.`, {
      kind: "info",
      actions: [["Go there", () => (location.hash = folderHash(to.driveId, to.path))]],
    });
  }
}

export async function copy() {
  const items = selected();
  const drives = state.drives.map((d) => ({ id: d.id, label: d.label }));
  const to = await pickFolder(`Copy ${count(items)} to…`, "Copy here", drives, state.driveId);
  if (!to) return;
  for (const item of items) copyOne(item, to);
}

/** Starts one copy and follows its monitor in the transfers panel. */
async function copyOne(item, to, from = state.driveId) {
  let monitor = null;
  const task = addTask(`Copy ${item.name}`);
  task.row.dataset.kind = "copy";
  task.progress(0, "Starting…");
  try {
    const res = await call("POST", `${itemPath(from, item.id)}/copy`, {
      body: { parentReference: { driveId: to.driveId, id: to.id } },
      what: item.name,
      raw: true,
    });
    monitor = res.headers.get("Location");
    const done = await follow(monitor, task, item.name);
    const open = task.button("Open", `Open the copy of ${item.name}`, () => {
      location.hash = folderHash(to.driveId, to.path);
    });
    task.done(`Copied to ${driveLabel(to.driveId)} › ${["", ...to.path].join("/") || "/"}`, [open]);
    if (to.driveId === state.driveId && to.id === state.folder?.id) {
      const copied = await call("GET", itemPath(done.driveId, done.resourceId)).catch(() => null);
      if (copied) upsert(copied);
      else refresh();
    }
  } catch (e) {
    task.failed(e.message, e.signIn ? null : () => {
      task.row.remove();
      copyOne(item, to, from);
    });
  }
}

/** Polls a copy's monitor until it is done, showing its percentage; returns the last status. */
async function follow(monitor, task, name) {
  let wait = 250;
  for (;;) {
    let res;
    try {
      res = await fetch(monitor);
    } catch {
      task.status("Connection lost. Checking again…");
      await sleep(2000);
      continue;
    }
    const status = await res.json().catch(() => ({}));
    if (!res.ok && res.status !== 202) throw explain(res.status, status, name);
    const pct = Number(status.percentageComplete ?? 0);
    if (status.status === "completed") {
      const m = /\/drives\/([^/]+)\/items\//.exec(status.resourceLocation || "");
      return { resourceId: status.resourceId, driveId: m ? decodeURIComponent(m[1]) : state.driveId };
    }
    if (status.status === "failed" || status.status === "cancelled") {
      throw explain(409, { error: status.error || { message: "The copy failed." } }, name);
    }
    task.progress(pct / 100, status.status === "notStarted" ? "Waiting to start…" : `Copying… ${pct.toFixed(0)}%`);
    await sleep(wait);
    wait = Math.min(wait * 1.5, 1000);
  }
}

export async function remove() {
  const items = selected();
  const ok = await confirmIt(
    `Delete ${count(items)}?`,
    `${items.length === 1 ? `“${items[0].name}” goes` : "They go"} to the recycle bin, where you can restore ${items.length === 1 ? "it" : "them"}.`,
    "Delete",
  );
  if (!ok) return;
  const gone = new Set();
  for (const item of items) {
    try {
      await call("DELETE", itemPath(state.driveId, item.id), { what: item.name });
      gone.add(item.id);
    } catch (e) {
      say(`“${item.name}” was not deleted. ${e.message}`);
    }
  }
  removeFromList(gone);
  if (gone.size === items.length) {
    say(`Moved ${count(items)} to the recycle bin.`, {
      kind: "info",
      actions: [["Open the recycle bin", () => (location.hash = `#/bin/${encodeURIComponent(state.driveId)}`)]],
    });
  }
}

/** Downloads the selected file with the browser's own download (its pre-authenticated URL). */
export async function download() {
  const [item] = selected();
  await downloadItem(item);
}

export async function downloadItem(item) {
  try {
    const full = await call("GET", itemPath(state.driveId, item.id), { what: item.name });
    const a = document.createElement("a");
    a.href = full["@microsoft.graph.downloadUrl"];
    a.download = item.name;
    document.body.append(a);
    a.click();
    a.remove();
  } catch (e) {
    say(e.message);
  }
}

function count(items) {
  return items.length === 1 ? `“${items[0].name}”` : `${items.length} items`;
}
