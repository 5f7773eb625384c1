// The Voices card: installed voices by language (the default voice, a default per language, a
// sample of each, removal) and the catalog to install more from (language filter, search,
// progress bars, cancel). Data: GET /murmur/api/voices/catalog; installs progress as `voices`
// events on the event stream (or, in the desktop window, GET /murmur/api/voices/installs).

import { $, TAURI, api, errorText, languageName, primary } from "./api.js";

// A sentence each voice can read, in its own language.
const SAMPLES = {
  en: "Hello! This is how I sound. I can read your messages aloud.",
  de: "Hallo! So klinge ich. Ich lese dir deine Nachrichten vor.",
  fr: "Bonjour ! Voici ma voix. Je peux lire vos messages à voix haute.",
  es: "¡Hola! Así suena mi voz. Puedo leer tus mensajes en voz alta.",
  it: "Ciao! Questa è la mia voce. Posso leggere i tuoi messaggi ad alta voce.",
  pt: "Olá! Esta é a minha voz. Posso ler as suas mensagens em voz alta.",
  nl: "Hallo! Zo klink ik. Ik kan je berichten voorlezen.",
  ja: "こんにちは。これが私の声です。メッセージを読み上げます。",
  zh: "你好！这是我的声音。我可以为你朗读消息。",
  hi: "नमस्ते! मेरी आवाज़ ऐसी है। मैं आपके संदेश पढ़ सकती हूँ।",
};

let listing = null;
let installs = new Map();
let hooks = null;
let polling = null;
let sampling = null;
// Installs this page started: their end is announced even if no progress event came first.
const requested = new Set();

/** `hooks`: settings() → the saved settings, save(next) → Response, engineVoice() → the voice
 * the engine speaks with now, changed(installedEntries) → the rest of the page follows. */
export function initVoices(given) {
  hooks = given;
  $("catalog-search").addEventListener("input", renderCatalog);
  $("catalog-language").addEventListener("change", renderCatalog);
  $("default-voice").addEventListener("change", () => chooseDefault($("default-voice").value));
}

export function installed() {
  return listing ? listing.voices.filter((v) => v.installed) : [];
}

/** Fetch the catalog again (after an install, a removal, a settings change). */
export async function refreshVoices() {
  try {
    const response = await api("/murmur/api/voices/catalog");
    if (!response.ok) {
      $("voices-note").textContent = await errorText(response, "The voice catalog is unavailable");
      return;
    }
    listing = await response.json();
    asked = false;
  } catch (_) {
    return;
  }
  render();
  hooks.changed(installed());
}

/** An engine without a catalog (a custom or external server): its own list of voices, asked
 * for once it is up (asking a stopped engine would start it). */
let asked = false;
export async function engineReady() {
  if (asked || !listing || listing.voices.length) return;
  asked = true;
  try {
    const response = TAURI ? await api("/v1/audio/voices") : await fetch("/v1/audio/voices");
    if (!response.ok) return;
    const { voices } = await response.json();
    listing.voices = (voices || []).map((v) => ({
      id: v.id, voice: v.id, name: v.name || v.id, language: v.language || null, installed: true, removable: false,
    }));
  } catch (_) {
    return;
  }
  render();
  hooks.changed(installed());
}

/** Install progress, from the event stream or the installs route. */
export function showInstalls(list) {
  const finished = [];
  for (const install of list) {
    const before = installs.get(install.voice);
    const wasRunning = (before && before.state === "downloading") || requested.has(install.voice);
    if (install.state !== "downloading" && wasRunning) {
      finished.push(install);
      requested.delete(install.voice);
    }
    installs.set(install.voice, install);
  }
  for (const install of finished) {
    announce(install.state === "installed" ? `Installed ${nameOf(install.voice)}.`
      : install.state === "cancelled" ? `Cancelled ${nameOf(install.voice)}.`
        : `Could not install ${nameOf(install.voice)}: ${install.error || "unknown error"}`);
  }
  if (finished.some((i) => i.state === "installed")) refreshVoices();
  else renderCatalog();
}

function nameOf(id) {
  const entry = listing && listing.voices.find((v) => v.id === id);
  return entry ? entry.name : id;
}

function announce(text) {
  $("voices-status").textContent = text;
}

function downloading() {
  return [...installs.values()].some((i) => i.state === "downloading");
}

// The desktop window has no event stream of its own for installs: ask while one runs.
function pollInstalls() {
  if (!TAURI || polling) return;
  polling = setInterval(async () => {
    const response = await api("/murmur/api/voices/installs").catch(() => null);
    if (response && response.ok) showInstalls(await response.json());
    if (!downloading()) {
      clearInterval(polling);
      polling = null;
    }
  }, 400);
}

