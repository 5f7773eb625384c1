// Murmur's status & settings page. Plain ES modules, no build step: how it reaches Murmur (HTTP
// with the control token, or IPC in the desktop window) is in api.js; the cards have a module
// each (speak, voices, activity, connect, settings). This one follows the status: the state
// badge, tab title and icon, the failure and warm-up cards, the figures, and Murmur's absence.

import { $, TAURI, api, getToken, setToken, whenUnauthorized } from "./api.js";
import { engineReady, initVoices, refreshVoices, showInstalls, voiceOptions } from "./voices.js";
import { initSpeak, speakBusy, speakFollows } from "./speak.js";
import { refreshActivity } from "./activity.js";
import { copy, initConnect, showSnippet } from "./connect.js";
import { currentSettings, getPath, initSettings, loadSettings, saveSettings } from "./settings.js";
import { initListen, listenFollows } from "./listen.js";
import { initModels, modelsFollow, refreshModels } from "./models.js";
import { deskFollows, deskRefresh, initDesk } from "./desk.js";

// A warm-up step's name for people: Murmur says them all in /murmur/api/about (`stages`), and
// each engine's steps in its status (`engine.steps`).
function stageLabel(key) {
  const known = about && about.stages && about.stages.find((s) => s.id === key);
  return known ? known.label : key;
}

// The failure and warm-up cards, one set per engine (by capability, as the status lists
// them): their element ids' prefix, and who they speak of.
const CARDS = {
  speech: { prefix: "", who: "The engine" },
  transcription: { prefix: "t-", who: "The transcription engine" },
};

/** An engine's entry of the status, or null when its capability is off. */
function engineOf(status, capability) {
  return (status && (status.engines || []).find((e) => e.capability === capability)) || null;
}

const WORDS = {
  stopped: "Stopped", provisioning: "Warming up", starting: "Warming up", ready: "Ready",
  unhealthy: "Unhealthy", backoff: "Restarting", idle: "Idle", stopping: "Stopping", failed: "Failed",
  offline: "Not running",
};
const BADGE = { provisioning: "warming", starting: "warming", backoff: "restarting", stopping: "restarting" };
const ICON = { ready: "#248a3d", warming: "#c36a00", restarting: "#c36a00", unhealthy: "#c36a00", failed: "#d70015" };
const WARMING = ["provisioning", "starting"];
const DOWN = ["stopped", "idle", "failed"];

let current = null;
let offline = false;
let about = null;
let lastAnnounced = null;
// The cards, the event stream and the timers are set up once, on the first successful start.
let wired = false;

// ---- the token ------------------------------------------------------------------------------

whenUnauthorized(askForToken);

function askForToken(reason) {
  $("dashboard").hidden = true;
  $("token-form").hidden = false;
  $("token-reason").hidden = !reason;
  $("token-reason").textContent = reason || "";
  document.title = "Murmur — control token needed";
  $("token-input").focus();
}

$("token-entry").addEventListener("submit", (event) => {
  event.preventDefault();
  setToken($("token-input").value.trim());
  // A page already wired up (its event stream opened with the old token) starts afresh.
  if (wired) location.reload();
  else start();
});

// ---- status ---------------------------------------------------------------------------------

function ago(unix) {
  if (!unix) return "—";
  const secs = Math.max(0, Math.round(Date.now() / 1000 - unix));
  return secs < 60 ? `${secs} s ago` : `${Math.round(secs / 60)} min ago`;
}

function duration(secs) {
  if (secs == null) return "—";
  if (secs < 60) return `${secs} s`;
  if (secs < 3600) return `${Math.floor(secs / 60)} min ${secs % 60} s`;
  return `${Math.floor(secs / 3600)} h ${Math.floor((secs % 3600) / 60)} min`;
}

/** An engine's badge: its state in a word, coloured by state (every engine's, alike). */
function drawBadge(id, word, badgeState) {
  const badge = $(id);
  badge.textContent = word;
  badge.dataset.state = badgeState;
}

