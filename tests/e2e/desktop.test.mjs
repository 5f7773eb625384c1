// The desktop app on a real X server: Xvfb with openbox (a window manager), trayer (a system
// tray) and a D-Bus session, the app built by `cargo build`, the fault-injecting fake engine.
// The tray menu is opened and chosen from with xdotool, the way a user clicks it; the window
// is driven over WebDriver (tauri-driver + WebKitWebDriver). `make test` runs this; the
// screenshot lands in target/ui-screenshots/desktop.png and memory figures are printed.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync, spawnSync } from "node:child_process";
import { createInterface } from "node:readline";
import { writeFileSync, readFileSync, mkdirSync, existsSync, readdirSync, openSync } from "node:fs";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import net from "node:net";
import { tempDir } from "./lib/temp.mjs";
import { startHub } from "./lib/hub.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const appBin = process.env.MURMUR_APP_BIN || join(root, "target/debug/murmur");
const fakeEngine = join(root, "tests/fixtures/fake-engine/fake_engine.py");
const shots = join(root, "target/ui-screenshots");
mkdirSync(shots, { recursive: true });

// ---- the desktop -------------------------------------------------------------------------

// Xvfb, trayer and WebKitWebDriver are Linux's; elsewhere these tests are skipped.
const linux = process.platform === "linux";
const desktopTest = linux ? test : test.skip;

const children = [];
let env = null;

function background(command, args, options = {}) {
  const child = spawn(command, args, { stdio: "ignore", env: options.env || env, ...options });
  children.push(child);
  return child;
}

before(async () => {
  if (!linux) return;
  // Xvfb picks a free display and tells us which on fd 3.
  const xvfb = spawn("Xvfb", ["-displayfd", "3", "-screen", "0", "1280x800x24", "-nolisten", "tcp"], {
    stdio: ["ignore", "ignore", "ignore", "pipe"],
  });
  children.push(xvfb);
  const display = await new Promise((done, fail) => {
    xvfb.stdio[3].once("data", (data) => done(`:${data.toString().trim()}`));
    xvfb.once("exit", (code) => fail(new Error(`Xvfb exited with ${code}`)));
  });
  const dbus = spawn("dbus-daemon", ["--session", "--nofork", "--print-address=1"], { stdio: ["ignore", "pipe", "ignore"] });
  children.push(dbus);
  const address = await new Promise((done) => createInterface({ input: dbus.stdout }).once("line", done));
  env = { ...process.env, DISPLAY: display, DBUS_SESSION_BUS_ADDRESS: address, NO_AT_BRIDGE: "1" };
  delete env.WAYLAND_DISPLAY;
  background("openbox", []);
  await panel(DARK_PANEL);
});

after(() => {
  for (const child of children.reverse()) child.kill("SIGKILL");
});

/** xdotool; its output lines (none when a search finds nothing). */
function x(...args) {
  const result = spawnSync("xdotool", args, { env, encoding: "utf8" });
  return result.stdout.split("\n").filter(Boolean);
}

async function until(what, check, timeout = 30000) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

function screenshot(path) {
  execFileSync("/usr/bin/import", ["-window", "root", path], { env });
}

// ---- Murmur ------------------------------------------------------------------------------

function freePort() {
  return new Promise((done) => {
    const server = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => done(port));
    });
  });
}

function config(port, extra = "") {
  const command = ["python3", fakeEngine, "--port", "{port}"].map((a) => JSON.stringify(a)).join(", ");
  return `[proxy]\nport = ${port}\n\n[engine]\nid = "custom"\n\n[engine.custom]\ncommand = [${command}]\n${extra}\n`;
}

/** A data folder with `configText`; `launched` marks it as not the first launch. */
async function murmurHome({ configText, launched = true } = {}) {
  const dir = tempDir("desktop-");
  const port = await freePort();
  writeFileSync(join(dir, "config.toml"), configText ?? config(port));
  if (launched) writeFileSync(join(dir, ".launched"), "");
  mkdirSync(join(dir, "home/bin"), { recursive: true });
  // "Test speech" plays with the first player it finds (pw-play, paplay, aplay): these keep
  // what they were given.
  for (const player of ["pw-play", "paplay", "aplay"]) {
    writeFileSync(join(dir, `home/bin/${player}`), `#!/bin/sh\nfor last; do :; done\ncp "$last" "${dir}/played.wav"\n`, { mode: 0o755 });
  }
  const appEnv = {
    ...env, MURMUR_DATA_DIR: dir, HOME: join(dir, "home"), XDG_CONFIG_HOME: join(dir, "home/.config"),
    PATH: `${join(dir, "home/bin")}:${env.PATH}`,
  };
  return { dir, port, env: appEnv, base: `http://127.0.0.1:${port}` };
}

