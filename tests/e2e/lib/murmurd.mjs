// What the browser tests share: a real murmurd on a free port (its page URL read from what it
// prints), Debian's Chromium driven by playwright-core, and where screenshots go.

import { after } from "node:test";
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { writeFileSync, readFileSync, mkdirSync } from "node:fs";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { tempDir } from "./temp.mjs";

export { tempDir };

export const root = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
export const murmurd = process.env.MURMURD_BIN || join(root, "target/debug/murmurd");
export const fakeEngine = join(root, "tests/fixtures/fake-engine/fake_engine.py");
export const shots = join(root, "target/ui-screenshots");
mkdirSync(shots, { recursive: true });

export const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--autoplay-policy=no-user-gesture-required"],
});
const running = [];
after(async () => {
  await browser.close();
  for (const child of running) child.kill("SIGKILL");
});

/** A config running the fault-injecting fake engine with `flags`, plus `extra` TOML. */
export function config(flags = [], extra = "") {
  const command = ["python3", fakeEngine, "--port", "{port}", ...flags].map((a) => JSON.stringify(a)).join(", ");
  return `[engine]\nid = "custom"\n[engine.custom]\ncommand = [${command}]\n${extra}\n`;
}

/** Start murmurd on a free port (or `port`); resolves with its page URL, the token (read from
 * the file murmurd names: it never prints the token) in the fragment as a user pastes it. */
export function start(configText, dataDir = tempDir("data-"), port = 0) {
  writeFileSync(join(dataDir, "config.toml"), configText);
  const child = spawn(murmurd, ["--data-dir", dataDir, "--port", String(port)], { stdio: ["ignore", "pipe", "ignore"] });
  running.push(child);
  const lines = createInterface({ input: child.stdout });
  return new Promise((resolvePage, reject) => {
    let base = null;
    lines.on("line", (line) => {
      const listening = line.match(/^Murmur listening on (http:\/\/[^/]+)\/v1$/);
      if (listening) base = listening[1];
      const page = line.match(/^Status page: (\S+) \(its control token is in (.+)\)$/);
      if (page) {
        const token = readFileSync(page[2], "utf8").trim();
        resolvePage({ child, dataDir, base, page: `${page[1]}#token=${token}`, token, printed: line });
      }
    });
    child.on("exit", (code) => reject(new Error(`murmurd exited with ${code}`)));
  });
}

export async function stop(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  await exited;
}

/** A control API call with the token. */
export async function control(m, path, options = {}) {
  const response = await fetch(`${m.base}${path}`, { ...options, headers: { Authorization: `Bearer ${m.token}`, ...(options.headers || {}) } });
  return response.json();
}

export async function status(m) {
  return control(m, "/murmur/api/status");
}

/** The page of `m` in a new tab, at the desktop window's size unless told otherwise. */
export async function open(m, viewport = { width: 480, height: 640 }, colorScheme = "light") {
  const page = await browser.newPage({ viewport, colorScheme });
  await page.goto(m.page);
  return page;
}
