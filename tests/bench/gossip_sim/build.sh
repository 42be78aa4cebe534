#!/bin/sh
# Build the SWIM simulation benchmark against a release build's static libraries.
#   tests/bench/gossip_sim/build.sh [BUILD_DIR]     (default: build, as made by `make build`)
# Only the libraries it needs are (re)built there (pd_base, pd_gossip); the simulator library
# (tests/sim/lib) is compiled in directly. The binary is BUILD_DIR/bench/gossip_sim.
# Run: BUILD_DIR/bench/gossip_sim -n 10000     (see gossip_sim.c for the options)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
build=${1:-$root/build}
case "$build" in /*) ;; *) build=$root/$build ;; esac
if [ ! -f "$build/CMakeCache.txt" ]; then
    cmake -S "$root" -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build "$build" --target pd_base pd_gossip -j "$(nproc)" >/dev/null
mkdir -p "$build/bench"
${CC:-clang} -std=gnu11 -D_GNU_SOURCE -O2 -g -DNDEBUG -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter \
    -I"$root/core/base" -I"$root/gossip" -I"$root/tests/sim/lib" -I"$root/tests/sim" \
    "$here/gossip_sim.c" "$root"/tests/sim/lib/*.c \
    "$build/gossip/libpd_gossip.a" "$build/core/libpd_base.a" -lmsgpackc -lsodium -lm -pthread \
    -o "$build/bench/gossip_sim"
echo "$build/bench/gossip_sim"
