#!/usr/bin/env bash
# DNS benchmark: peerd's built-in DNS server side by side with knot, nsd, unbound and dnsmasq
# (and a null UDP echo server, the floor), driven by dnsperf, on loopback.
#
#   tests/bench/dns/run.sh [BUILD_DIR]              full run (about 6 minutes)
#   BENCH_QUICK=1 tests/bench/dns/run.sh build      quick run (5 s windows; ~2 minutes)
#
# Needs root (apt-get of the peers when missing). Data: 1,000 services, each with 3 endpoints owned
# by 3 peerd nodes (127.0.54.1-3, gossip port 7950; node 1 is the measured DNS server, nodes 2-3
# run --no-dns and are workers), so `svcN.svc A` answers the service's VIP (one address, allocated
# by node 1, the one manager, from 10.254.0.0/16) and `tasks.svcN.svc A` its 3 task addresses. The
# peers serve the same shape (svcN: one VIP in 10.254.0.0/16; tasks.svcN: the same 3 addresses)
# and TTL (5 s) from their own zone data: knot and nsd a zone file for "svc.", unbound local-data in a static local-zone,
# dnsmasq an --addn-hosts file with --local=/svc/ (NXDOMAIN for the rest, no upstream).
# Every server runs in the foreground with its own config in the work dir, on its own address
# 127.0.53.x port 5300, pinned to CPU 1 (taskset -c 1); dnsperf runs on CPU 0 with one thread.
#
# Per server:
#   1. max QPS: dnsperf -l DURATION -c CLIENTS -q OUTSTANDING -T 1; lost queries; server CPU
#      (utime+stime of the server process and its children from /proc/PID/stat) per completed
#      query, and that minus the echo server's figure ("DNS work per query");
#   2. latency at a fixed rate: dnsperf -Q RATE -v (dnsperf 2.10 has no latency histogram, so the
#      per-query latencies of -v are sorted for p50/p99); lost queries at that rate.
# Then peerd again with 100 endpoint changes/s (loader.c deregistering/registering endpoints on
# nodes 2 and 3) during the max-QPS run, with dig spot checks of the answers during the churn.
# Query mix: 80% svcN.svc A, 15% tasks.svcN.svc A, 5% nosuchN.svc A (NXDOMAIN), N uniform 1..1000.
#
# Settings (environment):
#   BENCH_QUICK=1                  quick presets; any setting given explicitly wins
#   BENCH_DNS_DURATION=20          max-QPS window, s            (quick: 5)
#   BENCH_DNS_LAT_S=10             fixed-rate window, s         (quick: 5)
#   BENCH_DNS_RATE=50000           fixed rate, queries/s
#   BENCH_DNS_CLIENTS=8 BENCH_DNS_OUTSTANDING=200   dnsperf -c / -q for the max-QPS runs
#   BENCH_DNS_CHURN=100            endpoint changes/s during the churn run
#   BENCH_DNS_SERVERS="echo peerd knot nsd unbound dnsmasq"
#   BENCH_DNS_WAIT_S=1800          wait up to this long for a running gossip bench (it measures
#                                  CPU too) to finish before measuring; 0 = don't wait
#   BENCH_DNS_MAX_OTHER=15         a run with more than this % of other load on the server CPU (a
#   BENCH_DNS_TRIES=3              shared machine) is repeated, up to TRIES runs; the least disturbed
#                                  run is reported
#   BENCH_DNS_PERF=1               perf record peerd during a max-QPS run (report in the work dir)
#   BENCH_DNS_DOC=docs/bench/dns.md  report file ("" = print only)   BENCH_KEEP=1 keep the work dir
set -u -o pipefail
export LC_ALL=C

REPO=$(cd "$(dirname "$0")/../../.." && pwd)
HERE=$REPO/tests/bench/dns
BUILD_DIR=${1:-${BUILD_DIR:-$REPO/build}}
BUILD_DIR=$(cd "$BUILD_DIR" 2>/dev/null && pwd) || { echo "no build dir ${1:-build}" >&2; exit 2; }
PEERD=$BUILD_DIR/core/daemon/peerd

QUICK=${BENCH_QUICK:-0}
if [ "$QUICK" = 1 ]; then d_dur=5 d_lat=5; else d_dur=20 d_lat=10; fi
DURATION=${BENCH_DNS_DURATION:-$d_dur}
LAT_S=${BENCH_DNS_LAT_S:-$d_lat}
RATE=${BENCH_DNS_RATE:-50000}
CLIENTS=${BENCH_DNS_CLIENTS:-8}
OUTSTANDING=${BENCH_DNS_OUTSTANDING:-200}
CHURN=${BENCH_DNS_CHURN:-100}
SERVERS=${BENCH_DNS_SERVERS:-"echo peerd knot nsd unbound dnsmasq"}
WAIT_S=${BENCH_DNS_WAIT_S:-1800}
PERF=${BENCH_DNS_PERF:-0}
MAX_OTHER=${BENCH_DNS_MAX_OTHER:-15}
TRIES=${BENCH_DNS_TRIES:-3}
DOC=${BENCH_DNS_DOC-$REPO/docs/bench/dns.md}
KEEP=${BENCH_KEEP:-0}
NSVC=1000
PORT=5300
SERVER_CPU=1
CLIENT_CPU=0

CMDLINE="tests/bench/dns/run.sh $*"
for v in BENCH_QUICK BENCH_DNS_DURATION BENCH_DNS_LAT_S BENCH_DNS_RATE BENCH_DNS_CLIENTS \
    BENCH_DNS_OUTSTANDING BENCH_DNS_CHURN BENCH_DNS_SERVERS BENCH_DNS_WAIT_S BENCH_DNS_PERF \
    BENCH_DNS_MAX_OTHER BENCH_DNS_TRIES; do
    [ -n "${!v+x}" ] && CMDLINE="$v=\"${!v}\" $CMDLINE"
