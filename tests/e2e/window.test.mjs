// The page as people live in it, in Chromium: status they can trust (Murmur killed → "not
// running" within 5 s, and back when it returns; no stale figures), test speech that knows the
// engine (waiting, both times, cancel, download), the failure card, axe-core in every state in
// light and dark, tab order and names, and screenshots of every state at 480×640.

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { browser, config, start, stop, status, shots, tempDir } from "./lib/murmurd.mjs";

const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
const SCHEMES = ["light", "dark"];

/** A tab on `m`'s page at the window's size; axe runs in it despite the page's CSP. */
async function tab(m, colorScheme = "light", viewport = { width: 480, height: 640 }, url = m.page) {
  const context = await browser.newContext({ viewport, colorScheme, bypassCSP: true });
  const page = await context.newPage();
  await page.goto(url);
  return page;
}

/** axe-core's serious and critical violations on the page as it is. */
async function violations(page) {
  await page.evaluate(axeSource);
  const results = await page.evaluate(() => window.axe.run(document, { resultTypes: ["violations"] }));
  return results.violations
    .filter((v) => ["serious", "critical"].includes(v.impact))
    .map((v) => `${v.id}: ${v.nodes.map((n) => `${n.target.join(" ")} (${n.failureSummary.split("\n")[1] || ""})`).join("; ")}`);
}

/** Check a state in light and dark: no serious violation, and a screenshot of each. */
async function checkState(m, name, ready, url) {
  for (const scheme of SCHEMES) {
    const page = await tab(m, scheme, undefined, url);
    await ready(page);
    await page.waitForTimeout(300); // let transitions and the first log refresh settle
    const found = await violations(page);
    assert.deepEqual(found, [], `${name}, ${scheme}`);
    await page.screenshot({ path: join(shots, `${name}-${scheme}.png`), fullPage: false });
    await page.context().close();
  }
}

const badge = (page, text, timeout = 20000) => page.locator("#badge", { hasText: text }).waitFor({ timeout });

test("Murmur killed: the page says it is not running within 5 s, hides the figures, and recovers", async () => {
  const dataDir = tempDir("data-");
  const m = await start(config([], "[supervisor]\nrestart_delay_ms = 200\n"), dataDir);
  const page = await tab(m);
  await badge(page, "Ready");
  await page.locator("#health-latency", { hasText: "ms" }).waitFor();
  assert.equal(await page.title(), "Murmur — Ready");
  const port = new URL(m.base).port;

  m.child.kill("SIGKILL");
  const killed = Date.now();
  await page.locator("#offline").waitFor({ timeout: 5000 });
  assert.ok(Date.now() - killed <= 5000);
  assert.equal(await page.locator("#badge").innerText(), "Not running");
  assert.equal(await page.title(), "Murmur — Not running");
  for (const id of ["#health-latency", "#uptime", "#memory-engine", "#health-last"]) {
    assert.equal(await page.locator(id).innerText(), "—", `${id} is hidden while Murmur is gone`);
  }
  assert.equal(await page.getByRole("button", { name: "Play", exact: true }).isDisabled(), true);
  const uptime = await page.locator("#uptime").innerText();
  await page.waitForTimeout(1500);
  assert.equal(await page.locator("#uptime").innerText(), uptime, "nothing keeps counting");
  await page.screenshot({ path: join(shots, "not-running-light.png") });

  // Murmur comes back on the same port: the same page follows it again.
  const again = await start(readFileSync(join(dataDir, "config.toml"), "utf8"), dataDir, port);
  await badge(page, "Ready", 20000);
  assert.equal(await page.locator("#offline").isHidden(), true);
  assert.equal(await page.getByRole("button", { name: "Play", exact: true }).isDisabled(), false);
  await page.context().close();
  await stop(again.child);
});

test("a stopped engine shows no stale figures, and counts are plain; the tab's icon is the page's own", async () => {
  const m = await start(config());
  const context = await browser.newContext({ viewport: { width: 480, height: 640 } });
  const page = await context.newPage();
  const asked = [];
  page.on("request", (request) => asked.push(new URL(request.url()).pathname));
  await page.goto(m.page);
  await badge(page, "Ready");
  assert.ok(!asked.includes("/favicon.ico"), "no favicon request reaches the engine");
  assert.match(await page.locator("link[rel=icon]").getAttribute("href"), /^data:image\/svg\+xml,.*%23248a3d/);
  await page.locator("#memory-engine", { hasText: "MB" }).waitFor();
  await page.getByRole("button", { name: "Stop engine" }).click();
  await badge(page, "Stopped");
  for (const id of ["#health-latency", "#uptime", "#memory-engine", "#health-failures"]) {
    assert.equal(await page.locator(id).innerText(), "—", `${id} while stopped`);
  }
  assert.equal(await page.getByRole("button", { name: "Start engine" }).count(), 1);
  assert.equal(await page.title(), "Murmur — Stopped");
  await page.context().close();
  await stop(m.child);
});