/** Launch the app on `home`; it is quit (SIGTERM, then SIGKILL) when the test ends. */
function launch(home, t, args = []) {
  const log = openSync(join(home.dir, "app.log"), "a");
  const child = spawn(appBin, args, { env: home.env, stdio: ["ignore", log, log] });
  children.push(child);
  child.exited = new Promise((done) => child.once("exit", (code, signal) => done({ code, signal })));
  t.after(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGTERM");
    const gone = await Promise.race([child.exited, sleep(15000)]);
    if (!gone) child.kill("SIGKILL");
  });
  return child;
}

async function api(home, path, options = {}) {
  const token = readFileSync(join(home.dir, "control-token"), "utf8").trim();
  const response = await fetch(`${home.base}${path}`, {
    ...options,
    headers: { Authorization: `Bearer ${token}`, ...(options.headers || {}) },
  });
  return response.json();
}

async function ready(home) {
  await until("the proxy", () => fetch(`${home.base}/murmur/healthz`).then((r) => r.ok, () => false));
  return until("the engine to be ready", async () => {
    const status = await api(home, "/murmur/api/status");
    return status.state === "ready" && status;
  });
}

function alive(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return !/^\S+ \(.*\) Z/.test(stat);
  } catch {
    return false;
  }
}

function geometry(id) {
  const shell = Object.fromEntries(x("getwindowgeometry", "--shell", id).map((l) => l.split("=")));
  return { X: Number(shell.X), Y: Number(shell.Y), WIDTH: Number(shell.WIDTH), HEIGHT: Number(shell.HEIGHT) };
}

/** The Murmur settings window, if one is shown (xdotool matches names without case, and
 * the tray icon's window is called "murmur": the settings window is the big one). */
function murmurWindow() {
  return x("search", "--onlyvisible", "--name", "^Murmur$").find((id) => geometry(id).WIDTH > 200);
}

// ---- the tray ----------------------------------------------------------------------------

const DARK_PANEL = "0x333333";
const LIGHT_PANEL = "0xeeeeee";
let trayer = null;

/** (Re)start the panel (trayer, a system tray) in `tint`; icons dock into the new one. */
async function panel(tint) {
  if (trayer) {
    const gone = new Promise((done) => trayer.once("exit", done));
    trayer.kill("SIGTERM");
    await gone;
    await until("the old panel to go", () => x("search", "--class", "trayer").length === 0);
  }
  trayer = background("trayer", ["--edge", "top", "--align", "right", "--widthtype", "request", "--height", "32",
    "--SetDockType", "true", "--transparent", "true", "--alpha", "0", "--tint", tint]);
  await until("the tray is up", () => x("search", "--class", "trayer").length > 0);
}

/** The tray icon as drawn on the panel: its pixels (RGB), and a PNG of it. */
function iconPixels(path) {
  const id = trayIcon();
  const { WIDTH, HEIGHT } = geometry(id);
  execFileSync("/usr/bin/import", ["-window", id, path], { env });
  const rgb = execFileSync("/usr/bin/import", ["-window", id, "-depth", "8", "rgb:-"], { env });
  const pixels = [];
  for (let i = 0; i + 2 < rgb.length; i += 3) pixels.push([rgb[i], rgb[i + 1], rgb[i + 2]]);
  return { pixels, width: WIDTH, height: HEIGHT };
}

function luminance([r, g, b]) {
  const f = (c) => (c / 255 <= 0.03928 ? c / 255 / 12.92 : ((c / 255 + 0.055) / 1.055) ** 2.4);
  return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
}

/** How many of the icon's pixels stand out from the panel behind it by 3:1 or more. */
function standingOut({ pixels }) {
  const panelColour = pixels[0]; // a corner: the panel itself
  const behind = luminance(panelColour);
  return pixels.filter((p) => {
    const l = luminance(p);
    return (Math.max(l, behind) + 0.05) / (Math.min(l, behind) + 0.05) >= 3;
  }).length;
}

const MENU = ["Speech server", "Transcription", "Restart engine", "Test speech", "Read the clipboard aloud",
  "Open Murmur…", "Copy API URL",
  "Open logs folder", "Start at login", "Quit Murmur"];

/** The tray menu as the app exports it on D-Bus (libayatana-appindicator's dbusmenu, which
 * panels read): each item's label and, for check items, whether it is checked. */
