// Test transcription: Record (the microphone, with a level meter, a time counter and the
// words as they are spoken — live.js; Stop sends the recording) or Transcribe a file (picked or dropped on the card), through
// /murmur/api/transcribe-test — the proxy's transcription path, as a client's upload takes it.
// The Transcript shows the text, the language heard, the audio's length and the engine's
// time, with Copy. While the model downloads it says so with progress; a refused or missing
// microphone gets a sentence saying what to do, not an exception.

import { $, TAURI, errorText, languageName, upload } from "./api.js";
import { copy } from "./connect.js";
import { startLive } from "./live.js";
import { refreshModels } from "./models.js";

const DOWN = ["stopped", "idle"];
const WARMING = ["provisioning", "starting", "backoff"];

let transcription = null; // the transcription engine's status, as last seen
let recording = null;
let busy = false;

/** Called with each status (`null` when transcription is off). */
export function listenFollows(status) {
  transcription = status;
  $("listen-card").hidden = !status;
  if (busy) waiting();
}

function show(text, isError = false) {
  const result = $("listen-result");
  result.textContent = text;
  result.className = isError ? "error" : "muted";
}

/** While a transcription waits for its engine: what the engine is doing, with the model
 * download's bytes when that is what it is doing. */
function waiting() {
  const t = transcription;
  const bar = $("listen-progress");
  if (!t || !(WARMING.includes(t.state) || DOWN.includes(t.state))) {
    bar.hidden = true;
    if (busy) show("Transcribing…");
    return;
  }
  const w = t.warmup || {};
  const bytes = w.unit === "bytes" && w.total;
  bar.hidden = !bytes;
  if (bytes) {
    bar.max = w.total;
    bar.value = w.done || 0;
    show(`Downloading the transcription model: ${Math.round((w.done || 0) / 1e6)} of ${Math.round(w.total / 1e6)} MB…`);
  } else {
    show(`Loading the transcription model${w.message ? ` (${w.message})` : ""}…`);
  }
}

const clock = (secs) => `${Math.floor(secs / 60)}:${String(Math.floor(secs % 60)).padStart(2, "0")}`;

/** What to say when the microphone cannot be had. */
function microphoneProblem(error) {
  const where = TAURI
    ? "your system's privacy settings (Murmur needs the microphone)"
    : "the microphone icon in the browser's address bar, or the site settings";
  switch (error && error.name) {
    case "NotAllowedError":
    case "SecurityError":
      return `Murmur cannot hear you: the microphone was refused. Allow it in ${where}, then press Record again — or transcribe a file instead.`;
    case "NotFoundError":
    case "OverconstrainedError":
      return "No microphone was found. Plug one in (or choose one in your system's sound settings), then press Record again — or transcribe a file instead.";
    case "NotReadableError":
      return "The microphone is busy or not working (another program may be using it). Close that program, then press Record again.";
    default:
      return `The microphone could not be opened (${(error && error.message) || "no reason given"}). Try again, or transcribe a file instead.`;
  }
}

async function record() {
  if (busy) return;
  if (recording) return stop();
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    return show("This window cannot use a microphone. Transcribe a file instead.", true);
  }
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ audio: true });
  } catch (error) {
    return show(microphoneProblem(error), true);
  }
  try {
    const context = new AudioContext();
    const source = context.createMediaStreamSource(stream);
    const analyser = context.createAnalyser();
    analyser.fftSize = 1024;
    source.connect(analyser);
    const samples = new Float32Array(analyser.fftSize);
    const started = performance.now();
    recording = { recorder: encoder(stream, context, source), stream, context, started, live: startLive(context, source) };
    const meter = () => {
      if (!recording) return;
      analyser.getFloatTimeDomainData(samples);
      let sum = 0;
      for (const s of samples) sum += s * s;
      $("level").value = Math.min(1, Math.sqrt(sum / samples.length) * 4);
      $("record-time").textContent = clock((performance.now() - started) / 1000);
      recording.frame = requestAnimationFrame(meter);
    };
    $("record").textContent = "Stop";
    $("level").hidden = false;
    $("record-time").hidden = false;
    $("record-time").textContent = "0:00";
    show("Recording… press Stop when you are done.");
    meter();
  } catch (error) {
    for (const track of stream.getTracks()) track.stop();
    recording = null;
    show(`Recording could not start (${error.message}). Transcribe a file instead.`, true);
  }
}

/** What records: the browser's MediaRecorder as WebM/Opus (or Ogg) where it has one, else the
 * microphone's samples kept as they come and written as a 16 kHz WAV. Never MP4: WebKitGTK
 * with GStreamer's libav plugins records AAC that Murmur's decoder refuses ("coupling channel
 * element"), and WebKitGTK without them has MediaRecorder and no encoders at all.
 * `stop()` resolves with the recording and its name. */
function encoder(stream, context, source) {
  const type = typeof MediaRecorder === "undefined" ? undefined
    : ["audio/webm;codecs=opus", "audio/ogg;codecs=opus", "audio/webm"].find((t) => MediaRecorder.isTypeSupported(t));
  if (type) {
    const recorder = new MediaRecorder(stream, { mimeType: type });
    const chunks = [];
    recorder.ondataavailable = (event) => event.data.size && chunks.push(event.data);
    recorder.start(250);
    return {
      stop: () => new Promise((resolve) => {
        recorder.onstop = () => {
          const extension = type.includes("ogg") ? "ogg" : "webm";
          resolve({ audio: new Blob(chunks, { type: recorder.mimeType || type }), name: `recording.${extension}` });
        };
        recorder.stop();
      }),
    };
  }
  const node = context.createScriptProcessor(4096, 1, 1);
  const chunks = [];
  node.onaudioprocess = (event) => chunks.push(new Float32Array(event.inputBuffer.getChannelData(0)));
  source.connect(node);
  node.connect(context.destination); // it runs only when connected; its output is silence
  return {
    stop: async () => {
      node.disconnect();
      return { audio: wav(chunks, context.sampleRate, 16000), name: "recording.wav" };
    },
  };
}

