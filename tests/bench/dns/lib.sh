# Shared by the DNS benchmark's scripts (run.sh: timed rounds; work.sh: instructions per query
# under callgrind): preflight, the work dir and its cleanup, the data set (1,000 services, 3,000 task
# records, the query mix), every server's config and start, and the process helpers. Sourced, not
# run, with the script's arguments (`. lib.sh "$@"`: $1 is the build dir); it sets REPO, HERE,
# BUILD_DIR and PEERD; the script sets KEEP (read at exit).
#
# SERVER_WRAP (an array, empty by default) is put in front of the measured server's command (echo,
# knotd, nsd, unbound, dnsmasq, peerd node 1), after its taskset: work.sh sets it to valgrind.
# shellcheck shell=bash

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
HERE=$REPO/tests/bench/dns
BUILD_DIR=${1:-${BUILD_DIR:-$REPO/build}}
BUILD_DIR=$(cd "$BUILD_DIR" 2>/dev/null && pwd) || { echo "no build dir ${1:-build}" >&2; exit 2; }
PEERD=$BUILD_DIR/core/daemon/peerd
PEERCTL=$BUILD_DIR/cli/peerctl

declare -A ADDR=([peerd]=127.0.53.1 [knot]=127.0.53.2 [nsd]=127.0.53.3 [unbound]=127.0.53.4
    [dnsmasq]=127.0.53.5 [echo]=127.0.53.6)
NSVC=1000
PORT=5300
SERVER_CPU=1
CLIENT_CPU=0
[ -n "${SERVER_WRAP+x}" ] || SERVER_WRAP=()
START_S=${START_S:-10} # how long a server may take to start answering, s

# ------------------------------------------------------------------ preflight
die() { echo "dns bench: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (apt-get)"
[ -x "$PEERD" ] || die "no peerd in $BUILD_DIR: run make build"
# --all: run.sh pins itself to the client CPU (below) before it starts work.sh, which sources this too
[ "$(nproc --all)" -ge 2 ] || die "needs 2 CPUs (server on CPU $SERVER_CPU, dnsperf on CPU $CLIENT_CPU)"
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
: >"$W/cgroups"
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
# Servers that leave their UDP receive buffer at the kernel's default (knot, dnsmasq) would get
# 208 KB where peerd and echo ask for 8 MB, and a deep queue of queries overflows that (knot lost
# thousands of queries a second in the server-bound run and dnsperf then starved it, holding the
# lost queries' slots for its 2 s timeout): for the run the default is RMEM_BYTES for every socket
# opened, restored at exit.
RMEM_BYTES=$((8 << 20))
RMEM_SAVED=""
rmem_raise() {
    RMEM_SAVED=$(sysctl -n net.core.rmem_default) || return 1
    sysctl -qw net.core.rmem_default=$RMEM_BYTES
}
rmem_restore() {
    [ -n "$RMEM_SAVED" ] && sysctl -qw net.core.rmem_default="$RMEM_SAVED"
    RMEM_SAVED=""
}
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [ -s "$W/pids" ]; then
        while read -r p; do stop_pid "$p"; done <"$W/pids"
    fi
    cg_remove_all
    rmem_restore
    if [ "$KEEP" = 1 ] || [ $rc -ne 0 ]; then echo "work dir kept: $W" >&2; else rm -rf "$W"; fi
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM
track() { echo "$1" >>"$W/pids"; }

mkdir -p "$W/bin"
cc -O2 -o "$W/bin/echo" "$HERE/echo.c" || die "cannot build echo.c"
cc -O2 -o "$W/bin/latency" "$HERE/latency.c" || die "cannot build latency.c"
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
start_echo() { taskset -c $SERVER_CPU "${SERVER_WRAP[@]}" "$W/bin/echo" "${ADDR[echo]}" $PORT >"$W/echo.log" 2>&1 & echo $!; }

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
    taskset -c $SERVER_CPU "${SERVER_WRAP[@]}" knotd -c "$W/knot/knot.conf" >"$W/knot/log" 2>&1 &
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
    taskset -c $SERVER_CPU "${SERVER_WRAP[@]}" nsd -d -c "$W/nsd/nsd.conf" >"$W/nsd/log" 2>&1 &
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
    taskset -c $SERVER_CPU "${SERVER_WRAP[@]}" unbound -d -c "$W/unbound/unbound.conf" >"$W/unbound/log" 2>&1 &
    echo $!
}

start_dnsmasq() {
    mkdir -p "$W/dnsmasq"
    taskset -c $SERVER_CPU "${SERVER_WRAP[@]}" dnsmasq -k --conf-file=/dev/null --pid-file="$W/dnsmasq/pid" --user=root \
        --listen-address="${ADDR[dnsmasq]}" --bind-interfaces --port=$PORT --no-resolv --no-hosts \
        --addn-hosts="$W/zones/hosts" --local=/svc/ --local-ttl=$TTL --log-facility="$W/dnsmasq/log" \
        >"$W/dnsmasq/out" 2>&1 &
    echo $!
}

