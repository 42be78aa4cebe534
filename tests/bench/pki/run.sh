#!/usr/bin/env bash
# PKI benchmark (not run in CI): what mutual TLS on the Raft port and `swarm join` cost.
#
#   tests/bench/pki/run.sh [BUILD_DIR]        (release build: make build, plus the pki_probe target)
#
# One manager made by --init on 127.0.62.1 (Raft port 2377, gossip 7962, no DNS). Measures:
#   1. mTLS connections per second the manager accepts: pki_probe opens COUNT connections one after
#      another, each a full handshake with a manager certificate of the cluster (ECDHE-ECDSA P-256,
#      both sides verify a chain), from 1 client and from BENCH_PKI_PAR clients at once; plus the
#      manager's CPU time per accepted connection (/proc/PID/stat utime+stime);
#   2. a node join end to end: a second peerd (127.0.62.2) runs `peerctl swarm join --token ...`;
#      timed from the command to its answer (key + CSR, TLS with the pinned CA, the manager's token
#      check, signing, the Raft commit of the join record, files written, gossip started) and to the
#      manager seeing the node alive in gossip; then `swarm leave` (a new node id each round).
# Settings: BENCH_PKI_CONNS=300  BENCH_PKI_PAR=4  BENCH_PKI_JOINS=10  BENCH_DIR=/tmp  BENCH_KEEP=1
# Prints the results; paste them into docs/bench/pki.md with the command line and the machine state.
set -u -o pipefail
export LC_ALL=C

REPO=$(cd "$(dirname "$0")/../../.." && pwd)
BUILD_DIR=${1:-${BUILD_DIR:-$REPO/build}}
BUILD_DIR=$(cd "$BUILD_DIR" 2>/dev/null && pwd) || { echo "no build dir ${1:-build}" >&2; exit 2; }
PEERD=$BUILD_DIR/core/daemon/peerd
PEERCTL=$BUILD_DIR/cli/peerctl
PROBE=$BUILD_DIR/tests/e2e-tools/pki_probe
CONNS=${BENCH_PKI_CONNS:-300}
PAR=${BENCH_PKI_PAR:-4}
JOINS=${BENCH_PKI_JOINS:-10}
BASE=${BENCH_DIR:-/tmp}
KEEP=${BENCH_KEEP:-0}
NET=127.0.62

die() { echo "pki bench: $*" >&2; exit 1; }
for b in "$PEERD" "$PEERCTL" "$PROBE"; do
    [ -x "$b" ] || die "missing $b: cmake --build $BUILD_DIR --target peerd peerctl pki_probe"
done

W=$(mktemp -d "$BASE/pdbench-pki.XXXXXX")
PIDS=()
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
    if [ "$KEEP" = 1 ] || [ "$rc" -ne 0 ]; then echo "work dir kept: $W" >&2; else rm -rf "$W"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now_ms() { date +%s%3N; }
ctl() { local n=$1; shift; "$PEERCTL" --socket "$W/n$n/peerd.sock" "$@"; }
wait_for() { # SECONDS CMD...
    local end=$(($(date +%s) + $1))
    shift
    until "$@" >/dev/null 2>&1; do [ "$(date +%s)" -lt "$end" ] || return 1; sleep 0.05; done
}
start() { # N [ARGS...]
    local n=$1
    shift
    mkdir -p "$W/n$n"
    "$PEERD" --data-dir "$W/n$n/data" --socket "$W/n$n/peerd.sock" --listen-addr "$NET.$n:2377" \
        --advertise-addr "$NET.$n" --gossip-port 7962 --no-dns --log-level warn "$@" >>"$W/n$n/log" 2>&1 &
    PIDS+=($!)
    wait_for 10 ctl "$n" info || die "peerd $n did not start"
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
pct() { sort -n | awk -v p="$1" '{a[NR]=$1} END {i=int(NR*p/100+0.999); if (i<1) i=1; print a[i]}'; }

start 1 --init
wait_for 10 ctl 1 swarm join-token -q worker || die "the manager has no join token"
MPID=${PIDS[0]}
TOKEN=$(ctl 1 swarm join-token -q worker)
HZ=$(getconf CLK_TCK)

echo "== mTLS connections accepted by one manager ($CONNS sequential handshakes per client)"
t0=$(cpu_ticks "$MPID")
out=$("$PROBE" tls "$W/n1/data" "$NET.1:2377" "$CONNS") || die "probe failed: $out"
t1=$(cpu_ticks "$MPID")
echo "1 client:  $(tail -1 <<<"$out")  manager_cpu_ms_per_conn $(awk -v t=$((t1 - t0)) -v hz="$HZ" -v n="$CONNS" 'BEGIN {printf "%.2f", t * 1000 / hz / n}')"
t0=$(cpu_ticks "$MPID")
s=$(now_ms)
for i in $(seq "$PAR"); do "$PROBE" tls "$W/n1/data" "$NET.1:2377" "$CONNS" >"$W/par.$i" & done
wait_ok=1
for j in $(jobs -p); do case " ${PIDS[*]} " in *" $j "*) ;; *) wait "$j" || wait_ok=0 ;; esac; done
e=$(now_ms)
t1=$(cpu_ticks "$MPID")
[ "$wait_ok" = 1 ] || die "a parallel probe failed"
echo "$PAR clients: conns_per_s $(awk -v n=$((PAR * CONNS)) -v ms=$((e - s)) 'BEGIN {printf "%.1f", n * 1000 / ms}')  manager_cpu_ms_per_conn $(awk -v t=$((t1 - t0)) -v hz="$HZ" -v n=$((PAR * CONNS)) 'BEGIN {printf "%.2f", t * 1000 / hz / n}')  p50/p99 per client: $(grep -h conns_per_s "$W"/par.* | awk '{printf "%s/%s ", $4, $6}')"

echo "== node join end to end ($JOINS joins of a fresh node, then leave)"
start 2
: >"$W/join_ms"
: >"$W/alive_ms"
for r in $(seq "$JOINS"); do
    s=$(now_ms)
    out=$(ctl 2 swarm join --token "$TOKEN" "$NET.1:2377") || die "join $r failed: $out"
    e=$(now_ms)
    id=$(ctl 2 info --json | grep -o '"node_id": "[0-9a-z]*"' | cut -d'"' -f4)
    wait_for 10 sh -c "'$PEERCTL' --socket '$W/n1/peerd.sock' members | awk '\$1 == \"$id\" && \$4 == \"alive\"' | grep -q ." ||
        die "the manager never saw $id alive"
    a=$(now_ms)
    echo $((e - s)) >>"$W/join_ms"
    echo $((a - s)) >>"$W/alive_ms"
    ctl 2 swarm leave >/dev/null || die "leave $r failed"
    wait_for 10 sh -c "'$PEERCTL' --socket '$W/n2/peerd.sock' info --json | grep -q '\"role\": \"none\"'" ||
        die "node 2 did not come back waiting after leave"
done
echo "join command (ms): p50 $(pct 50 <"$W/join_ms") p90 $(pct 90 <"$W/join_ms") max $(pct 100 <"$W/join_ms")"
echo "until the manager sees it alive (ms): p50 $(pct 50 <"$W/alive_ms") p90 $(pct 90 <"$W/alive_ms") max $(pct 100 <"$W/alive_ms")"