done

declare -A ADDR=([peerd]=127.0.53.1 [knot]=127.0.53.2 [nsd]=127.0.53.3 [unbound]=127.0.53.4
    [dnsmasq]=127.0.53.5 [echo]=127.0.53.6)

# ------------------------------------------------------------------ preflight
die() { echo "dns bench: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (apt-get)"
[ -x "$PEERD" ] || die "no peerd in $BUILD_DIR: run make build"
[ "$(nproc)" -ge 2 ] || die "needs 2 CPUs (server on CPU $SERVER_CPU, dnsperf on CPU $CLIENT_CPU)"
if ! command -v dnsperf >/dev/null || ! command -v knotd >/dev/null || ! command -v nsd >/dev/null ||
    ! command -v unbound >/dev/null || ! command -v dnsmasq >/dev/null; then
    echo "installing dnsperf knot nsd unbound dnsmasq (apt-get)" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y dnsperf knot nsd unbound dnsmasq >/dev/null ||
        die "cannot install the peers"
fi
# The packages may start their own daemons on port 53: stop and disable them (they would not
# clash with our addresses, but they would take CPU).
for svc in knot nsd unbound dnsmasq; do
    if [ "$(systemctl is-system-running 2>/dev/null)" != offline ] && command -v systemctl >/dev/null; then
        systemctl disable --now "$svc" >/dev/null 2>&1
    elif [ -x "/etc/init.d/$svc" ]; then
        "/etc/init.d/$svc" stop >/dev/null 2>&1
    fi
done
for p in knotd nsd unbound dnsmasq; do
    pgrep -x "$p" >/dev/null && echo "dns bench: warning: a $p not started by this bench is running" >&2
done
for a in "${ADDR[@]}"; do
    ss -Hlun "src $a:$PORT" | grep -q . && die "$a:$PORT is taken (another DNS bench running?)"
done

# This script and everything it starts without its own taskset (dig, dnsperf's helpers) stay on
# the client CPU, so the server CPU holds only the measured server.
taskset -cp $CLIENT_CPU $$ >/dev/null || die "taskset failed"
W=$(mktemp -d /tmp/pdbench-dns.XXXXXX)
: >"$W/pids"
: >"$W/results"
say() { printf '[%s] %s\n' "$(date -u +%T)" "$*" | tee -a "$W/bench.log" >&2; }

# Kill only processes this run started: the PID is in $W/pids and its command line names $W (every
# server gets its config or data from $W), so a PID reused by someone else is never touched.
# Children (nsd forks its server and xfrd) are found through their parent.
# /proc/PID/stat fields after the command name, which may hold spaces ("nsd: server 1"):
# $1 state, $2 ppid, ..., $12 utime, $13 stime.
stat_fields() { sed 's/^.*) //' "$@" 2>/dev/null; }
children() {
    local f
    for f in /proc/[0-9]*/stat; do
        [ "$(stat_fields "$f" | cut -d' ' -f2)" = "$1" ] && { f=${f#/proc/}; echo "${f%/stat}"; }
    done
}
own_kill() { # PID [SIGNAL]
    local p=$1 sig=${2:-TERM} cmd c
    [ -r "/proc/$p/cmdline" ] || return 0
    cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline") || return 0
    case "$cmd" in
    *"$W"*)
        for c in $(children "$p"); do kill "-$sig" "$c" 2>/dev/null; done
        kill "-$sig" "$p" 2>/dev/null
        ;;
    esac
    return 0
}
stop_pid() { # PID: TERM, wait up to 3 s, then KILL
    local p=$1 i
    own_kill "$p" TERM
    for i in $(seq 30); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    own_kill "$p" KILL
    wait "$p" 2>/dev/null
    return 0
}
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [ -s "$W/pids" ]; then
        while read -r p; do stop_pid "$p"; done <"$W/pids"
    fi
    if [ "$KEEP" = 1 ] || [ $rc -ne 0 ]; then echo "work dir kept: $W" >&2; else rm -rf "$W"; fi
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM
track() { echo "$1" >>"$W/pids"; }

mkdir -p "$W/bin"
cc -O2 -o "$W/bin/echo" "$HERE/echo.c" || die "cannot build echo.c"
cc -O2 -I "$REPO/core/api" -I "$REPO/core/base" -o "$W/bin/loader" "$HERE/loader.c" \
    "$BUILD_DIR/core/libpd_api.a" "$BUILD_DIR/core/libpd_base.a" -lmsgpackc || die "cannot build loader.c"
cc -O2 -I "$REPO/dns" -I "$REPO/core/base" -o "$W/bin/answer" "$HERE/answer.c" \
    "$BUILD_DIR/dns/libpd_dns.a" "$BUILD_DIR/core/libpd_base.a" || die "cannot build answer.c"

# ------------------------------------------------------------------ data
TTL=5
gen_data() {
    mkdir -p "$W/zones"
    # svcN: a VIP 10.254.(N>>8).(N&255) (peerd's are allocated, so they differ: only the shape of
    # the answer must match); tasks.svcN: 10.NODE.(N>>8).(N&255), NODE = 1..3
    awk -v n=$NSVC -v ttl=$TTL -v w="$W" 'BEGIN {
        z = w "/zones/svc.zone"; u = w "/zones/unbound.conf"; h = w "/zones/hosts"
        print "$ORIGIN svc.\n$TTL " ttl > z
        print "@ IN SOA ns.svc. hostmaster.svc. 1 3600 600 86400 " ttl > z
        print "@ IN NS ns.svc.\nns IN A 127.0.53.2" > z
        print "    local-zone: \"svc.\" static" > u
        print "    local-data: \"svc. " ttl " IN SOA ns.svc. hostmaster.svc. 1 3600 600 86400 " ttl "\"" > u
        for (i = 1; i <= n; i++) {
            v = "10.254." int(i / 256) "." (i % 256)
            printf "svc%d IN A %s\n", i, v > z
            printf "    local-data: \"svc%d.svc. %d IN A %s\"\n", i, ttl, v > u
            printf "%s svc%d.svc\n", v, i > h
            for (k = 1; k <= 3; k++) {
                a = "10." k "." int(i / 256) "." (i % 256)
                printf "tasks.svc%d IN A %s\n", i, a > z
                printf "    local-data: \"tasks.svc%d.svc. %d IN A %s\"\n", i, ttl, a > u
                printf "%s tasks.svc%d.svc\n", a, i > h
            }
        }
    }'
    # the query mix, 200,000 lines (dnsperf loops over it)
    awk -v n=$NSVC 'BEGIN { srand(20240601); for (i = 0; i < 200000; i++) {
        r = rand(); k = 1 + int(rand() * n)
        if (r < 0.80) print "svc" k ".svc A"
        else if (r < 0.95) print "tasks.svc" k ".svc A"
        else print "nosuch" k ".svc A" } }' >"$W/queries.txt"
}

