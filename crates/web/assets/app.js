// The web drive's entry: signs in, finds the user's drives, and shows the folder, recycle bin
// or versions view the address (#/d/{drive}/{path…}, #/bin/{drive}, #/versions/{drive}/{item})
// names.

import * as actions from "./actions.js";
import { completeSignIn, discover, signIn, signOut, signedIn, user } from "./auth.js";
import { showBin, showVersions } from "./bin.js";
import { folderList, refresh, setUpList, showFolder } from "./folder.js";
import { call } from "./graph.js";
import { formatSize } from "./list.js";
import { $, folderHash, quiet, say, state } from "./state.js";
import { clearFinished } from "./tasks.js";
import { uploadAll } from "./upload.js";

const VIEWS = ["welcome", "drive", "bin", "history"];

function show(view) {
  for (const v of VIEWS) $(v).hidden = v !== view;
}

function welcome(text) {
  show("welcome");
  $("welcome-text").textContent = text || "Sign in to see your drive.";
  $("sign-in").focus();
}

async function boot() {
  $("sign-in").addEventListener("click", () => signIn().catch((e) => welcome(e.message)));
  $("sign-out").addEventListener("click", () => signOut());
  let back = null;
  try {
    const c = await discover();
    // Signing in comes back to the server's public URL: the page must run there.
    const home = new URL(c.redirect);
    if (home.origin !== location.origin || !location.pathname.startsWith(home.pathname)) {
      location.replace(c.redirect + location.hash);
      return;
    }
    back = await completeSignIn();
  } catch (e) {
    return welcome(e.message);
  }
  if (!signedIn()) return welcome();
  state.me = user();
  $("who").textContent = state.me.name || state.me.preferred_username || "";
  $("sign-out").hidden = false;
  try {
    await loadDrives();
  } catch (e) {
    if (e.signIn) return welcome(e.message);
    show("drive");
    return say(e.message, { actions: [["Try again", () => location.reload()]] });
  }
  wire();
  if (back) history.replaceState(null, "", back);
  window.addEventListener("hashchange", route);
  await route();
}

async function loadDrives() {
  const { value } = await call("GET", "/me/drives");
  state.drives = value.map((d, i) => ({
    id: d.id,
    drive: d,
    label: i === 0 ? "My files" : d.owner?.group?.displayName || d.name,
  }));
  const select = $("drive-select");
  select.replaceChildren(
    ...state.drives.map((d) => Object.assign(document.createElement("option"), { value: d.id, textContent: d.label })),
  );
  select.hidden = state.drives.length < 2;
  select.onchange = () => (location.hash = folderHash(select.value, []));
}

/** Shows how full the drive is, from a fresh read of it. */
async function quota(driveId) {
  const d = await call("GET", `/drives/${encodeURIComponent(driveId)}?$select=id,quota`).catch(() => null);
  if (!d?.quota) return;
  const { used, total } = d.quota;
  $("quota-meter").value = total ? used / total : 0;
  $("quota-text").textContent = `${formatSize(used)} of ${formatSize(total)} used`;
  $("quota").hidden = false;
}

