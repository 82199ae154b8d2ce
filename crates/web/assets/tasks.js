// The transfers panel: one row per upload or copy, with a progress bar, what it is doing, and
// a button to cancel it (or to retry, open or dismiss it once it has stopped).

const panel = () => document.getElementById("tasks");
let next = 0;

function button(text, label, onClick) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = text;
  b.setAttribute("aria-label", label);
  b.addEventListener("click", onClick);
  return b;
}

/** Reads out a task's end (its progress is on its bar, not read out at every step). */
function announce(text) {
  document.getElementById("tasks-said").textContent = text;
}

/** Adds a task; `onCancel` is offered while it runs. */
export function addTask(label, { onCancel } = {}) {
  const id = `task-${++next}`;
  const row = document.createElement("li");
  row.className = "task";
  row.id = id;
  const title = document.createElement("span");
  title.className = "task-title";
  title.id = `${id}-title`;
  title.textContent = label;
  const bar = document.createElement("div");
  bar.className = "bar-track";
  bar.setAttribute("role", "progressbar");
  bar.setAttribute("aria-labelledby", title.id);
  bar.setAttribute("aria-valuemin", "0");
  bar.setAttribute("aria-valuemax", "100");
  bar.setAttribute("aria-valuenow", "0");
  const fill = document.createElement("div");
  fill.className = "bar-fill";
  bar.append(fill);
  const status = document.createElement("span");
  status.className = "task-status";
  const actions = document.createElement("span");
  actions.className = "task-actions";
  if (onCancel) actions.append(button("Cancel", `Cancel ${label}`, onCancel));
  row.append(title, bar, status, actions);
  panel().querySelector("ul").append(row);
  panel().hidden = false;

  const setActions = (...buttons) => actions.replaceChildren(...buttons);
  const dismiss = button("Dismiss", `Dismiss ${label}`, () => {
    row.remove();
    if (!panel().querySelector("li")) panel().hidden = true;
  });
  return {
    row,
    /** `fraction` in [0, 1]; `text` says how far. */
    progress(fraction, text) {
      const pct = Math.max(0, Math.min(100, Math.floor(fraction * 100)));
      bar.setAttribute("aria-valuenow", String(pct));
      bar.setAttribute("aria-valuetext", `${pct}%`);
      fill.style.width = `${pct}%`;
      status.textContent = text ?? `${pct}%`;
      row.dataset.state = "running";
    },
    /** Says what the task is doing, its bar left where it is. */
    status(text) {
      status.textContent = text;
    },
    done(text, extra = []) {
      this.progress(1, text);
      row.dataset.state = "done";
      announce(`${label}: ${text}`);
      setActions(...extra, dismiss);
    },
    failed(message, retry) {
      row.dataset.state = "failed";
      status.textContent = message;
      announce(`${label}: ${message}`);
      setActions(...(retry ? [button("Retry", `Retry ${label}`, retry)] : []), dismiss);
    },
    cancelled() {
      row.dataset.state = "cancelled";
      status.textContent = "Cancelled.";
      announce(`${label}: cancelled`);
      setActions(dismiss);
    },
    running(onCancelAgain) {
      row.dataset.state = "running";
      setActions(...(onCancelAgain ? [button("Cancel", `Cancel ${label}`, onCancelAgain)] : []));
    },
    button,
  };
}

/** Takes the rows of finished, failed and cancelled tasks off the panel. */
export function clearFinished() {
  for (const row of panel().querySelectorAll(".task:not([data-state=running])")) row.remove();
  if (!panel().querySelector("li")) panel().hidden = true;
}

export { button };