# ------------------------------------------------------------------ servers
# start_X: launch in the background pinned to the server CPU, echo the PID.
start_echo() { taskset -c $SERVER_CPU "$W/bin/echo" "${ADDR[echo]}" $PORT >"$W/echo.log" 2>&1 & echo $!; }

start_knot() {
    mkdir -p "$W/knot"
    cat >"$W/knot/knot.conf" <<EOF
server:
    rundir: "$W/knot"
    listen: ${ADDR[knot]}@$PORT
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
log:
  - target: stderr
    any: warning
database:
    storage: "$W/knot"
template:
  - id: default
    storage: "$W/zones"
    journal-content: none
    zonefile-sync: -1
zone:
  - domain: svc.
    file: "$W/zones/svc.zone"
EOF
    taskset -c $SERVER_CPU knotd -c "$W/knot/knot.conf" >"$W/knot/log" 2>&1 &
    echo $!
}

start_nsd() {
    mkdir -p "$W/nsd"
    cat >"$W/nsd/nsd.conf" <<EOF
server:
    ip-address: ${ADDR[nsd]}@$PORT
    port: $PORT
    server-count: 1
    username: ""
    chroot: ""
    zonesdir: "$W/zones"
    database: ""
    pidfile: "$W/nsd/nsd.pid"
    xfrdfile: "$W/nsd/xfrd.state"
    xfrdir: "$W/nsd"
    zonelistfile: "$W/nsd/zone.list"
    logfile: "$W/nsd/nsd.log"
    verbosity: 0
    rrl-ratelimit: 0
    rrl-whitelist-ratelimit: 0
remote-control:
    control-enable: no
zone:
    name: "svc."
    zonefile: "$W/zones/svc.zone"
EOF
    taskset -c $SERVER_CPU nsd -d -c "$W/nsd/nsd.conf" >"$W/nsd/log" 2>&1 &
    echo $!
}

start_unbound() {
    mkdir -p "$W/unbound"
    {
        cat <<EOF
server:
    interface: ${ADDR[unbound]}@$PORT
    port: $PORT
    num-threads: 1
    do-daemonize: no
    chroot: ""
    username: ""
    directory: "$W/unbound"
    pidfile: "$W/unbound/unbound.pid"
    use-syslog: no
    logfile: ""
    verbosity: 0
    do-ip6: no
    access-control: 127.0.0.0/8 allow
    module-config: "iterator"
EOF
        cat "$W/zones/unbound.conf"
        printf 'remote-control:\n    control-enable: no\n'
    } >"$W/unbound/unbound.conf"
    taskset -c $SERVER_CPU unbound -d -c "$W/unbound/unbound.conf" >"$W/unbound/log" 2>&1 &
    echo $!
}

start_dnsmasq() {
    mkdir -p "$W/dnsmasq"
    taskset -c $SERVER_CPU dnsmasq -k --conf-file=/dev/null --pid-file="$W/dnsmasq/pid" --user=root \
        --listen-address="${ADDR[dnsmasq]}" --bind-interfaces --port=$PORT --no-resolv --no-hosts \
        --addn-hosts="$W/zones/hosts" --local=/svc/ --local-ttl=$TTL --log-facility="$W/dnsmasq/log" \
        >"$W/dnsmasq/out" 2>&1 &
    echo $!
}

