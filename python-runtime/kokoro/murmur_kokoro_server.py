"""Murmur's Kokoro engine: Kokoro-82M on ONNX Runtime, as an OpenAI-compatible speech server.

    python -m murmur_kokoro_server --model kokoro-v1.0.int8.onnx --voices-dir DIR \
        --host 127.0.0.1 --port 8000

Voices are Kokoro's style files, one per voice (`<id>.bin`: 510×256 float32, the layout of
the Hub's onnx-community/Kokoro-82M-v1.0-ONNX `voices/` folder), in --voices-dir, where Murmur
installs them. The folder is looked at on every listing and request, so a voice installed
while the server runs speaks at once. The voice ids are Kokoro's own (`af_heart`, `bf_emma`,
`zf_xiaobei`, `jf_alpha`, …), the same as the MLX Audio engine's, and their first letter is
their language.

Text becomes phonemes with misaki, the front end Kokoro was trained with and the one
mlx-audio uses: English (a, b) with spaCy and espeak-ng for unknown words, Mandarin (z),
Japanese (j, on unidic-lite: no download), and espeak-ng for Spanish, French, Hindi, Italian
and Portuguese (e, f, h, i, p). A request's `lang_code` wins; else the voice's language.
Each sentence is synthesised and sent on its own (24 kHz PCM), so the first audio comes after
the first sentence, not the whole text.
"""
import argparse
import tempfile
import threading
from pathlib import Path

import numpy as np
from kokoro_onnx import Kokoro

import murmur_speech

MODEL_ID = "kokoro"
SAMPLE_RATE = 24000
STYLE_SIZE = 256
LANGUAGES = {"a": "en-US", "b": "en-GB", "e": "es", "f": "fr", "h": "hi", "i": "it", "j": "ja", "p": "pt-BR", "z": "zh"}
ESPEAK = {"e": "es", "f": "fr-fr", "h": "hi", "i": "it", "p": "pt-br"}
GENDERS = {"f": "female", "m": "male"}


def front_end(lang_code):
    """misaki's G2P for `lang_code`, as mlx-audio's Kokoro pipeline builds it."""
    if lang_code in ("a", "b"):
        from misaki import en, espeak
        british = lang_code == "b"
        return en.G2P(trf=False, british=british, fallback=espeak.EspeakFallback(british=british), unk="")
    if lang_code == "j":
        from misaki import ja
        return ja.JAG2P()
    if lang_code == "z":
        from misaki import zh
        return zh.ZHG2P()
    if lang_code in ESPEAK:
        from misaki import espeak
        return espeak.EspeakG2P(language=ESPEAK[lang_code])
    raise ValueError(f"Kokoro has no front end for lang_code {lang_code!r}; it reads: {', '.join(sorted(LANGUAGES))}")


class Kokoro82M:
    name = "kokoro"
    model_id = MODEL_ID

    def __init__(self, model, voices_dir):
        self.voices_dir = Path(voices_dir)
        # kokoro-onnx wants a voices pack at construction; Murmur's voices are one file each
        # and every request hands its style over, so it gets an empty pack.
        with tempfile.TemporaryDirectory(prefix="murmur-kokoro-", ignore_cleanup_errors=True) as folder:
            empty = Path(folder) / "none.npz"
            np.savez(empty)
            self.kokoro = Kokoro(str(model), str(empty))
        self.styles = {}
        self.front_ends = {}
        self.lock = threading.Lock()  # one synthesis at a time per process
        murmur_speech.log("kokoro", f"model {model}; voices {', '.join(self.ids()) or 'none yet'}")

    def ids(self):
        if not self.voices_dir.is_dir():
            return []
        return sorted(p.stem for p in self.voices_dir.glob("*.bin") if p.stat().st_size % (STYLE_SIZE * 4) == 0)

    def voices(self):
        out = []
        for voice_id in self.ids():
            entry = {"id": voice_id, "name": voice_id.split("_", 1)[-1].capitalize(), "language": LANGUAGES.get(voice_id[0])}
            if len(voice_id) > 1 and voice_id[1] in GENDERS:
                entry["gender"] = GENDERS[voice_id[1]]
            out.append(entry)
        return out

    def find(self, voice_id):
        ids = self.ids()
        if not voice_id:
            voice_id = "af_heart" if "af_heart" in ids else (ids[0] if ids else None)
        if voice_id not in ids:
            return None
        path = self.voices_dir / f"{voice_id}.bin"
        stamp = path.stat().st_mtime_ns
        with self.lock:
            cached = self.styles.get(voice_id)
            if cached is None or cached[0] != stamp:
                style = np.fromfile(path, dtype="<f4").reshape(-1, 1, STYLE_SIZE)
                self.styles[voice_id] = cached = (stamp, style)
        return voice_id, cached[1]

    def sample_rate(self, _voice):
        return SAMPLE_RATE

    def g2p(self, lang_code):
        if lang_code not in self.front_ends:
            self.front_ends[lang_code] = front_end(lang_code)
        return self.front_ends[lang_code]

    def chunks(self, voice, text, speed, lang_code):
        voice_id, style = voice
        lang_code = lang_code or voice_id[0]
        if lang_code == "auto":
            lang_code = voice_id[0]
        g2p = self.g2p(lang_code)  # a ValueError here is the request's fault: a 400
        return self._synthesise(g2p, style, text, speed)

    def _synthesise(self, g2p, style, text, speed):
        # Kokoro's own range is 0.5–2; OpenAI's is wider.
        speed = min(max(speed, 0.5), 2.0)
        for sentence in murmur_speech.sentences(text):
            with self.lock:
                phonemes, _ = g2p(sentence.strip())
                if not phonemes or not phonemes.strip():
                    continue
                audio, _ = self.kokoro.create(phonemes, voice=style, speed=speed, is_phonemes=True)
            pcm = (np.clip(audio, -1.0, 1.0) * 32767).astype("<i2").tobytes()
            yield pcm


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--voices-dir", required=True)
    args = parser.parse_args()
    murmur_speech.serve(Kokoro82M(args.model, args.voices_dir), args.host, args.port)


if __name__ == "__main__":
    main()
