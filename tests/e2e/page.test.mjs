// Browser tests of the status & settings page: a real murmurd running the fault-injecting
// fake engine, Debian's Chromium driven by playwright-core. `make test` runs them; screenshots
// of the ready and failed states land in target/ui-screenshots/.

import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { browser, config, start, stop, status, open, shots, tempDir, fakeEngine } from "./lib/murmurd.mjs";

test("the page warms up to ready without a reload, and hides the token", async () => {
  const m = await start(config(["--start-delay", "1.5"]));
  const page = await open(m);
  await page.getByText("Warming up").first().waitFor();
  assert.equal(new URL(page.url()).hash, "", "the token left the address bar");
  await page.locator("#badge", { hasText: "Ready" }).waitFor({ timeout: 20000 });
  assert.match(await page.locator("#endpoint").inputValue(), /^http:\/\/127\.0\.0\.1:\d+\/v1$/);
  await page.locator("#logs", { hasText: "[murmur] starting" }).waitFor();
  await page.screenshot({ path: join(shots, "ready.png"), fullPage: true });
  await page.close();
  await stop(m.child);
});

test("a killed engine shows up as a restart", async () => {
  const m = await start(config([], "[supervisor]\nrestart_delay_ms = 200\n"));
  const page = await open(m);
  await page.locator("#badge", { hasText: "Ready" }).waitFor({ timeout: 20000 });
  const { engine } = await status(m);
  process.kill(engine.pid, "SIGKILL");
  await page.locator("#restarts-total", { hasText: "1" }).waitFor({ timeout: 15000 });
  await page.locator("#restarts-last", { hasText: "SIGKILL" }).waitFor();
  await page.locator("#badge", { hasText: "Ready" }).waitFor({ timeout: 15000 });
  await page.close();
  await stop(m.child);
});

test("a failed engine explains itself and Restart recovers it", async () => {
  const dir = tempDir("data-");
  const flagFile = join(dir, "crash");
  writeFileSync(flagFile, "");
  // Crashes two seconds after start (after it has said its first word and is ready: a crash
  // before that is a failed start, which the next request retries, not a crash loop).
  const m = await start(config(["--crash-after-secs", "2", "--say", "the voice model is corrupt"],
    "[supervisor]\nrestart_delay_ms = 100\nmax_restarts = 1\n"));
  const page = await open(m);
  await page.locator("#badge", { hasText: "Failed" }).waitFor({ timeout: 20000 });
  const failure = page.locator("#failure-card");
  await failure.waitFor();
  assert.match(await failure.innerText(), /the voice model is corrupt/i);
  // One action: the header's Start/Stop and Restart give way to the card's.
  assert.equal(await page.getByRole("button", { name: /Restart engine|Start engine|Stop engine/ }).count(), 1);
  await page.screenshot({ path: join(shots, "failed.png"), fullPage: true });
  await page.getByRole("button", { name: "Restart engine" }).click();
  await page.locator("#badge", { hasText: /Warming up|Ready/ }).waitFor({ timeout: 10000 });
  assert.equal(await page.locator("#restarts-crashes").innerText(), "0", "Restart clears the crash count");
  assert.equal(await page.locator("#restarts-max").innerText(), "1");
  await page.close();
  await stop(m.child);
});

test("settings are applied, persisted across a restart, and bad ones are marked", async () => {
  const dataDir = tempDir("data-");
  const m = await start(config(), dataDir);
  const page = await open(m);
  await page.locator("#badge", { hasText: "Ready" }).waitFor({ timeout: 20000 });

  await page.getByLabel("Default speed").fill("9");
  await page.getByRole("button", { name: "Save" }).click();
  await page.locator(".field-error", { hasText: "outside 0.25 to 4.0" }).waitFor();
  assert.match(await page.locator("#settings-result").innerText(), /Not saved/);

  await page.getByLabel("Default speed").fill("1.5");
  await page.getByLabel("Unload after idle (s, 0 = never)").fill("600");
  await page.getByRole("button", { name: "Save" }).click();
  await page.locator("#settings-result", { hasText: "Saved." }).waitFor();
  assert.match(readFileSync(join(dataDir, "config.toml"), "utf8"), /idle_unload_secs = 600/);
  await page.close();
  await stop(m.child);

  const again = await start(readFileSync(join(dataDir, "config.toml"), "utf8"), dataDir);
  const reopened = await open(again);
  await reopened.locator("#badge").waitFor();
  await reopened.waitForFunction(() => document.querySelector("#s-idle").value === "600");
  assert.equal(await reopened.locator("#s-speed").inputValue(), "1.5");
  await reopened.close();
  await stop(again.child);
});

test("test speech plays audio to the end", async () => {
  const m = await start(config());
  const page = await open(m);
  await page.locator("#badge", { hasText: "Ready" }).waitFor({ timeout: 20000 });
  await page.locator("#speak-text").fill("A short test.");
  await page.getByRole("button", { name: "Play", exact: true }).click();
  const duration = await page.evaluate(() => new Promise((resolveEnded, reject) => {
    const player = document.querySelector("#player");
    const done = () => resolveEnded(player.duration);
    if (player.ended) return done();
    player.addEventListener("ended", done, { once: true });
    setTimeout(() => reject(new Error(`not ended: ${player.error && player.error.message}`)), 15000);
  }));
  assert.ok(duration > 0, `audio duration ${duration}`);
  await page.locator("#speak-result", { hasText: "First audio after" }).waitFor();
  await page.close();
  await stop(m.child);
});

