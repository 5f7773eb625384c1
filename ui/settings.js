// The settings form: the settings file's values (or the defaults Murmur runs on when the file is
// broken), fields for what the chosen engine needs, values overridden for this run marked,
// bad fields marked, described and focused. Saving PUTs the whole object.

import { $, api } from "./api.js";

let settings = null;
let overridden = [];
let onChange = () => {};

export function getPath(object, key) {
  return key.split(".").reduce((o, k) => (o == null ? undefined : o[k]), object);
}

function setPath(object, key, value) {
  const parts = key.split(".");
  const last = parts.pop();
  const target = parts.reduce((o, k) => (o[k] = o[k] || {}), object);
  if (value === undefined) delete target[last];
  else target[last] = value;
}

/** The settings the page knows (the file's, as last loaded or saved). */
export function currentSettings() {
  return settings || {};
}

/** `changed(settings)` runs after every load and successful save. */
export function initSettings(changed) {
  onChange = changed;
  $("s-engine").addEventListener("change", engineFields);
  $("s-t-engine").addEventListener("change", engineFields);
  $("settings").addEventListener("submit", submit);
}

// Only the fields the chosen engines use are shown.
function engineFields() {
  const engine = $("s-engine").value;
  for (const node of document.querySelectorAll("#settings [data-for-engine]")) {
    node.hidden = node.dataset.forEngine !== engine;
  }
  const transcriber = $("s-t-engine").value;
  for (const node of document.querySelectorAll("#settings [data-for-transcriber]")) {
    node.hidden = node.dataset.forTranscriber !== transcriber;
  }
  for (const node of document.querySelectorAll("#settings [data-hide-transcriber]")) {
    node.hidden = node.dataset.hideTranscriber === transcriber;
  }
}

/** The languages the transcription model knows, as the language field's choices (the saved
 * one kept even when the model does not list it). `names` turns a code into words. */
export function transcriptionLanguages(codes, names) {
  const select = $("s-t-language");
  const saved = getPath(settings, "transcription.language") || "";
  const picked = select.value || saved;
  const all = [...new Set([...codes, ...(picked ? [picked] : [])])];
  const options = all.map((code) => new Option(`${names(code)} (${code})`, code))
    .sort((a, b) => a.text.localeCompare(b.text));
  select.replaceChildren(new Option("Detect", ""), ...options);
  select.value = picked;
}

/** Mark the fields this run overrides (a flag or the environment), with what is in effect. */
function markOverridden(about) {
  for (const note of document.querySelectorAll(".field-note")) note.remove();
  for (const key of overridden) {
    const input = document.querySelector(`#settings [data-key="${key}"]`);
    if (!input) continue;
    const note = document.createElement("div");
    note.className = "field-note";
    note.id = `note-${key.replace(/\W/g, "-")}`;
    const port = about && about.api_url && new URL(about.api_url).port;
    note.textContent = key === "proxy.port" && port
      ? `Overridden for this run: Murmur listens on ${port} (set by --port or MURMUR_PORT). The saved value applies without it.`
      : "Overridden for this run by a flag or the environment; the saved value applies without it.";
    input.setAttribute("aria-describedby", note.id);
    input.after(note);
  }
}

