// The folder listing: a virtual list (only the rows in view are in the page, so a folder of
// any size scrolls smoothly), sorted by name, size or modified time, folders first, with a
// check box per row for selecting one or many.

const ROW = 44;
const SPARE = 8;
const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: "base" });

export function formatSize(n) {
  if (n == null) return "";
  const units = ["bytes", "KB", "MB", "GB", "TB"];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} ${n === 1 ? "byte" : "bytes"}` : `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

export function formatDate(iso) {
  if (!iso) return "";
  return new Date(iso).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

const KEYS = {
  name: (a, b) => collator.compare(a.name, b.name),
  size: (a, b) => (a.size ?? 0) - (b.size ?? 0) || collator.compare(a.name, b.name),
  modified: (a, b) =>
    (a.lastModifiedDateTime || "").localeCompare(b.lastModifiedDateTime || "") || collator.compare(a.name, b.name),
};

export class ItemList {
  constructor(el, { onOpen, onSelectionChange }) {
    this.el = el;
    this.onOpen = onOpen;
    this.onSelectionChange = onSelectionChange;
    this.items = [];
    this.selected = new Set();
    this.sort = { key: "name", dir: 1 };
    this.spacer = document.createElement("div");
    this.spacer.className = "spacer";
    el.replaceChildren(this.spacer);
    this.rows = new Map();
    el.addEventListener("scroll", () => this.paint(), { passive: true });
    el.addEventListener("keydown", (e) => this.key(e));
    new ResizeObserver(() => this.paint()).observe(el);
  }

  set(items) {
    this.items = [];
    this.selected.clear();
    this.el.scrollTop = 0;
    this.add(items);
    this.onSelectionChange();
  }

  add(items) {
    this.items.push(...items);
    this.order();
  }

  order() {
    const cmp = KEYS[this.sort.key];
    const dir = this.sort.dir;
    this.items.sort((a, b) => (!!b.folder - !!a.folder) || dir * cmp(a, b));
    this.redraw();
  }

  sortBy(key) {
    this.sort = { key, dir: this.sort.key === key ? -this.sort.dir : 1 };
    this.order();
    return this.sort;
  }

  selection() {
    return this.items.filter((i) => this.selected.has(i.id));
  }

  selectAll(on) {
    this.selected = new Set(on ? this.items.map((i) => i.id) : []);
    this.redraw();
    this.onSelectionChange();
  }

  toggle(id, on) {
    if (on) this.selected.add(id);
    else this.selected.delete(id);
    this.onSelectionChange();
  }

  redraw() {
    for (const row of this.rows.values()) row.remove();
    this.rows.clear();
    this.paint();
  }

  /** Puts in the page the rows in view (and a few on either side); drops the others. */
  paint() {
    this.spacer.style.height = `${this.items.length * ROW}px`;
    const first = Math.max(0, Math.floor(this.el.scrollTop / ROW) - SPARE);
    const last = Math.min(this.items.length, Math.ceil((this.el.scrollTop + this.el.clientHeight) / ROW) + SPARE);
    for (const [i, row] of this.rows) {
      if (i < first || i >= last) {
        row.remove();
        this.rows.delete(i);
      }
    }
    for (let i = first; i < last; i++) {
      if (!this.rows.has(i)) {
        const row = this.row(this.items[i], i);
        this.rows.set(i, row);
        this.spacer.append(row);
      }
    }
  }

  row(item, index) {
    const row = document.createElement("div");
    row.className = "row";
    row.setAttribute("role", "listitem");
    row.dataset.index = index;
    row.dataset.name = item.name;
    row.style.top = `${index * ROW}px`;
    const box = document.createElement("input");
    box.type = "checkbox";
    box.checked = this.selected.has(item.id);
    box.setAttribute("aria-label", `Select ${item.name}`);
    box.addEventListener("change", () => this.toggle(item.id, box.checked));
    const name = document.createElement("button");
    name.type = "button";
    name.className = `name ${item.folder ? "is-folder" : "is-file"}`;
    name.textContent = item.name;
    name.setAttribute("aria-label", `${item.folder ? "Open folder" : "Download"} ${item.name}`);
    name.addEventListener("click", () => this.onOpen(item));
    const size = document.createElement("span");
    size.className = "size";
    size.textContent = item.folder
      ? `${item.folder.childCount.toLocaleString()} item${item.folder.childCount === 1 ? "" : "s"}, ${formatSize(item.size)}`
      : formatSize(item.size);
    const when = document.createElement("span");
    when.className = "modified";
    when.textContent = formatDate(item.lastModifiedDateTime);
    row.append(box, name, size, when);
    return row;
  }

  /** Up and down arrows move between rows, scrolling the list as needed. */
  key(e) {
    if (e.key !== "ArrowDown" && e.key !== "ArrowUp") return;
    const current = e.target.closest(".row");
    const at = current ? Number(current.dataset.index) : -1;
    const to = Math.max(0, Math.min(this.items.length - 1, at + (e.key === "ArrowDown" ? 1 : -1)));
    e.preventDefault();
    if (to * ROW < this.el.scrollTop) this.el.scrollTop = to * ROW;
    if ((to + 1) * ROW > this.el.scrollTop + this.el.clientHeight) {
      this.el.scrollTop = (to + 1) * ROW - this.el.clientHeight;
    }
    this.paint();
    const cls = e.target.matches("input") ? "input" : "button.name";
    this.rows.get(to)?.querySelector(cls)?.focus();
  }

  /** Scrolls to the item named `name` and returns its row. */
  reveal(name) {
    const i = this.items.findIndex((x) => x.name === name);
    if (i < 0) return null;
    this.el.scrollTop = Math.max(0, i * ROW - ROW);
    this.paint();
    return this.rows.get(i);
  }
}
