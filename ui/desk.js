// The Dictation card (the desktop app only; murmurd has no keyboard or microphone of its
// own): the shortcuts in words, the microphone's live level, and the dictation history with
// copy, insert again and delete. The settings form's shortcut fields take the keys pressed.

import { $, api, errorText } from "./api.js";

let shown = false;

/** Show the card and the desk's settings when `about.desk`; hide them otherwise. */
export function initDesk(about) {
  shown = Boolean(about && about.desk);
  $("desk-card").hidden = !shown;
  for (const node of document.querySelectorAll("[data-desk]")) node.hidden = !shown;
  for (const input of document.querySelectorAll("[data-shortcut]")) captureKeys(input);
  if (!shown) return;
  $("desk-clear").addEventListener("click", clearHistory);
  refreshDesk();
  microphones();
  setInterval(() => {
    if (document.visibilityState === "visible") level();
  }, 250);
}

/** The shortcuts as the settings have them. */
export function deskFollows(settings) {
  if (!shown || !settings) return;
  const d = settings.dictation || {};
  const r = settings.read_aloud || {};
  const parts = [];
  if (d.enabled !== false) parts.push(`Dictate: ${d.mode === "toggle" ? "press" : "hold"} ${d.shortcut}`);
  if (r.enabled !== false) parts.push(`Read the selection aloud: ${r.shortcut}`);
  $("desk-keys").textContent = parts.length ? parts.join(" · ") : "Dictation and read aloud are off.";
  refreshDesk();
}

const KEY_NAMES = { " ": "Space", ".": "Period", ",": "Comma", "/": "Slash", ";": "Semicolon", "-": "Minus", "=": "Equal" };

/** A keydown as Murmur writes shortcuts (`Ctrl+Alt+Space`), or null for a lone modifier. */
function shortcutOf(event) {
  const code = event.code || "";
  let key = null;
  if (/^Key[A-Z]$/.test(code)) key = code.slice(3);
  else if (/^Digit[0-9]$/.test(code)) key = code.slice(5);
  else if (/^F([1-9]|1[0-9]|2[0-4])$/.test(code)) key = code;
  else if (code === "Space" || KEY_NAMES[event.key]) key = code === "Space" ? "Space" : KEY_NAMES[event.key];
  else if (["Enter", "Tab", "Backspace", "Insert", "Delete", "Home", "End", "PageUp", "PageDown",
    "Pause", "ScrollLock", "Backquote", "Quote", "Backslash", "BracketLeft", "BracketRight"].includes(code)) key = code;
  else if (code.startsWith("Arrow")) key = code.slice(5);
  if (!key) return null;
  const mods = [];
  if (event.ctrlKey) mods.push("Ctrl");
  if (event.altKey) mods.push("Alt");
  if (event.shiftKey) mods.push("Shift");
  if (event.metaKey) mods.push("Super");
  return [...mods, key].join("+");
}

function captureKeys(input) {
  input.addEventListener("keydown", (event) => {
    if (event.key === "Tab" && !event.ctrlKey && !event.altKey && !event.metaKey) return;
    event.preventDefault();
    if (event.key === "Escape") {
      input.blur();
      return;
    }
    const shortcut = shortcutOf(event);
    if (shortcut) input.value = shortcut;
  });
}

async function microphones() {
  const response = await api("/murmur/api/desk").catch(() => null);
  if (!response || !response.ok) return;
  const desk = await response.json();
  showWays(desk);
  const select = $("s-d-microphone");
  const picked = select.value;
  const names = [...new Set([...desk.microphones, ...(picked ? [picked] : [])])];
  select.replaceChildren(new Option("The system's default", ""), ...names.map((n) => new Option(n, n)));
  select.value = picked;
}

/** How shortcuts and text go on this desktop (Wayland's limits in plain words). */
function showWays(desk) {
  const ways = $("desk-ways");
  if (desk.ways && ways.textContent !== desk.ways) ways.textContent = desk.ways;
}

async function level() {
  const response = await api("/murmur/api/desk").catch(() => null);
  if (!response || !response.ok) return;
  const desk = await response.json();
  showWays(desk);
  $("desk-level").value = desk.level ?? 0;
  $("desk-level-note").textContent = desk.level == null
    ? "closed until you dictate (no pre-roll)" : "";
}

function when(ms) {
  return new Date(ms).toLocaleString(undefined, { dateStyle: "short", timeStyle: "short" });
}

function button(label, action) {
  const b = document.createElement("button");
  b.type = "button";
  b.className = "secondary";
  b.textContent = label;
  b.addEventListener("click", action);
  return b;
}

async function refreshDesk() {
  const response = await api("/murmur/api/dictations").catch(() => null);
  if (!response || !response.ok) return;
  const { history, dictations } = await response.json();
  const list = $("desk-history");
  list.replaceChildren(...dictations.map((d) => {
    const item = document.createElement("li");
    const text = document.createElement("p");
    text.textContent = d.text;
    const meta = document.createElement("span");
    meta.className = "muted";
    const where = { pasted: "pasted", typed: "typed", on_clipboard: "left on the clipboard" }[d.outcome] || d.outcome;
    meta.textContent = `${when(d.at_ms)} · ${d.audio_secs.toFixed(1)} s said · text in ${Math.round(d.text_ms)} ms · ${where}`;
    const actions = document.createElement("div");
    actions.className = "actions";
    actions.append(
      button("Copy", () => copyText(d.text)),
      button("Insert again", () => insertAgain(d.id)),
      button("Delete", () => remove(d.id)),
    );
    item.append(text, meta, actions);
    return item;
  }));
  $("desk-history-note").textContent = !history
    ? "The history is off: dictations are not kept."
    : dictations.length ? "" : "No dictations yet.";
  $("desk-clear").disabled = dictations.length === 0;
}

function say(text, error = false) {
  $("desk-result").className = error ? "error" : "";
  $("desk-result").textContent = text;
}

async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    say("Copied.");
  } catch (_) {
    say("The browser would not copy: select the text and copy it.", true);
  }
}

async function insertAgain(id) {
  const response = await api(`/murmur/api/dictations/${id}/insert`, { method: "POST" });
  if (!response.ok) return say(await errorText(response, "Not inserted"), true);
  const { delay_ms: delay } = await response.json();
  say(`Click where it goes: it is inserted in ${Math.round(delay / 1000)} s.`);
}

async function remove(id) {
  const response = await api(`/murmur/api/dictations/${id}`, { method: "DELETE" });
  if (!response.ok) return say(await errorText(response, "Not deleted"), true);
  say("Deleted.");
  refreshDesk();
}

async function clearHistory() {
  const response = await api("/murmur/api/dictations", { method: "DELETE" });
  if (!response.ok) return say(await errorText(response, "Not cleared"), true);
  say("The history is cleared.");
  refreshDesk();
}

/** Activity shows dictations: the page follows new ones too. */
export function deskRefresh() {
  if (shown) refreshDesk();
}
