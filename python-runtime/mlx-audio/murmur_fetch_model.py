"""Fetch a model into the Hugging Face cache, printing progress Murmur can show.

    python -m murmur_fetch_model MODEL

MODEL is a Hugging Face repo id (e.g. mlx-community/Kokoro-82M-bf16) or a local folder (then
nothing is fetched). Prints one JSON object per line on stdout (whole lines, even from the Hub's worker threads):
  {"done": <bytes>, "total": <bytes>}     while downloading; done never falls and never
                                          passes total, and ends at total
  {"ready": "<path>"}                     when the model is in place
  {"error": "<message>", "offline": true|false}   when it is not (exit code 1)
"""
import json
import os
import sys
import threading

_print_lock = threading.Lock()


def emit(**fields):
    line = json.dumps(fields) + "\n"
    with _print_lock:
        sys.stdout.write(line)
        sys.stdout.flush()


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

    # huggingface_hub drives two byte bars over the same files (bytes received, bytes
    # written); each counts the whole download, so the figure is the furthest of them, not
    # their sum.
    reported = {"done": 0}
    lock = threading.Lock()

    class Progress(tqdm):
        def update(self, n=1):
            result = super().update(n)
            if getattr(self, "unit", "") == "B":
                with lock:
                    done = max(reported["done"], int(self.n or 0))
                    if total:
                        done = min(done, total)
                    if done != reported["done"]:
                        reported["done"] = done
                        emit(done=done, total=total)
            return result

    try:
        path = snapshot_download(model, tqdm_class=Progress)
    except Exception as error:
        text = f"{type(error).__name__}: {error}"
        offline = any(word in text for word in ("Connection", "LocalEntryNotFound", "OfflineMode", "resolve", "Max retries"))
        emit(error=text[:500], offline=offline)
        return 1
    if total and reported["done"] < total:
        emit(done=total, total=total)  # files already cached count as done
    emit(ready=path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