function trayMenu() {
  const call = (dest, path, method, ...args) => spawnSync("gdbus",
    ["call", "--session", "--dest", dest, "--object-path", path, "--method", method, "--", ...args],
    { env, encoding: "utf8", timeout: 3000 });
  const names = call("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus.ListNames").stdout
    .match(/':1\.\d+'/g) || [];
  for (const name of names.map((n) => n.slice(1, -1))) {
    const layout = call(name, "/org/ayatana/NotificationItem/tray_icon_tray_app_murmur/Menu",
      "com.canonical.dbusmenu.GetLayout", "0", "-1", "['label', 'toggle-state']");
    if (layout.status !== 0) continue;
    return [...layout.stdout.matchAll(/\{([^{}]*'label': <'((?:[^'\\]|\\.)*)'>[^{}]*)\}/g)].map(([, props, label]) => ({
      label, checked: /'toggle-state': <1>/.test(props),
    })).slice(1); // the menu's root
  }
  return [];
}

function trayIcon() {
  return x("search", "--classname", "tray-icon tray app")[0];
}

/** Click the tray icon and wait for its menu to be on screen. */
async function openMenu() {
  const icon = await until("the tray icon", trayIcon);
  const place = geometry(icon);
  const shown = () => x("search", "--onlyvisible", "--class", "murmur");
  const before = new Set(shown());
  x("mousemove", String(place.X + 16), String(place.Y + 15), "click", "1");
  await until("the tray menu", () => shown().some((id) => !before.has(id) && geometry(id).HEIGHT > 100), 10000);
  await sleep(200);
}

/** Open the tray menu and choose `label` (by keyboard: the status line is disabled). */
async function choose(label) {
  await openMenu();
  const index = MENU.indexOf(label);
  assert.ok(index >= 0, label);
  x("key", "--delay", "60", ...Array(index + 1).fill("Down"), "Return");
}

/** The processes descended from `pid`, with their command lines. */
function descendants(pid) {
  const parent = new Map();
  for (const p of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    try {
      parent.set(p, readFileSync(`/proc/${p}/stat`, "utf8").split(") ")[1].split(" ")[1]);
    } catch {
      // gone
    }
  }
  const found = [];
  const walk = (of) => {
    for (const [child, ppid] of parent) {
      if (ppid === String(of) && alive(child)) {
        found.push({ pid: child, cmd: readFileSync(`/proc/${child}/cmdline`, "utf8").replaceAll("\0", " ") });
        walk(child);
      }
    }
  };
  walk(pid);
  return found;
}

/** RSS in MB of the app and of its own helpers (the settings window's process and WebKit's),
 * leaving out the engine, which is measured on its own. */
function memory(pid) {
  const rss = (p) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, "utf8"))?.[1] || 0) / 1024;
  const helpers = descendants(pid).filter((p) => !/python|fake_engine/.test(p.cmd));
  return { app: Math.round(rss(pid)), helpers: Math.round(helpers.reduce((sum, p) => sum + rss(p.pid), 0)), count: helpers.length };
}

// ---- tests -------------------------------------------------------------------------------

desktopTest("the tray icon reads on a dark and on a light panel, in every state's shape", async (t) => {
  // One app per panel: the icon takes the panel's background as it docks.
  const drawn = {};
  for (const [name, tint] of [["dark", DARK_PANEL], ["light", LIGHT_PANEL]]) {
    await panel(tint);
    const home = await murmurHome();
    const app = launch(home, t);
    await ready(home);
    await until("the tray icon", trayIcon);
    await sleep(800);
    drawn[name] = iconPixels(join(shots, `tray-icon-${name}-panel.png`));
    const seen = standingOut(drawn[name]);
    // The ready glyph's bars cover about a fifth of its square.
    assert.ok(seen >= drawn[name].width * drawn[name].height * 0.05, `it stands out on the ${name} panel: ${seen} pixels`);
    if (name === "light") {
      // Stopped is another shape, not only another colour.
      await fetch(`${home.base}/murmur/api/engines/speech/stop`, {
        method: "POST", headers: { Authorization: `Bearer ${readFileSync(join(home.dir, "control-token"), "utf8").trim()}` },
      });
      await until("stopped", async () => (await api(home, "/murmur/api/status")).state === "stopped");
      await sleep(800);
      const stopped = iconPixels(join(shots, "tray-icon-stopped-light-panel.png"));
      assert.ok(standingOut(stopped) > 0, "the stopped icon is visible too");
      assert.ok(standingOut(stopped) < seen, "and smaller: a flat line, not three bars");
    }
    app.kill("SIGTERM");
    await app.exited;
    await until("the icon to go", () => !trayIcon(), 10000);
  }
  const background = (name) => luminance(drawn[name].pixels[0]);
  assert.ok(background("dark") < 0.1 && background("light") > 0.5,
    `the panels were dark and light: ${background("dark")}, ${background("light")}`);
  await panel(DARK_PANEL);
});

