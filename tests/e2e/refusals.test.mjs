// Refusals arrive: Node's own fetch (undici, as OpenClaw's CLI uses it) sends bodies Murmur
// refuses — a 2 MB upload over the transcription limit, a 2 MB speech body over the request
// limit, a 2 MB upload with the wrong API key — 50 times each, and every one gets its status
// and OpenAI's error JSON: no "fetch failed", no reset.

import { test } from "node:test";
import assert from "node:assert/strict";
import { start, stop, config } from "./lib/murmurd.mjs";

const TRIES = 50;
const upload = () => {
  const form = new FormData();
  form.append("model", "whisper-1");
  form.append("file", new Blob([new Uint8Array(2 * 1024 * 1024).fill(7)], { type: "audio/ogg" }), "memo.ogg");
  return form;
};
const speech = () => JSON.stringify({ input: "x".repeat(2 * 1024 * 1024), voice: "alloy" });

async function outcomes(url, init) {
  const seen = {};
  for (let i = 0; i < TRIES; i++) {
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
