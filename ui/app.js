// Murmur's status & settings page. Plain ES modules, no build step; how it reaches Murmur (HTTP
// with the control token, or IPC in the desktop window) is in api.js, the Voices card in
// voices.js.

import { $, TAURI, api, getToken, setToken, whenUnauthorized, languageName } from "./api.js";
import { initVoices, refreshVoices, showInstalls } from "./voices.js";

const STAGES = [
  ["uv", "uv"], ["python", "Python"], ["packages", "Packages"],
  ["model", "Model"], ["server", "Server"], ["ready", "Ready"],
];

whenUnauthorized(askForToken);

function askForToken(reason) {
  $("dashboard").hidden = true;
  $("token-form").hidden = false;
  if (reason) $("token-form").querySelector("p").textContent = reason + " " + $("token-form").querySelector("p").textContent;
  $("token-input").focus();
}

$("token-entry").addEventListener("submit", (event) => {
  event.preventDefault();
  setToken($("token-input").value.trim());
  start();
});

// ---- status -------------------------------------------------------------------------------

const WORDS = {
  stopped: "Stopped", provisioning: "Warming up", starting: "Warming up", ready: "Ready",
  unhealthy: "Unhealthy", backoff: "Restarting", idle: "Idle", stopping: "Stopping", failed: "Failed",
};
const BADGE = { provisioning: "warming", starting: "warming", backoff: "restarting", stopping: "restarting" };
let current = null;
let warmStarted = null;

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

function render(status) {
  current = status;
  const state = status.state;
  const badge = $("badge");
  badge.textContent = WORDS[state] || state;
  badge.dataset.state = BADGE[state] || state;
  const engine = status.engine;
  $("engine-line").textContent = [engine.name, engine.model, engine.voice && `voice ${engine.voice}`, engine.pid ? `pid ${engine.pid}` : null]
    .filter(Boolean).join(" · ");
  $("toggle").textContent = ["stopped", "idle", "failed"].includes(state) ? "Start" : "Stop";

  const failure = $("failure");
  if (state === "failed" || status.error) {
    const hint = status.error && status.error.hint ? `\n${status.error.hint}` : "";
    failure.textContent = (state === "failed" ? `The engine has failed: ${status.reason}` : status.error.message) + hint;
    failure.hidden = false;
  } else {
    failure.hidden = true;
  }

  const warming = ["provisioning", "starting"].includes(state);
  if (warming && !warmStarted) warmStarted = Date.now();
  if (!warming) warmStarted = null;
  const stage = state === "ready" ? "ready" : status.warmup.stage;
  const index = STAGES.findIndex(([key]) => key === stage);
  $("stages").replaceChildren(...STAGES.map(([key, label], i) => {
    const li = document.createElement("li");
    li.textContent = label;
    if (index >= 0 && i < index) li.className = "done";
    if (i === index) li.className = state === "ready" ? "done" : "current";
    return li;
  }));
  const bar = $("warmup-progress");
  if (warming && status.warmup.total) {
    bar.hidden = false;
    bar.max = status.warmup.total;
    bar.value = status.warmup.done || 0;
  } else {
    bar.hidden = true;
  }
  const elapsed = warmStarted ? ` (${Math.round((Date.now() - warmStarted) / 1000)} s)` : "";
  $("warmup-message").textContent = warming
    ? (status.warmup.message || "starting the engine") + elapsed
    : status.runtime_note || (state === "ready" ? "The engine is ready." : "");

  $("health-latency").textContent = status.health.latency_ms != null ? `${status.health.latency_ms} ms` : "—";
  $("health-failures").textContent = status.health.consecutive_failures;
  tick();
  $("restarts-total").textContent = status.restarts.total;
  $("restarts-crashes").textContent = `${status.restarts.crashes} of ${status.restarts.max}`;
  $("restarts-last").textContent = status.restarts.last_exit || "—";
  $("memory-available").textContent = status.memory.system_available_mb != null ? `${status.memory.system_available_mb} MB` : "—";
  $("memory-engine").textContent = status.memory.engine_rss_mb != null ? `${status.memory.engine_rss_mb} MB` : "—";
  const warning = $("memory-warning");
  warning.hidden = !status.memory.warning;
  warning.textContent = status.memory.warning ? `Memory is short: ${status.memory.warning}` : "";
  refreshLogs();
}

