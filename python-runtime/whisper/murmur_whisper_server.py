"""Murmur's transcription engine: faster-whisper (CTranslate2, int8 on CPU) behind a small
HTTP server on the standard library.

    python -m murmur_whisper_server --host 127.0.0.1 --port 8000 --model DIR [--threads N]

DIR is a model folder in faster-whisper's layout (model.bin, config.json, tokenizer.json,
vocabulary.txt); Murmur fetches it in warm-up. The model loads before the port opens, so a
server that answers is ready.

Murmur decodes every upload itself (any format a client sends, detected from the bytes) and
hands this server 16 kHz mono s16le PCM; formats on the way out (json, srt, vtt, SSE, …) are
Murmur's job too. So the surface is small:

GET  /health                 {"model", "multilingual", "languages"}
POST /v1/murmur/transcribe   body: s16le mono PCM at 16 kHz (X-Audio-Sample-Rate: 16000)
                             query: task=transcribe|translate, language, prompt, temperature,
                             words=true (word timestamps), prefix (text the transcript is
                             known to begin with: decoding continues after it, and the
                             segments hold only what follows), hotwords (phrases to listen for)
                             answer: NDJSON, one line as soon as each is decided:
                               {"type": "info", "language", "language_probability", "duration"}
                               {"type": "segment", "id", "start", "end", "text", "words",
                                "avg_logprob", "no_speech_prob", …}
                               {"type": "done"}  or  {"type": "error", "message"}

Silero VAD (inside faster-whisper's wheel) drops silence before Whisper sees it, so silence is
an empty transcript rather than a hallucinated "Thank you.". A client that goes away stops the
transcription at the next segment.
"""
import argparse
import json
import os
import threading
from http.server import ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import numpy as np
from faster_whisper import WhisperModel

import murmur_speech

RATE = 16000
NAME = "whisper"


def log(message):
    murmur_speech.log(NAME, message)


class Engine:
    def __init__(self, model_dir, threads):
        self.model_dir = model_dir
        self.model = WhisperModel(model_dir, device="cpu", compute_type="int8", cpu_threads=threads)
        self.multilingual = bool(self.model.model.is_multilingual)
        self.languages = list(self.model.supported_languages) if self.multilingual else ["en"]
        # One transcription at a time: CTranslate2 already uses every core for one.
        self.lock = threading.Lock()

    def describe(self):
        return {
            "model": os.path.basename(os.path.normpath(self.model_dir)),
            "multilingual": self.multilingual,
            "languages": self.languages,
        }

    def transcribe(self, pcm, options):
        audio = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
        segments, info = self.model.transcribe(
            audio,
            language=options.get("language"),
            task=options.get("task", "transcribe"),
            initial_prompt=options.get("prompt"),
            prefix=options.get("prefix"),
            hotwords=options.get("hotwords"),
            temperature=options.get("temperature", 0.0),
            word_timestamps=options.get("words", False),
            beam_size=1,
            vad_filter=True,
            condition_on_previous_text=False,
        )
        return segments, info


def segment_json(segment):
    return {
        "type": "segment",
        "id": segment.id,
        "seek": segment.seek,
        "start": round(segment.start, 3),
        "end": round(segment.end, 3),
        "text": segment.text,
        "tokens": list(segment.tokens),
        "temperature": segment.temperature,
        "avg_logprob": segment.avg_logprob,
        "compression_ratio": segment.compression_ratio,
        "no_speech_prob": segment.no_speech_prob,
        "words": [
            {"word": w.word, "start": round(w.start, 3), "end": round(w.end, 3), "probability": w.probability}
            for w in (segment.words or [])
        ],
    }


def after_prefix(text, prefix):
    """The first segment's text without the prefix the decoder was given (CTranslate2 puts
    the prompt's prefix in its result): the engine answers only what follows."""
    stripped = text.lstrip()
    if stripped.startswith(prefix):
        return stripped[len(prefix):]
    return text


def options_from(query, engine):
    """The request's options, checked; raises ValueError with a sentence for the client."""
    q = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=False).items()}
    options = {}
    task = q.get("task", "transcribe")
    if task not in ("transcribe", "translate"):
        raise ValueError(f"unknown task {task!r}")
    options["task"] = task
    language = q.get("language")
    if language:
        if language not in engine.languages:
            raise ValueError(f"the model does not know the language {language!r}")
        options["language"] = language
    if task == "translate" and not engine.multilingual:
        # An English-only model hears English alone, and English is what a translation asks
        # for: its transcript is the answer (as faster-whisper and the servers on it give).
        options["task"] = "transcribe"
        options["language"] = "en"
    if q.get("prompt"):
        options["prompt"] = q["prompt"]
    for name in ("prefix", "hotwords"):
        if q.get(name):
            options[name] = q[name]
    if "temperature" in q:
        options["temperature"] = float(q["temperature"])
    options["words"] = q.get("words") == "true"
    return options


def make_handler(engine):
    class Handler(murmur_speech.JsonHandler):
        name = NAME
        server_version = f"murmur-{NAME}"

        def do_GET(self):
            if urlsplit(self.path).path == "/health":
                return self.send_json(200, engine.describe())
            self.error(404, "no such path", code="not_found")

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            url = urlsplit(self.path)
            if url.path != "/v1/murmur/transcribe":
                return self.error(404, "no such path", code="not_found")
            if self.headers.get("X-Audio-Sample-Rate", str(RATE)) != str(RATE) or length % 2:
                return self.error(400, "the body must be 16 kHz mono s16le PCM", code="invalid_audio")
            try:
                options = options_from(url.query, engine)
            except ValueError as error:
                return self.error(400, str(error), code="invalid_option")
            with engine.lock:
                self.stream(body, options)

        def line(self, obj):
            data = json.dumps(obj).encode() + b"\n"
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

        def stream(self, pcm, options):
            self.send_response(200)
            self.send_header("Content-Type", "application/x-ndjson")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            sent = 0
            try:
                try:
                    segments, info = engine.transcribe(pcm, options)
                    self.line({
                        "type": "info",
                        "language": info.language,
                        "language_probability": info.language_probability,
                        "duration": info.duration,
                    })
                    prefix = (options.get("prefix") or "").strip()
                    for segment in segments:
                        line = segment_json(segment)
                        if prefix and sent == 0:
                            line["text"] = after_prefix(line["text"], prefix)
                        self.line(line)
                        sent += 1
                    self.line({"type": "done"})
                except (BrokenPipeError, ConnectionResetError):
                    raise
                except Exception as error:  # the model failed: say so in the stream
                    log(f"transcription failed: {error!r}")
                    self.line({"type": "error", "message": str(error)})
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                log(f"client left after {sent} segments; transcription stopped")
                self.close_connection = True

    return Handler


def main():
    parser = argparse.ArgumentParser(prog="murmur_whisper_server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--model", required=True, help="a model folder in faster-whisper's layout")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    log(f"loading {args.model}")
    engine = Engine(args.model, args.threads)
    server = ThreadingHTTPServer((args.host, args.port), make_handler(engine))
    server.daemon_threads = True
    log(f"listening on {args.host}:{args.port} ({'multilingual' if engine.multilingual else 'English only'})")
    server.serve_forever()


if __name__ == "__main__":
    main()
