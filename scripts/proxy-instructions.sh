#!/usr/bin/env bash
# Instructions per forwarded GET, counted by callgrind: murmurd's (an external engine: the
# proxy-bench's fake one) and, for the floor, hyper alone's. Unlike time, the count does not
# move with the machine's other work (two runs agree within 0.1 %), so it judges a change to the
# proxy's path on a shared machine; it counts user space only (system calls: strace -c).
#
#   scripts/proxy-instructions.sh [path/to/murmurd ...]     (default: target/release/murmurd)
#
# Needs valgrind (scripts/install-deps.sh bench) and release builds of murmurd and proxy-bench
# (make bench builds both).
set -euo pipefail
cd "$(dirname "$0")/.."
REQUESTS=${REQUESTS:-3000}
BENCH=target/release/proxy-bench
work=$(mktemp -d)
chmod 700 "$work"
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

# A child of proxy-bench serves until its stdin closes: a fifo held open keeps it serving.
serve() { # name, args…
    local name=$1; shift
    mkfifo "$work/$name.in"
    "$@" < "$work/$name.in" > "$work/$name.out" 2> "$work/$name.err" &
    pids+=($!)
    exec {hold}> "$work/$name.in"
    for _ in $(seq 600); do [ -s "$work/$name.out" ] && break; sleep 0.1; done
}

# N requests on one kept-alive connection, each to /probe.
requests() { # base, count
    for _ in $(seq "$2"); do printf 'url = "%s/probe"\noutput = /dev/null\n' "$1"; done
}

# Count over REQUESTS requests after a warm-up: prints instructions per request.
count() { # label, base, pid, callgrind file
    requests "$2" 300 | curl -s -K - > /dev/null
    callgrind_control -z "$3" > /dev/null 2>&1
    requests "$2" "$REQUESTS" | curl -s -K - > /dev/null
    callgrind_control -d "$3" > /dev/null 2>&1
    sleep 1
    local total
    total=$(grep -h '^summary:' "$4".* | tail -1 | awk '{print $2}')
    printf '%-40s %8d instructions per forwarded GET\n' "$1" $((total / REQUESTS))
}

serve engine "$BENCH" --fake-upstream
engine=$(cat "$work/engine.out")
serve hyper valgrind --tool=callgrind --callgrind-out-file="$work/hyper.cg" "$BENCH" --hyper-alone "$engine"
count "hyper alone" "$(cat "$work/hyper.out")" "${pids[-1]}" "$work/hyper.cg"

i=0
for murmurd in "${@:-target/release/murmurd}"; do
    i=$((i + 1))
    dir="$work/murmurd$i"
    mkdir -m 700 "$dir"
    printf '[engine]\nid = "external"\nurl = "%s"\n' "$engine" > "$dir/config.toml"
    MURMUR_LOG=warn MURMUR_RESOURCES="$PWD" valgrind --tool=callgrind --callgrind-out-file="$work/murmurd$i.cg" \
        "$murmurd" --data-dir "$dir" --port 0 > "$dir/out" 2> "$dir/err" &
    pids+=($!)
    for _ in $(seq 600); do [ -s "$dir/out" ] && break; sleep 0.1; done
    base=$(head -1 "$dir/out" | sed 's/Murmur listening on //; s|/v1$||')
    count "$murmurd" "$base" "${pids[-1]}" "$work/murmurd$i.cg"
done
