"""The HTTP side of Murmur's own engine servers (Piper, Kokoro): an OpenAI-compatible speech
server over any synthesiser, on the standard library only.

GET  /v1/models            the engine's one model
GET  /v1/audio/models      the same, in Open WebUI's shape
GET  /v1/audio/voices      the voices installed now (looked up on every call, so a voice
                           Murmur installs is listed without a restart)
POST /v1/audio/speech      {"input", "voice", "speed", "response_format", "lang_code"}
                           pcm: s16le mono at the voice's own rate (stated in the
                           X-Audio-Sample-Rate header), streamed piece by piece;
                           wav: the same audio in one WAV file.
                           Murmur asks for pcm and encodes every client format itself.

A synthesiser is an object with:
    name                          "piper", used in log lines and the Server header
    model_id                      what /v1/models lists
    voices()                      [{"id", "name", "language"}] installed now
    find(voice_id_or_none)        a voice handle, or None when it is unknown
    sample_rate(handle)           the rate its audio is at
    chunks(handle, text, speed, lang_code)
                                  s16le bytes, one piece at a time

Requests are served on threads, so a long synthesis never blocks the readiness and health
probes. A client that goes away stops its synthesis at the next piece.
"""
import io
import json
import sys
import wave
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CONTENT_TYPES = {"wav": "audio/wav", "pcm": "audio/pcm"}

# The longest run of text given to a model at once. Models split sentences at punctuation;
# text without any (a pasted list, a run-on) would reach the model whole, and its memory grows
# with the square of the length. Longer runs are cut at a space (or anywhere).
MAX_PIECE = 300
BREAKS = ".!?;:。！？；：\n"


def pieces(text, limit=MAX_PIECE):
    """`text` in runs of at most `limit` characters, cut after punctuation where possible."""
    out, start = [], 0
    while len(text) - start > limit:
        window = text[start:start + limit]
        cut = max(window.rfind(c) for c in BREAKS)
        if cut < limit // 3:
            cut = window.rfind(" ")
        if cut < limit // 3:
            cut = limit - 1
        out.append(text[start:start + cut + 1])
        start += cut + 1
    out.append(text[start:])
    return [p for p in out if p.strip()]


def sentences(text):
    """`text` cut after each sentence's closing mark (Latin and CJK), each at most MAX_PIECE."""
    out, current = [], ""
    for ch in text:
        current += ch
        if ch in ".!?。！？\n" and current.strip():
            out.append(current)
            current = ""
    if current.strip():
        out.append(current)
    return [piece for sentence in out for piece in pieces(sentence)]


def log(name, message):
    print(f"murmur-{name}: {message}", file=sys.stderr, flush=True)


class JsonHandler(BaseHTTPRequestHandler):
    """What every engine server's handler shares: HTTP/1.1, its log lines on stderr, JSON
    answers and OpenAI-shaped errors. Subclasses set `name`."""

    protocol_version = "HTTP/1.1"
    name = "engine"

    def log_message(self, fmt, *args):
        log(self.name, fmt % args)

    def send_json(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def error(self, status, message, param=None, code=None):
        self.send_json(status, {"error": {"message": message, "type": "invalid_request_error", "param": param, "code": code}})


def make_handler(synth):
    class Handler(JsonHandler):
        name = synth.name
        server_version = f"murmur-{synth.name}"

        def do_GET(self):
            path = self.path.split("?")[0]
            if path == "/v1/models":
                return self.send_json(200, {"object": "list", "data": [{"id": synth.model_id, "object": "model", "owned_by": "murmur"}]})
            if path == "/v1/audio/models":
                return self.send_json(200, {"models": [{"id": synth.model_id}]})
            if path == "/v1/audio/voices":
                return self.send_json(200, {"voices": synth.voices()})
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
            voice = synth.find(request.get("voice"))
            if voice is None:
                known = ", ".join(v["id"] for v in synth.voices()) or "none"
                return self.error(400, f"unknown voice {request.get('voice')!r}; this engine has: {known}", "voice", "unknown_voice")
            speed = request.get("speed") or 1.0
            if not isinstance(speed, (int, float)) or not 0.25 <= speed <= 4.0:
                return self.error(400, "`speed` must be a number from 0.25 to 4.0", "speed", "invalid_speed")
            fmt = request.get("response_format") or "pcm"
            if fmt not in CONTENT_TYPES:
                return self.error(400, f"`response_format` {fmt!r} is not one of {', '.join(CONTENT_TYPES)}; Murmur encodes the other formats", "response_format", "invalid_format")
            lang_code = request.get("lang_code")
            if lang_code is not None and not isinstance(lang_code, str):
                return self.error(400, "`lang_code` must be a string", "lang_code", "invalid_lang_code")
            try:
                audio = synth.chunks(voice, text, float(speed), lang_code)
                if fmt == "pcm":
                    return self.stream_pcm(voice, audio)
                wav = self.wav(voice, audio)
            except ValueError as error:  # the synthesiser refused the request (a language it lacks)
                return self.error(400, str(error), "lang_code", "unsupported_language")
            self.send_response(200)
            self.send_header("Content-Type", CONTENT_TYPES[fmt])
            self.send_header("Content-Length", str(len(wav)))
            self.end_headers()
            self.wfile.write(wav)

        def wav(self, voice, audio):
            buffer = io.BytesIO()
            with wave.open(buffer, "wb") as out:
                out.setnchannels(1)
                out.setsampwidth(2)
                out.setframerate(synth.sample_rate(voice))
                for chunk in audio:
                    out.writeframes(chunk)
            return buffer.getvalue()

        def stream_pcm(self, voice, audio):
            """One HTTP chunk per piece, sent as soon as it is synthesised, at the voice's own
            rate. The first piece is made before the answer starts, so a failure is still an
            error status; a client that leaves stops the synthesis at the next piece."""
            audio = iter(audio)
            first = next(audio, b"")
            self.send_response(200)
            self.send_header("Content-Type", "audio/pcm")
            self.send_header("X-Audio-Sample-Rate", str(synth.sample_rate(voice)))
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            sent = 0
            try:
                for data in _prepend(first, audio):
                    if data:
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                        self.wfile.flush()
                    sent += 1
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                log(synth.name, f"client left after {sent} pieces; synthesis stopped")
                self.close_connection = True

    return Handler


def _prepend(first, rest):
    yield first
    yield from rest


def serve(synth, host, port):
    """Serve `synth` on host:port until the process ends."""
    server = ThreadingHTTPServer((host, port), make_handler(synth))
    server.daemon_threads = True
    log(synth.name, f"listening on {host}:{port}")
    server.serve_forever()
