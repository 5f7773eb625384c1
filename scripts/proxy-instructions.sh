#!/usr/bin/env bash
# Instructions per forwarded GET, counted by callgrind: murmurd's (an external engine: the
# proxy-bench's fake one) and, beside it, hyper alone's (the floor for a proxy built on hyper)
# and nginx's (one worker, no master; skipped when nginx is not installed). Unlike time, the count does not
# move with the machine's other work (two runs agree within 0.1 %), so it judges a change to the
# proxy's path on a shared machine; it counts user space only (system calls: strace -c).
#
#   scripts/proxy-instructions.sh [path/to/murmurd ...]     (default: target/release/murmurd)
#
# CACHE=1 adds callgrind's cache model: L1 instruction and data misses per GET too (its model
# of one process alone; the machine's other processes evict more).
#
# Needs valgrind (scripts/install-deps.sh bench) and release builds of murmurd and proxy-bench
# (make bench builds both).
set -euo pipefail
cd "$(dirname "$0")/.."
REQUESTS=${REQUESTS:-3000}
CACHE=${CACHE:-}
callgrind=(valgrind --tool=callgrind ${CACHE:+--cache-sim=yes})
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
    # summary: Ir [Dr Dw I1mr D1mr D1mw …] (the rest with the cache model only)
    grep -h '^summary:' "$4".* | tail -1 | awk -v label="$1" -v n="$REQUESTS" '{
        printf "%-40s %8d instructions per forwarded GET", label, $2 / n
        if (NF > 7) printf "; L1 misses: %d instruction, %d data", $5 / n, ($6 + $7) / n
        print ""
    }'
}

serve engine "$BENCH" --fake-upstream
engine=$(cat "$work/engine.out")
serve hyper "${callgrind[@]}" --callgrind-out-file="$work/hyper.cg" "$BENCH" --hyper-alone "$engine"
count "hyper alone" "$(cat "$work/hyper.out")" "${pids[-1]}" "$work/hyper.cg"

# nginx as proxy-bench configures it (tests/src/nginx.rs), in one process so that one
# callgrind sees all of its work.
if command -v nginx > /dev/null; then
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    d="$work/nginx"
    mkdir -p "$d"
    cat > "$d/nginx.conf" <<CONF
daemon off; master_process off; worker_processes 1;
pid $d/nginx.pid; error_log $d/error.log warn;
events { worker_connections 1024; }
http {
 access_log off; client_body_temp_path $d/body; proxy_temp_path $d/proxy;
 fastcgi_temp_path $d/fastcgi; uwsgi_temp_path $d/uwsgi; scgi_temp_path $d/scgi;
 map \$http_upgrade \$connection_upgrade { default upgrade; '' ""; }
 upstream engine { server ${engine#http://}; keepalive 32; }
 server {
  listen 127.0.0.1:$port;
  location / {
   proxy_pass http://engine; proxy_http_version 1.1;
   proxy_set_header Upgrade \$http_upgrade; proxy_set_header Connection \$connection_upgrade;
   proxy_buffering off;
  }
 }
}
CONF
    "${callgrind[@]}" --callgrind-out-file="$work/nginx.cg" nginx -p "$d" -c "$d/nginx.conf" 2> "$d/valgrind.err" &
    pids+=($!)
    for _ in $(seq 600); do curl -s -o /dev/null "http://127.0.0.1:$port/probe" && break; sleep 0.1; done
    count "nginx" "http://127.0.0.1:$port" "${pids[-1]}" "$work/nginx.cg"
fi

i=0
for murmurd in "${@:-target/release/murmurd}"; do
    i=$((i + 1))
    dir="$work/murmurd$i"
    mkdir -m 700 "$dir"
    printf '[engine]\nid = "external"\nurl = "%s"\n' "$engine" > "$dir/config.toml"
    MURMUR_LOG=warn MURMUR_RESOURCES="$PWD" "${callgrind[@]}" --callgrind-out-file="$work/murmurd$i.cg" \
        "$murmurd" --data-dir "$dir" --port 0 > "$dir/out" 2> "$dir/err" &
    pids+=($!)
    for _ in $(seq 600); do [ -s "$dir/out" ] && break; sleep 0.1; done
    base=$(head -1 "$dir/out" | sed 's/Murmur listening on //; s|/v1$||')
    count "$murmurd" "$base" "${pids[-1]}" "$work/murmurd$i.cg"
done