# The three peerd nodes; node 1 serves DNS on CPU 1, nodes 2-3 (--no-dns) share CPU 0 with the
# client so that CPU 1 holds only the measured server.
peerd_node() { # N [extra args...]
    local n=$1 cpu=$CLIENT_CPU
    shift
    [ "$n" = 1 ] && cpu=$SERVER_CPU
    mkdir -p "$W/peerd/n$n"
    taskset -c $cpu "$PEERD" --data-dir "$W/peerd/n$n" --socket "$W/peerd/n$n/ctl.sock" \
        --listen-addr "127.0.54.$n:2377" --advertise-addr "127.0.54.$n" --gossip-port 7950 \
        --log-level warn "$@" >"$W/peerd/n$n/log" 2>&1 &
    echo $!
}
wait_for() { # SECONDS CMD...: poll every 0.2 s
    local t=$(($1 * 5))
    shift
    while [ $t -gt 0 ]; do "$@" && return 0; sleep 0.2; t=$((t - 1)); done
    return 1
}
# All 1,000 tasks.svcN answers, one dig batch; prints the number of A records.
count_records() {
    for i in $(seq 1 $NSVC); do echo "@$1 -p $PORT +short +tries=1 +time=2 tasks.svc$i.svc A"; done >"$W/dig.batch"
    dig -f "$W/dig.batch" 2>/dev/null | grep -c '^10\.'
}
# All 1,000 svcN answers; prints how many are one VIP of the range.
count_vips() {
    for i in $(seq 1 $NSVC); do echo "@$1 -p $PORT +short +tries=1 +time=2 svc$i.svc A"; done >"$W/dig.batch"
    dig -f "$W/dig.batch" 2>/dev/null | grep -c '^10\.254\.'
}
start_peerd() {
    local p1 p2 p3 n c
    p1=$(peerd_node 1 --bootstrap-expect 1 --dns-addr "${ADDR[peerd]}:$PORT" --dns-upstream 127.0.53.250:53 --dns-ttl $TTL \
        --vip-range 10.254.0.0/16)
    track "$p1"
    wait_for 10 test -S "$W/peerd/n1/ctl.sock" -a -s "$W/peerd/n1/gossip.keyring" || return 1
    for n in 2 3; do
        p2=$(peerd_node $n --no-dns --join 127.0.54.1:7950 --gossip-key-file "$W/peerd/n1/gossip.keyring")
        track "$p2"
        wait_for 10 test -S "$W/peerd/n$n/ctl.sock" || return 1
    done
    for n in 1 2 3; do
        "$W/bin/loader" load "$W/peerd/n$n/ctl.sock" $n $NSVC >>"$W/bench.log" 2>&1 || return 1
    done
    for i in $(seq 60); do # gossip spreads 3,000 entries in some seconds
        c=$(count_records "${ADDR[peerd]}")
        [ "$c" = $((3 * NSVC)) ] && break
        sleep 2
    done
    say "peerd: $c of $((3 * NSVC)) task records in DNS"
    [ "$c" = $((3 * NSVC)) ] || return 1
    for i in $(seq 60); do # the manager allocates VIPs in rounds (16 per 0.5 s)
        c=$(count_vips "${ADDR[peerd]}")
        [ "$c" = "$NSVC" ] && break
        sleep 2
    done
    say "peerd: $c of $NSVC service VIPs in DNS"
    [ "$c" = "$NSVC" ] || return 1
    echo "$p1"
}

# ------------------------------------------------------------------ measurement
CLK_TCK=$(getconf CLK_TCK)
# The processes of one server: every PID whose command line holds its marker (nsd runs as three
# processes: xfrd, the main process and a server child, all with the same command line).
marker() { # NAME
    case $1 in
    echo) echo "$W/bin/echo" ;;
    peerd) echo "$W/peerd/n1/" ;;
    *) echo "$W/$1/" ;;
    esac
}
cpu_ticks() { # NAME: utime+stime of its processes (threads are in each process figure)
    local p sum=0 t
    for p in $(grep -l -F -- "$(marker "$1")" /proc/[0-9]*/cmdline 2>/dev/null); do
        t=$(stat_fields "${p%cmdline}stat" | awk '{print $12 + $13}') && sum=$((sum + ${t:-0}))
    done
    echo $sum
}
# Pin every thread of a server to the server CPU. taskset at exec is not enough: knotd pins its
# UDP workers itself (worker i to CPU i), which put knot's worker on the client's CPU.
pin_threads() { # NAME
    local p
    for p in $(grep -l -F -- "$(marker "$1")" /proc/[0-9]*/cmdline 2>/dev/null); do
        p=${p#/proc/}
        taskset -a -p -c "$SERVER_CPU" "${p%/cmdline}" >/dev/null 2>&1 || true
    done
}
stat_of() { # FILE "label" -> the first number after it
    awk -v k="$2" 'index($0, k) { sub(/.*: */, ""); print $1 + 0; exit }' "$1"
}
# UDP datagrams the kernel dropped for a full socket receive buffer (all sockets, loopback included)
rcvbuf_errors() { awk '$1 == "Udp:" { if (!n) { for (i = 2; i <= NF; i++) if ($i == "RcvbufErrors") n = i } else { print $n; exit } }' /proc/net/snmp; }
# busy ticks of one CPU (user nice system irq softirq steal) from /proc/stat
cpu_busy() { awk -v c="cpu$1" '$1 == c { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat; }
# max QPS run: echoes "qps completed lost cpu_us_per_query server_busy_pct other_busy_pct_on_server_cpu
# cpu_total_us_per_query" (the last: all busy time of the server's CPU, its kernel work included)
run_max() { # NAME TAG
    local name=$1 out="$W/$1.$2.max.txt" c0 c1
    c0=$(cpu_ticks "$name")
    local b0 b1
    b0=$(cpu_busy $SERVER_CPU)
    taskset -c $CLIENT_CPU dnsperf -s "${ADDR[$name]}" -p $PORT -d "$W/queries.txt" -l "$DURATION" \
        -c "$CLIENTS" -q "$OUTSTANDING" -T 1 -t 2 >"$out" 2>&1
    b1=$(cpu_busy $SERVER_CPU)
    c1=$(cpu_ticks "$name")
    local qps done lost
    qps=$(stat_of "$out" "Queries per second:")
    done=$(stat_of "$out" "Queries completed:")
    lost=$(stat_of "$out" "Queries lost:")
    awk -v q="$qps" -v d="$done" -v l="$lost" -v t=$((c1 - c0)) -v hz="$CLK_TCK" -v s="$DURATION" -v b=$((b1 - b0)) \
        'BEGIN { o = (b - t) * 100 / hz / s; if (o < 0) o = 0
                 printf "%.0f %d %d %.3f %.0f %.0f %.3f\n", q, d, l, d ? t * 1e6 / hz / d : 0, t * 100 / hz / s, o,
                        d ? b * 1e6 / hz / d : 0 }'
}
# fixed-rate run: echoes "p50_us p99_us lost achieved_qps rcvbuf_drops cpu_us_per_query other_pct
# cpu_total_us_per_query"
run_lat() { # NAME
    local name=$1 out="$W/$1.lat.txt" e0 e1 c0 c1 b0 b1
    c0=$(cpu_ticks "$name")
    b0=$(cpu_busy $SERVER_CPU)
    e0=$(rcvbuf_errors)
    taskset -c $CLIENT_CPU dnsperf -s "${ADDR[$name]}" -p $PORT -d "$W/queries.txt" -l "$LAT_S" \
        -c "$CLIENTS" -q 2000 -T 1 -t 2 -Q "$RATE" -v >"$out" 2>&1
    e1=$(rcvbuf_errors)
    b1=$(cpu_busy $SERVER_CPU)
    c1=$(cpu_ticks "$name")
    local lost qps done
    done=$(stat_of "$out" "Queries completed:")
    lost=$(stat_of "$out" "Queries lost:")
    qps=$(stat_of "$out" "Queries per second:")
    awk '/^> / && $NF ~ /^[0-9.]+$/ { print $NF * 1e6 }' "$out" | sort -g >"$W/$1.lat.sorted"
    awk -v l="$lost" -v q="$qps" -v e=$((e1 - e0)) -v t=$((c1 - c0)) -v hz="$CLK_TCK" -v d="$done" \
        -v o=$(((b1 - b0 - (c1 - c0)) * 100 / CLK_TCK / LAT_S)) -v b=$((b1 - b0)) '{ v[NR] = $1 } END {
        cpu = d ? t * 1e6 / hz / d : 0; if (o < 0) o = 0; tot = d ? b * 1e6 / hz / d : 0
        if (NR == 0) { printf "- - %d %.0f %d %.3f %d %.3f\n", l, q, e, cpu, o, tot; exit }
        i50 = int(NR * 0.50); if (i50 < 1) i50 = 1; i99 = int(NR * 0.99); if (i99 < 1) i99 = 1
        printf "%.0f %.0f %d %.0f %d %.3f %d %.3f\n", v[i50], v[i99], l, q, e, cpu, o, tot }' "$W/$1.lat.sorted"
    rm -f "$W/$1.lat.sorted"
    sed -i '/^> /d' "$out" # keep the summary only
}
check_answers() { # one probe: svcN one VIP; tasks.svcN decode to N, include node 1; nosuch NXDOMAIN
    local n=$((1 + RANDOM % NSVC)) name a bad=0 cnt k
    a=$(nice -n 10 dig +short +tries=1 +time=1 @"${ADDR[peerd]}" -p $PORT "svc$n.svc" A)
    [ "$(wc -w <<<"$a")" = 1 ] && [ "${a#10.254.}" != "$a" ] || bad=1
    for name in "tasks.svc$n.svc"; do
        cnt=0 k=0
        for a in $(nice -n 10 dig +short +tries=1 +time=1 @"${ADDR[peerd]}" -p $PORT "$name" A); do
            cnt=$((cnt + 1))
            IFS=. read -r o1 o2 o3 o4 <<<"$a"
            [ "$o1" = 10 ] && [ $((o3 * 256 + o4)) = $n ] && [ "$o2" -ge 1 ] && [ "$o2" -le 3 ] || bad=1
            [ "$o2" = 1 ] && k=1
        done
        [ $cnt -ge 1 ] && [ $cnt -le 3 ] && [ $k = 1 ] || bad=1
    done
    nice -n 10 dig +tries=1 +time=1 @"${ADDR[peerd]}" -p $PORT "nosuch$n.svc" A | grep -q 'status: NXDOMAIN' || bad=1
    return $bad
}