desktopTest("the tray app: icon, menu, window, start at login, copy, test speech, restart, quit", async (t) => {
  const home = await murmurHome();
  const app = launch(home, t);
  const status = await ready(home);
  const engine = status.engine.pid;
  assert.ok(alive(engine));
  await until("the tray icon", trayIcon);
  assert.equal(murmurWindow(), undefined, "no window on a normal launch");
  await sleep(1000);
  const quiet = memory(app.pid);

  await choose("Open Murmur…");
  const window = await until("the settings window", murmurWindow);
  await sleep(1500); // let the page render its first status
  screenshot(join(shots, "desktop.png"));
  const open = memory(app.pid);
  assert.ok(open.count >= 2, "the window runs in its own process, with WebKit's");

  // Move it: it should reopen there.
  x("windowmove", "--sync", window, "60", "90");
  await sleep(500);
  const placed = geometry(window);

  // Closing the window ends its process, and WebKit's with it.
  x("windowactivate", "--sync", window);
  x("key", "alt+F4");
  await until("the window to close", () => !murmurWindow());
  await until("the window's processes to end", () => memory(app.pid).count === 0, 10000);
  const closed = memory(app.pid);
  console.log(`memory (RSS, MB): the tray app alone ${quiet.app}; with the window open ${open.app} + ` +
    `${open.helpers} in ${open.count} window and WebKit processes; after closing it ${closed.app} + ${closed.helpers}`);

  const autostart = join(home.env.XDG_CONFIG_HOME, "autostart");
  await choose("Start at login");
  await until("an autostart entry", () => existsSync(autostart) && readdirSync(autostart).some((f) => f.endsWith(".desktop")));
  await choose("Start at login");
  await until("the autostart entry to go", () => !readdirSync(autostart).some((f) => f.endsWith(".desktop")));

  await choose("Copy API URL");
  await until("the API URL on the clipboard", () => {
    const clip = spawnSync("xclip", ["-o", "-selection", "clipboard"], { env, encoding: "utf8", timeout: 2000 });
    return clip.stdout === `${home.base}/v1`;
  });

  // A picture of the menu, with its live status line.
  await openMenu();
  screenshot(join(shots, "tray-menu.png"));
  x("key", "Escape");

  // The icon follows the state: "Speech server" off draws the stopped icon, on the ready one.
  const drawn = () => execFileSync("/usr/bin/import", ["-window", trayIcon(), "rgb:-"], { env }).toString("base64");
  const readyIcon = drawn();
  await choose("Speech server");
  await until("stopped", async () => (await api(home, "/murmur/api/status")).state === "stopped");
  await until("the stopped icon", () => drawn() !== readyIcon, 5000);
  await choose("Speech server");
  await until("ready", async () => (await api(home, "/murmur/api/status")).state === "ready");
  await until("the ready icon again", () => drawn() === readyIcon, 5000);
  const running = (await api(home, "/murmur/api/status")).engine.pid;

  await choose("Test speech");
  const played = join(home.dir, "played.wav");
  await until("the test phrase to be played", () => existsSync(played) && readFileSync(played).length > 44);
  const wav = readFileSync(played);
  assert.equal(wav.subarray(0, 4).toString(), "RIFF");
  assert.equal(wav.subarray(8, 12).toString(), "WAVE");

  await choose("Restart engine");
  const restarted = await until("a restart", async () => {
    const s = await api(home, "/murmur/api/status");
    return s.state === "ready" && s.engine.pid !== running && s;
  });
  assert.equal(restarted.restarts.total, 1);

  // Quit with the window open: everything goes.
  await choose("Open Murmur…");
  const reopened = await until("the settings window", murmurWindow);
  await sleep(500);
  const again = geometry(reopened);
  assert.ok(Math.abs(again.X - placed.X) <= 30 && Math.abs(again.Y - placed.Y) <= 30,
    `reopens where it was: ${JSON.stringify(placed)} then ${JSON.stringify(again)}`);
  const helpers = descendants(app.pid);
  assert.equal(app.exitCode, null, "still running");
  await choose("Quit Murmur");
  const { code } = await app.exited;
  assert.equal(code, 0);
  assert.ok(!alive(engine) && !alive(restarted.engine.pid), "no engine left behind");
  await until("no process left", () => helpers.every((p) => !alive(p.pid)), 10000);
  assert.equal(murmurWindow(), undefined);
});

