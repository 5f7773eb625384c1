// Activity: the last client requests as they arrive (time, client, format, the audio a
// transcription carried, status, first audio, duration) and the speech and transcription
// counts and latency, from GET /murmur/api/metrics.

import { $, api } from "./api.js";

let newest = null;

function ms(value) {
  if (value == null) return "—";
  return value >= 1000 ? `${(value / 1000).toFixed(1)} s` : `${Math.round(value)} ms`;
}

function client(agent) {
  if (!agent || agent === "-") return "unknown";
  return agent.length > 40 ? `${agent.slice(0, 39)}…` : agent;
}

function cell(text, className, title) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  if (title) td.title = title;
  return td;
}

export async function refreshActivity() {
  let metrics;
  try {
    const response = await api("/murmur/api/metrics");
    if (!response.ok) return;
    metrics = await response.json();
  } catch (_) {
    return;
  }
  const speech = metrics.requests.filter((r) => r.route === "/v1/audio/speech");
  const count = speech.reduce((n, r) => n + r.count, 0);
  const failed = speech.filter((r) => r.status >= 400).reduce((n, r) => n + r.count, 0);
  const total = speech.reduce((n, r) => n + r.total_ms, 0);
  const slowest = speech.reduce((n, r) => Math.max(n, r.max_ms), 0);
  const TRANSCRIBING = ["/v1/audio/transcriptions", "/v1/audio/translations", "wyoming transcribe"];
  const heard = metrics.requests.filter((r) => TRANSCRIBING.includes(r.route));
  const heardCount = heard.reduce((n, r) => n + r.count, 0);
  const heardFailed = heard.filter((r) => r.status >= 400).reduce((n, r) => n + r.count, 0);
  const others = metrics.requests.filter((r) => !r.route.startsWith("/murmur") && r.route !== "/v1/audio/speech"
    && !TRANSCRIBING.includes(r.route)).reduce((n, r) => n + r.count, 0);
  $("activity-summary").textContent = count || others || heardCount
    ? [`${count} speech ${count === 1 ? "request" : "requests"}`, failed ? `${failed} failed` : null,
      count ? `${ms(total / count)} on average, slowest ${ms(slowest)}` : null,
      heardCount ? `${heardCount} ${heardCount === 1 ? "transcription" : "transcriptions"}${heardFailed ? ` (${heardFailed} failed)` : ""}` : null,
      `${(metrics.response_bytes / 1e6).toFixed(1)} MB sent`, others ? `${others} other` : null].filter(Boolean).join(" · ")
    : "No requests yet. Point a client at the address above, or press Play.";

  const latest = metrics.recent[0];
  const key = latest ? `${latest.at_ms}-${latest.path}-${metrics.recent.length}` : null;
  if (key === newest) return;
  newest = key;
  const rows = metrics.recent.slice(0, 20).map((r) => {
    const tr = document.createElement("tr");
    const time = new Date(r.at_ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
    tr.append(
      cell(time),
      cell(client(r.agent), "agent", r.agent),
      cell(r.format || (/transcri|translat/.test(r.path) ? "transcript" : r.path), null, `${r.method} ${r.path}`),
      cell(r.audio_secs != null ? `${r.audio_secs.toFixed(1)} s ${r.audio_format}` : "—"),
      cell(r.complete || r.status >= 400 ? String(r.status) : `${r.status}, left early`, r.status >= 400 ? "bad" : null),
      cell(r.format ? ms(r.first_byte_ms) : "—"),
      cell(ms(r.total_ms)),
    );
    return tr;
  });
  $("activity-rows").replaceChildren(...rows);
}
