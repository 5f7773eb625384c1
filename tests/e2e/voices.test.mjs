// The Voices card with the real Piper engine and a loopback stand-in for the Hub serving a
// `voices.json` in Piper's index format (joe's files from its PyPI package, and the same model
// listed again as a German voice): browse, filter by language, install with a visible progress
// bar, play a sample, pick the default voice, and the choice survives a restart of Murmur.

import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { start, stop, status, open, shots } from "./lib/murmurd.mjs";
import { startHub } from "./lib/hub.mjs";

const REPO = "rhasspy/piper-voices";
const GERMAN = "de_DE-murmur-medium";

function find(dir, name) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.name === name) return path;
    if (entry.isDirectory()) {
      const found = find(path, name);
      if (found) return found;
    }
  }
  return null;
}

const md5 = (bytes) => createHash("md5").update(bytes).digest("hex");

/** One `voices.json` entry, as Piper's index writes it. */
function indexEntry(key, code, model, config, folder) {
  const [family, region] = code.split("_");
  return {
    key, name: key.split("-")[1], quality: "medium", num_speakers: 1, speaker_id_map: {}, aliases: [],
    language: { code, family, region, name_native: family, name_english: family, country_english: region },
    files: {
      [`${folder}/${key}.onnx`]: { size_bytes: model.length, md5_digest: md5(model) },
      [`${folder}/${key}.onnx.json`]: { size_bytes: config.length, md5_digest: md5(config) },
    },
  };
}

async function waitReady(m, seconds) {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const now = await status(m);
    if (now.state === "ready") return now;
    if (now.state === "failed" || Date.now() > deadline) throw new Error(`not ready: ${JSON.stringify(now)}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

test("voices: browse, filter, install with progress, play a sample, pick the default, kept after a restart", async () => {
  const hub = await startHub();
  const piper = `[runtime]\npython_install_mirror = "http://127.0.0.1:9/python"\nhuggingface_url = "${hub.url}"\n`;
  const m = await start(piper);
  await waitReady(m, 300);

  const runtime = join(m.dataDir, "runtimes/piper");
  const model = readFileSync(find(runtime, "en_US-joe-medium.onnx"));
  const config = readFileSync(find(runtime, "en_US-joe-medium.onnx.json"));
  const index = {};
  for (const [key, code, folder] of [["en_US-joe-medium", "en_US", "en/en_US/joe/medium"], [GERMAN, "de_DE", "de/de_DE/murmur/medium"]]) {
    hub.put(REPO, `${folder}/${key}.onnx`, model);
    hub.put(REPO, `${folder}/${key}.onnx.json`, config);
    index[key] = indexEntry(key, code, model, config, folder);
  }
  hub.put(REPO, "voices.json", JSON.stringify(index));

  const page = await open(m, { width: 1280, height: 800 });
  await page.locator("#badge", { hasText: "Ready" }).waitFor({ timeout: 20000 });
  // Installed: joe, the default, under its language.
  const english = page.locator(".voice-group", { hasText: "English" });
  await english.waitFor();
  assert.equal(await english.getByRole("radio", { name: /Joe/ }).isChecked(), true);
  assert.equal(await english.getByRole("button", { name: /Remove/ }).count(), 0, "the packaged voice stays");

  // Browse and filter.
  await page.getByText("Add voices").click();
  const rows = page.locator("#catalog-list .catalog-row");
  await page.locator("#catalog-shown", { hasText: "2 voices" }).waitFor();
  await page.getByLabel("Language", { exact: true }).selectOption("de-DE");
  await page.locator("#catalog-shown", { hasText: "1 of 2 voices" }).waitFor();
  assert.match(await rows.first().innerText(), /Murmur[\s\S]*German \(Germany\)/);
  await page.getByLabel("Language", { exact: true }).selectOption("");
  await page.getByLabel("Search voices").fill("joe");
  await page.locator("#catalog-shown", { hasText: "1 of 2 voices" }).waitFor();
  assert.match(await rows.first().innerText(), /Installed/);
  await page.getByLabel("Search voices").fill("");

  // Install, with a progress bar that moves.
  await page.getByRole("button", { name: "Install Murmur (de-DE)" }).click();
  const bar = page.getByRole("progressbar", { name: "Downloading Murmur" });
  await bar.waitFor({ timeout: 10000 });
  const values = [];
  while (await bar.isVisible()) {
    const value = await bar.getAttribute("value").catch(() => null);
    if (value !== null) values.push(Number(value));
    if (values.length === 3) await page.screenshot({ path: join(shots, "voices-installing.png") });
    await page.waitForTimeout(150);
  }
  assert.ok(new Set(values).size >= 3, `the bar moved: ${values}`);
  assert.deepEqual(values, [...values].sort((a, b) => a - b), "and never back");
  await page.locator("#voices-status", { hasText: "Installed Murmur." }).waitFor({ timeout: 20000 });
  const german = page.locator(".voice-group", { hasText: "German" });
  await german.waitFor();
  assert.ok(hub.requests.some((r) => r.includes(`${GERMAN}.onnx`)), hub.requests.join("\n"));

  // A sample of it plays.
  await german.getByRole("button", { name: "Play a sample of Murmur" }).click();
  await page.locator("#voices-status", { hasText: "Playing a sample of Murmur." }).waitFor({ timeout: 30000 });
  const seconds = await page.evaluate(() => new Promise((done, fail) => {
    const player = document.querySelector("#sample-player");
    const end = () => done(player.duration);
    if (player.ended) return end();
    player.addEventListener("ended", end, { once: true });
    setTimeout(() => fail(new Error("the sample did not play to the end")), 20000);
  }));
  assert.ok(seconds > 1, `a sentence of speech: ${seconds} s`);

  // Murmur becomes the default voice; the settings file says so.
  await page.getByLabel("Default voice").selectOption("murmur");
  await page.locator("#voices-status", { hasText: "Murmur is the default voice." }).waitFor();
  assert.match(readFileSync(join(m.dataDir, "config.toml"), "utf8"), /voice = "murmur"/);
  await page.screenshot({ path: join(shots, "voices.png"), fullPage: true });
  await page.close();
  await stop(m.child);

  // After a restart: still the default, and what the engine speaks with.
  const again = await start(readFileSync(join(m.dataDir, "config.toml"), "utf8"), m.dataDir);
  const reopened = await open(again, { width: 1280, height: 800 });
  await reopened.locator("#engine-line", { hasText: "voice murmur" }).waitFor({ timeout: 60000 });
  await reopened.locator(".voice-group", { hasText: "German" }).waitFor();
  await reopened.waitForFunction(() => document.querySelector("#default-voice").value === "murmur");
  assert.equal(await reopened.locator(".voice-group", { hasText: "German" }).getByRole("radio", { name: /Murmur/ }).isChecked(), true);
  const spoken = await fetch(`${again.base}/v1/audio/speech`, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ input: "Guten Tag.", response_format: "wav" }),
  });
  assert.equal(spoken.status, 200);
  assert.equal(spoken.headers.get("x-murmur-voice"), "murmur");

  // Back to joe, and the German voice removed: its group goes.
  await reopened.getByLabel("Default voice").selectOption("joe");
  await reopened.locator("#voices-status", { hasText: "Joe is the default voice." }).waitFor();
  await reopened.getByRole("button", { name: "Remove Murmur" }).click();
  await reopened.locator("#voices-status", { hasText: "Removed Murmur." }).waitFor();
  await reopened.locator(".voice-group", { hasText: "German" }).waitFor({ state: "detached" });
  await reopened.close();
  await stop(again.child);
  await hub.close();
});