/** The tab's title and icon carry the state, so a background tab still tells it. */
function showState(word, badgeState) {
  drawBadge(`${CARDS.speech.prefix}badge`, word, badgeState);
  document.title = `Murmur — ${word}`;
  const colour = ICON[badgeState] || "#8e8e93";
  const svg = `<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'><circle cx='8' cy='8' r='7' fill='${colour}'/></svg>`;
  $("favicon").href = `data:image/svg+xml,${encodeURIComponent(svg)}`;
  // State changes are announced once each; the rest of the page is not a live region.
  if (word !== lastAnnounced) {
    $("announcer").textContent = `Murmur: ${word}`;
    lastAnnounced = word;
  }
}

/** A running engine's figures, or dashes when none runs (no stale latency or uptime). */
function figures(status) {
  const live = !offline && status.engine.pid != null && ["ready", "unhealthy", "starting"].includes(status.state);
  const dash = (value, text) => (live && value != null ? text : "—");
  $("health-latency").textContent = dash(status.health.latency_ms, `${status.health.latency_ms} ms`);
  $("health-failures").textContent = dash(status.health.consecutive_failures, String(status.health.consecutive_failures));
  $("memory-engine").textContent = dash(status.memory.engine_rss_mb, `${status.memory.engine_rss_mb} MB`);
  const t = engineOf(status, "transcription");
  $("memory-transcription-label").hidden = !t;
  $("memory-transcription").hidden = !t;
  $("memory-transcription").textContent = t && !offline && t.engine.pid != null && t.memory.engine_rss_mb != null
    ? `${t.memory.engine_rss_mb} MB` : "—";
  $("memory-available").textContent = !offline && status.memory.system_available_mb != null ? `${status.memory.system_available_mb} MB` : "—";
  $("restarts-total").textContent = status.restarts.total;
  $("restarts-crashes").textContent = status.restarts.crashes;
  $("restarts-max").textContent = status.restarts.max;
  $("restarts-last").textContent = status.restarts.last_exit || "—";
  const warning = $("memory-warning");
  warning.hidden = offline || !status.memory.warning;
  warning.textContent = status.memory.warning ? `Memory is short: ${status.memory.warning}` : "";
  tick();
}

// Times that move between status changes: the last health check and the uptime.
function tick() {
  if (!current) return;
  const live = !offline && current.engine.pid != null && ["ready", "unhealthy", "starting"].includes(current.state);
  $("health-last").textContent = live ? ago(current.health.last_ok_at) : "—";
  const started = current.engine.started_at;
  const up = started ? Math.max(0, Math.round(Date.now() / 1000 - started)) : current.engine.uptime_secs;
  $("uptime").textContent = live ? duration(up) : "—";
  for (const [capability, cards] of Object.entries(CARDS)) {
    const engine = engineOf(current, capability);
    if (engine && WARMING.includes(engine.state)) warmupMessage(engine, cards);
  }
}
setInterval(tick, 1000);

