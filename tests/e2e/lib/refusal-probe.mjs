// The refusals a Node client meets, as a script any Node can run (the system's, and the Node 24
// OpenClaw runs on): `node refusal-probe.mjs BASE_URL` prints, as JSON, what each refused
// request — a 2 MB upload over the transcription limit, a 2 MB speech body over the request
// limit, a 2 MB upload with the wrong API key, a 2 MB upload from a foreign web page's Origin,
// a 2 MB upload to a path the engine does not serve (its early 404, relayed), and a 2 MB upload
// to the control API with a wrong token — got in 50 tries: a status and error code, or the
// failure ("failed: ECONNRESET").

export const TRIES = 50;

const upload = () => {
  const form = new FormData();
  form.append("model", "whisper-1");
  form.append("file", new Blob([new Uint8Array(2 * 1024 * 1024).fill(7)], { type: "audio/ogg" }), "memo.ogg");
  return form;
};
const speech = () => JSON.stringify({ input: "x".repeat(2 * 1024 * 1024), voice: "alloy" });

/** What `tries` requests made by `init()` to `url` got, counted by outcome. */
export async function outcomes(url, init, tries = TRIES) {
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

/** The three refusals against a murmurd at `base` whose key is `sk-right`. */
export async function probe(base) {
  const auth = { Authorization: "Bearer sk-right" };
  return {
    upload: await outcomes(`${base}/v1/audio/transcriptions`, () => ({ method: "POST", headers: auth, body: upload() })),
    speech: await outcomes(`${base}/v1/audio/speech`, () => ({
      method: "POST", headers: { ...auth, "Content-Type": "application/json" }, body: speech(),
    })),
    key: await outcomes(`${base}/v1/audio/transcriptions`, () => ({
      method: "POST", headers: { Authorization: "Bearer sk-wrong" }, body: upload(),
    })),
    origin: await outcomes(`${base}/v1/audio/transcriptions`, () => ({
      method: "POST", headers: { ...auth, Origin: "https://evil.example" }, body: upload(),
    })),
    forwarded: await outcomes(`${base}/v1/audio/separations`, () => ({ method: "POST", headers: auth, body: upload() })),
    control: await outcomes(`${base}/murmur/api/transcribe-test`, () => ({
      method: "POST", headers: { Authorization: "Bearer not-the-token" }, body: upload(),
    })),
  };
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split("/").pop())) {
  console.log(JSON.stringify({ node: process.version, ...(await probe(process.argv[2])) }));
}
