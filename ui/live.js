// Words while recording: the page's microphone streamed to Murmur's live transcription
// (/v1/realtime?intent=transcription, the route voice agents use), and the words shown as the
// engine decides them. Murmur's VAD cuts the recording into turns; each turn's deltas, then its
// transcript, are shown in order. The recording itself is still uploaded when Stop is pressed
// (the Transcript card); these words are what one sees while speaking.
//
// The desktop window reaches Murmur over IPC, not HTTP, and a page cannot give an API key
// (`proxy.api_key`) it does not know: there the live line stays hidden and Record works as
// before.

import { $, TAURI } from "./api.js";

const RATE = 24000;

/** Start streaming `source` (of `context`); returns `stop()`, or null when it cannot run. */
export function startLive(context, source) {
  const line = $("live-words");
  line.textContent = "";
  line.hidden = true;
  if (TAURI || typeof WebSocket === "undefined") return null;
  const url = `${location.origin.replace(/^http/, "ws")}/v1/realtime?intent=transcription`;
  let socket;
  try {
    socket = new WebSocket(url, ["realtime"]);
  } catch {
    return null;
  }
  const turns = new Map(); // item id → its text so far, in the order turns began
  const show = () => {
    const text = [...turns.values()].join(" ").trim();
    line.hidden = !text;
    line.textContent = text;
  };
  socket.onopen = () => {
    socket.send(JSON.stringify({
      type: "session.update",
      session: {
        type: "transcription",
        audio: { input: { format: { type: "audio/pcm", rate: RATE }, turn_detection: { type: "server_vad" } } },
      },
    }));
  };
  socket.onmessage = (message) => {
    let event;
    try {
      event = JSON.parse(message.data);
    } catch {
      return;
    }
    if (event.type === "conversation.item.input_audio_transcription.delta") {
      turns.set(event.item_id, (turns.get(event.item_id) || "") + event.delta);
      show();
    } else if (event.type === "conversation.item.input_audio_transcription.completed") {
      turns.set(event.item_id, event.transcript);
      show();
    }
  };
  // The microphone's samples, resampled to 24 kHz 16-bit and appended as they come.
  const node = context.createScriptProcessor(2048, 1, 1);
  const step = context.sampleRate / RATE;
  let position = 0; // where the next output sample falls in the input, carried across blocks
  node.onaudioprocess = (event) => {
    if (socket.readyState !== WebSocket.OPEN) return;
    const input = event.inputBuffer.getChannelData(0);
    const out = new Int16Array(Math.ceil((input.length - position) / step));
    let n = 0;
    for (; position < input.length; position += step) {
      const j = Math.floor(position);
      const a = input[j];
      const b = j + 1 < input.length ? input[j + 1] : a;
      const v = Math.max(-1, Math.min(1, a + (b - a) * (position - j)));
      out[n++] = v < 0 ? v * 0x8000 : v * 0x7fff;
    }
    position -= input.length;
    const bytes = new Uint8Array(out.buffer, 0, n * 2);
    let binary = "";
    for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    socket.send(JSON.stringify({ type: "input_audio_buffer.append", audio: btoa(binary) }));
  };
  source.connect(node);
  node.connect(context.destination); // it runs only when connected; its output is silence
  return () => {
    node.disconnect();
    if (socket.readyState === WebSocket.OPEN) socket.close(1000);
    else socket.onopen = () => socket.close(1000);
  };
}
