#!/bin/sh
# relay_floor.sh [ROUND_TRIPS]: what any relay process costs a 1-byte round trip on this
# machine, apart from attachd: a C echo server, bench/c_relay.c and a C ping-pong client, pinned
# with taskset so that where each runs is known rather than left to the scheduler:
#   direct                    client and echo on CPU 1
#   relay on CPU 1, no spin   client, echo and relay share one core (context switches only)
#   relay on CPU 0, spinning  the relay stays awake on the other core (--spin 200, like attachd)
#   relay on CPU 0, no spin   every hop wakes the relay on the other core (cross-core wake-ups)
# Needs cc and taskset (util-linux) and two CPUs. The README's relay note quotes its figures.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
n=${1:-20000}
work=$(mktemp -d)
pids=""
cleanup() { for p in $pids; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT INT TERM
cc -O2 -o "$work/echo" "$here/floor/echo.c" -lpthread
cc -O2 -o "$work/pingpong" "$here/floor/pingpong.c"
cc -O2 -o "$work/c_relay" "$here/c_relay.c"

# Starts "$@" in the background with its stdout in $work/$name.out; waits for its first line.
start() {
    name=$1; shift
    "$@" > "$work/$name.out" &
    pids="$pids $!"
    i=0
    while [ ! -s "$work/$name.out" ]; do
        i=$((i + 1)); [ $i -le 500 ] || { echo "relay_floor: $name did not start" >&2; exit 1; }
        sleep 0.01
    done
}
port() { awk '{print $NF; exit}' "$work/$1.out"; }

start echo taskset -c 1 "$work/echo"
echo_port=$(port echo)
start same taskset -c 1 "$work/c_relay" 0 "$echo_port"
start spin taskset -c 0 "$work/c_relay" --spin 200 0 "$echo_port"
start other taskset -c 0 "$work/c_relay" 0 "$echo_port"
echo "ports: direct $echo_port; relay on CPU 1 $(port same); relay on CPU 0 spinning $(port spin); relay on CPU 0 $(port other)"
taskset -c 1 "$work/pingpong" "$n" "$echo_port" "$(port same)" "$(port spin)" "$(port other)"