export async function loadSettings(about) {
  const response = await api("/murmur/api/settings");
  const body = await response.json();
  const broken = response.status === 409 && body.error && body.error.code === "config_broken";
  $("config-error").hidden = !broken;
  if (broken) {
    // Show the defaults Murmur runs on; saving them replaces the broken file.
    $("config-error-message").textContent = body.error.message;
    const defaults = await api("/murmur/api/settings/defaults");
    settings = defaults.ok ? (await defaults.json()).settings : {};
    overridden = [];
  } else {
    settings = body.settings;
    overridden = body.overridden || [];
  }
  for (const input of document.querySelectorAll("#settings [data-key]")) {
    const value = getPath(settings, input.dataset.key);
    if (input.type === "checkbox") input.checked = Boolean(value);
    else if (input.hasAttribute("data-list")) input.value = (value || []).join(", ");
    else if (input.hasAttribute("data-lines")) input.value = (value || []).join("\n");
    else input.value = value ?? "";
    // A saved choice the list does not offer (a microphone not plugged in now) is kept.
    if (input.tagName === "SELECT" && value && input.value !== value) {
      input.append(new Option(value, value));
      input.value = value;
    }
  }
  if ($("s-kokoro-model").value === "") $("s-kokoro-model").value = "int8";
  if ($("s-t-engine").value === "") $("s-t-engine").value = "whisper";
  const language = getPath(settings, "transcription.language");
  if (language && $("s-t-language").value !== language) {
    $("s-t-language").append(new Option(language, language));
    $("s-t-language").value = language;
  }
  engineFields();
  markOverridden(about);
  // The form is offered once it holds the file's values: an edit before then would be
  // overwritten, a save would write the empty form over the file.
  $("settings-fields").disabled = false;
  onChange(settings);
}

/** PUT the whole settings object; on success it becomes the page's. */
export async function saveSettings(next) {
  const response = await api("/murmur/api/settings", { method: "PUT", body: JSON.stringify(next) });
  if (response.ok) {
    settings = next;
    $("config-error").hidden = true;
    onChange(settings);
  }
  return response;
}

function clearErrors() {
  for (const old of document.querySelectorAll(".field-error")) old.remove();
  for (const input of document.querySelectorAll("#settings [aria-invalid]")) {
    input.removeAttribute("aria-invalid");
    const note = input.getAttribute("aria-describedby");
    if (note && note.startsWith("error-")) input.removeAttribute("aria-describedby");
  }
}

async function submit(event) {
  event.preventDefault();
  if (!settings || $("settings-save").disabled) return; // not loaded yet, or a save under way
  clearErrors();
  const next = structuredClone(settings);
  for (const input of document.querySelectorAll("#settings [data-key]")) {
    if (input.hidden) continue;
    let value;
    if (input.type === "checkbox") value = input.checked;
    else if (input.hasAttribute("data-list")) value = input.value.split(",").map((s) => s.trim()).filter(Boolean);
    else if (input.hasAttribute("data-lines")) value = input.value.split("\n").map((s) => s.trim()).filter(Boolean);
    else if (input.type === "number") value = input.value === "" ? undefined : Number(input.value);
    else value = input.value.trim() === "" ? undefined : input.value.trim();
    setPath(next, input.dataset.key, value);
  }
  const result = $("settings-result");
  result.className = "";
  result.textContent = "Saving…";
  $("settings-save").disabled = true;
  let response, body;
  try {
    response = await saveSettings(next);
    body = await response.json();
  } finally {
    $("settings-save").disabled = false;
  }
  result.className = response.ok ? "" : "error";
  if (response.status === 422) {
    result.textContent = "Not saved: fix the fields marked below.";
    let first = null;
    for (const { key, message } of body.error.fields) {
      const input = document.querySelector(`#settings [data-key="${key}"]`) || $("s-engine");
      const note = document.createElement("div");
      note.className = "field-error";
      note.textContent = message;
      note.id = `error-${key.replace(/\W/g, "-")}`;
      input.setAttribute("aria-invalid", "true");
      input.setAttribute("aria-describedby", note.id);
      input.after(note);
      first = first || input;
    }
    if (first) first.focus();
    return;
  }
  if (!response.ok) {
    result.textContent = (body.error && body.error.message) || `Not saved (${response.status})`;
    return;
  }
  result.textContent = "Saved." + (body.restarts_engine ? " The engine restarts to apply it." : " Applied without a restart.")
    + (body.restarts_transcription_engine ? " Transcription uses it from the next request." : "")
    + (body.needs_murmur_restart ? " Some changes apply when Murmur restarts." : "");
}