function mb(bytes) {
  if (bytes == null) return "";
  return bytes >= 1e6 ? `${(bytes / 1e6).toFixed(bytes >= 1e8 ? 0 : 1)} MB` : `${Math.max(1, Math.round(bytes / 1e3))} kB`;
}

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value == null) continue;
    if (key in node && !key.startsWith("aria") && key !== "role") node[key] = value;
    else node.setAttribute(key, value);
  }
  node.append(...children.filter((c) => c != null));
  return node;
}

function render() {
  $("catalog").hidden = !listing.source;
  $("voices-note").textContent = listing.note || "";
  $("voices-note").className = listing.offline ? "warning" : "muted";
  renderInstalled();
  renderLanguages();
  renderCatalog();
}

// ---- installed: the default voice, a default per language -------------------------------------

function byLanguage(voices) {
  const groups = new Map();
  for (const voice of voices) {
    const key = primary(voice.language);
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(voice);
  }
  return [...groups.entries()].sort(([a], [b]) => languageName(a).localeCompare(languageName(b)));
}

const groupName = (language) => (language ? languageName(language) : "Language not given");

/** `voices` as `<optgroup>`s by language, for a voice picker; `selected` is chosen. */
export function voiceOptions(voices, selected = null) {
  return byLanguage(voices).map(([language, group]) => el("optgroup", { label: groupName(language) },
    ...group.map((v) => el("option", { value: v.voice, selected: v === selected }, v.language ? `${v.name} (${v.language})` : v.name))));
}

function renderInstalled() {
  const voices = installed();
  const main = hooks.engineVoice();
  const mainEntry = voices.find((v) => v.voice === main || v.id === main);
  const mainLanguage = mainEntry ? primary(mainEntry.language) : null;
  const perLanguage = (hooks.settings().engine || {}).language_voices || {};

  const select = $("default-voice");
  select.replaceChildren(...voiceOptions(voices, mainEntry));
  if (!mainEntry && main) select.prepend(el("option", { value: main, selected: true }, main));
  if (!select.options.length) select.append(el("option", { value: "", disabled: true, selected: true }, "none listed yet"));

  const groups = byLanguage(voices).map(([language, group]) => {
    const chosen = language === mainLanguage ? mainEntry
      : group.find((v) => v.voice === perLanguage[language] || v.id === perLanguage[language]) || group[0];
    const legend = groupName(language);
    return el("fieldset", { className: "voice-group" },
      el("legend", {}, legend, el("span", { className: "muted" }, ` · default voice${language === mainLanguage ? " (main)" : ""}`)),
      ...group.map((v) => {
        const id = `voice-${v.id.replace(/\W/g, "-")}`;
        const radio = el("input", { type: "radio", name: `default-${language}`, id, value: v.voice, checked: v === chosen });
        radio.addEventListener("change", () => chooseForLanguage(language, v, language === mainLanguage));
        const play = el("button", { type: "button", className: "secondary", "aria-label": `Play a sample of ${v.name}` }, "Play a sample");
        play.addEventListener("click", () => sample(v, play));
        const remove = v.removable
          ? el("button", { type: "button", className: "secondary danger", "aria-label": `Remove ${v.name}` }, "Remove")
          : null;
        if (remove) remove.addEventListener("click", () => uninstall(v, remove));
        return el("div", { className: "voice-row" },
          radio, el("label", { htmlFor: id }, v.name, el("span", { className: "muted" }, ` ${[v.gender, v.quality].filter(Boolean).join(", ")}`)),
          el("span", { className: "spacer" }), play, remove);
      }));
  });
  $("voice-groups").replaceChildren(...groups);
  if (!voices.length) $("voice-groups").append(el("p", { className: "muted" }, "No voices are installed for this engine."));
}

async function saveVoices(change, done) {
  const next = structuredClone(hooks.settings());
  next.engine = next.engine || {};
  change(next.engine);
  const response = await hooks.save(next);
  announce(response.ok ? done : `Not saved: ${await errorText(response)}`);
  render();
}

function chooseDefault(voice) {
  const entry = installed().find((v) => v.voice === voice);
  saveVoices((engine) => {
    engine.voice = voice;
    if (entry && engine.language_voices) delete engine.language_voices[primary(entry.language)];
  }, `${entry ? entry.name : voice} is the default voice.`);
}

function chooseForLanguage(language, entry, isMain) {
  if (isMain) return chooseDefault(entry.voice);
  saveVoices((engine) => {
    engine.language_voices = { ...(engine.language_voices || {}), [language]: entry.voice };
  }, `${entry.name} speaks ${languageName(language)} texts.`);
}