# Run a measurement up to TRIES times while field F of its result (other load on the server CPU,
# %) exceeds MAX_OTHER; echo the least disturbed result.
best_of() { # FUNC F ARGS...
    local fn=$1 f=$2 i r o best="" best_o=1000
    shift 2
    for i in $(seq "$TRIES"); do
        r=$("$fn" "$@")
        o=$(awk -v f="$f" '{ print $f + 0 }' <<<"$r")
        [ "$o" -lt "$best_o" ] && best=$r best_o=$o
        [ "$o" -le "$MAX_OTHER" ] && break
        say "$1: $fn: ${o}% other load on CPU $SERVER_CPU (try $i of $TRIES): $r"
        sleep 3
    done
    echo "$best"
}

measure() { # NAME
    local name=$1 pid r
    say "$name: starting on ${ADDR[$name]}:$PORT"
    if [ "$name" = peerd ]; then
        pid=$(start_peerd) || { say "peerd: setup failed"; return 1; }
    else
        pid=$(start_$name)
        track "$pid"
    fi
    [ "$name" = echo ] || wait_for 10 sh -c "dig +short +tries=1 +time=1 @${ADDR[$name]} -p $PORT tasks.svc1.svc A | grep -q '^10\.'" ||
        { say "$name: not answering"; tail -5 "$W/$name"/*log* 2>/dev/null >&2; stop_pid "$pid"; return 1; }
    if [ "$name" != echo ]; then
        r=$(dig +short @"${ADDR[$name]}" -p $PORT tasks.svc1.svc A | sort | tr '\n' ' ')
        say "$name: tasks.svc1.svc -> $r"
        [ "$(wc -w <<<"$r")" = 3 ] || { say "$name: expected 3 answers"; stop_pid "$pid"; return 1; }
    fi
    pin_threads "$name"
    sleep 1
    r=$(best_of run_max 6 "$name" quiet)
    say "$name: max: qps completed lost cpu_us/q busy% other% = $r"
    echo "$name max $r" >>"$W/results"
    if [ "$name" = peerd ] && [ "$PERF" = 1 ] && command -v perf >/dev/null; then
        taskset -c $CLIENT_CPU dnsperf -s "${ADDR[$name]}" -p $PORT -d "$W/queries.txt" -l 12 \
            -c "$CLIENTS" -q "$OUTSTANDING" -T 1 -t 2 >/dev/null 2>&1 &
        local dp=$!
        track $dp
        sleep 1
        perf record -q -g -o "$W/perf.data" -p "$pid" -- sleep 10 >/dev/null 2>&1
        wait $dp
        perf report -i "$W/perf.data" --stdio --no-children 2>/dev/null | head -80 >"$W/perf.txt"
        say "peerd: perf profile in $W/perf.txt"
    fi
    r=$(best_of run_lat 7 "$name")
    say "$name: at $RATE/s: p50_us p99_us lost qps rcvbuf_drops cpu_us/q = $r"
    echo "$name lat $r" >>"$W/results"
    if [ "$name" = peerd ]; then
        measure_churn "$pid"
    fi
    if [ "$name" = peerd ]; then
        while read -r p; do stop_pid "$p"; done <"$W/pids"
        : >"$W/pids"
    else
        stop_pid "$pid"
    fi
}

measure_churn() { # PID of the DNS node
    local pid=$1 secs=$((DURATION + 8)) lp r ok=0 bad=0 mid
    "$W/bin/loader" churn "$CHURN" "$secs" $NSVC "$W/peerd/n2/ctl.sock:2" "$W/peerd/n3/ctl.sock:3" \
        >"$W/churn.txt" 2>&1 &
    lp=$!
    track $lp
    sleep 2
    mid=$(count_records "${ADDR[peerd]}") # one full sweep once the churn is under way
    run_max peerd churn >"$W/churn.max" &
    local dp=$!
    sleep 1
    while kill -0 $dp 2>/dev/null; do # light spot checks (niced, on the client CPU)
        if check_answers; then ok=$((ok + 1)); else bad=$((bad + 1)); fi
        sleep 1
    done
    wait $dp
    r=$(cat "$W/churn.max")
    wait $lp
    say "peerd churn: $(cat "$W/churn.txt")"
    say "peerd churn: max: qps completed lost cpu_us/q busy% other% = $r; spot checks ok=$ok bad=$bad; records mid-churn $mid"
    local after=0 i
    for i in $(seq 15); do
        after=$(count_records "${ADDR[peerd]}")
        [ "$after" = $((3 * NSVC)) ] && break
        sleep 2
    done
    say "peerd churn: $after task records after the churn"
    echo "peerd churn $r $ok $bad $mid $after $(awk '{print $1}' "$W/churn.txt")" >>"$W/results"
}

# ------------------------------------------------------------------ run
gossip_note="no gossip benchmark was running during the measurements"
if [ "$WAIT_S" -gt 0 ]; then
    waited=0
    while pgrep -f tests/bench/gossip/run.sh >/dev/null && [ $waited -lt "$WAIT_S" ]; do
        [ $waited = 0 ] && say "a gossip bench is running (it measures CPU too): waiting up to ${WAIT_S}s"
        sleep 30
        waited=$((waited + 30))
    done
    pgrep -f tests/bench/gossip/run.sh >/dev/null &&
        gossip_note="a gossip benchmark (tests/bench/gossip/run.sh) was STILL RUNNING during the measurements (waited ${WAIT_S}s): CPU figures may be disturbed"
fi
pgrep -f tests/bench/gossip/run.sh >/dev/null && [ "$WAIT_S" = 0 ] &&
    gossip_note="a gossip benchmark (tests/bench/gossip/run.sh) was running during the measurements: CPU figures may be disturbed"
say "$gossip_note"

gen_data
# peerd's answer path alone (no IO, warm caches), on the server CPU: the floor of its DNS work
answer_ns=$(taskset -c $SERVER_CPU "$W/bin/answer" 2000000 | awk '{ for (i = 1; i < NF; i++) if ($(i + 1) == "ns/query,") print $i }')
say "peerd answer path alone (tests/bench/dns/answer.c): ${answer_ns:-?} ns/query"
for s in $SERVERS; do
    measure "$s" || say "$s: FAILED"
done

# ------------------------------------------------------------------ report
get() { awk -v s="$1" -v k="$2" -v f="$3" '$1 == s && $2 == k { print $(f + 2); exit }' "$W/results"; }
echo_cpu=$(get echo max 4) echo_cpu50=$(get echo lat 6)
echo_tot=$(get echo max 7) echo_tot50=$(get echo lat 8)
row() { # NAME
    local s=$1 qps lost cpu work p50 p99 llost drops busy other cpu50 work50 olat
    qps=$(get "$s" max 1) lost=$(get "$s" max 3) cpu=$(get "$s" max 4) busy=$(get "$s" max 5) other=$(get "$s" max 6) cpu50=$(get "$s" lat 6)
    p50=$(get "$s" lat 1) p99=$(get "$s" lat 2) llost=$(get "$s" lat 3) drops=$(get "$s" lat 5) olat=$(get "$s" lat 7)
    [ -n "$qps" ] || { echo "| $s | failed | | | | | | | | | | | | |"; return; }
    if [ "$s" = echo ]; then work="(floor)" work50="(floor)"; else
        work=$(awk -v a="$cpu" -v b="${echo_cpu:-0}" 'BEGIN{printf "%.2f", a - b}')
        work50=$(awk -v a="$cpu50" -v b="${echo_cpu50:-0}" 'BEGIN{if (a == "") print "-"; else printf "%.2f", a - b}')
    fi
    printf '| %s | %s | %s%% | %s%% | %s | %.2f | %s | %s | %s | %s | %s | %s | %s | %s%% |\n' "$s" "$qps" "$busy" "$other" "$lost" "$cpu" "$work" \
        "${cpu50:--}" "$work50" "${p50:--}" "${p99:--}" "${llost:--}" "${drops:--}" "${olat:--}"
}
# CPU of the server's whole CPU (process + the kernel work the CPU did for it, ksoftirqd included)
row_total() { # NAME
    local s=$1 t t50 w w50
    t=$(get "$s" max 7) t50=$(get "$s" lat 8)
    [ -n "$t" ] || { echo "| $s | failed | | | |"; return; }
    if [ "$s" = echo ]; then w="(floor)" w50="(floor)"; else
        w=$(awk -v a="$t" -v b="${echo_tot:-0}" 'BEGIN{printf "%.2f", a - b}')
        w50=$(awk -v a="$t50" -v b="${echo_tot50:-0}" 'BEGIN{if (a == "") print "-"; else printf "%.2f", a - b}')
    fi
    printf '| %s | %s | %s | %s | %s |\n' "$s" "$t" "$w" "${t50:--}" "$w50"
}
work_total() { # NAME max|lat
    local f=7 b=${echo_tot:-0}
    [ "$2" = lat ] && f=8 b=${echo_tot50:-0}
    awk -v a="$(get "$1" "$2" $f)" -v b="$b" 'BEGIN { if (a == "") print ""; else printf "%.3f", a - b }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "-"; else printf "%.2f", a / b }'; }
work_of() { # NAME max|lat
    local f=4 b=${echo_cpu:-0}
    [ "$2" = lat ] && f=6 b=${echo_cpu50:-0}
    awk -v a="$(get "$1" "$2" $f)" -v b="$b" 'BEGIN { if (a == "") print ""; else printf "%.3f", a - b }'
}
verdict() { if awk "BEGIN { exit !($1) }"; then echo "**met**"; else echo "**not met**"; fi; }

{
    echo "# DNS benchmark: peerd vs knot, nsd, unbound, dnsmasq (dnsperf)"
    echo
    echo "Produced by \`$CMDLINE\` on $(date -u +%Y-%m-%d) (UTC)."
    echo
    echo "## Machine"
    echo
    echo "- $(nproc --all) CPUs ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)), kernel $(uname -r), $(. /etc/os-release; echo "$PRETTY_NAME")"
    echo "- peerd $("$PEERD" --version 2>&1 | head -1), commit $(git -C "$BUILD_DIR/.." rev-parse --short HEAD 2>/dev/null || echo unknown) (build: $BUILD_DIR)"
    echo "- $(knotd --version 2>&1 | head -1); NSD $(nsd -v 2>&1 | awk 'NR==1 {print $3}'); unbound $(unbound -V 2>&1 | awk 'NR==1 {print $2}'); dnsmasq $(dnsmasq --version | awk 'NR==1 {print $3}'); dnsperf $(dnsperf -h 2>&1 | awk '/^Version/ {print $2}')"
    echo "- $gossip_note"
    echo
    echo "## Setup"
    echo
    echo "- Data: 1,000 services x 3 endpoints. peerd: 3 nodes on 127.0.54.1-3 joined by gossip, each"
    echo "  registering svc1..svc1000 (tests/bench/dns/loader.c over the control socket), so"
    echo "  \`svcN.svc A\` answers the service's VIP (one address; node 1 is the one manager, nodes 2-3"
    echo "  are workers) and \`tasks.svcN.svc A\` its 3 task addresses; the peers serve the same shape;"
    echo "  node 1 is the measured DNS server. The peers serve the same names, addresses and TTL ($TTL s):"
    echo "  knot (udp-workers 1) and nsd (server-count 1, RRL off) a zone file for \`svc.\`; unbound"
    echo "  (num-threads 1) local-data in a static local-zone; dnsmasq (defaults, no upstream) an"
    echo "  --addn-hosts file with --local=/svc/. echo (tests/bench/dns/echo.c) returns each query with"
    echo "  QR set, no DNS work, with the batched IO of the cheapest server (nonblocking socket, epoll,"
    echo "  recvmmsg of 64 until the queue is empty, one sendmmsg per batch): the floor of the kernel"
    echo "  and the client. peerd's answer path alone (tests/bench/dns/answer.c, the same data and mix,"
    echo "  no IO, warm caches): ${answer_ns:-?} ns/query."
    echo "- Query mix: 80% \`svcN.svc A\`, 15% \`tasks.svcN.svc A\`, 5% \`nosuchN.svc A\` (NXDOMAIN), N uniform."
    echo "- Server pinned to CPU $SERVER_CPU, dnsperf (-T 1) to CPU $CLIENT_CPU (with peerd nodes 2-3 and the loader)."
    echo "- Max QPS: \`dnsperf -l $DURATION -c $CLIENTS -q $OUTSTANDING -T 1 -t 2\`. CPU/query: utime+stime of the"
    echo "  server process (and children) from /proc/PID/stat over that run / queries completed"
    echo "  (clock ticks of 1/$CLK_TCK s), measured over the max-QPS run and over the fixed-rate run;"
    echo "  DNS work/query = CPU/query minus echo's in the same kind of run. The fixed-rate figure compares"
    echo "  every server at the same offered load (at max load the batching per syscall differs, and"
    echo "  the client may be the limit: see the server CPU busy column, 100% = one CPU saturated)."
    echo "- Other load on the server CPU: busy time of CPU $SERVER_CPU (/proc/stat) not spent in the server"
    echo "  process, over the max-QPS run (loopback softirq work charged to no process, and anything else"
    echo "  running on the machine: this is a shared machine). A run with more than ${MAX_OTHER}% is repeated"
    echo "  (up to $TRIES runs) and the least disturbed one is reported."
    echo "- Lost queries are counted by dnsperf (no answer within 2 s); kernel rcvbuf drops are the"
    echo "  UdpRcvbufErrors delta of /proc/net/snmp over the run (a full server socket receive buffer)."
    echo "- Latency: \`dnsperf -Q $RATE -l $LAT_S -v\`; dnsperf 2.10 has no latency histogram option, so"
    echo "  p50/p99 come from sorting the per-query latencies that -v prints."
    echo
    echo "## Results"
    echo
    echo "| server | max QPS | server CPU busy (max run) | other load on the server CPU (max run) | lost (max run) | CPU µs/query (max) | DNS work µs/query (max) | CPU µs/query @${RATE}/s | DNS work µs/query @${RATE}/s | p50 µs @${RATE}/s | p99 µs @${RATE}/s | lost @${RATE}/s | kernel rcvbuf drops @${RATE}/s | other load on the server CPU @${RATE}/s |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    for s in $SERVERS; do row "$s"; done
    echo
    echo "Whole-CPU accounting: all busy time of CPU $SERVER_CPU over the run (the server process and the"
    echo "kernel's work on that CPU, softirq and ksoftirqd included) per completed query. The process"
    echo "figures above leave out loopback delivery work that the kernel defers to ksoftirqd, and it defers"
    echo "more of it for some servers than for others (knot's process time can come out below the null"
    echo "echo server's), so the DNS work targets below use these figures; they are only clean on a"
    echo "quiet machine (see the other-load columns)."
    echo
    echo "| server | CPU µs/query, whole CPU (max) | DNS work µs/query, whole CPU (max) | CPU µs/query, whole CPU @${RATE}/s | DNS work µs/query, whole CPU @${RATE}/s |"
    echo "|---|---|---|---|---|"
    for s in $SERVERS; do row_total "$s"; done
    echo
    if grep -q '^peerd max' "$W/results" && grep -q '^knot max' "$W/results"; then
        pq=$(get peerd max 1) kq=$(get knot max 1) pw=$(work_total peerd lat) kw=$(work_total knot lat) pwm=$(work_total peerd max) kwm=$(work_total knot max)
        p99p=$(get peerd lat 2) p99k=$(get knot lat 2) pl=$(get peerd lat 3)
        echo "peerd/knot: QPS $(ratio "$pq" "$kq"), CPU/query $(ratio "$(get peerd max 4)" "$(get knot max 4)"), DNS work/query (whole CPU) $(ratio "$pw" "$kw") at ${RATE}/s and $(ratio "$pwm" "$kwm") at max, p50 $(ratio "$(get peerd lat 1)" "$(get knot lat 1)"), p99 $(ratio "$p99p" "$p99k")."
        echo
        echo "## Targets"
        echo
        echo "| target | peerd | knot | verdict |"
        echo "|---|---|---|---|"
        echo "| max QPS at least knot's | $pq | $kq | $(verdict "$pq >= $kq") |"
        echo "| DNS work/query (whole CPU) at most half of knot's (at ${RATE}/s) | $pw µs | $kw µs (half: $(awk -v k="$kw" 'BEGIN{printf "%.3f", k/2}')) | $(verdict "$pw <= $kw / 2") |"
        echo "| DNS work/query (whole CPU) at most half of knot's (max run) | $pwm µs | $kwm µs (half: $(awk -v k="$kwm" 'BEGIN{printf "%.3f", k/2}')) | $(verdict "$pwm <= $kwm / 2") |"
        echo "| no query lost at ${RATE}/s | $pl lost | $(get knot lat 3) lost | $(verdict "$pl == 0") |"
        echo "| p99 at ${RATE}/s at most knot's | $p99p µs | $p99k µs | $(verdict "${p99p:-1e9} <= ${p99k:-0}") |"
        cq=$(get peerd churn 1)
        if [ -n "$cq" ]; then
            echo "| QPS under $CHURN changes/s within 10% of quiet | $cq ($(ratio "$cq" "$pq")x quiet) | | $(verdict "$cq >= 0.9 * $pq") |"
            echo "| answers correct under churn (dig spot checks) | $(get peerd churn 8) ok, $(get peerd churn 9) bad | | $(verdict "$(get peerd churn 9) == 0 && $(get peerd churn 8) > 0") |"
        fi
    fi
    if grep -q '^peerd churn' "$W/results"; then
        echo
        echo "## peerd under churn"
        echo
        echo "loader.c made $(get peerd churn 12) endpoint changes at $CHURN/s on nodes 2 and 3 (deregister a random"
        echo "(service, node) endpoint, register back the one taken down 50 changes earlier, so 50 endpoints are down at any time, each for"
        echo "about 1 s) during a max-QPS run:"
        echo "$(get peerd churn 1) QPS, $(get peerd churn 3) lost, $(get peerd churn 4) CPU µs/query (quiet: $(get peerd max 1) QPS,"
        echo "$(get peerd max 4) µs/query). Spot checks during the churn (dig svcN.svc: its one VIP;"
        echo "tasks.svcN.svc: 1-3 addresses, all of service N, node 1's among them; nosuchN.svc NXDOMAIN): $(get peerd churn 8) ok,"
        echo "$(get peerd churn 9) bad. A sweep of all 1,000 tasks.svcN.svc mid-churn found $(get peerd churn 10) of 3000"
        echo "records (the endpoints down at that moment are gone from DNS: the churn reaches DNS); after the churn: $(get peerd churn 11)."
    fi
} >"$W/report.md"

cat "$W/report.md"
if [ -n "$DOC" ]; then
    mkdir -p "$(dirname "$DOC")"
    if [ -f "$DOC" ] && grep -q '^<!-- notes -->' "$DOC"; then # keep hand-written notes below the marker
        sed -n '/^<!-- notes -->/,$p' "$DOC" >"$W/notes"
        cat "$W/report.md" - "$W/notes" <<<"" >"$DOC"
    else
        cp "$W/report.md" "$DOC"
    fi
    say "report written to $DOC"
fi