desktopTest("the app takes murmurd's flags, and they win over the environment", async (t) => {
  // The environment points at one folder; the flags at another, a config file elsewhere and
  // a port the file does not say.
  const home = await murmurHome();
  const flagged = tempDir("flags-");
  writeFileSync(join(flagged, ".launched"), "");
  const file = join(tempDir("config-"), "elsewhere.toml");
  const filePort = await freePort();
  writeFileSync(file, config(filePort));
  const port = await freePort();
  const child = launch(home, t, ["--port", String(port), "--data-dir", flagged, "--config", file]);
  const base = `http://127.0.0.1:${port}`;
  await until("the proxy on the flag's port", () => fetch(`${base}/murmur/healthz`).then((r) => r.ok, () => false));
  assert.ok(existsSync(join(flagged, "control-token")), "the flag's data folder is used");
  assert.ok(!existsSync(join(home.dir, "control-token")), "not the environment's");
  const token = readFileSync(join(flagged, "control-token"), "utf8").trim();
  const about = await fetch(`${base}/murmur/api/about`, { headers: { Authorization: `Bearer ${token}` } }).then((r) => r.json());
  assert.equal(about.config_file, file);
  child.kill("SIGTERM");
  assert.equal((await child.exited).code, 0);

  // An unknown flag is an error, with the usage.
  const wrong = spawnSync(appBin, ["--prot", "1"], { env: home.env, encoding: "utf8" });
  assert.notEqual(wrong.status, 0);
  assert.match(wrong.stderr, /Usage: murmur/);
  const help = spawnSync(appBin, ["--help"], { env: home.env, encoding: "utf8" });
  for (const flag of ["--config", "--data-dir", "--port", "--engine"]) assert.match(help.stdout, new RegExp(flag));
});

desktopTest("the first launch opens the window by itself", async (t) => {
  const home = await murmurHome({ launched: false });
  launch(home, t);
  await ready(home);
  await until("the settings window", murmurWindow);
  assert.ok(existsSync(join(home.dir, ".launched")), "the next launch is a quiet one");
});

desktopTest("a failed engine is announced with a desktop notification, once", async (t) => {
  const home = await murmurHome();
  const command = ["python3", fakeEngine, "--port", "{port}", "--crash-after-secs", "0.5"].map((a) => JSON.stringify(a)).join(", ");
  writeFileSync(join(home.dir, "config.toml"), `[proxy]\nport = ${home.port}\n\n[engine]\nid = "custom"\n\n` +
    `[engine.custom]\ncommand = [${command}]\n\n[supervisor]\nmax_restarts = 1\nrestart_delay_ms = 100\n`);
  // Watch the session bus for notifications (none is shown here: there is no notification
  // daemon, but the request to show one is what the app controls).
  const monitor = spawn("dbus-monitor", ["--session", "interface='org.freedesktop.Notifications',member='Notify'"], {
    env, stdio: ["ignore", "pipe", "ignore"],
  });
  children.push(monitor);
  let seen = "";
  monitor.stdout.on("data", (data) => (seen += data.toString()));
  // It announces itself (NameLost) once it has become a monitor.
  await until("dbus-monitor", () => seen.includes("NameLost"), 10000);
  launch(home, t);
  await until("the engine to fail", async () => {
    const status = await fetch(`${home.base}/murmur/healthz`).then(() => api(home, "/murmur/api/status"), () => null);
    return status && status.state === "failed";
  });
  await until("a notification", () => seen.includes("has stopped working"), 10000);
  await sleep(2000);
  assert.equal(seen.split("has stopped working").length - 1, 1, "once, not on every status change");
  assert.match(seen, /the engine exited with code 3/);
  monitor.kill();
});

desktopTest("SIGTERM quits as the menu does: the engine stops, the app exits 0", async (t) => {
  const home = await murmurHome();
  const app = launch(home, t);
  const status = await ready(home);
  app.kill("SIGTERM");
  const { code } = await app.exited;
  assert.equal(code, 0);
  await until("the engine to go", () => !alive(status.engine.pid), 5000);
});

desktopTest("a second launch shows the running one's window and leaves", async (t) => {
  const home = await murmurHome();
  const first = launch(home, t);
  await ready(home);
  assert.equal(murmurWindow(), undefined);
  const second = launch(home, t);
  const { code } = await second.exited;
  assert.equal(code, 0);
  await until("the first one's window", murmurWindow);
  assert.equal(first.exitCode, null, "the first one runs on");
  first.kill("SIGTERM");
  assert.equal((await first.exited).code, 0);
});

/** SIGTERM any app still running on `home` (WebDriver launched it, so it is not our child). */
async function quitLeftovers(home) {
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    try {
      const environ = readFileSync(`/proc/${pid}/environ`, "utf8").split("\0");
      if (environ.includes(`MURMUR_DATA_DIR=${home.dir}`) && readFileSync(`/proc/${pid}/cmdline`, "utf8").startsWith(appBin)) {
        process.kill(Number(pid), "SIGTERM");
        await until("the app to quit", () => !alive(pid), 15000);
      }
    } catch {
      // gone already, or not ours
    }
  }
}

