// Transcription models: Whisper's catalog from GET /murmur/api/transcription-models — each
// model's size on disk, languages (English-only marked), speed on this machine (measured from
// its last transcription, or estimated), whether it is installed; Install with a progress bar
// and Cancel, Remove, Use; the one recommended for this machine marked. Followed by polling
// while an install runs (both transports can poll).

import { $, api, errorText, languageName } from "./api.js";
import { getPath, transcriptionLanguages } from "./settings.js";

let hooks = null;
let listing = null;
let polling = null;

const mb = (bytes) => (bytes >= 1e9 ? `${(bytes / 1e9).toFixed(1)} GB` : `${Math.round(bytes / 1e6)} MB`);

function say(text, isError = false) {
  const status = $("models-status");
  status.textContent = text;
  status.className = isError ? "error" : "muted";
}

/** `given.settings()` → the page's settings; `given.save(next)` → PUT them (a Response). */
export function initModels(given) {
  hooks = given;
}

export async function refreshModels() {
  let response;
  try {
    response = await api("/murmur/api/transcription-models");
  } catch (_) {
    return;
  }
  if (!response.ok) return;
  listing = await response.json();
  render();
  const installing = listing.models.some((m) => m.install && m.install.state === "downloading");
  if (installing && !polling) polling = setInterval(refreshModels, 400);
  if (!installing && polling) {
    clearInterval(polling);
    polling = null;
  }
}

function speedText(speed) {
  if (!speed) return null;
  const s = speed.secs_per_audio_sec;
  const figure = s < 1 ? `${(1 / s).toFixed(s < 0.1 ? 0 : 1)}× faster than speech` : `${s.toFixed(1)} s per second of audio`;
  return `${figure} (${speed.measured ? "measured here" : "estimated"})`;
}

function render() {
  const card = $("models-card");
  card.hidden = !listing || listing.engine === "off";
  if (card.hidden) return;
  const whisper = listing.engine === "whisper";
  const inUse = listing.model;
  $("models-note").textContent = whisper
    ? `Transcription uses ${inUse}. Models are downloaded from Hugging Face once and kept in Murmur's data folder.`
    : `This engine (${listing.engine}) brings its own models: Murmur uses ${inUse || "its default"}.`;
  $("t-model-names").replaceChildren(...listing.models.map((m) => new Option(m.name)));
  const current = listing.models.find((m) => m.configured) || listing.models[0];
  if (current) transcriptionLanguages(current.english_only ? ["en"] : current.languages, languageName);
  const focused = document.activeElement && document.activeElement.closest("#model-list") ? document.activeElement.id : null;
  $("model-list").replaceChildren(...listing.models.map((m) => row(m, whisper)));
  if (focused && $(focused)) $(focused).focus();
}

function row(model, whisper) {
  const li = document.createElement("li");
  li.className = "catalog-row";
  li.dataset.model = model.name;
  const id = model.name.replace(/[^a-z0-9]/gi, "-");
  const name = document.createElement("div");
  name.className = "catalog-name";
  const title = document.createElement("strong");
  title.textContent = model.name;
  name.append(title);
  if (model.name === listing.recommended) {
    const mark = document.createElement("span");
    mark.className = "recommended";
    mark.textContent = " Recommended for this machine";
    name.append(mark);
  }
  if (model.configured) {
    const mark = document.createElement("span");
    mark.className = "installed-mark";
    mark.textContent = " · in use";
    name.append(mark);
  }
  const facts = document.createElement("div");
  facts.className = "muted";
  facts.textContent = [
    model.size_bytes != null ? mb(model.size_bytes) : "size unknown",
    model.english_only ? "English only" : `${model.languages.length} languages`,
    speedText(model.speed),
    model.installed ? "installed" : "not installed",
  ].filter(Boolean).join(" · ");
  name.append(facts);
  li.append(name);
  if (!whisper) return li;

  const install = model.install;
  const downloading = install && install.state === "downloading";
  const button = (label, action, className, aria) => {
    const b = document.createElement("button");
    b.type = "button";
    b.id = `model-${action}-${id}`;
    b.textContent = label;
    if (className) b.className = className;
    b.setAttribute("aria-label", `${aria || label} ${model.name}`);
    b.addEventListener("click", () => act(action, model));
    return b;
  };
  if (downloading) {
    li.append(button("Cancel", "cancel", "secondary", "Cancel installing"));
    const progress = document.createElement("div");
    progress.className = "catalog-progress";
    const bar = document.createElement("progress");
    bar.max = install.total || 1;
    bar.value = install.done || 0;
    bar.setAttribute("aria-label", `Installing ${model.name}`);
    const words = document.createElement("span");
    words.className = "muted";
    words.textContent = install.total ? `${mb(install.done || 0)} of ${mb(install.total)}` : "starting…";
    progress.append(bar, words);
    li.append(progress);
  } else if (!model.installed) {
    li.append(button("Install", "install"));
  } else if (!model.configured) {
    li.append(button("Use", "use", null, "Use"), button("Remove", "remove", "secondary danger"));
  }
  if (!model.installed && !downloading && !model.configured) li.append(button("Use", "use", "secondary", "Use"));
  if (install && install.state === "failed") {
    const error = document.createElement("p");
    error.className = "error";
    error.textContent = `Not installed: ${install.error}`;
    li.append(error);
  }
  return li;
}

async function act(action, model) {
  if (action === "use") return use(model);
  say(action === "install" ? `Installing ${model.name}…` : "");
  const response = await api(`/murmur/api/transcription-models/${action}`, {
    method: "POST", body: JSON.stringify({ model: model.name }),
  }).catch(() => null);
  if (!response) return say("Murmur did not answer.", true);
  if (!response.ok) return say(await errorText(response), true);
  if (action === "cancel") say(`Cancelled: nothing of ${model.name} was kept.`);
  if (action === "remove") say(`Removed ${model.name}.`);
  await refreshModels();
}

/** Make `model` the one transcription uses; it applies from the next transcription. */
async function use(model) {
  const next = structuredClone(hooks.settings());
  next.transcription = { ...(next.transcription || {}), model: model.name };
  const response = await hooks.save(next);
  if (!response.ok) return say(await errorText(response, "Not saved"), true);
  $("s-t-model").value = model.name;
  say(`Transcription uses ${model.name} from the next request${model.installed ? "" : " (it is downloaded first)"}.`);
  await refreshModels();
}

/** The model field follows the settings. */
export function modelsFollow(settings) {
  if (listing && getPath(settings, "transcription.model") !== listing.model) refreshModels();
}