// Times that move between status changes: the last health check and the uptime.
function tick() {
  if (!current) return;
  $("health-last").textContent = ago(current.health.last_ok_at);
  const started = current.engine.started_at;
  const up = started && current.engine.pid ? Math.max(0, Math.round(Date.now() / 1000 - started)) : current.engine.uptime_secs;
  $("uptime").textContent = duration(up);
}
setInterval(tick, 1000);

function follow() {
  if (TAURI) {
    const handler = TAURI.transformCallback((event) => render(event.payload));
    TAURI.invoke("plugin:event|listen", { event: "murmur:status", target: { kind: "Any" }, handler });
    return;
  }
  const events = new EventSource(`/murmur/api/events?token=${encodeURIComponent(getToken())}`);
  events.addEventListener("status", (event) => render(JSON.parse(event.data)));
  events.addEventListener("voices", (event) => showInstalls(JSON.parse(event.data)));
  events.onerror = () => {
    // EventSource reconnects by itself; make sure a revoked token is noticed.
    api("/murmur/api/status").catch(() => events.close());
  };
}

let logsPending = false;
async function refreshLogs() {
  if (logsPending) return;
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

// ---- actions ------------------------------------------------------------------------------

$("restart").addEventListener("click", () => api("/murmur/api/engine/restart", { method: "POST" }).then((r) => r.json()).then(render));
$("toggle").addEventListener("click", () => {
  const action = ["stopped", "idle", "failed"].includes(current && current.state) ? "start" : "stop";
  api(`/murmur/api/engine/${action}`, { method: "POST" }).then((r) => r.json()).then(render);
});
$("copy-endpoint").addEventListener("click", async () => {
  const field = $("endpoint");
  try {
    await navigator.clipboard.writeText(field.value);
  } catch (_) {
    // WebKitGTK may refuse the async clipboard on the app's own scheme: copy the selection.
    field.select();
    document.execCommand("copy");
  }
});

// ---- connect a client -----------------------------------------------------------------------

/** The settings each client needs, with the live endpoint filled in (same as the README). */
function snippet(client, base) {
  const root = base.replace(/\/v1$/, "");
  switch (client) {
    case "openclaw":
      return `// ~/.openclaw/openclaw.json — OpenClaw needs an apiKey; any placeholder works
{
  tts: {
    provider: "openai",
    providers: {
      openai: {
        baseUrl: "${base}",
        apiKey: "sk-local-murmur",
        speakerVoice: "coral",      // any OpenAI voice name: Murmur's configured voice
        responseFormat: "mp3",      // voice notes ask for opus by themselves
      },
    },
  },
}`;
    case "openwebui":
      return `Admin Panel → Settings → Audio → Text-to-Speech
  Engine:        OpenAI
  API Base URL:  ${base}
  API Key:       anything (unless Murmur has [proxy] api_key)
  Voice / Model: pick from the lists (Murmur serves them)

or in the environment:
  AUDIO_TTS_ENGINE=openai
  AUDIO_TTS_OPENAI_API_BASE_URL=${base}
  AUDIO_TTS_OPENAI_API_KEY=sk-local-murmur`;
    case "sillytavern":
      return `Extensions → TTS → Provider: OpenAI Compatible
  Provider Endpoint: ${base}/audio/speech
  API Key:           anything
  Model:             tts-1
  Available Voices:  alloy`;
    case "homeassistant":
      return `HACS "OpenAI TTS" (sfortis/openai_tts) → Add integration
  URL:     ${base}/audio/speech
  API key: leave empty (unless Murmur has [proxy] api_key)
  Model:   tts-1      Voice: alloy`;
    case "python":
      return `from openai import OpenAI

client = OpenAI(base_url="${base}", api_key="sk-local-murmur")
with client.audio.speech.with_streaming_response.create(
        model="tts-1", voice="alloy", input="Hello from Murmur.") as reply:
    reply.stream_to_file("hello.mp3")`;
    case "node":
      return `import OpenAI from "openai";
import fs from "node:fs";

const client = new OpenAI({ baseURL: "${base}", apiKey: "sk-local-murmur" });
const speech = await client.audio.speech.create({ model: "tts-1", voice: "alloy", input: "Hello from Murmur." });
fs.writeFileSync("hello.mp3", Buffer.from(await speech.arrayBuffer()));`;
    default:
      return `curl -s ${base}/audio/speech -H 'content-type: application/json' \\
     -d '{"input":"Hello there.","response_format":"mp3"}' -o hello.mp3
# OPENAI_TTS_BASE_URL=${base} also works for tools that read it; ${root} is Murmur itself.`;
  }
}

function showSnippet() {
  $("client-snippet").textContent = snippet($("client-pick").value, $("endpoint").value || `${location.origin}/v1`);
  $("snippet-copied").textContent = "";
}

$("client-pick").addEventListener("change", showSnippet);
$("copy-snippet").addEventListener("click", async () => {
  const text = $("client-snippet").textContent;
  try {
    await navigator.clipboard.writeText(text);
  } catch (_) {
    const range = document.createRange();
    range.selectNodeContents($("client-snippet"));
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    document.execCommand("copy");
  }
  $("snippet-copied").textContent = "Copied";
});

$("speak").addEventListener("submit", async (event) => {
  event.preventDefault();
  const started = performance.now();
  $("speak-result").textContent = "Synthesising…";
  const body = { text: $("speak-text").value, speed: Number($("speak-speed").value) || 1 };
  if ($("speak-voice").value) body.voice = $("speak-voice").value;
  const response = await api("/murmur/api/speak-test", { method: "POST", body: JSON.stringify(body) });
  if (!response.ok) {
    const error = await response.json().catch(() => ({}));
    $("speak-result").textContent = (error.error && error.error.message) || `Failed (${response.status})`;
    return;
  }
  const audio = await response.blob();
  const player = $("player");
  player.hidden = false;
  player.src = URL.createObjectURL(audio);
  player.onplaying = () => {
    $("speak-result").textContent = `First audio after ${Math.round(performance.now() - started)} ms.`;
  };
  await player.play().catch(() => {
    $("speak-result").textContent = "Ready: press play.";
  });
});

// The installed voices, by language, for the test's and the settings' voice pickers.
function voicePickers(voices) {
  const groups = new Map();
  for (const voice of voices) {
    const label = languageName(voice.language);
    if (!groups.has(label)) groups.set(label, []);
    groups.get(label).push(voice);
  }
  const options = () => [...groups.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([label, group]) => {
    const optgroup = document.createElement("optgroup");
    optgroup.label = label;
    optgroup.append(...group.map((v) => new Option(`${v.name} (${v.language || v.voice})`, v.voice)));
    return optgroup;
  });
  const test = $("speak-voice");
  const picked = test.value;
  test.replaceChildren(new Option("Default", ""), ...options());
  test.value = [...test.options].some((o) => o.value === picked) ? picked : "";
  const saved = $("s-voice");
  const value = settings ? getPath(settings, "engine.voice") : saved.value;
  saved.replaceChildren(new Option("Engine default", ""), ...options());
  setVoiceField(value);
}

function setVoiceField(value) {
  const saved = $("s-voice");
  if (value && ![...saved.options].some((o) => o.value === value)) saved.append(new Option(`${value} (not installed)`, value));
  saved.value = value || "";
}

// ---- settings -----------------------------------------------------------------------------

let settings = null;

function field(key) {
  return document.querySelector(`[data-key="${key}"]`);
}

function getPath(object, key) {
  return key.split(".").reduce((o, k) => (o == null ? undefined : o[k]), object);
}

function setPath(object, key, value) {
  const parts = key.split(".");
  const last = parts.pop();
  const target = parts.reduce((o, k) => (o[k] = o[k] || {}), object);
  if (value === undefined) delete target[last];
  else target[last] = value;
}

async function loadSettings() {
  const response = await api("/murmur/api/settings");
  const body = await response.json();
  const broken = response.status === 409 && body.error && body.error.code === "config_broken";
  $("config-error").hidden = !broken;
  if (broken) {
    // Show the defaults Murmur runs on; saving them replaces the broken file.
    $("config-error-message").textContent = body.error.message;
    const defaults = await api("/murmur/api/settings/defaults");
    settings = defaults.ok ? (await defaults.json()).settings : {};
  } else {
    settings = body.settings;
  }
  const speed = getPath(settings, "engine.speed");
  if (speed) $("speak-speed").value = speed;
  for (const input of document.querySelectorAll("#settings [data-key]")) {
    const value = getPath(settings, input.dataset.key);
    if (input.id === "s-voice") setVoiceField(value);
    else if (input.type === "checkbox") input.checked = Boolean(value);
    else if (input.hasAttribute("data-list")) input.value = (value || []).join(", ");
    else input.value = value ?? "";
  }
}

/** PUT the whole settings object; on success it becomes the page's. */
async function saveSettings(next) {
  const response = await api("/murmur/api/settings", { method: "PUT", body: JSON.stringify(next) });
  if (response.ok) {
    settings = next;
    $("config-error").hidden = true;
    setVoiceField(getPath(next, "engine.voice"));
  }
  return response;
}

$("settings").addEventListener("submit", async (event) => {
  event.preventDefault();
  for (const old of document.querySelectorAll(".field-error")) old.remove();
  const next = structuredClone(settings);
  for (const input of document.querySelectorAll("#settings [data-key]")) {
    let value;
    if (input.type === "checkbox") value = input.checked;
    else if (input.hasAttribute("data-list")) value = input.value.split(",").map((s) => s.trim()).filter(Boolean);
    else if (input.type === "number") value = input.value === "" ? undefined : Number(input.value);
    else value = input.value.trim() === "" ? undefined : input.value.trim();
    setPath(next, input.dataset.key, value);
  }
  const response = await saveSettings(next);
  const body = await response.json();
  const result = $("settings-result");
  if (response.status === 422) {
    result.textContent = "Not saved: fix the fields marked below.";
    for (const { key, message } of body.error.fields) {
      const input = field(key) || $("s-engine");
      const note = document.createElement("div");
      note.className = "field-error";
      note.textContent = message;
      note.id = `error-${key.replace(/\W/g, "-")}`;
      input.setAttribute("aria-describedby", note.id);
      input.after(note);
    }
    return;
  }
  if (!response.ok) {
    result.textContent = (body.error && body.error.message) || `Not saved (${response.status})`;
    return;
  }
  result.textContent = "Saved." + (body.restarts_engine ? " The engine restarts to apply it." : "")
    + (body.needs_murmur_restart ? " Some changes apply when Murmur restarts." : "");
});

// ---- start --------------------------------------------------------------------------------

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
  $("endpoint").value = `${location.origin}/v1`;
  showSnippet();
  api("/murmur/api/about").then((r) => r.json()).then((about) => {
    if (about.api_url) $("endpoint").value = about.api_url;
    showSnippet();
  }).catch(() => {});
  follow();
  initVoices({
    settings: () => settings || {},
    save: saveSettings,
    engineVoice: () => (current && current.engine.voice) || getPath(settings || {}, "engine.voice"),
    changed: voicePickers,
  });
  loadSettings().then(refreshVoices);
  // The engine writes between status changes too: follow its log while the page is visible.
  setInterval(() => document.visibilityState === "visible" && refreshLogs(), 2000);
}

start();