/** After a failed session: WebKitWebDriver (its parent is gone) and any window it launched. */
function stopStrays(home, nativePort) {
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8");
      const environ = readFileSync(`/proc/${pid}/environ`, "utf8").split("\0");
      const ourDriver = cmd.includes("WebKitWebDriver") && cmd.includes(`--port=${nativePort}`);
      const itsWindow = cmd.includes("--settings-window") && environ.includes(`MURMUR_DATA_DIR=${home.dir}`)
        && !environ.some((e) => e.startsWith("MURMUR_CONTROL_ADDR="));
      if (ourDriver || itsWindow) process.kill(Number(pid), "SIGKILL");
    } catch {
      // gone already, or not ours
    }
  }
}

// ---- WebDriver ---------------------------------------------------------------------------

/** tauri-driver launching the settings window's process (`murmur --settings-window`, which
 * finds the running Murmur through its data folder); resolves with a WebDriver session. */
async function webdriver(home) {
  // WebKitWebDriver now and then never hears from the program it launched (seen once in
  // many runs); a session that does not start within a minute is tried again, once.
  try {
    return await webdriverOnce(home, 60000);
  } catch (error) {
    console.log(`# WebDriver session did not start (${error.message}); trying again`);
    return webdriverOnce(home, 120000);
  }
}

async function webdriverOnce(home, sessionTimeout) {
  const port = await freePort();
  const nativePort = await freePort();
  const driverEnv = { ...home.env, HOME: process.env.HOME, PATH: `${process.env.HOME}/.cargo/bin:${process.env.PATH}` };
  const driver = spawn("tauri-driver", ["--port", String(port), "--native-port", String(nativePort)], {
    env: driverEnv, stdio: "ignore",
  });
  children.push(driver);
  const url = `http://127.0.0.1:${port}`;
  await until("tauri-driver", () => fetch(`${url}/status`).then((r) => r.ok, () => false));
  const call = async (method, path, body, timeout = 60000) => {
    const response = await fetch(`${url}${path}`, {
      method, headers: { "Content-Type": "application/json" }, body: body && JSON.stringify(body),
      signal: AbortSignal.timeout(timeout),
    });
    const answer = await response.json();
    if (!response.ok) throw new Error(`${method} ${path}: ${JSON.stringify(answer.value)}`);
    return answer.value;
  };
  let session;
  try {
    session = await call("POST", "/session", {
      capabilities: { alwaysMatch: { "tauri:options": { application: appBin, args: ["--settings-window"] } } },
    }, sessionTimeout);
  } catch (error) {
    driver.kill("SIGKILL");
    stopStrays(home, nativePort);
    throw error;
  }
  const base = `/session/${session.sessionId}`;
  const ELEMENT = "element-6066-11e4-a52e-4f735466cecf";
  const find = async (css) => (await call("POST", `${base}/element`, { using: "css selector", value: css }))[ELEMENT];
  return {
    text: async (css) => call("GET", `${base}/element/${await find(css)}/text`),
    property: async (css, name) => call("GET", `${base}/element/${await find(css)}/property/${name}`),
    click: async (css) => call("POST", `${base}/element/${await find(css)}/click`, {}),
    script: (source) => call("POST", `${base}/execute/sync`, { script: source, args: [] }),
    async close() {
      await call("DELETE", base).catch(() => {});
      driver.kill("SIGTERM");
      await new Promise((done) => (driver.exitCode !== null ? done() : driver.once("exit", done)));
      await quitLeftovers(home);
    },
  };
}

desktopTest("webdriver: the window shows the live state over IPC and acts through it", async (t) => {
  const home = await murmurHome();
  launch(home, t);
  await ready(home);
  const page = await webdriver(home);
  try {
    assert.equal(await page.script("return location.protocol"), "tauri:", "the app's own page, not HTTP");
    assert.equal(await page.script("return typeof window.__TAURI_INTERNALS__"), "object");
    await until("Ready on the page", async () => (await page.text("#badge")) === "Ready");
    const status = await api(home, "/murmur/api/status");
    assert.match(await page.text("#engine-line"), new RegExp(`pid ${status.engine.pid}`));
    assert.equal(await page.property("#endpoint", "value"), `${home.base}/v1`);
    assert.equal(await page.text("#restarts-total"), "0");

    // A restart from elsewhere reaches the window as events: no reload, no polling.
    await fetch(`${home.base}/murmur/api/engines/speech/restart`, {
      method: "POST",
      headers: { Authorization: `Bearer ${readFileSync(join(home.dir, "control-token"), "utf8").trim()}` },
    });
    await until("the restart on the page", async () => (await page.text("#restarts-total")) === "1");
    await until("Ready again", async () => (await page.text("#badge")) === "Ready");

    // The page's own button goes through IPC to the same control API.
    await page.click("#toggle");
    await until("Stopped on the page", async () => (await page.text("#badge")) === "Stopped");
    assert.equal((await api(home, "/murmur/api/status")).state, "stopped");
  } finally {
    await page.close();
  }
});

