// Dialogs on the native <dialog> element (focus is kept inside, Escape closes): a name to
// type, a yes-or-no question, and a folder to choose (in this drive or another).

import { call, itemPath, pages } from "./graph.js";

function el(tag, props = {}, ...children) {
  const e = Object.assign(document.createElement(tag), props);
  e.append(...children);
  return e;
}

/** Shows `content` in a modal dialog; `build(close)` wires it; resolves with what close got. */
function modal(title, build) {
  return new Promise((resolve) => {
    const dialog = el("dialog", { className: "modal" });
    const heading = el("h2", { id: `dlg-${Date.now()}`, textContent: title });
    dialog.setAttribute("aria-labelledby", heading.id);
    const close = (value) => {
      dialog.close();
      dialog.remove();
      resolve(value);
    };
    dialog.addEventListener("cancel", (e) => {
      e.preventDefault();
      close(null);
    });
    dialog.append(heading, build(close));
    document.body.append(dialog);
    dialog.showModal();
  });
}

function buttons(close, okText, onOk) {
  const ok = el("button", { type: "submit", className: "primary", textContent: okText });
  const cancel = el("button", { type: "button", textContent: "Cancel" });
  cancel.addEventListener("click", () => close(null));
  return { row: el("div", { className: "dialog-buttons" }, cancel, ok), ok, onOk };
}

/** Asks for a name; resolves with it (trimmed), or null when cancelled. */
export function askName(title, label, value = "") {
  return modal(title, (close) => {
    const input = el("input", { type: "text", id: "dialog-name", value, required: true, autocomplete: "off" });
    const form = el("form", { method: "dialog" }, el("label", { htmlFor: input.id, textContent: label }), input);
    form.append(buttons(close, "OK").row);
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      if (input.value.trim()) close(input.value.trim());
    });
    queueMicrotask(() => {
      input.focus();
      const dot = value.lastIndexOf(".");
      input.setSelectionRange(0, dot > 0 ? dot : value.length);
    });
    return form;
  });
}

/** Asks a yes-or-no question; resolves true for yes. */
export function confirmIt(title, text, yes) {
  return modal(title, (close) => {
    const form = el("form", { method: "dialog" }, el("p", { textContent: text }));
    form.append(buttons(close, yes).row);
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      close(true);
    });
    return form;
  });
}

/**
 * Lets the user walk folders and choose one. `drives` is [{id, label}]; with one drive the
 * chooser stays in it. Resolves with {driveId, id, path} or null.
 */
export function pickFolder(title, okText, drives, driveId, skip = new Set()) {
  return modal(title, (close) => {
    let at = { driveId, id: "root", path: [] };
    const where = el("p", { className: "picker-where" });
    where.setAttribute("aria-live", "polite");
    const list = el("ul", { className: "picker-list" });
    list.setAttribute("aria-label", "Folders");
    const select = el("select", { id: "picker-drive" });
    for (const d of drives) select.append(el("option", { value: d.id, textContent: d.label, selected: d.id === driveId }));
    select.addEventListener("change", () => go({ driveId: select.value, id: "root", path: [] }));
    const up = el("button", { type: "button", textContent: "Up one folder" });
    up.addEventListener("click", () => {
      const path = at.path.slice(0, -1);
      go({ driveId: at.driveId, id: path.length ? path[path.length - 1].id : "root", path });
    });
    const form = el("form", { method: "dialog" });
    if (drives.length > 1) form.append(el("label", { htmlFor: select.id, textContent: "Drive" }), select);
    form.append(where, up, list);
    form.append(buttons(close, okText).row);
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      close({ driveId: at.driveId, id: at.id, path: at.path.map((p) => p.name) });
    });

    let asked = 0;
    async function go(to) {
      const mine = ++asked;
      // The root by its id, so that the caller can tell it from the folder it is in.
      if (to.id === "root") {
        try {
          to = { ...to, id: (await call("GET", `/drives/${encodeURIComponent(to.driveId)}/root?$select=id`)).id };
        } catch (e) {
          list.replaceChildren(el("li", { className: "error", textContent: e.message }));
          return;
        }
        if (mine !== asked) return;
      }
      at = to;
      up.disabled = to.path.length === 0;
      where.textContent = `In: ${[drives.find((d) => d.id === to.driveId)?.label || "Drive", ...to.path.map((p) => p.name)].join(" › ")}`;
      list.replaceChildren(el("li", { textContent: "Loading…" }));
      try {
        const folders = [];
        await pages(`${itemPath(to.driveId, to.id)}/children?$top=1000&$select=id,name,folder`, (items) => {
          folders.push(...items.filter((i) => i.folder && !skip.has(i.id)));
        });
        if (mine !== asked) return;
        list.replaceChildren(
          ...(folders.length ? [] : [el("li", { className: "empty", textContent: "No folders here." })]),
          ...folders.map((f) => {
            const b = el("button", { type: "button", textContent: f.name });
            b.setAttribute("aria-label", `Open folder ${f.name}`);
            b.addEventListener("click", () => go({ driveId: to.driveId, id: f.id, path: [...to.path, f] }));
            return el("li", {}, b);
          }),
        );
      } catch (e) {
        list.replaceChildren(el("li", { className: "error", textContent: e.message }));
      }
    }
    go(at);
    return form;
  });
}

export { el };
