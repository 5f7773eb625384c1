// Test speech: speaks the text through /murmur/api/speak-test and plays it. It knows the
// engine: while it warms up it says so and counts, then reports the warm-up and the synthesis
// apart; it can be cancelled, its audio downloaded; Play waits while it is busy.

import { $, api, errorText } from "./api.js";

const WARMING = ["provisioning", "starting", "backoff"];
const DOWN = ["stopped", "idle"];

let hooks = null;
let busy = null;

/** `given.state()` → the engine's state now (null when Murmur is not reachable). */
export function initSpeak(given) {
  hooks = given;
  $("speak").addEventListener("submit", (event) => {
    event.preventDefault();
    speak();
  });
  $("cancel-speak").addEventListener("click", () => {
    if (!busy) return;
    busy.cancelled = true;
    busy.controller.abort();
    finish("Cancelled.", false);
  });
}

/** Whether a test is under way (Play stays disabled). */
export function speakBusy() {
  return busy !== null;
}

/** Called with each status: notes when a waited-for engine became ready. */
export function speakFollows(status) {
  if (busy && !busy.readyAt && status.state === "ready") busy.readyAt = performance.now();
  if (busy) waitingText();
}

function show(text, isError) {
  const result = $("speak-result");
  result.textContent = text;
  result.className = isError ? "error" : "muted";
}

function waitingText() {
  if (!busy || busy.readyAt || !busy.waited) return;
  const seconds = Math.round((performance.now() - busy.started) / 1000);
  show(busy.starting ? `Starting the engine (${seconds} s)…` : `Waiting for the engine (${seconds} s)…`, false);
}

function finish(text, isError) {
  if (busy) clearInterval(busy.ticker);
  busy = null;
  $("play").disabled = false;
  $("cancel-speak").hidden = true;
  $("speak-spinner").hidden = true;
  if (text != null) show(text, isError);
}

function seconds(ms) {
  return ms >= 10000 ? `${Math.round(ms / 1000)} s` : `${(ms / 1000).toFixed(1)} s`;
}

async function speak() {
  if (busy) return;
  const state = hooks.state();
  if (state === null) return show("Murmur is not running: start it, then try again.", true);
  if (state === "failed") return show("The engine has failed: restart it (above), then try again.", true);
  const body = { text: $("speak-text").value, speed: Number($("speak-speed").value) || 1 };
  if ($("speak-voice").value) body.voice = $("speak-voice").value;
  const controller = new AbortController();
  const waited = WARMING.includes(state) || DOWN.includes(state);
  busy = {
    controller, started: performance.now(), readyAt: null, waited, starting: DOWN.includes(state), cancelled: false,
  };
  const mine = busy;
  $("play").disabled = true;
  $("cancel-speak").hidden = false;
  $("speak-spinner").hidden = false;
  $("download-speech").hidden = true;
  if (waited) {
    waitingText();
    busy.ticker = setInterval(waitingText, 1000);
  } else {
    show("Synthesising…", false);
  }
  let response;
  try {
    response = await api("/murmur/api/speak-test", { method: "POST", body: JSON.stringify(body), signal: controller.signal });
  } catch (error) {
    if (!mine.cancelled) finish(error.name === "AbortError" ? "Cancelled." : `Murmur did not answer: ${error.message}`, error.name !== "AbortError");
    return;
  }
  if (mine.cancelled) return; // the desktop window's IPC cannot be aborted: its answer is dropped
  if (!response.ok) return finish(await errorText(response), true);
  const audio = await response.blob();
  const readyAt = mine.readyAt || (mine.waited ? performance.now() : mine.started);
  const url = URL.createObjectURL(audio);
  const download = $("download-speech");
  download.href = url;
  download.hidden = false;
  const player = $("player");
  player.hidden = false;
  player.src = url;
  finish(null);
  show("Synthesised: playing…", false);
  player.onplaying = () => {
    const first = `First audio after ${Math.round(performance.now() - readyAt)} ms`;
    show(mine.waited ? `Warm-up ${seconds(readyAt - mine.started)} · ${first.toLowerCase()}.` : `${first}.`, false);
    player.onplaying = null;
  };
  await player.play().catch(() => show("Ready: press play.", false));
}
