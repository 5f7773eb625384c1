"""ONNX Runtime sessions for long-running speech engines, with memory that settles.

A speech server feeds its model a different input length on every sentence. With ONNX Runtime's
defaults the CPU arena grows to the largest tensors it has seen and never gives them back, and
the memory-pattern planner keeps a plan per shape: Piper's joe voice went from ~140 MB to
~810 MB over sixty random sentences of 3–60 words, and did not stop there. Two settings fix
that, measured in the same run on the same sentences: the arena is shrunk back after each run
(`memory.enable_memory_arena_shrinkage`) and the per-shape memory pattern is off. Memory then
stays within ~80 MB of the first sentence's (~150 → 190–225 MB) for ~8 % more synthesis time on
those long sentences (the arena alone shrunk still crept up, 218 → 261 MB; either setting alone
kept most of the growth).
`make bench` (engine-bench) prints the engines' memory after 10, 25 and 50 requests.
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
    options = ort.SessionOptions()
    options.enable_mem_pattern = False
    return SettlingSession(str(model_path), sess_options=options, providers=list(providers))
