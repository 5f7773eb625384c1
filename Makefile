# Murmur: `make run` starts it, `make test` runs the whole suite as CI does.

CARGO ?= cargo

# A desktop session gets the tray app; anything else (SSH, CI, containers) gets murmurd.
ifeq ($(shell uname -s),Darwin)
  HAS_DISPLAY := yes
  # CMake from PyPI (scripts/install-deps.sh) lives in Python's user folder.
  export PATH := $(PATH):$(shell python3 -m site --user-base 2>/dev/null)/bin
else
  HAS_DISPLAY := $(if $(or $(DISPLAY),$(WAYLAND_DISPLAY)),yes,)
endif

.PHONY: run run-desktop run-headless test lint bench bundle fuzz clean

run: $(if $(HAS_DISPLAY),run-desktop,run-headless)

run-desktop:
	@scripts/install-deps.sh desktop
	$(CARGO) build --release -p murmur --features tauri/custom-protocol
	./target/release/murmur

run-headless:
	@scripts/install-deps.sh headless
	$(CARGO) build --release -p murmur-core --bin murmurd
	./target/release/murmurd

# Everything CI checks: formatting, lints, the desktop app builds, every test, then the
# browser tests of the page (Debian's Chromium driven by playwright-core from npm) and of the
# desktop app under Xvfb (its tray menu with xdotool, its window over WebDriver).
TAURI_DRIVER_VERSION := 2.1.0

test:
	@scripts/install-deps.sh test
	@command -v npm >/dev/null || { echo "npm (Node.js 18+) is needed for the browser tests"; exit 1; }
	@command -v tauri-driver >/dev/null || $(CARGO) install tauri-driver --locked --version $(TAURI_DRIVER_VERSION)
	$(CARGO) fmt --all -- --check
	$(CARGO) build --workspace --bins
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) test --workspace --no-fail-fast
	cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error && npm test

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

# Proxy overhead and real speech (Piper) against a direct connection, measured in the same
# run, then Piper and Kokoro side by side (first audio, real-time factor, engine memory), then
# listening (Whisper through Murmur against faster-whisper directly, decode cost per format,
# first SSE delta, engine memory), then the desk (dictation's release → text inserted, read
# aloud's first sound) under Xvfb with PulseAudio. Prints figures only.
bench:
	@scripts/install-deps.sh bench
	@scripts/install-deps.sh test
	$(CARGO) build --release -p murmur-core --bin murmurd -p murmur-tests --bin proxy-bench --bin speech-bench --bin engine-bench --bin listen-bench --bin live-bench --bin wyoming-bench
	$(CARGO) build --release -p murmur --features tauri/custom-protocol
	$(CARGO) build --release -p murmur-tests --bin desk-bench
	./target/release/proxy-bench
	./target/release/speech-bench
	./target/release/engine-bench
	./target/release/listen-bench
	./target/release/live-bench
	./target/release/wyoming-bench
	./target/release/desk-bench

# Fuzzing with cargo fuzz (libFuzzer): the speech request preparation, the config parser, the
# audio pipeline and decoding uploads from bytes, FUZZ_SECONDS each, under memory limits (an
# input that makes Murmur ask for more than 512 MB at once, or hold 1.5 GB, is a crash found).
# cargo fuzz passes nightly-only compiler flags; RUSTC_BOOTSTRAP=1 lets the stable toolchain
# accept them. Not part of `make test`.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := speech_request config engine_audio upload_decode
FUZZ_LIMITS := -malloc_limit_mb=512 -rss_limit_mb=1536
# upload_decode is built as Murmur ships (-O: no overflow checks): symphonia's demuxers overflow
# on hostile headers, which a release build wraps and decode() catches; what it hunts is memory.
FUZZ_BUILD_upload_decode := -O

fuzz:
	@scripts/install-deps.sh headless
	@command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked
	cd fuzz && for target in $(FUZZ_TARGETS); do \
		build=$$([ $$target = upload_decode ] && echo "$(FUZZ_BUILD_upload_decode)"); \
		RUSTC_BOOTSTRAP=1 $(CARGO) fuzz run $$build $$target -- -max_total_time=$(FUZZ_SECONDS) $(FUZZ_LIMITS) || exit 1; \
	done

# The desktop app as an installable package: .deb on Linux, .app and .dmg on macOS (the Tauri
# CLI comes prebuilt from npm; see scripts/bundle). Output: target/release/bundle/.
ifeq ($(shell uname -s),Darwin)
  BUNDLES ?= app,dmg
else
  BUNDLES ?= deb
endif

bundle:
	@scripts/install-deps.sh desktop
	@command -v npm >/dev/null || { echo "npm (Node.js 18+) is needed for the Tauri CLI"; exit 1; }
	cd scripts/bundle && npm ci --no-audit --no-fund --loglevel=error
	cd src-tauri && ../scripts/bundle/node_modules/.bin/tauri build --bundles $(BUNDLES)
	@find target/release/bundle -maxdepth 2 -type f \( -name '*.deb' -o -name '*.dmg' \) -print

clean:
	$(CARGO) clean