function failureCard(status, cards) {
  const id = (name) => $(`${cards.prefix}${name}`);
  const failed = Boolean(status) && (status.state === "failed" || Boolean(status.error && DOWN.includes(status.state)));
  id("failure-card").hidden = !failed;
  if (!failed) return;
  const raw = (status.state === "failed" ? status.reason : status.error.message) || "";
  const lines = raw.split("\n").map((l) => l.trim()).filter(Boolean);
  // One sentence: the first line, shortened; the whole output goes in the details.
  const first = (lines[0] || "it stopped without saying why").replace(/;?\s*last output:$/, ".");
  // The engine's words: its last line that names an error (where a Python traceback ends),
  // else its last line that is not a request it logged.
  const words = lines.slice(1).filter((l) => !/"(GET|POST|HEAD|PUT|DELETE|OPTIONS) \S* HTTP\/\d/.test(l));
  const last = [...words].reverse().find((l) => /error|exception|fail|cannot|can't|no such|refused|denied|missing|corrupt|killed/i.test(l))
    || words[words.length - 1] || null;
  const cut = (text) => (text.length > 180 ? `${text.slice(0, 177)}…` : text);
  const sentence = cut(first) + (last ? ` It last said: “${cut(last)}”` : "");
  id("failure-title").textContent = `${cards.who} ${status.state === "failed" ? "stopped working" : "could not start"}`;
  id("failure-sentence").textContent = sentence.charAt(0).toUpperCase() + sentence.slice(1);
  const hint = status.error && status.error.hint;
  id("failure-hint").hidden = !hint;
  id("failure-hint").textContent = hint || "";
  id("failure-output").textContent = raw;
  id("failure-details").hidden = lines.length <= 1 && first.length <= 180;
}

// When each engine's warm-up began, by card prefix.
const warmStarts = {};

function warmupMessage(status, cards) {
  const started = warmStarts[cards.prefix];
  const elapsed = started ? ` (${Math.round((Date.now() - started) / 1000)} s)` : "";
  $(`${cards.prefix}warmup-message`).textContent = (status.warmup.message || "starting the engine") + elapsed;
}

function warmupCard(status, cards) {
  const id = (name) => $(`${cards.prefix}${name}`);
  if (!status) {
    id("warmup-card").hidden = true;
    return;
  }
  const state = status.state;
  const warming = WARMING.includes(state);
  if (warming && !warmStarts[cards.prefix]) warmStarts[cards.prefix] = Date.now();
  if (!warming) warmStarts[cards.prefix] = null;
  // Shown while it matters: warming up, or failed during it (the failed step marked).
  const failedAt = (state === "failed" || DOWN.includes(state)) && status.error && status.error.stage
    ? status.error.stage : null;
  id("warmup-card").hidden = !warming && !failedAt;
  const stages = (status.engine.steps || []).map((key) => [key, stageLabel(key)]);
  const stage = failedAt || status.warmup.stage;
  const index = stages.findIndex(([key]) => key === stage);
  id("stages").replaceChildren(...stages.map(([key, label], i) => {
    const li = document.createElement("li");
    li.textContent = label;
    if (index >= 0 && i < index) {
      li.className = "done";
      li.setAttribute("aria-label", `${label}: done`);
    }
    if (i === index) {
      li.className = failedAt ? "failed" : "current";
      li.setAttribute("aria-label", `${label}: ${failedAt ? "failed here" : "in progress"}`);
      if (failedAt) li.textContent = `✕ ${label}`;
      else li.setAttribute("aria-current", "step");
    }
    return li;
  }));
  const bar = id("warmup-progress");
  bar.hidden = !(warming && status.warmup.total);
  if (!bar.hidden) {
    bar.max = status.warmup.total;
    bar.value = status.warmup.done || 0;
  }
  if (warming) warmupMessage(status, cards);
  else id("warmup-message").textContent = failedAt ? `Stopped at ${stageLabel(failedAt)}.` : "";
}

function render(status) {
  const wasOffline = offline;
  offline = false;
  current = status;
  $("offline").hidden = true;
  const state = status.state;
  showState(WORDS[state] || state, BADGE[state] || state);
  const engine = status.engine;
  $("engine-line").textContent = [engine.name, engine.model, engine.voice && `voice ${engine.voice}`, engine.pid ? `pid ${engine.pid}` : null,
    engine.pid && status.memory.engine_rss_mb != null ? `${status.memory.engine_rss_mb} MB` : null]
    .filter(Boolean).join(" · ");
  const down = DOWN.includes(state);
  $("toggle").textContent = down ? "Start engine" : "Stop engine";
  // A failed engine has one action, in its card.
  const failing = state === "failed" || Boolean(status.error && down);
  $("toggle").hidden = failing;
  $("restart").hidden = failing || down;
  $("recover").textContent = state === "failed" ? "Restart engine" : "Start engine";
  for (const id of ["toggle", "restart", "transcription-toggle", "t-restart"]) $(id).disabled = false;
  $("play").disabled = speakBusy();
  const transcription = engineOf(status, "transcription");
  transcriptionLine(transcription);
  listenFollows(transcription);
  // Every engine's failure and warm-up cards, drawn alike.
  for (const [capability, cards] of Object.entries(CARDS)) {
    const engine = engineOf(status, capability);
    failureCard(engine, cards);
    warmupCard(engine, cards);
  }
  figures(status);
  speakFollows(status);
  refreshLogs();
  if (state === "ready") engineReady();
  if (wasOffline) reconnected();
}

/** The transcription engine, beside speech: its badge, engine · model, memory, state in
 * words, Start/Stop and Restart. Unloaded after idle (or never started) is a normal state: it
 * loads on the next transcription. */
function transcriptionLine(t) {
  $("transcription-line").hidden = !t;
  $("transcription-text").hidden = !t;
  if (!t) return;
  const engine = [t.engine.name, t.engine.model].filter(Boolean).join(" · ");
  const w = t.warmup || {};
  const progress = w.total && w.unit === "bytes"
    ? ` ${Math.round((w.done || 0) / 1e6)}/${Math.round(w.total / 1e6)} MB`
    : "";
  const words = {
    ready: "ready",
    stopped: t.error ? `stopped — ${t.error.message}` : "not loaded — loads on the first transcription",
    idle: "unloaded after idle — loads on the next transcription",
    provisioning: `warming up — ${w.message || "preparing"}${progress}`,
    starting: `warming up — ${w.message || "starting"}${progress}`,
    failed: `failed — ${(t.error && t.error.message) || (t.state_reason || "")}`,
  };
  const memory = t.engine.pid && t.memory.engine_rss_mb != null ? ` · ${t.memory.engine_rss_mb} MB` : "";
  $("transcription-text").textContent = `Transcription: ${engine} — ${words[t.state] || WORDS[t.state] || t.state}${memory}`;
  // Not loaded and unloaded after idle are normal: "Unloaded", not an alarm.
  const badgeWords = { stopped: t.error ? "Stopped" : "Not loaded", idle: "Unloaded" };
  drawBadge(`${CARDS.transcription.prefix}badge`, badgeWords[t.state] || WORDS[t.state] || t.state, BADGE[t.state] || t.state);
  const down = DOWN.includes(t.state);
  const failing = t.state === "failed" || Boolean(t.error && down);
  const managed = t.engine.id !== "external";
  $("transcription-toggle").textContent = down ? "Start transcription" : "Stop transcription";
  $("transcription-toggle").hidden = failing || !managed;
  $("t-restart").hidden = failing || down || !managed;
  $("t-recover").textContent = t.state === "failed" ? "Restart transcription" : "Start transcription";
  // A warm-up may have installed a model: the catalog says so.
  if (wired && t.state !== lastTranscription) refreshModels();
  lastTranscription = t.state;
}
let lastTranscription = null;

/** Murmur went away: say so, and stop showing what belonged to it. */
function lost() {
  if (offline || !current) return;
  offline = true;
  showState(WORDS.offline, "offline");
  $("offline").hidden = false;
  $("offline-message").textContent = `The page lost its connection to Murmur at ${new Date().toLocaleTimeString()}. `
    + "It reconnects by itself when Murmur is back: start it from its tray icon, or run murmurd.";
  $("engine-line").textContent = "";
  for (const { prefix } of Object.values(CARDS)) {
    for (const card of ["failure-card", "warmup-card"]) $(`${prefix}${card}`).hidden = true;
  }
  for (const id of ["toggle", "restart", "play", "transcription-toggle", "t-restart"]) $(id).disabled = true;
  figures(current);
}

function reconnected() {
  loadSettings(about).catch(() => {});
  refreshVoices();
}

// Murmur's absence: the event stream errs at once when the process dies (and reconnects by
// itself); a check confirms it, and a slow poll covers a stream that silently stalls.
async function check() {
  try {
    const response = await api("/murmur/api/status", { signal: AbortSignal.timeout(3000) });
    if (response.status === 503 && TAURI) return lost();
    if (!response.ok) return lost();
    render(await response.json());
  } catch (error) {
    if (error.message !== "unauthorized") lost();
  }
}

function follow() {
  if (TAURI) {
    const handler = TAURI.transformCallback((event) => render(event.payload));
    TAURI.invoke("plugin:event|listen", { event: "murmur:status", target: { kind: "Any" }, handler });
    setInterval(check, 2500);
    return;
  }
  const events = new EventSource(`/murmur/api/events?token=${encodeURIComponent(getToken())}`);
  events.addEventListener("status", (event) => render(JSON.parse(event.data)));
  events.addEventListener("voices", (event) => showInstalls(JSON.parse(event.data)));
  events.onerror = () => check();
  setInterval(() => {
    if (events.readyState !== EventSource.OPEN || offline) check();
  }, 2000);
}

let logsPending = false;
async function refreshLogs() {
  if (logsPending || offline) return;
  logsPending = true;
  try {
    const response = await api("/murmur/api/logs?lines=200");
    const { lines } = await response.json();
    const pre = $("logs");
    const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
    pre.textContent = lines.join("\n");
    if (atBottom) pre.scrollTop = pre.scrollHeight;
  } catch (_) {
    // shown elsewhere
  } finally {
    logsPending = false;
  }
}

// ---- actions --------------------------------------------------------------------------------

async function act(path) {
  const response = await api(path, { method: "POST" }).catch(() => null);
  if (response && response.ok) render(await response.json());
}

$("restart").addEventListener("click", () => act("/murmur/api/engines/speech/restart"));
$("transcription-toggle").addEventListener("click", () => {
  const t = engineOf(current, "transcription");
  act(`/murmur/api/engines/transcription/${t && DOWN.includes(t.state) ? "start" : "stop"}`);
});
$("recover").addEventListener("click", () => act("/murmur/api/engines/speech/restart"));
$("t-restart").addEventListener("click", () => act("/murmur/api/engines/transcription/restart"));
$("t-recover").addEventListener("click", () => act("/murmur/api/engines/transcription/restart"));
$("t-failure-log-link").addEventListener("click", () => setTimeout(() => $("logs").focus(), 0));
$("toggle").addEventListener("click", () => act(`/murmur/api/engines/speech/${DOWN.includes(current && current.state) ? "start" : "stop"}`));
$("copy-endpoint").addEventListener("click", () => copy($("endpoint").value, $("endpoint"), $("endpoint-copied")));
$("failure-log-link").addEventListener("click", () => setTimeout(() => $("logs").focus(), 0));

// ---- voices in the test's picker --------------------------------------------------------------

/** The installed voices, by language, in the test's voice picker. */
function voicePicker(voices) {
  const test = $("speak-voice");
  const picked = test.value;
  test.replaceChildren(new Option("Default", ""), ...voiceOptions(voices));
  test.value = [...test.options].some((o) => o.value === picked) ? picked : "";
}

// ---- start ----------------------------------------------------------------------------------

async function start() {
  if (!TAURI && !getToken()) return askForToken();
  try {
    const response = await api("/murmur/api/status");
    if (response.status === 503) {
      // The desktop app is still binding its port.
      setTimeout(start, 300);
      return;
    }
    render(await response.json());
  } catch (_) {
    return;
  }
  $("token-form").hidden = true;
  $("dashboard").hidden = false;
  if (wired) return;
  wired = true;
  $("endpoint").value = `${location.origin}/v1`;
  initConnect();
  showSnippet();
  about = await api("/murmur/api/about").then((r) => r.json()).catch(() => null);
  if (about) {
    if (about.api_url) $("endpoint").value = about.api_url;
    $("wyoming-line").hidden = !about.wyoming_url;
    if (about.wyoming_url) $("wyoming-url").textContent = about.wyoming_url;
    $("about").textContent = `Murmur ${about.version} · settings file ${about.config_file}`;
    // The speeds Murmur accepts come from Murmur (one range, config::SPEED).
    if (about.speed_range) {
      for (const id of ["speak-speed", "s-speed"]) {
        [$(id).min, $(id).max] = about.speed_range.map(String);
      }
    }
    showSnippet();
  }
  initDesk(about);
  initSpeak({ state: () => (offline || !current ? null : current.state) });
  initSettings((settings) => {
    const speed = getPath(settings, "engine.speed");
    if (speed) $("speak-speed").value = speed;
    modelsFollow(settings);
    deskFollows(settings);
  });
  initListen();
  initModels({ settings: currentSettings, save: saveSettings });
  initVoices({
    settings: currentSettings,
    save: saveSettings,
    engineVoice: () => (current && current.engine.voice) || getPath(currentSettings(), "engine.voice"),
    changed: voicePicker,
  });
  follow();
  loadSettings(about).then(() => { refreshVoices(); refreshModels(); }).catch(() => {});
  refreshActivity();
  // Between status changes the engine writes its log and clients come and go: follow both
  // while the page is visible.
  setInterval(() => {
    if (document.visibilityState !== "visible" || offline) return;
    refreshLogs();
    refreshActivity();
    deskRefresh();
  }, 2000);
}

start();
