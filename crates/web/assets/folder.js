// The folder view: loads a folder a page at a time into the list, shows its path as
// breadcrumbs and how much it holds, and refreshes after changes.

import { call, encodePath, itemPath, pages } from "./graph.js";
import { ItemList, formatSize } from "./list.js";
import { $, driveLabel, folderHash, say, state } from "./state.js";

const SELECT = "id,name,size,lastModifiedDateTime,folder,file,parentReference,eTag";
const PAGE = 500;

let list = null;
let loading = 0;

export function folderList() {
  return list;
}

export function setUpList(onOpen, onSelectionChange) {
  list = new ItemList($("list"), { onOpen, onSelectionChange });
  $("select-all").addEventListener("change", (e) => list.selectAll(e.target.checked));
  for (const b of document.querySelectorAll(".sort")) {
    b.addEventListener("click", () => {
      const s = list.sortBy(b.dataset.key);
      markSort(s);
    });
  }
  markSort(list.sort);
}

function markSort(s) {
  for (const b of document.querySelectorAll(".sort")) {
    const on = b.dataset.key === s.key;
    b.dataset.dir = on ? (s.dir > 0 ? "asc" : "desc") : "";
    b.setAttribute("aria-pressed", String(on));
    const what = b.textContent.toLowerCase();
    b.setAttribute("aria-label", on ? `Sorted by ${what}, ${s.dir > 0 ? "ascending" : "descending"}; sort the other way` : `Sort by ${what}`);
  }
}

/** The API address of folder `path` in drive `driveId`. */
export function folderAddress(driveId, path) {
  const drive = `/drives/${encodeURIComponent(driveId)}`;
  return path.length ? `${drive}/root:/${encodePath(path.join("/"))}:` : `${drive}/root`;
}

/** Shows a folder: its item first, then its children a page at a time. */
export async function showFolder(driveId, path) {
  const mine = ++loading;
  state.driveId = driveId;
  state.path = path;
  // Nothing goes into a folder until it is the one shown.
  state.folder = null;
  document.getElementById("drive").dataset.loading = "true";
  crumbs(driveId, path);
  $("folder-status").textContent = "Loading…";
  $("select-all").checked = false;
  list.set([]);
  let folder;
  try {
    folder = await call("GET", `${folderAddress(driveId, path)}?$select=${SELECT}`, {
      what: path[path.length - 1],
    });
  } catch (e) {
    // An older navigation's failure is not this folder's.
    if (mine === loading) throw e;
    return;
  }
  if (mine !== loading) return;
  delete document.getElementById("drive").dataset.loading;
  state.folder = folder;
  const total = folder.folder?.childCount ?? 0;
  let seen = 0;
  await pages(`${itemPath(driveId, folder.id)}/children?$top=${PAGE}&$select=${SELECT}`, (items) => {
    if (mine !== loading) return;
    seen += items.length;
    list.add(items);
    if (seen < total) $("folder-status").textContent = `Loading… ${seen.toLocaleString()} of ${total.toLocaleString()} items`;
  }, { signal: { get aborted() { return mine !== loading; } } });
  if (mine !== loading) return;
  summarize();
  document.title = `${path[path.length - 1] || driveLabel(driveId)} – graphdrive`;
}

/** The line under the list: how many folders and files, and their size. */
export function summarize() {
  const items = list.items;
  const folders = items.filter((i) => i.folder).length;
  const files = items.length - folders;
  const bytes = items.reduce((n, i) => n + (i.size || 0), 0);
  const plural = (n, w) => `${n.toLocaleString()} ${w}${n === 1 ? "" : "s"}`;
  $("folder-status").textContent = items.length
    ? `${plural(folders, "folder")}, ${plural(files, "file")} · ${formatSize(bytes)}`
    : "This folder is empty. Upload files or drop them here.";
}

function crumbs(driveId, path) {
  const ol = $("crumbs");
  ol.replaceChildren();
  const parts = [driveLabel(driveId), ...path];
  parts.forEach((name, i) => {
    const li = document.createElement("li");
    if (i === parts.length - 1) {
      const here = document.createElement("span");
      here.textContent = name;
      here.setAttribute("aria-current", "page");
      li.append(here);
    } else {
      const a = document.createElement("a");
      a.href = folderHash(driveId, path.slice(0, i));
      a.textContent = name;
      li.append(a);
    }
    ol.append(li);
  });
}

/** Loads the folder shown again (after an upload, a copy, a move…), keeping the scroll. */
export async function refresh() {
  const top = $("list").scrollTop;
  try {
    await showFolder(state.driveId, state.path);
    $("list").scrollTop = top;
  } catch (e) {
    say(e.message);
  }
}

/** Puts a new or changed item in the list without loading the folder again. */
export function upsert(item) {
  const at = list.items.findIndex((i) => i.id === item.id);
  if (at >= 0) list.items.splice(at, 1);
  list.add([item]);
  summarize();
}

export function removeFromList(ids) {
  list.items = list.items.filter((i) => !ids.has(i.id));
  for (const id of ids) list.selected.delete(id);
  list.order();
  list.onSelectionChange();
  summarize();
}
