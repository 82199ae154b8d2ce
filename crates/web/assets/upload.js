// Uploads: a small file in one PUT, a large one through an upload session in fragments. Each
// file has a row in the transfers panel with its progress and a Cancel button; a fragment cut
// off by the network is resumed from what the server says it has.

import { accessToken } from "./auth.js";
import { API, Problem, call, encodePath, explain, itemPath, offline } from "./graph.js";
import { formatSize } from "./list.js";
import { addTask } from "./tasks.js";

/** Files up to this size go in one request. */
const SMALL = 4 * 1024 * 1024;
/** Fragment size: a multiple of 320 KiB, as Graph asks. */
export const FRAGMENT = 16 * 320 * 1024;
const RETRIES = 8;
const PARALLEL = 2;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** One request with upload progress; resolves with `{status, json}`, rejects on network loss. */
function send(method, url, body, headers, onProgress, hold) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    hold.xhr = xhr;
    xhr.open(method, url);
    for (const [k, v] of Object.entries(headers)) xhr.setRequestHeader(k, v);
    xhr.upload.onprogress = (e) => onProgress(e.loaded);
    xhr.onload = () => {
      let json = null;
      try {
        json = xhr.responseText ? JSON.parse(xhr.responseText) : null;
      } catch {}
      resolve({ status: xhr.status, json });
    };
    xhr.onerror = () => reject(offline());
    xhr.onabort = () => reject(new Problem("Cancelled.", { code: "cancelled" }));
    xhr.send(body);
  });
}

/**
 * Uploads `entries` ({file, path}: path is where under `folderId` it goes, with its name) to
 * a drive folder; `onUploaded(item)` runs after each one.
 */
export function uploadAll(driveId, folderId, entries, onUploaded) {
  const queue = entries.map((e) => new Upload(driveId, folderId, e.file, e.path, onUploaded));
  let at = 0;
  const worker = async () => {
    while (at < queue.length) await queue[at++].run();
  };
  for (let i = 0; i < Math.min(PARALLEL, queue.length); i++) worker();
  return queue;
}

class Upload {
  constructor(driveId, folderId, file, path, onUploaded) {
    Object.assign(this, { driveId, folderId, file, path, onUploaded });
    this.hold = {};
    this.session = null;
    this.cancelledByUser = false;
    this.task = addTask(`Upload ${path}`, { onCancel: () => this.cancel() });
    this.task.row.dataset.kind = "upload";
    this.task.progress(0, `Waiting… (${formatSize(file.size)})`);
  }

  target(suffix) {
    return `${API}${itemPath(this.driveId, this.folderId)}:/${encodePath(this.path)}:/${suffix}`;
  }

  async run() {
    if (this.cancelledByUser) return;
    this.task.running(() => this.cancel());
    try {
      const item = this.file.size <= SMALL ? await this.whole() : await this.inFragments();
      this.task.done(`Uploaded (${formatSize(this.file.size)})`);
      this.onUploaded(item);
    } catch (e) {
      if (this.cancelledByUser) return this.task.cancelled();
      this.task.failed(e.message, e.signIn ? null : () => this.run());
    }
  }

  async whole() {
    const token = await accessToken();
    this.stopIfCancelled();
    const { status, json } = await send(
      "PUT",
      this.target("content"),
      this.file,
      { Authorization: `Bearer ${token}`, "Content-Type": this.file.type || "application/octet-stream" },
      (n) => this.task.progress(n / Math.max(1, this.file.size), `${formatSize(n)} of ${formatSize(this.file.size)}`),
      this.hold,
    );
    if (status >= 300) throw explain(status, json, this.file.name);
    return json;
  }

  /** Stops here when the user cancelled during the last wait. */
  stopIfCancelled() {
    if (this.cancelledByUser) throw new Problem("Cancelled.", { code: "cancelled" });
  }

  async inFragments() {
    if (!this.session) {
      const made = await call("POST", this.target("createUploadSession"), {
        body: { item: { "@microsoft.graph.conflictBehavior": "replace" } },
        what: this.file.name,
      });
      this.session = made.uploadUrl;
      // Cancelled while the session was being made: it is deleted, nothing is sent.
      if (this.cancelledByUser) {
        await fetch(this.session, { method: "DELETE" }).catch(() => {});
        this.stopIfCancelled();
      }
    }
    let offset = await this.resumeAt();
    for (;;) {
      this.stopIfCancelled();
      const end = Math.min(offset + FRAGMENT, this.file.size);
      const size = this.file.size;
      let res;
      try {
        res = await send(
          "PUT",
          this.session,
          this.file.slice(offset, end),
          { "Content-Range": `bytes ${offset}-${end - 1}/${size}` },
          (n) => this.task.progress((offset + n) / size, `${formatSize(offset + n)} of ${formatSize(size)}`),
          this.hold,
        );
      } catch (e) {
        if (this.cancelledByUser || e.code === "cancelled") throw e;
        offset = await this.reconnect();
        continue;
      }
      if (res.status === 200 || res.status === 201) return res.json;
      if (res.status === 202) {
        offset = startOf(res.json) ?? end;
        continue;
      }
      // The session ran out or is gone: start again with a new one.
      if (res.status === 404) {
        this.session = null;
        return this.inFragments();
      }
      // Out of step with the server (a fragment it already has): ask where to go on.
      if (res.status === 416) {
        offset = await this.resumeAt();
        continue;
      }
      throw explain(res.status, res.json, this.file.name);
    }
  }

  /** Where the server wants the next byte (0 for a new session). */
  async resumeAt() {
    const res = await fetch(this.session).catch(() => {
      throw offline();
    });
    if (res.status === 404) {
      this.session = null;
      throw new Problem("The upload expired on the server. Retry to start it again.", { status: 404 });
    }
    const json = await res.json().catch(() => null);
    if (!res.ok) throw explain(res.status, json, this.file.name);
    return startOf(json) ?? 0;
  }

  /** After a dropped connection: waits for the server to answer again, then goes on. */
  async reconnect() {
    for (let i = 0; i < RETRIES; i++) {
      this.task.status("Connection lost. Resuming…");
      await sleep(Math.min(500 * 2 ** i, 15_000));
      if (this.cancelledByUser) throw new Problem("Cancelled.", { code: "cancelled" });
      try {
        return await this.resumeAt();
      } catch (e) {
        if (e.status !== 0) throw e;
      }
    }
    throw offline();
  }

  async cancel() {
    this.cancelledByUser = true;
    this.hold.xhr?.abort();
    this.task.cancelled();
    if (this.session) await fetch(this.session, { method: "DELETE" }).catch(() => {});
  }
}

function startOf(status) {
  const range = status?.nextExpectedRanges?.[0];
  return range === undefined ? null : Number(range.split("-")[0]);
}
