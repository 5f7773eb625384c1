"""Murmur's engine launcher: `python -m murmur_launch <module> [args...]`.

Runs <module> as `python -m <module>` would, and watches stdin: Murmur keeps the other end of
that pipe open for as long as it lives, so end-of-file means Murmur is gone (even if it was
killed with SIGKILL, on any OS). The engine then goes too, with every process it started.
"""
import os
import runpy
import signal
import sys
import threading


def _exit_when_stdin_closes():
    try:
        while sys.stdin.buffer.read(65536):
            pass
    except (OSError, ValueError):
        pass
    if hasattr(os, "killpg"):
        try:
            os.killpg(os.getpgid(0), signal.SIGKILL)
        except OSError:
            pass
    os._exit(0)


def main():
    if len(sys.argv) < 2:
        print("usage: python -m murmur_launch <module> [args...]", file=sys.stderr)
        sys.exit(2)
    threading.Thread(target=_exit_when_stdin_closes, name="murmur-stdin-guard", daemon=True).start()
    module = sys.argv[1]
    sys.argv = [module] + sys.argv[2:]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
