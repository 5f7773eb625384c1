"""Fetch a model into the Hugging Face cache, printing progress Murmur can show.

    python -m murmur_fetch_model MODEL

MODEL is a Hugging Face repo id (e.g. mlx-community/Kokoro-82M-bf16) or a local folder (then
nothing is fetched). Prints one JSON object per line on stdout:
  {"done": <bytes>, "total": <bytes>}     while downloading
  {"ready": "<path>"}                     when the model is in place
  {"error": "<message>", "offline": true|false}   when it is not (exit code 1)
"""
import json
import os
import sys


def emit(**fields):
    print(json.dumps(fields), flush=True)


def main():
    if len(sys.argv) != 2:
        print("usage: python -m murmur_fetch_model MODEL", file=sys.stderr)
        return 2
    model = sys.argv[1]
    if os.path.isdir(model):
        emit(ready=os.path.abspath(model))
        return 0
    try:
        from huggingface_hub import HfApi, snapshot_download
        from tqdm.auto import tqdm
    except ImportError as error:
        emit(error=f"huggingface_hub is missing from the runtime: {error}", offline=False)
        return 1

    total = 0
    try:
        info = HfApi().model_info(model, files_metadata=True)
        total = sum((s.size or 0) for s in info.siblings or [])
    except Exception:
        pass  # offline or gated: the download below says which

    done = {"bytes": 0}

    class Progress(tqdm):
        def update(self, n=1):
            if getattr(self, "unit", "") == "B":
                done["bytes"] += n or 0
                emit(done=done["bytes"], total=total)
            return super().update(n)

    try:
        path = snapshot_download(model, tqdm_class=Progress)
    except Exception as error:
        text = f"{type(error).__name__}: {error}"
        offline = any(word in text for word in ("Connection", "LocalEntryNotFound", "OfflineMode", "resolve", "Max retries"))
        emit(error=text[:500], offline=offline)
        return 1
    emit(ready=path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