desktopTest("webdriver: the Dictation card names the shortcuts, which are set by pressing them", async (t) => {
  const home = await murmurHome();
  launch(home, t);
  await ready(home);
  const page = await webdriver(home);
  try {
    await until("the Dictation card", async () => (await page.property("#desk-card", "hidden")) === false);
    await until("the shortcuts named", async () => /Dictate: hold Ctrl\+Alt\+Space/.test(await page.text("#desk-keys")));
    assert.match(await page.text("#desk-keys"), /Read the selection aloud: Ctrl\+Alt\+R/);
    await until("how keys and text go here", async () => /^X11: the shortcuts are grabbed/.test(await page.text("#desk-ways")));
    const line = () => trayMenu().find((item) => item.label.startsWith("Dictate:"));
    await until("the tray's line", () => line() && /hold Ctrl\+Alt\+Space · Read selection: Ctrl\+Alt\+R/.test(line().label));

    // The field takes the keys pressed, as Murmur writes them (once the form holds the file's
    // settings: until then it is disabled, and what it held would be overwritten).
    await until("the settings loaded", async () => (await page.property("#settings-fields", "disabled")) === false);
    const press = (code, mods) => page.script(`
      const field = document.getElementById("s-d-shortcut");
      field.focus();
      field.dispatchEvent(new KeyboardEvent("keydown", { code: "${code}", key: "x", bubbles: true, cancelable: true, ${mods} }));
      return field.value;`);
    assert.equal(await press("KeyD", "ctrlKey: true, shiftKey: true"), "Ctrl+Shift+D");
    await page.click("#settings button[type=submit]");
    let said = "";
    await until("saved", async () => /Saved/.test(said = await page.text("#settings-result")))
      .catch((error) => { throw new Error(`${error.message}; the page said "${said}"`); });
    assert.match(readFileSync(join(home.dir, "config.toml"), "utf8"), /shortcut = "Ctrl\+Shift\+D"/);
    await until("the tray follows", () => line() && /hold Ctrl\+Shift\+D/.test(line().label));
    await until("the card follows", async () => /hold Ctrl\+Shift\+D/.test(await page.text("#desk-keys")));

    // A shortcut that would take typing away is refused, the field named.
    assert.equal(await press("KeyA", "shiftKey: true"), "Shift+A");
    await page.click("#settings button[type=submit]");
    await until("refused", async () => /fix the fields/.test(await page.text("#settings-result")));
    assert.match(await page.text("#error-dictation-shortcut"), /how people type/);
  } finally {
    await page.close();
  }
});

desktopTest("webdriver: a broken config opens the window with the error and the file, and runs on defaults", async (t) => {
  const broken = "[proxy]\nmax_queue = \"many\"\n";
  const home = await murmurHome({ configText: broken });
  home.env.MURMUR_PORT = String(home.port); // the environment still applies over the defaults
  launch(home, t);
  await until("the window, opened by itself", murmurWindow);
  const page = await webdriver(home);
  try {
    const message = await until("the config error", async () => {
      const hidden = await page.property("#config-error", "hidden");
      return !hidden && page.text("#config-error-message");
    });
    assert.match(message, /max_queue/);
    assert.ok(message.includes(join(home.dir, "config.toml")), message);
    assert.equal(readFileSync(join(home.dir, "config.toml"), "utf8"), broken, "the file is untouched");
    assert.equal(await page.property("#endpoint", "value"), `${home.base}/v1`);
    const defaults = await api(home, "/murmur/api/settings/defaults");
    assert.equal(await page.property("#s-engine", "value"), defaults.settings.engine.id, "the form shows the defaults");
  } finally {
    await page.close();
  }
});

