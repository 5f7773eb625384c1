// Connect a client: the settings each client needs — speech and transcription — with the
// live endpoint filled in, copied with one click.

import { $ } from "./api.js";

/** The settings each client needs, with the live endpoint filled in (same as the README). */
function snippet(client, base) {
  const root = base.replace(/\/v1$/, "");
  switch (client) {
    case "openclaw":
      return `// ~/.openclaw/openclaw.json — OpenClaw needs an apiKey; any placeholder works
{
  tts: {
    provider: "openai",
    providers: {
      openai: {
        baseUrl: "${base}",
        apiKey: "sk-local-murmur",
        speakerVoice: "coral",      // any OpenAI voice name: Murmur's configured voice
        responseFormat: "mp3",      // voice notes ask for opus by themselves
      },
    },
  },
  // Voice notes in: transcribed by Murmur (allowPrivateNetwork lets it reach 127.0.0.1)
  models: {
    providers: {
      openai: { apiKey: "sk-local-murmur", baseUrl: "${base}", request: { allowPrivateNetwork: true } },
    },
  },
  tools: {
    media: {
      models: [{ provider: "openai", model: "whisper-1", baseUrl: "${base}", capabilities: ["audio"] }],
      audio: { enabled: true },
    },
  },
}`;
    case "openwebui":
      return `Admin Panel → Settings → Audio → Text-to-Speech
  Engine:        OpenAI
  API Base URL:  ${base}
  API Key:       anything (unless Murmur has [proxy] api_key)
  Voice / Model: pick from the lists (Murmur serves them)

Admin Panel → Settings → Audio → Speech-to-Text (the microphone)
  Engine:        OpenAI
  API Base URL:  ${base}
  API Key:       anything, but not empty
  STT Model:     whisper-1

or in the environment:
  AUDIO_TTS_ENGINE=openai
  AUDIO_TTS_OPENAI_API_BASE_URL=${base}
  AUDIO_TTS_OPENAI_API_KEY=sk-local-murmur
  AUDIO_STT_ENGINE=openai
  AUDIO_STT_OPENAI_API_BASE_URL=${base}
  AUDIO_STT_OPENAI_API_KEY=sk-local-murmur
  AUDIO_STT_MODEL=whisper-1`;
    case "sillytavern":
      return `Extensions → TTS → Provider: OpenAI Compatible
  Provider Endpoint: ${base}/audio/speech
  API Key:           anything
  Model:             tts-1
  Available Voices:  alloy`;
    case "homeassistant":
      return `Speech and transcription, for Assist: Wyoming (Murmur's settings → Home Assistant (Wyoming))
  Settings → Devices & services → Add integration → Wyoming Protocol
  Host: this machine's address   Port: Murmur's Wyoming port (10300 unless changed)

Speech only, over HTTP: HACS "OpenAI TTS" (sfortis/openai_tts) → Add integration
  URL:     ${base}/audio/speech
  API key: leave empty (unless Murmur has [proxy] api_key)
  Model:   tts-1      Voice: alloy`;
    case "python":
      return `from openai import OpenAI

client = OpenAI(base_url="${base}", api_key="sk-local-murmur")
with client.audio.speech.with_streaming_response.create(
        model="tts-1", voice="alloy", input="Hello from Murmur.") as reply:
    reply.stream_to_file("hello.mp3")

with open("hello.mp3", "rb") as audio:
    heard = client.audio.transcriptions.create(model="whisper-1", file=audio)
print(heard.text)`;
    case "node":
      return `import OpenAI from "openai";
import fs from "node:fs";

const client = new OpenAI({ baseURL: "${base}", apiKey: "sk-local-murmur" });
const speech = await client.audio.speech.create({ model: "tts-1", voice: "alloy", input: "Hello from Murmur." });
fs.writeFileSync("hello.mp3", Buffer.from(await speech.arrayBuffer()));

const heard = await client.audio.transcriptions.create({ model: "whisper-1", file: fs.createReadStream("hello.mp3") });
console.log(heard.text);`;
    default:
      return `curl -s ${base}/audio/speech -H 'content-type: application/json' \\
     -d '{"input":"Hello there.","response_format":"mp3"}' -o hello.mp3
curl -s ${base}/audio/transcriptions -F file=@hello.mp3 -F model=whisper-1
# OPENAI_TTS_BASE_URL=${base} also works for tools that read it; ${root} is Murmur itself.`;
  }
}

export function showSnippet() {
  $("client-snippet").textContent = snippet($("client-pick").value, $("endpoint").value || `${location.origin}/v1`);
  $("snippet-copied").textContent = "";
}

/** Copy `text`; WebKitGTK may refuse the async clipboard on the app's own scheme, so the
 * selection of `element` is copied instead. Says "Copied" in `said` (a status region). */
export async function copy(text, element, said) {
  try {
    await navigator.clipboard.writeText(text);
  } catch (_) {
    if (element.select) {
      element.select();
    } else {
      const range = document.createRange();
      range.selectNodeContents(element);
      const selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
    }
    document.execCommand("copy");
  }
  said.textContent = "Copied";
  setTimeout(() => { said.textContent = ""; }, 4000);
}

export function initConnect() {
  $("client-pick").addEventListener("change", showSnippet);
  $("copy-snippet").addEventListener("click", () => copy($("client-snippet").textContent, $("client-snippet"), $("snippet-copied")));
}