test("test speech while warming: waits visibly, then reports warm-up and first audio apart", async () => {
  const m = await start(config(["--start-delay", "4"], "[supervisor]\nauto_start = false\n"));
  const page = await tab(m);
  await badge(page, "Stopped");
  await page.locator("#speak-speed").waitFor();
  await page.getByRole("button", { name: "Play", exact: true }).click();
  await page.locator("#speak-result", { hasText: /Starting the engine \(\d+ s\)…/ }).waitFor({ timeout: 5000 });
  assert.equal(await page.getByRole("button", { name: "Play", exact: true }).isDisabled(), true, "busy");
  assert.equal(await page.locator("#speak-spinner").isVisible(), true);
  await badge(page, "Warming up");
  await page.screenshot({ path: join(shots, "test-speech-waiting-light.png") });
  const result = page.locator("#speak-result", { hasText: /^Warm-up \d+\.\d s · first audio after \d+ ms\.$/ });
  await result.waitFor({ timeout: 30000 });
  const [, warm] = (await result.innerText()).match(/Warm-up (\d+\.\d) s/);
  assert.ok(Number(warm) >= 3, `the warm-up took the engine's 4 s: ${warm}`);
  assert.equal(await page.getByRole("link", { name: "Download" }).isVisible(), true);
  const href = await page.getByRole("link", { name: "Download" }).getAttribute("href");
  assert.match(href, /^blob:/);
  assert.equal(await page.getByRole("button", { name: "Play", exact: true }).isDisabled(), false);
  await page.context().close();
  await stop(m.child);
});

test("test speech: Cancel aborts the request; the saved speed is the default", async () => {
  const m = await start(config(["--chunks", "20", "--chunk-delay-ms", "400"]));
  const page = await tab(m);
  await badge(page, "Ready");
  const aborted = new Promise((resolveAbort) => page.on("requestfailed", (request) => {
    if (request.url().endsWith("/murmur/api/speak-test")) resolveAbort(request.failure().errorText);
  }));
  await page.getByRole("button", { name: "Play", exact: true }).click();
  await page.locator("#speak-result", { hasText: "Synthesising…" }).waitFor();
  await page.getByRole("button", { name: "Cancel" }).click();
  assert.match(await aborted, /ABORTED/);
  await page.locator("#speak-result", { hasText: "Cancelled." }).waitFor();
  assert.equal(await page.getByRole("button", { name: "Play", exact: true }).isDisabled(), false);

  // Speed: the saved one is the test's default.
  await page.getByLabel("Default speed").fill("1.5");
  await page.getByRole("button", { name: "Save settings" }).click();
  await page.locator("#settings-result", { hasText: "Applied without a restart." }).waitFor();
  assert.equal(await page.getByLabel("Test speed").inputValue(), "1.5");
  await page.context().close();
  await stop(m.child);
});

test("test speech: a refused text reads as an error", async () => {
  const m = await start(config([], "[proxy]\nmax_input_chars = 20\n"));
  const page = await tab(m);
  await badge(page, "Ready");
  await page.getByRole("button", { name: "Play", exact: true }).click();
  const error = page.locator("#speak-result.error");
  await error.waitFor();
  assert.match(await error.innerText(), /the limit is 20/);
  assert.equal(await page.getByRole("button", { name: "Play", exact: true }).isDisabled(), false);
  assert.equal(await page.locator("#speak-spinner").isHidden(), true);
  await page.context().close();
  await stop(m.child);
});