// A settings window started on its own sends the control token only to Murmur: pointed at a
// port another program holds (a web server here), it refuses and sends nothing.
desktopTest("a settings window pointed at another program's port never sends the token", async () => {
  const http = await import("node:http");
  const seen = [];
  const server = http.createServer((request, response) => {
    seen.push(`${request.method} ${request.url} ${request.headers.authorization || ""}`);
    response.end("{}");
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const dataDir = tempDir("window-");
  const token = "t".repeat(64);
  writeFileSync(join(dataDir, "config.toml"), `[proxy]\nport = ${server.address().port}\n`);
  writeFileSync(join(dataDir, "control-token"), token);
  const window = spawn(appBin, ["--settings-window"], {
    env: { ...env, MURMUR_DATA_DIR: dataDir },
    stdio: ["ignore", "ignore", "pipe"],
  });
  children.push(window);
  let stderr = "";
  window.stderr.on("data", (d) => { stderr += d; });
  const code = await Promise.race([
    new Promise((r) => window.once("exit", r)),
    sleep(10_000).then(() => "still running"),
  ]);
  server.close();
  assert.equal(code, 1, `the window refused to start: ${stderr}`);
  assert.ok(!seen.some((line) => line.includes(token)), `the token reached the stranger: ${seen.join("\n")}`);
  const logs = readdirSync(join(dataDir, "logs")).map((f) => readFileSync(join(dataDir, "logs", f), "utf8")).join("");
  assert.match(logs, /not Murmur: the control token is not sent/);
});

// Listening in the desktop app: the real Whisper engine (the real tiny.en weights, from a
// loopback Hub stand-in) beside the fake speech engine.
desktopTest("transcription: the tray names both engines and starts and stops transcription; the window records through WebKit", async (t) => {
  const weights = execFileSync(join(root, "target/debug/fixture-path"), ["whisper-tiny.en"], {
    encoding: "utf8", stdio: ["ignore", "pipe", "ignore"],
  }).trim();
  const hub = await startHub({ pieceBytes: 4 * 1024 * 1024, pauseMs: 0 });
  hub.putRepo("Systran/faster-whisper-tiny.en", weights);
  t.after(() => hub.close());
  const home = await murmurHome();
  writeFileSync(join(home.dir, "config.toml"), config(home.port,
    `[runtime]\npython_install_mirror = "http://127.0.0.1:9/python"\nhuggingface_url = "${hub.url}"\n`
    + `[transcription]\nmodel = "tiny.en"\n`));
  home.env.MURMUR_WINDOW_FAKE_MICROPHONE = "1";
  launch(home, t);
  await ready(home);
  const line = () => (trayMenu()[0] || {}).label;
  const transcription = () => trayMenu().find((item) => item.label === "Transcription");
  await until("the status line naming both engines",
    () => line() === "Ready — Custom server · transcription: Whisper tiny.en (not loaded)", 15000);
  assert.equal(transcription().checked, false);

  // The tray's Transcription item starts the transcription engine and stops it.
  await choose("Transcription");
  await until("transcription ready in the tray", () => line() === "Ready — Custom server · transcription: Whisper tiny.en (ready)", 240000);
  assert.equal(transcription().checked, true);
  assert.equal((await api(home, "/murmur/api/status")).transcription.state, "ready");
  await openMenu();
  screenshot(join(shots, "tray-menu-listening.png"));
  x("key", "Escape");
  await choose("Transcription");
  await until("transcription stopped", () => line() === "Ready — Custom server · transcription: Whisper tiny.en (not loaded)", 30000);
  assert.equal(transcription().checked, false);

  // The window: Record through WebKit (its mock microphone; the shell grants the permission),
  // the recording sent over IPC raw, the transcript shown.
  const page = await webdriver(home);
  try {
    await until("the transcription badge", async () => (await page.text("#t-badge")) === "Not loaded");
    await page.click("#record");
    const recording = await until("recording or a reason", async () => {
      const said = await page.text("#listen-result");
      return (said.startsWith("Recording") || (await page.property("#listen-result", "className")) === "error") && said;
    }, 15000);
    assert.match(recording, /^Recording/, `WebKit records: ${recording}`);
    await sleep(2500);
    await page.click("#record");
    let said = "";
    const result = await until("the transcript or a reason", async () => {
      said = await page.text("#listen-result");
      const failed = (await page.property("#listen-result", "className")) === "error";
      return (said.startsWith("Transcribed") || failed) && said;
    }, 120000).catch((e) => { throw new Error(`${e.message} (the page said: ${said})`); });
    assert.match(result, /^Transcribed/);
    assert.equal(await page.property("#transcript-box", "hidden"), false);
    const meta = await page.text("#transcript-meta");
    assert.match(meta, /audio \d+\.\d s · \S+ · the engine took \d+\.\d s/);
    console.log(`# the window's recording through WebKit: ${meta}`);
    execFileSync("/usr/bin/import", ["-window", murmurWindow(), join(shots, "desktop-transcript.png")], { env });
  } finally {
    await page.close();
  }
});
