// Refusals arrive: Node's own fetch (undici, as OpenClaw's CLI uses it) sends bodies Murmur
// refuses — a 2 MB upload over the transcription limit, a 2 MB speech body over the request
// limit, a 2 MB upload with the wrong API key — 50 times each, and every one gets its status
// and OpenAI's error JSON: no "fetch failed", no reset.

import { test } from "node:test";
import assert from "node:assert/strict";
import { start, stop, config, status } from "./lib/murmurd.mjs";

const TRIES = 50;
const upload = () => {
  const form = new FormData();
  form.append("model", "whisper-1");
  form.append("file", new Blob([new Uint8Array(2 * 1024 * 1024).fill(7)], { type: "audio/ogg" }), "memo.ogg");
  return form;
};
const speech = () => JSON.stringify({ input: "x".repeat(2 * 1024 * 1024), voice: "alloy" });

async function outcomes(url, init, tries = TRIES) {
  const seen = {};
  for (let i = 0; i < tries; i++) {
    let key;
    try {
      const response = await fetch(url, init());
      const body = await response.json();
      key = `${response.status} ${body.error?.code}`;
    } catch (error) {
      key = `failed: ${error.cause?.code || error.message}`;
    }
    seen[key] = (seen[key] || 0) + 1;
  }
  return seen;
}

test("every refusal reaches Node's fetch as a response", async () => {
  const m = await start(config([], "[transcription]\nmax_upload_mb = 1\n[proxy]\napi_key = \"sk-right\"\n"));
  try {
    const auth = { Authorization: "Bearer sk-right" };
    assert.deepEqual(
      await outcomes(`${m.base}/v1/audio/transcriptions`, () => ({ method: "POST", headers: auth, body: upload() })),
      { "413 request_too_large": TRIES },
    );
    assert.deepEqual(
      await outcomes(`${m.base}/v1/audio/speech`, () => ({
        method: "POST", headers: { ...auth, "Content-Type": "application/json" }, body: speech(),
      })),
      { "413 request_too_large": TRIES },
    );
    assert.deepEqual(
      await outcomes(`${m.base}/v1/audio/transcriptions`, () => ({
        method: "POST", headers: { Authorization: "Bearer sk-wrong" }, body: upload(),
      })),
      { "401 invalid_api_key": TRIES },
    );
  } finally {
    await stop(m.child);
  }
});

// Bad uploads, as a Node client sends them: each its 4xx in OpenAI's shape every time, none
// starting the transcription engine, and murmurd's memory flat across them (30 MB uploads
// included).
test("bad uploads are refused to Node's fetch without waking the engine or growing memory", async () => {
  const { readFileSync } = await import("node:fs");
  const rss = (pid) => Number(readFileSync(`/proc/${pid}/status`, "utf8").match(/VmRSS:\s+(\d+)/)[1]) / 1024;
  const m = await start(config([], "[supervisor]\nauto_start = false\n"));
  try {
    const zip = new Uint8Array(2048);
    zip.set([0x50, 0x4b, 0x03, 0x04]);
    const random = new Uint8Array(65536).map(() => Math.floor(Math.random() * 256));
    const cases = [
      ["random.mp3", random, "400 invalid_audio"],
      ["archive.mp3", zip, "400 invalid_audio"],
      ["empty.wav", new Uint8Array(0), "400 empty_file"],
      ["huge.wav", new Uint8Array(30 * 1024 * 1024).fill(1), "413 request_too_large"],
    ];
    const upload = (name, bytes) => () => {
      const form = new FormData();
      form.append("model", "whisper-1");
      form.append("file", new Blob([bytes], { type: "audio/mpeg" }), name);
      return { method: "POST", body: form };
    };
    // One round first, so what the allocator keeps after its first large upload is the baseline.
    for (const [name, bytes] of cases) await outcomes(`${m.base}/v1/audio/transcriptions`, upload(name, bytes), 1);
    const before = rss(m.child.pid);
    for (const [name, bytes, expected] of cases) {
      assert.deepEqual(
        await outcomes(`${m.base}/v1/audio/transcriptions`, upload(name, bytes), 10),
        { [expected]: 10 },
        name,
      );
    }
    const after = rss(m.child.pid);
    console.log(`murmurd RSS ${before.toFixed(0)} → ${after.toFixed(0)} MB over 40 bad uploads`);
    assert.ok(after - before < 40, `memory grew ${before.toFixed(0)} → ${after.toFixed(0)} MB`);
    const s = await status(m);
    assert.equal(s.transcription.state, "stopped", "nothing reached the transcription engine");
  } finally {
    await stop(m.child);
  }
});