# The three peerd nodes; node 1 serves DNS on CPU 1, nodes 2-3 (--no-dns) share CPU 0 with the
# client so that CPU 1 holds only the measured server.
peerd_node() { # N [extra args...]
    local n=$1 cpu=$CLIENT_CPU wrap=()
    shift
    [ "$n" = 1 ] && cpu=$SERVER_CPU wrap=("${SERVER_WRAP[@]}")
    mkdir -p "$W/peerd/n$n"
    taskset -c $cpu "${wrap[@]}" "$PEERD" --data-dir "$W/peerd/n$n" --socket "$W/peerd/n$n/ctl.sock" \
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
    local i
    for i in $(seq 1 $NSVC); do echo "@$1 -p $PORT +short +tries=1 +time=2 tasks.svc$i.svc A"; done >"$W/dig.batch"
    dig -f "$W/dig.batch" 2>/dev/null | grep -c '^10\.'
}
# All 1,000 svcN answers; prints how many are one VIP of the range.
count_vips() {
    local i
    for i in $(seq 1 $NSVC); do echo "@$1 -p $PORT +short +tries=1 +time=2 svc$i.svc A"; done >"$W/dig.batch"
    dig -f "$W/dig.batch" 2>/dev/null | grep -c '^10\.254\.'
}
worker_token_of_n1() { "$PEERCTL" --socket "$W/peerd/n1/ctl.sock" swarm join-token -q worker 2>/dev/null; }
start_peerd() {
    local p1 p2 p3 n c i
    local token
    p1=$(peerd_node 1 --init --dns-addr "${ADDR[peerd]}:$PORT" --dns-upstream 127.0.53.250:53 --dns-ttl $TTL \
        --vip-range 10.254.0.0/16)
    track "$p1"
    wait_for "$START_S" worker_token_of_n1 >/dev/null || return 1
    token=$(worker_token_of_n1)
    for n in 2 3; do # workers, joined with the token at start
        p2=$(peerd_node $n --no-dns --join-token "$token" --join-manager 127.0.54.1:2377)
        track "$p2"
        wait_for 10 test -s "$W/peerd/n$n/node.crt" || return 1
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
    # The registrations keep gossip busy for a minute or so after every record is in (each update
    # is retransmitted a few times, a few per packet): measure the steady state, not that.
    local t0=$SECONDS q
    for i in $(seq 300); do
        q=$(for n in 1 2 3; do "$PEERCTL" --socket "$W/peerd/n$n/ctl.sock" gossip stats; done |
            awk '$1 == "broadcast_queue" { s += $2 } END { print s + 0 }')
        [ "$q" = 0 ] && break
        sleep 1
    done
    [ "$q" = 0 ] || { say "peerd: gossip still has $q broadcasts queued after $((SECONDS - t0)) s"; return 1; }
    say "peerd: gossip settled (broadcast queues empty) $((SECONDS - t0)) s later"
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
# A CPU budget per server: each measured server's processes sit in a cgroup of their own (cgroup v1
# "cpu" controller) with a high cpu.shares, so that other load on the machine cannot take the
# server's CPU from it; cg_cap puts a CFS quota on it for one run, so that the server (not dnsperf,
# which saturates first on this machine) is what limits QPS. A short period keeps the queue that
# builds while a server is throttled (at most one period's queries) well inside a socket buffer.
CG_ROOT=${BENCH_DNS_CGROOT:-/sys/fs/cgroup/cpu}
CG_PERIOD_US=${BENCH_DNS_CAP_PERIOD_US:-5000}
cg_dir() { echo "$CG_ROOT/pdbench-dns-$$-$1"; }
cg_ok() { [ -w "$CG_ROOT/cgroup.procs" ] && [ -e "$CG_ROOT/cpu.cfs_quota_us" ]; }
cg_join() { # NAME: every process of the server into its group (made on first use)
    local g p
    g=$(cg_dir "$1")
    cg_ok || return 1
    if [ ! -d "$g" ]; then
        mkdir "$g" && echo "$g" >>"$W/cgroups" || return 1
        echo 10240 >"$g/cpu.shares" && echo "$CG_PERIOD_US" >"$g/cpu.cfs_period_us" || return 1
    fi
    for p in $(grep -l -F -- "$(marker "$1")" /proc/[0-9]*/cmdline 2>/dev/null); do
        p=${p#/proc/}
        echo "${p%/cmdline}" >"$g/cgroup.procs" 2>/dev/null || true
    done
}
cg_join_self() { # this script, so dnsperf and the rest it starts, into a high-shares group too
    local g
    g=$(cg_dir client)
    cg_ok || return 1
    mkdir "$g" && echo "$g" >>"$W/cgroups" && echo 10240 >"$g/cpu.shares" && echo $$ >"$g/cgroup.procs"
}
cg_cap() { # NAME PERCENT|off: CPU quota of the server's group, in % of one CPU
    local g
    g=$(cg_dir "$1")
    [ -d "$g" ] || return 1
    if [ "$2" = off ]; then echo -1 >"$g/cpu.cfs_quota_us"; return; fi
    local q=$((CG_PERIOD_US * $2 / 100))
    [ $q -ge 1000 ] || { say "cap: a quota of $q µs is below the kernel's 1 ms floor: raise BENCH_DNS_CAP_PERIOD_US"; return 1; }
    echo $q >"$g/cpu.cfs_quota_us"
}
cg_throttled() { # NAME: nr_throttled of the group so far
    awk '$1 == "nr_throttled" { print $2 }' "$(cg_dir "$1")/cpu.stat" 2>/dev/null
}
cg_remove_all() { # processes left in a group go back to the root group first
    local g p
    [ -s "$W/cgroups" ] || return 0
    while read -r g; do
        [ -d "$g" ] || continue
        while read -r p; do echo "$p" >"$CG_ROOT/cgroup.procs" 2>/dev/null; done <"$g/cgroup.procs"
        rmdir "$g" 2>/dev/null || echo "dns bench: could not remove cgroup $g" >&2
    done <"$W/cgroups"
    : >"$W/cgroups"
}
stat_of() { # FILE "label" -> the first number after it
    awk -v k="$2" 'index($0, k) { sub(/.*: */, ""); print $1 + 0; exit }' "$1"
}