test("without a token the page asks for one", async () => {
  const m = await start(config([], "[supervisor]\nauto_start = false\n"));
  const page = await browser.newPage();
  await page.goto(`${m.base}/murmur/`);
  await page.getByLabel("Control token").waitFor();
  assert.equal(await page.locator("#dashboard").isHidden(), true);
  await page.getByLabel("Control token").fill(m.token);
  await page.getByRole("button", { name: "Open" }).click();
  await page.locator("#badge", { hasText: "Stopped" }).waitFor();
  await page.close();
  await stop(m.child);
});

test("connect a client: each client's settings with the live endpoint, copied with one click", async () => {
  const m = await start(config([], "[supervisor]\nauto_start = false\n"));
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  await page.context().grantPermissions(["clipboard-read", "clipboard-write"], { origin: m.base });
  await page.goto(m.page);
  const endpoint = `${m.base}/v1`;
  await page.locator("#client-snippet", { hasText: `baseUrl: "${endpoint}"` }).waitFor();
  const snippet = () => page.locator("#client-snippet").textContent();
  assert.match(await snippet(), /apiKey: "sk-local-murmur"/);
  const at = endpoint.replace(/[./]/g, "\\$&");
  // Voice notes in, as CLIENTS.md says OpenClaw is configured for them.
  assert.match(await snippet(), new RegExp(`models: \\[\\{ provider: "openai", model: "whisper-1", baseUrl: "${at}", capabilities: \\["audio"\\] \\}\\]`));
  assert.match(await snippet(), /request: \{ allowPrivateNetwork: true \}/);
  await page.selectOption("#client-pick", "openwebui");
  assert.match(await snippet(), new RegExp(`AUDIO_TTS_OPENAI_API_BASE_URL=${at}`));
  assert.match(await snippet(), new RegExp(`AUDIO_STT_ENGINE=openai\\n  AUDIO_STT_OPENAI_API_BASE_URL=${at}\\n  AUDIO_STT_OPENAI_API_KEY=sk-local-murmur`));
  await page.selectOption("#client-pick", "curl");
  assert.match(await snippet(), new RegExp(`curl -s ${at}/audio/transcriptions -F file=@hello\\.mp3 -F model=whisper-1`));
  await page.selectOption("#client-pick", "node");
  assert.match(await snippet(), /client\.audio\.transcriptions\.create\(\{ model: "whisper-1", file: fs\.createReadStream\("hello\.mp3"\) \}\)/);
  await page.selectOption("#client-pick", "python");
  await page.click("#copy-snippet");
  await page.locator("#snippet-copied", { hasText: "Copied" }).waitFor();
  const copied = await page.evaluate(() => navigator.clipboard.readText());
  assert.match(copied, /OpenAI\(base_url="http:\/\/127\.0\.0\.1:\d+\/v1"/);
  await page.locator("#client-snippet").scrollIntoViewIfNeeded();
  await page.screenshot({ path: join(shots, "connect-a-client.png") });
  await page.close();
  await stop(m.child);
});

test("Home Assistant's Wyoming server is turned on from the settings, safely", async () => {
  const dataDir = tempDir("data-");
  const m = await start(config(), dataDir);
  const page = await open(m);
  await page.locator("#badge", { hasText: "Ready" }).waitFor({ timeout: 20000 });
  assert.equal(await page.locator("#wyoming-line").isHidden(), true, "off by default");

  // Beyond loopback without client networks: refused, the field that needs them marked.
  await page.getByLabel("Home Assistant (Wyoming)").check();
  await page.getByLabel("Wyoming address").fill("0.0.0.0");
  await page.getByRole("button", { name: "Save" }).click();
  await page.locator(".field-error", { hasText: "list the client networks" }).waitFor();

  await page.getByLabel("Wyoming client networks").fill("192.168.1.0/24");
  await page.getByRole("button", { name: "Save" }).click();
  await page.locator("#settings-result", { hasText: "Saved." }).waitFor();
  await page.locator("#settings-result", { hasText: "apply when Murmur restarts" }).waitFor();
  const saved = readFileSync(join(dataDir, "config.toml"), "utf8");
  const wyoming = saved.slice(saved.indexOf("[wyoming]"));
  assert.ok(saved.includes("[wyoming]"), saved);
  assert.match(wyoming, /enabled = true/);
  assert.match(wyoming, /host = "0\.0\.0\.0"/);
  assert.match(wyoming, /allowed_networks = \["192\.168\.1\.0\/24"\]/);
  await page.close();
  await stop(m.child);
});

test("the transcription engine shows beside speech, unloaded as a normal state, and starts and stops", async () => {
  const command = ["python3", fakeEngine, "--port", "{port}"].map((a) => JSON.stringify(a)).join(", ");
  const m = await start(config([], `[transcription]\nengine = "custom"\nmodel = "tiny.en"\n[transcription.custom]\ncommand = [${command}]\n`));
  const page = await open(m);
  await page.locator("#badge", { hasText: "Ready" }).waitFor({ timeout: 20000 });
  const line = page.locator("#transcription-text");
  await line.filter({ hasText: "Transcription: Custom server · tiny.en — not loaded" }).waitFor();
  await page.getByRole("button", { name: "Start transcription" }).click();
  await line.filter({ hasText: "— ready" }).waitFor({ timeout: 20000 });
  assert.equal((await status(m)).transcription.state, "ready");
  await page.getByRole("button", { name: "Stop transcription" }).click();
  await line.filter({ hasText: "not loaded" }).waitFor({ timeout: 20000 });
  assert.equal((await status(m)).transcription.state, "stopped");
  await page.close();
  await stop(m.child);
});