/** Float samples at `rate` as a 16-bit mono WAV at `to` Hz (linear interpolation). */
function wav(chunks, rate, to) {
  const length = chunks.reduce((n, c) => n + c.length, 0);
  const all = new Float32Array(length);
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.length;
  }
  const count = Math.floor((length * to) / rate);
  const out = new DataView(new ArrayBuffer(44 + count * 2));
  const text = (offset, s) => [...s].forEach((ch, i) => out.setUint8(offset + i, ch.charCodeAt(0)));
  text(0, "RIFF");
  out.setUint32(4, 36 + count * 2, true);
  text(8, "WAVE");
  text(12, "fmt ");
  out.setUint32(16, 16, true);
  out.setUint16(20, 1, true);
  out.setUint16(22, 1, true);
  out.setUint32(24, to, true);
  out.setUint32(28, to * 2, true);
  out.setUint16(32, 2, true);
  out.setUint16(34, 16, true);
  text(36, "data");
  out.setUint32(40, count * 2, true);
  for (let i = 0; i < count; i += 1) {
    const x = (i * rate) / to;
    const j = Math.floor(x);
    const a = all[j] || 0;
    const b = all[Math.min(j + 1, length - 1)] || 0;
    const v = Math.max(-1, Math.min(1, a + (b - a) * (x - j)));
    out.setInt16(44 + i * 2, v < 0 ? v * 0x8000 : v * 0x7fff, true);
  }
  return new Blob([out.buffer], { type: "audio/wav" });
}

async function stop() {
  const { recorder, stream, context, frame, live } = recording;
  recording = null;
  cancelAnimationFrame(frame);
  if (live) live();
  const { audio, name } = await recorder.stop();
  for (const track of stream.getTracks()) track.stop();
  context.close().catch(() => {});
  $("record").textContent = "Record";
  $("level").hidden = true;
  if (audio.size <= 44) return show("Nothing was recorded: check that the microphone is on, then try again.", true);
  await transcribe(audio, name);
}

/** Send `audio` as `name` and show what the engine heard. */
async function transcribe(audio, name) {
  if (busy) return;
  busy = true;
  $("record").disabled = true;
  $("transcribe-file").disabled = true;
  $("listen-spinner").hidden = false;
  waiting();
  const form = new FormData();
  form.append("file", audio, name);
  form.append("response_format", "verbose_json");
  const sent = performance.now();
  try {
    const response = await upload("/murmur/api/transcribe-test", form);
    if (!response.ok) return show(await errorText(response, "Not transcribed"), true);
    showTranscript(await response.json(), performance.now() - sent);
    refreshModels(); // the model's speed on this machine, measured now
  } catch (error) {
    if (error.message !== "unauthorized") show(`Murmur did not answer: ${error.message}`, true);
  } finally {
    busy = false;
    $("record").disabled = false;
    $("transcribe-file").disabled = false;
    $("listen-spinner").hidden = true;
    $("listen-progress").hidden = true;
    $("record-time").hidden = true;
  }
}

/** OpenAI's verbose_json names the language ("english"); a code ("en") is named too. */
function language(said) {
  return said.length <= 3 ? languageName(said) : said.charAt(0).toUpperCase() + said.slice(1);
}

function showTranscript(answer, roundTripMs) {
  const t = answer.transcript || {};
  const text = (t.text || "").trim();
  $("transcript-box").hidden = false;
  $("transcript").textContent = text || "(no speech heard)";
  const secs = (ms) => `${(ms / 1000).toFixed(1)} s`;
  const duration = answer.audio_secs ?? t.duration;
  $("transcript-meta").textContent = [
    t.language ? `Language: ${language(t.language)}` : null,
    duration != null ? `audio ${secs(duration * 1000)}` : null,
    answer.audio_format ? answer.audio_format : null,
    answer.engine_ms != null ? `the engine took ${secs(answer.engine_ms)}` : null,
    `${secs(roundTripMs)} in all`,
  ].filter(Boolean).join(" · ");
  show(text ? "Transcribed." : "Transcribed: no speech was heard in it.");
  $("transcript-copied").textContent = "";
}

export function initListen() {
  $("record").addEventListener("click", record);
  $("transcribe-file").addEventListener("change", () => {
    const file = $("transcribe-file").files[0];
    if (file) transcribe(file, file.name);
    $("transcribe-file").value = "";
  });
  $("copy-transcript").addEventListener("click", () => copy($("transcript").textContent, $("transcript"), $("transcript-copied")));
  const card = $("listen-card");
  card.addEventListener("dragover", (event) => {
    if (![...event.dataTransfer.types].includes("Files")) return;
    event.preventDefault();
    card.classList.add("dropping");
  });
  card.addEventListener("dragleave", () => card.classList.remove("dropping"));
  card.addEventListener("drop", (event) => {
    event.preventDefault();
    card.classList.remove("dropping");
    const file = event.dataTransfer.files[0];
    if (file) transcribe(file, file.name);
  });
}
