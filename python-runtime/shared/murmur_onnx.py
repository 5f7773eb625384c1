"""ONNX Runtime sessions for long-running speech engines, with memory that settles.

A speech server feeds its model a different input length on every sentence. With ONNX Runtime's
defaults the CPU arena grows to the largest tensors it has seen and never gives them back:
Piper's joe voice went from ~130 MB to ~800 MB over sixty random sentences of 3–60 words, and
from 155 to 330 MB over `make bench`'s requests. Here the arena is shrunk back after each run
(`memory.enable_memory_arena_shrinkage`). That alone still crept (218 → 261 MB on the sixty):
glibc raises its mmap threshold as large blocks are freed, after which they stay in the heap.
Piper's launch fixes the threshold (MALLOC_MMAP_THRESHOLD_, with MALLOC_ARENA_MAX; see
engine/piper.rs), and with both the sixty stayed at 131–145 MB and the benchmark's requests at
145–146 MB. The price is synthesis time, measured in the same session: the benchmark's
five sentences at RTF 0.068 with ONNX Runtime's defaults, 0.089 shrinking (~30 %; ~25 % on the
sixty long sentences). Piper stays over ten times faster than real time, and a resident 146 MB
instead of 280–800 MB is the better trade for a server that sits in the background all day.
"""
import onnxruntime as ort

_SHRINK = ort.RunOptions()
_SHRINK.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")


class SettlingSession(ort.InferenceSession):
    """An `InferenceSession` whose every run hands the arena's spare memory back."""

    def run(self, output_names, input_feed, run_options=None):
        return super().run(output_names, input_feed, run_options or _SHRINK)


def session(model_path, providers=("CPUExecutionProvider",)):
    """A CPU session for `model_path` whose memory settles after the first few inputs."""
    return SettlingSession(str(model_path), providers=list(providers))