test("a failure during warm-up: one sentence, the failed step marked, the raw output folded, one action that recovers", async () => {
  const dir = tempDir("data-");
  // It fails its first start only: the card's action brings it up.
  const m = await start(config(["--exit-at-start", "--starts", join(dir, "starts"),
    "--say", "CUDA error: no device\nTraceback line\nRuntimeError: the model file is missing"],
  "[supervisor]\nmax_restarts = 0\nrestart_delay_ms = 100\n"), dir);
  const page = await tab(m);
  await badge(page, "Stopped");
  const card = page.locator("#failure-card");
  await card.waitFor();
  assert.match(await page.locator("#failure-sentence").innerText(), /the model file is missing/);
  assert.equal(await page.locator("#failure-output").isVisible(), false, "the raw output is folded");
  await page.getByText("What the engine said").click();
  assert.match(await page.locator("#failure-output").innerText(), /Traceback line/);
  assert.equal(await page.locator("#stages li.failed").count(), 1, "the failed step is marked");
  const steps = await page.locator("#stages li").allInnerTexts();
  assert.deepEqual(steps, ["✕ Server", "First words", "Ready"], "a custom engine shows only its own steps, the failed one marked");
  const actions = page.getByRole("button", { name: /Restart engine|Start engine|Stop engine/ });
  assert.equal(await actions.count(), 1, "one action");
  await page.getByRole("link", { name: "Open the engine log" }).click();
  await page.waitForFunction(() => document.activeElement && document.activeElement.id === "logs");
  await actions.click();
  await badge(page, "Ready");
  assert.equal(await card.isHidden(), true);
  assert.equal(await page.locator("#warmup-card").isHidden(), true, "the warm-up card goes once ready");
  await page.context().close();
  await stop(m.child);
});

test("axe-core: no serious or critical violation in any state, light and dark; screenshots of each", async () => {
  const ready = await start(config());
  await checkState(ready, "ready", (page) => badge(page, "Ready"));
  // The no-token state: the page without its fragment.
  await checkState(ready, "no-token", (page) => page.getByLabel("Control token").waitFor(), `${ready.base}/murmur/`);
  await stop(ready.child);

  const stopped = await start(config([], "[supervisor]\nauto_start = false\n"));
  await checkState(stopped, "stopped", (page) => badge(page, "Stopped"));
  await stop(stopped.child);

  const warming = await start(config(["--start-delay", "60"]));
  await checkState(warming, "warming", (page) => badge(page, "Warming up"));
  await stop(warming.child);

  const failed = await start(config(["--crash-after-secs", "1", "--say", "the voice model is corrupt"],
    "[supervisor]\nmax_restarts = 0\n"));
  await checkState(failed, "failed", (page) => badge(page, "Failed"));
  await stop(failed.child);

  const gone = await start(config());
  for (const scheme of SCHEMES) {
    const page = await tab(gone, scheme);
    await badge(page, "Ready");
    if (scheme === "dark") {
      gone.child.kill("SIGKILL");
    } else {
      await page.context().close();
      continue;
    }
    await badge(page, "Not running", 5000);
    assert.deepEqual(await violations(page), [], "not running, dark");
    await page.screenshot({ path: join(shots, "not-running-dark.png") });
    await page.context().close();
  }
});

test("keyboard: the most used controls come first, every control has a unique name", async () => {
  const m = await start(config());
  const page = await tab(m);
  await badge(page, "Ready");
  await page.locator("#speak-voice").waitFor();
  const order = [];
  for (let i = 0; i < 13; i += 1) {
    await page.keyboard.press("Tab");
    order.push(await page.evaluate(() => document.activeElement.id || document.activeElement.tagName));
  }
  // The header's controls (speech's, then transcription's), then test speech, then test
  // transcription.
  assert.deepEqual(order.slice(0, 11),
    ["restart", "toggle", "endpoint", "copy-endpoint", "transcription-toggle", "speak-text", "speak-voice", "speak-speed", "play",
      "record", "transcribe-file"]);
  // At the window's size, state, endpoint and test speech are on the first screen.
  const playBox = await page.getByRole("button", { name: "Play", exact: true }).boundingBox();
  assert.ok(playBox.y + playBox.height <= 640, `Play at ${playBox.y}`);

  const names = await page.evaluate(() => {
    const name = (el) => {
      if (el.getAttribute("aria-label")) return el.getAttribute("aria-label");
      const by = el.getAttribute("aria-labelledby");
      if (by) return by.split(" ").map((id) => document.getElementById(id).textContent).join(" ");
      if (el.labels && el.labels.length) return el.labels[0].textContent.trim();
      return el.textContent.trim();
    };
    return [...document.querySelectorAll("button, input, select, textarea, a[href], summary, pre[tabindex]")]
      .filter((el) => el.offsetParent !== null && el.type !== "radio")
      .map(name);
  });
  assert.ok(names.every(Boolean), `every control is named: ${JSON.stringify(names)}`);
  const repeated = names.filter((n, i) => names.indexOf(n) !== i);
  assert.deepEqual(repeated, [], `names are unique: ${JSON.stringify(names)}`);
  assert.equal(await page.locator("main[aria-live]").count(), 0, "the page is not one live region");
  assert.equal(await page.getByRole("log", { name: "Engine log" }).count(), 1);

  // Copy is announced.
  await page.context().grantPermissions(["clipboard-read", "clipboard-write"], { origin: m.base });
  await page.getByRole("button", { name: "Copy the endpoint URL" }).click();
  await page.locator("#endpoint-copied[role=status]", { hasText: "Copied" }).waitFor();

  // A bad field is marked and focused.
  await page.getByLabel("Default speed").fill("9");
  await page.getByRole("button", { name: "Save settings" }).click();
  await page.locator("#s-speed[aria-invalid=true]").waitFor();
  assert.equal(await page.evaluate(() => document.activeElement.id), "s-speed");
  await page.context().close();
  await stop(m.child);
});