async function sample(entry, button) {
  const player = $("sample-player");
  if (sampling) sampling.abort();
  const controller = new AbortController();
  sampling = controller;
  button.disabled = true;
  announce(`Synthesising a sample of ${entry.name}…`);
  try {
    const text = SAMPLES[primary(entry.language)] || SAMPLES.en;
    const response = await api("/murmur/api/speak-test", {
      method: "POST", body: JSON.stringify({ text, voice: entry.voice }), signal: controller.signal,
    });
    if (!response.ok) {
      announce(`No sample of ${entry.name}: ${await errorText(response)}`);
      return;
    }
    player.src = URL.createObjectURL(await response.blob());
    player.dataset.voice = entry.voice;
    await player.play().catch(() => {});
    announce(`Playing a sample of ${entry.name}.`);
  } catch (error) {
    if (error.name !== "AbortError") announce(`No sample of ${entry.name}: ${error.message}`);
  } finally {
    button.disabled = false;
    if (sampling === controller) sampling = null;
  }
}

async function uninstall(entry, button) {
  button.disabled = true;
  const response = await api(`/murmur/api/voices/${encodeURIComponent(entry.id)}`, { method: "DELETE" });
  announce(response.ok ? `Removed ${entry.name}.` : `Not removed: ${await errorText(response)}`);
  installs.delete(entry.id);
  await refreshVoices();
}

// ---- the catalog --------------------------------------------------------------------------------

function renderLanguages() {
  const select = $("catalog-language");
  const kept = select.value;
  const tags = [...new Set(listing.voices.map((v) => v.language).filter(Boolean))]
    .sort((a, b) => languageName(a).localeCompare(languageName(b)));
  select.replaceChildren(el("option", { value: "" }, "All languages"),
    ...tags.map((tag) => el("option", { value: tag }, `${languageName(tag)} (${tag})`)));
  if (tags.includes(kept)) select.value = kept;
  $("catalog-count").textContent = listing.voices.length
    ? `${listing.voices.filter((v) => !v.installed).length} more to install` : "";
}

function matches(entry, words, language) {
  if (language && entry.language !== language) return false;
  const text = `${entry.id} ${entry.name} ${entry.language || ""} ${languageName(entry.language)} ${entry.gender || ""}`.toLowerCase();
  return words.every((w) => text.includes(w));
}

function renderCatalog() {
  if (!listing) return;
  const words = $("catalog-search").value.toLowerCase().split(/\s+/).filter(Boolean);
  const language = $("catalog-language").value;
  const shown = listing.voices.filter((v) => matches(v, words, language));
  const rows = shown.slice(0, 200).map(catalogRow);
  $("catalog-list").replaceChildren(...rows);
  const all = listing.voices.length;
  $("catalog-shown").textContent = shown.length === all
    ? `${all} ${all === 1 ? "voice" : "voices"}` : `${shown.length} of ${all} voices`;
  if (downloading()) pollInstalls();
}

function catalogRow(entry) {
  const install = installs.get(entry.id);
  const details = [languageName(entry.language), entry.gender, entry.quality, mb(entry.size)].filter(Boolean).join(" · ");
  const item = el("li", { className: "catalog-row", "data-voice": entry.id },
    el("div", { className: "catalog-name" }, el("strong", {}, entry.name), el("span", { className: "muted" }, ` ${details}`)));
  if (install && install.state === "downloading") {
    const bar = el("progress", { max: install.total || 1, value: install.done, "aria-label": `Downloading ${entry.name}` });
    if (!install.total) bar.removeAttribute("value");
    const cancel = el("button", { type: "button", className: "secondary", "aria-label": `Cancel installing ${entry.name}` }, "Cancel");
    cancel.addEventListener("click", () => api(`/murmur/api/voices/${encodeURIComponent(entry.id)}/install`, { method: "DELETE" }));
    item.append(el("div", { className: "catalog-progress" }, bar,
      el("span", { className: "muted" }, install.total ? `${mb(install.done)} of ${mb(install.total)}` : mb(install.done)), cancel));
    return item;
  }
  if (entry.installed) {
    item.append(el("span", { className: "installed-mark" }, "Installed"));
    return item;
  }
  if (install && install.state === "failed") {
    item.append(el("p", { className: "error" }, install.error || "The download failed."));
  }
  const button = el("button", { type: "button", "aria-label": `Install ${entry.name} (${entry.language || entry.id})` },
    install && install.state === "failed" ? "Try again" : "Install");
  button.addEventListener("click", () => install_(entry, button));
  item.append(button);
  return item;
}

async function install_(entry, button) {
  button.disabled = true;
  const response = await api(`/murmur/api/voices/${encodeURIComponent(entry.id)}/install`, { method: "POST" });
  if (!response.ok) {
    button.disabled = false;
    announce(`Could not install ${entry.name}: ${await errorText(response)}`);
    return;
  }
  const install = await response.json();
  // Events may have overtaken the answer: keep the newest.
  const seen = installs.get(entry.id);
  if (!seen || seen.state !== "downloading" || install.state !== "downloading" || install.done >= seen.done) {
    installs.set(entry.id, install);
  }
  if (install.state === "downloading") requested.add(entry.id);
  announce(`Installing ${entry.name}…`);
  if (install.state === "installed") refreshVoices();
  else renderCatalog();
}
