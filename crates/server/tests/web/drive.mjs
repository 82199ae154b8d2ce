// A person's day in the web drive, in Debian's Chromium driven by playwright-core: sign in,
// make folders, upload files and a folder (by picker and by drag and drop) and a 30 MiB file
// (watching the progress bars, through a dropped connection; cancelling another), download one
// and compare its bytes, rename, move, delete and restore, browse and copy a folder of 10,000
// files (watching the copy's progress), switch to a group's drive, restore a version, read
// a name clash as plain words, go on past an expired access token, and sign out. Screenshots of the main screens go to $SCREENSHOTS.
//
// Run by tests/web_drive.rs, which starts the server and makes the user, the group and the
// big folder: GRAPHDRIVE_URL, WEB_USER, WEB_PASSWORD, BIG_FOLDER, BIG_COUNT, GROUP, CHROMIUM,
// SCREENSHOTS, WORK.

import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set`);
  return v;
};
const URL = env("GRAPHDRIVE_URL");
const SHOTS = env("SCREENSHOTS");
const WORK = env("WORK");
const BIG = env("BIG_FOLDER");
const BIG_COUNT = Number(env("BIG_COUNT"));
mkdirSync(SHOTS, { recursive: true });

const sha = (b) => createHash("sha256").update(b).digest("hex");
const browser = await chromium.launch({ executablePath: env("CHROMIUM"), args: ["--no-sandbox"] });
const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, acceptDownloads: true });
const page = await context.newPage();
const problems = [];
page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
// A refused request (the name clash) is logged by the browser itself; anything else is not.
page.on("console", (m) => {
  if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) problems.push(`console: ${m.text()}`);
});

let step = "start";
async function run(name, fn) {
  step = name;
  const t0 = Date.now();
  await fn();
  console.log(`ok ${name} (${Date.now() - t0} ms)`);
}
const shot = (name) => page.screenshot({ path: join(SHOTS, `${name}.png`), animations: "disabled" });
const row = (name) => page.locator(`.row[data-name="${name}"]`);
const message = page.locator("#message");
const select = (name) => page.getByRole("checkbox", { name: `Select ${name}`, exact: true }).check();
const button = (name) => page.getByRole("button", { name, exact: true });

/** Records every value a task's progress bar shows, from the page, for `title`. */
async function watchProgress(title) {
  await page.evaluate((title) => {
    window.__seen ??= {};
    const seen = (window.__seen[title] = []);
    seen.said = [];
    const look = () => {
      for (const t of document.querySelectorAll(".task")) {
        if (t.querySelector(".task-title").textContent !== title) continue;
        const v = Number(t.querySelector("[role=progressbar]").getAttribute("aria-valuenow"));
        if (seen[seen.length - 1] !== v) seen.push(v);
        const said = t.querySelector(".task-status").textContent;
        if (!seen.said.includes(said)) seen.said.push(said);
      }
    };
    new MutationObserver(look).observe(document.getElementById("tasks"), {
      subtree: true, childList: true, attributes: true, attributeFilter: ["aria-valuenow"],
    });
  }, title);
}
const seenProgress = (title) => page.evaluate((t) => ({ values: window.__seen[t], said: window.__seen[t].said }), title);
const FRAGMENT = 16 * 320 * 1024;
const isFragment = (r, start) => r.method() === "PUT" && (r.headers()["content-range"] || "").startsWith(`bytes ${start}-`);
const task = (title) => page.locator(".task", { has: page.locator(".task-title", { hasText: title }) });

async function uploadFile(path, name) {
  await watchProgress(`Upload ${name}`);
  await page.locator("#pick-files").setInputFiles(path);
  await task(`Upload ${name}`).locator(".task-status", { hasText: "Uploaded" }).waitFor();
  const seen = await seenProgress(`Upload ${name}`);
  assert.equal(seen.values.at(-1), 100, `the bar of ${name} ends at 100%: ${seen.values}`);
  await row(name).waitFor();
  return seen;
}

async function dialogName(label, value) {
  await page.getByLabel(label).fill(value);
  await button("OK").click();
}

async function pick(folder, ok) {
  const dialog = page.locator("dialog[open]");
  await dialog.getByRole("button", { name: `Open folder ${folder}` }).click();
  await dialog.locator(".picker-where", { hasText: folder }).waitFor();
  await dialog.getByRole("button", { name: ok }).click();
}

try {
  await run("sign in", async () => {
    await page.goto(URL);
    await button("Sign in").click();
    await page.waitForURL(/oauth2\/v2\.0\/authorize/);
    await page.getByLabel(/user/i).fill(env("WEB_USER"));
    await page.getByLabel(/password/i).fill(env("WEB_PASSWORD"));
    await shot("sign-in");
    await page.getByRole("button", { name: /sign in/i }).click();
    await row(BIG).waitFor();
    assert.equal(new globalThis.URL(page.url()).search, "", "the code is gone from the address");
    await page.locator("#quota-text", { hasText: "used" }).waitFor();
  });

  await run("first page ready after sign-in, loaded again", async () => {
    const t0 = Date.now();
    await page.reload();
    await row(BIG).waitFor();
    console.log(`  the drive's first page was ready ${Date.now() - t0} ms after a reload`);
  });

  await run("new folder, and a name clash in plain words", async () => {
    await button("New folder").click();
    await dialogName("Folder name", "Projects");
    await row("Projects").waitFor();
    await button("New folder").click();
    await dialogName("Folder name", "Projects");
    await message.filter({ hasText: "already in that folder" }).waitFor();
    const text = await message.innerText();
    assert.match(text, /An item named “Projects” is already in that folder\. Choose another name/);
    assert.doesNotMatch(text, /[{}]|nameAlreadyExists/, "no raw error body");
    await shot("name-clash");
  });

  const small = Buffer.from("hello from the browser\n");
  const large = randomBytes(30 * 1024 * 1024);
  writeFileSync(join(WORK, "hello.txt"), small);
  writeFileSync(join(WORK, "large.bin"), large);

  await run("upload a small file", async () => {
    await uploadFile(join(WORK, "hello.txt"), "hello.txt");
  });

  await run("upload a folder by the picker, and files by drag and drop", async () => {
    const dir = join(WORK, "Holiday");
    mkdirSync(join(dir, "day 1"), { recursive: true });
    writeFileSync(join(dir, "plan.txt"), "pack\n");
    writeFileSync(join(dir, "day 1", "photo.jpg"), randomBytes(1000));
    await page.locator("#pick-folder").setInputFiles(dir);
    for (const f of ["Holiday/plan.txt", "Holiday/day 1/photo.jpg"]) {
      await task(`Upload ${f}`).locator(".task-status", { hasText: "Uploaded" }).waitFor();
    }
    await row("Holiday").waitFor();
    const dropped = await page.evaluateHandle(() => {
      const dt = new DataTransfer();
      dt.items.add(new File(["dropped one\n"], "dropped-1.txt", { type: "text/plain" }));
      dt.items.add(new File(["dropped two\n"], "dropped-2.txt", { type: "text/plain" }));
      return dt;
    });
    await page.dispatchEvent("#drive", "dragenter", { dataTransfer: dropped });
    await page.locator("#drop-hint").waitFor();
    await page.dispatchEvent("#drive", "drop", { dataTransfer: dropped });
    await row("dropped-1.txt").waitFor();
    await row("dropped-2.txt").waitFor();
    assert.equal(await page.locator("#drop-hint").isHidden(), true);
  });

  await run("upload a 30 MiB file in fragments, resuming after a dropped connection", async () => {
    // The third fragment's first try is cut off, as by a network that drops.
    let cut = 0;
    await page.route("**/upload/**", (route) => {
      if (!cut && isFragment(route.request(), 2 * FRAGMENT)) {
        cut++;
        return route.abort("connectionreset");
      }
      return route.continue();
    });
    const seen = await uploadFile(join(WORK, "large.bin"), "large.bin");
    await page.unroute("**/upload/**");
    assert.equal(cut, 1);
    assert.ok(seen.values.some((v) => v > 0 && v < 100), `the bar moved on its way: ${seen.values}`);
    assert.ok(seen.said.includes("Connection lost. Resuming…"), `it said so: ${seen.said}`);
    await shot("upload");
  });

  await run("cancel an upload", async () => {
    writeFileSync(join(WORK, "cancelled.bin"), randomBytes(12 * 1024 * 1024));
    let release;
    const held = new Promise((r) => (release = r));
    await page.route("**/upload/**", async (route) => {
      if (!isFragment(route.request(), FRAGMENT)) return route.continue();
      await held;
      await route.abort().catch(() => {});
    });
    const inFlight = page.waitForRequest((r) => isFragment(r, FRAGMENT));
    await page.locator("#pick-files").setInputFiles(join(WORK, "cancelled.bin"));
    await inFlight;
    const t = task("Upload cancelled.bin");
    const session = page.waitForResponse((r) => r.request().method() === "DELETE" && r.url().includes("/upload/"));
    await t.getByRole("button", { name: "Cancel Upload cancelled.bin" }).click();
    await t.locator(".task-status", { hasText: "Cancelled." }).waitFor();
    release();
    assert.equal((await session).status(), 204, "the server's upload session is deleted");
    await page.unroute("**/upload/**");
    await t.getByRole("button", { name: "Dismiss Upload cancelled.bin" }).click();
    assert.equal(await row("cancelled.bin").count(), 0);
  });

  await run("download a file and compare its bytes", async () => {
    const [download] = await Promise.all([
      page.waitForEvent("download"),
      button("Download large.bin").click(),
    ]);
    const saved = join(WORK, "downloaded.bin");
    await download.saveAs(saved);
    assert.equal(download.suggestedFilename(), "large.bin");
    assert.equal(sha(readFileSync(saved)), sha(large), "the downloaded bytes are the uploaded ones");
  });

  await run("rename", async () => {
    await select("hello.txt");
    await button("Rename").click();
    await dialogName("New name", "greeting.txt");
    await row("greeting.txt").waitFor();
    await row("hello.txt").waitFor({ state: "detached" });
  });

  await run("move into a folder", async () => {
    await select("greeting.txt");
    await button("Move to…").click();
    await pick("Projects", "Move here");
    await row("greeting.txt").waitFor({ state: "detached" });
    await button("Open folder Projects").click();
    await row("greeting.txt").waitFor();
    await page.locator("#crumbs", { hasText: "Projects" }).waitFor();
  });

  await run("delete to the recycle bin, and restore", async () => {
    await select("greeting.txt");
    await button("Delete").click();
    await page.locator("dialog[open]").getByRole("button", { name: "Delete" }).click();
    await row("greeting.txt").waitFor({ state: "detached" });
    await message.filter({ hasText: "Moved “greeting.txt” to the recycle bin" }).waitFor();
    await button("Recycle bin").click();
    await page.locator("#bin-list li", { hasText: "greeting.txt" }).waitFor();
    await shot("recycle-bin");
    await button("Restore greeting.txt").click();
    await page.locator("#bin-message", { hasText: "Restored “greeting.txt” to /Projects" }).waitFor();
    await button("Back to files").click();
    await row("greeting.txt").waitFor();
  });

  await run(`browse a folder of ${BIG_COUNT.toLocaleString("en")} files`, async () => {
    await page.getByRole("link", { name: "My files" }).click();
    await button(`Open folder ${BIG}`).click();
    await page.locator("#folder-status", { hasText: `${BIG_COUNT.toLocaleString("en")} files` }).waitFor();
    const rows = await page.locator(".row").count();
    assert.ok(rows < 100, `only the rows in view are in the page (${rows})`);
    await page.locator("#list").evaluate((l) => (l.scrollTop = l.scrollHeight));
    const last = `f${String(BIG_COUNT - 1).padStart(5, "0")}`;
    await row(last).waitFor();
    await button("Sort by size").click();
    await button("Sorted by size, ascending; sort the other way").waitFor();
    await shot("big-folder");
    await page.getByRole("link", { name: "My files" }).click();
    await row(BIG).waitFor();
  });

  await run(`copy the ${BIG_COUNT.toLocaleString("en")}-file folder, watching its progress`, async () => {
    await button("Clear finished").click();
    await page.locator(".task").first().waitFor({ state: "detached" });
    await watchProgress(`Copy ${BIG}`);
    await select(BIG);
    await button("Copy to…").click();
    await pick("Projects", "Copy here");
    const copy = task(`Copy ${BIG}`);
    await copy.locator(".task-status", { hasText: /Copying… [1-9]/ }).waitFor();
    await shot("copy");
    await copy.locator(".task-status", { hasText: "Copied to My files › /Projects" }).waitFor({ timeout: 60_000 });
    const seen = await seenProgress(`Copy ${BIG}`);
    assert.ok(seen.values.some((v) => v > 0 && v < 100), `the copy's bar moved on its way: ${seen.values}`);
    assert.equal(seen.values.at(-1), 100);
    console.log(`  the copy's bar showed ${seen.values.join(", ")} %`);
    await copy.getByRole("button", { name: `Open the copy of ${BIG}` }).click();
    await row(BIG).waitFor();
    await row("greeting.txt").waitFor();
  });

  await run("see a file's versions and restore one", async () => {
    const v1 = join(WORK, "v1", "notes.txt");
    const v2 = join(WORK, "v2", "notes.txt");
    mkdirSync(join(WORK, "v1"), { recursive: true });
    mkdirSync(join(WORK, "v2"), { recursive: true });
    writeFileSync(v1, "first draft\n");
    writeFileSync(v2, "second draft, longer\n");
    await uploadFile(v1, "notes.txt");
    await page.locator(".task", { hasText: "Upload notes.txt" }).getByRole("button", { name: "Dismiss Upload notes.txt" }).click();
    await uploadFile(v2, "notes.txt");
    await select("notes.txt");
    await button("Versions").click();
    await page.locator("#history-list li").nth(1).waitFor();
    await button("Restore version 1.0").click();
    await page.locator("#history-message", { hasText: "Restored version 1.0" }).waitFor();
    await shot("versions");
    await button("Back to files").click();
    const [download] = await Promise.all([page.waitForEvent("download"), button("Download notes.txt").click()]);
    await download.saveAs(join(WORK, "notes.txt"));
    assert.equal(readFileSync(join(WORK, "notes.txt"), "utf8"), "first draft\n");
  });

  await run("switch to a group's drive and copy a file there", async () => {
    const group = env("GROUP");
    await select("greeting.txt");
    await button("Copy to…").click();
    const dialog = page.locator("dialog[open]");
    await dialog.getByLabel("Drive").selectOption({ label: group });
    await dialog.locator(".picker-where", { hasText: group }).waitFor();
    await dialog.getByRole("button", { name: "Copy here" }).click();
    await task("Copy greeting.txt").locator(".task-status", { hasText: `Copied to ${group}` }).waitFor();
    await page.getByLabel("Drive").selectOption({ label: group });
    await page.locator("#crumbs", { hasText: group }).waitFor();
    await row("greeting.txt").waitFor();
  });

  await run("every control has a name; the bars say how far they are", async () => {
    const unnamed = await page.evaluate(() =>
      [...document.querySelectorAll("button, input, select")]
        .filter((e) => !e.hidden && e.type !== "file")
        .filter((e) => !(e.getAttribute("aria-label") || e.labels?.length || e.textContent.trim()))
        .map((e) => e.outerHTML),
    );
    assert.deepEqual(unnamed, []);
    const bars = await page.locator("[role=progressbar]").evaluateAll((b) => b.map((x) => x.getAttribute("aria-valuenow")));
    assert.ok(bars.length > 0 && bars.every((v) => v !== null), `progress bars: ${bars}`);
    await page.keyboard.press("Tab");
    assert.notEqual(await page.evaluate(() => document.activeElement?.tagName), "BODY");
  });

  await run("an access token that ran out is renewed with the refresh token", async () => {
    const before = await page.evaluate(() => {
      const t = JSON.parse(sessionStorage.getItem("graphdrive.tokens"));
      sessionStorage.setItem("graphdrive.tokens", JSON.stringify({ ...t, access: "expired", expires: 0 }));
      return t.access;
    });
    await page.getByLabel("Drive").selectOption({ label: "My files" });
    await row(BIG).waitFor();
    const after = await page.evaluate(() => JSON.parse(sessionStorage.getItem("graphdrive.tokens")).access);
    assert.ok(after !== "expired" && after !== before, "a new access token");
  });

  await run("sign out", async () => {
    await button("Sign out").click();
    await button("Sign in").waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.getItem("graphdrive.tokens")), null);
    await page.reload();
    await button("Sign in").waitFor();
  });

  assert.deepEqual(problems, [], "the page logged no errors");
  console.log("all scenarios passed");
} catch (e) {
  console.error(`FAILED at "${step}": ${e.stack || e}`);
  if (problems.length) console.error(problems.join("\n"));
  await shot("failure").catch(() => {});
  process.exitCode = 1;
} finally {
  await browser.close();
}