test("settings fit the engine: a URL for an external server, a command for a custom one; an overridden port is marked", async () => {
  const m = await start(config());
  const page = await tab(m, "light", { width: 1280, height: 800 });
  await badge(page, "Ready");
  assert.equal(await page.getByLabel("Command (one argument per line)", { exact: true }).isVisible(), true, "this run's engine is custom");
  assert.match(await page.getByLabel("Command (one argument per line)", { exact: true }).inputValue(), /fake_engine\.py\n--port\n\{port\}/);
  assert.equal(await page.getByLabel("Server URL", { exact: true }).isVisible(), false);
  await page.getByLabel("Engine", { exact: true }).selectOption("external");
  assert.equal(await page.getByLabel("Server URL", { exact: true }).isVisible(), true);
  assert.equal(await page.getByLabel("Command (one argument per line)", { exact: true }).isVisible(), false);
  await page.getByRole("button", { name: "Save settings" }).click();
  await page.locator(".field-error", { hasText: "needs the server's URL" }).waitFor();
  // murmurd runs with --port 0, over the file's port: the field says so.
  const port = new URL(m.base).port;
  assert.match(await page.locator(".field-note").innerText(), new RegExp(`listens on ${port}`));
  assert.match(await page.locator("#about").innerText(), /^Murmur \d+\.\d+\.\d+ · settings file .*config\.toml$/);
  await page.screenshot({ path: join(shots, "wide-1280.png"), fullPage: true });
  await page.context().close();
  await stop(m.child);
});

test("activity: requests appear as they arrive, with client, format, status and times", async () => {
  const m = await start(config());
  const page = await tab(m);
  await badge(page, "Ready");
  await page.locator("#activity-summary", { hasText: "No requests yet" }).waitFor();
  const spoken = await fetch(`${m.base}/v1/audio/speech`, {
    method: "POST", headers: { "Content-Type": "application/json", "User-Agent": "OpenClaw/2026.3" },
    body: JSON.stringify({ input: "Hello there.", response_format: "opus" }),
  });
  assert.equal(spoken.status, 200);
  await spoken.arrayBuffer();
  // The page's own voice listing (its Voices card) may land beside it: find the client's row.
  const row = page.locator("#activity-rows tr", { hasText: "OpenClaw/2026.3" }).first();
  await row.waitFor({ timeout: 5000 });
  const cells = await row.locator("td").allInnerTexts();
  assert.equal(cells[1], "OpenClaw/2026.3");
  assert.equal(cells[2], "opus");
  assert.equal(cells[3], "—", "speech carries no audio in");
  assert.equal(cells[4], "200");
  assert.match(cells[5], /^\d+ ms$/);
  assert.match(cells[6], /^\d+ ms$|^\d+\.\d s$/);
  await page.locator("#activity-summary", { hasText: "1 speech request" }).waitFor();
  // On a phone: nothing runs off the side.
  await page.setViewportSize({ width: 375, height: 700 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.ok(overflow <= 0, `no sideways scrolling on a phone: ${overflow} px`);
  await page.screenshot({ path: join(shots, "phone-375.png"), fullPage: true });
  await page.context().close();
  await stop(m.child);
});