async function route() {
  // A hand-edited address that does not decode shows the drive's root.
  const decode = (p) => {
    try {
      return decodeURIComponent(p);
    } catch {
      return "";
    }
  };
  const parts = location.hash.replace(/^#\/?/, "").split("/").map(decode);
  const [kind, driveId = state.drives[0].id, ...rest] = parts;
  const known = state.drives.some((d) => d.id === driveId);
  quiet();
  try {
    if (kind === "bin") {
      show("bin");
      await showBin(driveId);
    } else if (kind === "versions") {
      show("history");
      await showVersions(driveId, rest[0]);
    } else {
      show("drive");
      const path = kind === "d" ? rest.filter((p) => p !== "") : [];
      $("drive-select").value = known ? driveId : state.drives[0].id;
      await showFolder(kind === "d" ? driveId : state.drives[0].id, path);
    }
  } catch (e) {
    if (e.signIn) return welcome(e.message);
    say(e.message, { where: kind === "bin" ? "bin-message" : kind === "versions" ? "history-message" : "message" });
  }
  quota(state.driveId || driveId);
}

function selectionChanged() {
  const sel = folderList().selection();
  const oneFile = sel.length === 1 && !sel[0].folder;
  for (const b of document.querySelectorAll("[data-needs]")) {
    const need = b.dataset.needs;
    b.disabled = need === "some" ? sel.length === 0 : need === "one" ? sel.length !== 1 : !oneFile;
  }
  $("select-all").checked = sel.length > 0 && sel.length === folderList().items.length;
}

function wire() {
  setUpList((item) => {
    if (item.folder) location.hash = folderHash(state.driveId, [...state.path, item.name]);
    else actions.downloadItem(item);
  }, selectionChanged);
  selectionChanged();
  $("new-folder").addEventListener("click", actions.newFolder);
  $("rename").addEventListener("click", actions.rename);
  $("move").addEventListener("click", actions.move);
  $("copy").addEventListener("click", actions.copy);
  $("delete").addEventListener("click", actions.remove);
  $("download").addEventListener("click", actions.download);
  $("versions").addEventListener("click", () => {
    const [item] = folderList().selection();
    location.hash = `#/versions/${encodeURIComponent(state.driveId)}/${encodeURIComponent(item.id)}`;
  });
  $("show-bin").addEventListener("click", () => (location.hash = `#/bin/${encodeURIComponent(state.driveId)}`));
  $("bin-back").addEventListener("click", () => (location.hash = folderHash(state.driveId, state.path)));
  $("history-back").addEventListener("click", () => (location.hash = folderHash(state.driveId, state.path)));
  $("message-close").addEventListener("click", () => quiet());
  $("tasks-clear").addEventListener("click", clearFinished);
  $("list").addEventListener("keydown", (e) => {
    if (e.key === "Delete" && folderList().selection().length) actions.remove();
  });
  $("upload-files").addEventListener("click", () => $("pick-files").click());
  $("upload-folder").addEventListener("click", () => $("pick-folder").click());
  for (const id of ["pick-files", "pick-folder"]) {
    $(id).addEventListener("change", (e) => {
      const files = [...e.target.files].map((file) => ({ file, path: file.webkitRelativePath || file.name }));
      e.target.value = "";
      upload(files);
    });
  }
  dropTarget($("drive"));
}

let refreshSoon = null;

function upload(entries) {
  if (!entries.length || !state.folder) return;
  const driveId = state.driveId;
  const folderId = state.folder.id;
  uploadAll(driveId, folderId, entries, () => {
    if (state.driveId !== driveId || state.folder?.id !== folderId) return;
    clearTimeout(refreshSoon);
    refreshSoon = setTimeout(() => {
      refresh();
      quota(driveId);
    }, 300);
  });
}

/** Files and folders dropped on the drive view are uploaded into the folder shown. */
function dropTarget(zone) {
  let depth = 0;
  zone.addEventListener("dragenter", (e) => {
    e.preventDefault();
    depth++;
    $("drop-hint").hidden = false;
  });
  zone.addEventListener("dragleave", () => {
    if (--depth <= 0) $("drop-hint").hidden = true;
  });
  zone.addEventListener("dragover", (e) => e.preventDefault());
  zone.addEventListener("drop", async (e) => {
    e.preventDefault();
    depth = 0;
    $("drop-hint").hidden = true;
    const roots = [...e.dataTransfer.items].map((i) => i.webkitGetAsEntry?.()).filter(Boolean);
    const entries = [];
    if (roots.length) {
      for (const root of roots) await walk(root, "", entries);
    } else {
      for (const file of e.dataTransfer.files) entries.push({ file, path: file.name });
    }
    upload(entries);
  });
}

/** Every file under a dropped entry, with its path below the drop. */
async function walk(entry, prefix, out) {
  if (entry.isFile) {
    const file = await new Promise((res, rej) => entry.file(res, rej));
    out.push({ file, path: prefix + entry.name });
    return;
  }
  const reader = entry.createReader();
  for (;;) {
    const batch = await new Promise((res, rej) => reader.readEntries(res, rej));
    if (!batch.length) break;
    for (const child of batch) await walk(child, `${prefix}${entry.name}/`, out);
  }
}

boot();
