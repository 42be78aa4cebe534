#!/usr/bin/env bash
# DNS benchmark: peerd's built-in DNS server side by side with knot, nsd, unbound and dnsmasq
# (and a null UDP echo server, the floor), driven by dnsperf, on loopback.
#
#   tests/bench/dns/run.sh [BUILD_DIR]              full run: 5 rounds (~9 min) + instruction counts
#                                                   (~5 min): about 14 minutes
#   BENCH_QUICK=1 tests/bench/dns/run.sh build      quick run (1 round of 3 s windows; ~3 minutes)
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
# The data, configs and server starts are in lib.sh, shared with work.sh.
#
# All servers are started once and stay up; then ROUNDS rounds, each of which runs each kind of
# measurement below for every server back to back (so the figures a verdict compares are seconds
# apart), in an order rotated by one each round (so no server is always first or last after a
# given other), so that a slow drift or a burst of load on this shared machine lands on all
# servers alike. The kinds, in this order:
#   1. max QPS: dnsperf -l DURATION -c CLIENTS -q OUTSTANDING -T 1; lost queries; server CPU
#      (utime+stime of the server process and its children from /proc/PID/stat) per completed
#      query, and that minus the echo server's figure of the same round ("DNS work per query");
#   2. server-bound max QPS: dnsperf with the server's CPU capped by a CFS quota (BENCH_DNS_CAP %
#      of one CPU, cgroup v1 "cpu" controller; lib.sh cg_*) and a deep queue (-q CAP_OUTSTANDING,
#      so the server finds a backlog whenever it runs). Uncapped, every server here is faster than
#      one dnsperf thread, so run 1 measures the client; capped, QPS is the server's own: queries
#      per second of a fixed CPU budget, the kernel's receive/send work in the server's context
#      included;
#   3. latency at a fixed rate: dnsperf -Q RATE -v (dnsperf 2.10 has no latency histogram, so the
#      per-query latencies of -v are sorted for p50/p99); lost queries and CPU per query at that rate.
#      dnsperf stamps an answer when its receive thread reads it, and that thread shares the client
#      CPU with the sender: its p99 is the client's (the echo server's is as high as any server's);
#   4. the server's latency at the same rate: latency.c, an open-loop client that sends on a fixed
#      schedule and takes each answer's arrival time from the kernel (SO_TIMESTAMPNS), in slots of
#      0.5 s (after a warm-up of BENCH_DNS_WARMUP_S each) that the servers take in turns, TLAT_S s
#      pooled per server: p50/p90/p99/p99.9, lost, and sends the client made late.
# The report shows every round's raw figures and the medians over the rounds; the verdicts use the
# medians. Then peerd with 100 endpoint changes/s (loader.c deregistering/registering endpoints
# on nodes 2 and 3) during a max-QPS run, with dig spot checks of the answers during the churn.
# Last, with every timed server stopped, work.sh counts each server's instructions per query
# under callgrind (noise-free DNS work; see work.sh), and the report includes its section.
# Query mix: 80% svcN.svc A, 15% tasks.svcN.svc A, 5% nosuchN.svc A (NXDOMAIN), N uniform 1..1000.
#
# Settings (environment):
#   BENCH_QUICK=1                  quick presets; any setting given explicitly wins
#   BENCH_DNS_ROUNDS=5             rounds                       (quick: 1)
#   BENCH_DNS_DURATION=5           max-QPS window, s            (quick: 3)
#   BENCH_DNS_LAT_S=4              fixed-rate window of dnsperf, s (quick: 3)
#   BENCH_DNS_TLAT_S=12            latency.c: counted seconds per server and round (quick: 3); the
#                                  p99 sits among the few hundred slowest answers a second, which
#                                  this VM's stalls move: 4 s gave per-round ratios from 0.76 to 1.72
#   BENCH_DNS_RATE=50000           fixed rate, queries/s
#   BENCH_DNS_WARMUP_S=0.1         latency.c: queries sent in the first this many seconds of a slot are not counted
#   BENCH_DNS_CLIENTS=8 BENCH_DNS_OUTSTANDING=200   dnsperf -c / -q for the max-QPS runs
#   BENCH_DNS_CAP=40               CPU cap of the server-bound max-QPS run, % of one CPU (0: no such run)
#   BENCH_DNS_CAP_PERIOD_US=5000   CFS period of the cap (the kernel wants a quota of 1 ms or more)
#   BENCH_DNS_CAP_OUTSTANDING=2000 dnsperf -q of the capped run: with -q 200 the backlog a throttled
#                                  server finds is gone in a fraction of its quota, and it then waits
#                                  on dnsperf (one query per wakeup), so the client set the figure
#   BENCH_DNS_CHURN=100            endpoint changes/s during the churn run
#   BENCH_DNS_SERVERS="echo peerd knot nsd unbound dnsmasq"
#   BENCH_DNS_WORK=1               run work.sh (instructions per query) after the rounds (quick: 0;
#                                  with 0 the doc keeps the section of the last work.sh run)
#   BENCH_DNS_WAIT_S=1800          wait up to this long for a running gossip bench (it measures
#                                  CPU too) to finish before measuring; 0 = don't wait
#   BENCH_DNS_PERF=1               perf record peerd during a max-QPS run (report in the work dir)
#   BENCH_DNS_DOC=docs/bench/dns.md  report file ("" = print only)   BENCH_KEEP=1 keep the work dir
set -u -o pipefail
export LC_ALL=C

# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh" "$@"

QUICK=${BENCH_QUICK:-0}
if [ "$QUICK" = 1 ]; then d_dur=3 d_lat=3 d_tlat=3 d_rounds=1 d_work=0; else d_dur=5 d_lat=4 d_tlat=12 d_rounds=5 d_work=1; fi
ROUNDS=${BENCH_DNS_ROUNDS:-$d_rounds}
DURATION=${BENCH_DNS_DURATION:-$d_dur}
LAT_S=${BENCH_DNS_LAT_S:-$d_lat}
TLAT_S=${BENCH_DNS_TLAT_S:-$d_tlat}
RATE=${BENCH_DNS_RATE:-50000}
WARMUP_S=${BENCH_DNS_WARMUP_S:-0.1}
TLAT_SLOT_S=0.5
TLAT_SLOTS=$(awk -v a="$TLAT_S" -v b="$TLAT_SLOT_S" 'BEGIN { n = int(a / b + 0.5); print n < 1 ? 1 : n }')
CLIENTS=${BENCH_DNS_CLIENTS:-8}
OUTSTANDING=${BENCH_DNS_OUTSTANDING:-200}
CHURN=${BENCH_DNS_CHURN:-100}
CAP=${BENCH_DNS_CAP:-40}
CAP_OUTSTANDING=${BENCH_DNS_CAP_OUTSTANDING:-2000}
SERVERS=${BENCH_DNS_SERVERS:-"echo peerd knot nsd unbound dnsmasq"}
WORK=${BENCH_DNS_WORK:-$d_work}
WAIT_S=${BENCH_DNS_WAIT_S:-1800}
PERF=${BENCH_DNS_PERF:-0}
DOC=${BENCH_DNS_DOC-$REPO/docs/bench/dns.md}
KEEP=${BENCH_KEEP:-0}

CMDLINE="tests/bench/dns/run.sh $*"
for v in BENCH_QUICK BENCH_DNS_ROUNDS BENCH_DNS_DURATION BENCH_DNS_LAT_S BENCH_DNS_TLAT_S BENCH_DNS_RATE BENCH_DNS_WARMUP_S BENCH_DNS_CLIENTS \
    BENCH_DNS_OUTSTANDING BENCH_DNS_CAP BENCH_DNS_CAP_PERIOD_US BENCH_DNS_CAP_OUTSTANDING BENCH_DNS_CHURN BENCH_DNS_SERVERS BENCH_DNS_WORK BENCH_DNS_WAIT_S BENCH_DNS_PERF; do
    [ -n "${!v+x}" ] && CMDLINE="$v=\"${!v}\" $CMDLINE"
done
[ "$ROUNDS" -ge 1 ] 2>/dev/null || { echo "BENCH_DNS_ROUNDS must be 1 or more" >&2; exit 2; }
[ "$CAP" -ge 0 ] 2>/dev/null && [ "$CAP" -lt 100 ] || { echo "BENCH_DNS_CAP must be 0..99" >&2; exit 2; }
if [ "$CAP" -gt 0 ] && ! cg_ok; then
    echo "dns bench: no writable cgroup v1 cpu controller at $CG_ROOT: the server-bound run is skipped" >&2
    CAP=0
fi
# With the servers' groups at high shares, dnsperf (started by this script) needs them too, or other
# load on the client CPU would make the client the limit again.
if [ "$CAP" -gt 0 ]; then cg_join_self || { echo "dns bench: cannot make the client's cgroup" >&2; exit 1; }; fi

T_START=$(date +%s)

# UDP datagrams the kernel dropped for a full socket receive buffer (all sockets, loopback included)
rcvbuf_errors() { awk '$1 == "Udp:" { if (!n) { for (i = 2; i <= NF; i++) if ($i == "RcvbufErrors") n = i } else { print $n; exit } }' /proc/net/snmp; }
# busy ticks of one CPU (user nice system irq softirq steal) from /proc/stat
cpu_busy() { awk -v c="cpu$1" '$1 == c { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat; }
# max QPS run: echoes "qps completed lost cpu_us_per_query server_busy_pct other_busy_pct_on_server_cpu
# cpu_total_us_per_query" (the last: all busy time of the server's CPU, its kernel work included)
run_max() { # NAME TAG [OUTSTANDING]
    local name=$1 out="$W/$1.$2.max.txt" c0 c1 q=${3:-$OUTSTANDING}
    c0=$(cpu_ticks "$name")
    local b0 b1
    b0=$(cpu_busy $SERVER_CPU)
    taskset -c $CLIENT_CPU dnsperf -s "${ADDR[$name]}" -p $PORT -d "$W/queries.txt" -l "$DURATION" \
        -c "$CLIENTS" -q "$q" -T 1 -t 2 >"$out" 2>&1
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
run_lat() { # NAME TAG
    local name=$1 out="$W/$1.$2.lat.txt" e0 e1 c0 c1 b0 b1
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
    awk '/^> / && $NF ~ /^[0-9.]+$/ { print $NF * 1e6 }' "$out" | sort -g >"$W/$1.$2.lat.sorted"
    awk -v l="$lost" -v q="$qps" -v e=$((e1 - e0)) -v t=$((c1 - c0)) -v hz="$CLK_TCK" -v d="$done" \
        -v o=$(((b1 - b0 - (c1 - c0)) * 100 / CLK_TCK / LAT_S)) -v b=$((b1 - b0)) '{ v[NR] = $1 } END {
        cpu = d ? t * 1e6 / hz / d : 0; if (o < 0) o = 0; tot = d ? b * 1e6 / hz / d : 0
        if (NR == 0) { printf "- - %d %.0f %d %.3f %d %.3f\n", l, q, e, cpu, o, tot; exit }
        i50 = int(NR * 0.50); if (i50 < 1) i50 = 1; i99 = int(NR * 0.99); if (i99 < 1) i99 = 1
        printf "%.0f %.0f %d %.0f %d %.3f %d %.3f\n", v[i50], v[i99], l, q, e, cpu, o, tot }' "$W/$1.$2.lat.sorted"
    rm -f "$W/$1.$2.lat.sorted"
    sed -i '/^> /d' "$out" # keep the summary only
}
# The server latency phase of a round (latency.c at the fixed rate): TLAT_SLOTS slots of
# TLAT_SLOT_S counted seconds per server, the servers taking turns (slot 1 of each, then slot 2,
# ...), pooled per server. This VM stalls for milliseconds about once a second, and those stalls
# set the p99: in turns, they land on every server alike instead of on whichever server's one
# window they fell in. Results lines "NAME tlat ROUND p50 p90 p99 p999 max lost late_sends".
measure_tlat() { # ROUND NAME...
    local round=$1 slot s line secs
    shift
    secs=$(awk -v a="$TLAT_SLOT_S" -v b="$WARMUP_S" 'BEGIN { print a + b }')
    for s in "$@"; do : >"$W/$s.r$round.tlat.raw" && : >"$W/$s.r$round.tlat.txt"; done
    for slot in $(seq "$TLAT_SLOTS"); do
        for s in "$@"; do
            taskset -c $CLIENT_CPU "$W/bin/latency" "${ADDR[$s]}" $PORT "$W/queries.txt" "$RATE" "$secs" "$WARMUP_S" 4 \
                "$W/$s.r$round.tlat.raw" >>"$W/$s.r$round.tlat.txt" 2>&1
        done
    done
    for s in "$@"; do
        line=$(sort -g "$W/$s.r$round.tlat.raw" | awk -v sums="$(awk '$1 == "sent" { for (i = 1; i < NF; i += 2) v[$i] += $(i + 1) }
                END { print v["lost"] + 0, v["late_sends"] + 0 }' "$W/$s.r$round.tlat.txt")" '{ v[NR] = $1 }
            function at(p,  i) { i = int(p * NR); if (i >= NR) i = NR - 1; return v[i + 1] }
            END { if (NR == 0) exit; printf "%s %s %s %s %s %s\n", at(0.50), at(0.90), at(0.99), at(0.999), v[NR], sums }')
        rm -f "$W/$s.r$round.tlat.raw"
        say "round $round: $s: at $RATE/s, timestamped (latency.c, $TLAT_SLOTS slots): p50 p90 p99 p99.9 max (µs) lost late_sends = $line"
        [ -n "$line" ] && echo "$s tlat $round $line" >>"$W/results"
    done
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

# Start one server and check it answers the data; echoes its PID (peerd: node 1's).
declare -A PID=()
start_server() { # NAME
    local name=$1 pid r
    say "$name: starting on ${ADDR[$name]}:$PORT"
    if [ "$name" = peerd ]; then
        pid=$(start_peerd) || { say "peerd: setup failed"; return 1; }
    else
        pid=$(start_$name)
        track "$pid"
    fi
    if [ "$name" = echo ]; then
        wait_for 10 sh -c "ss -Hlun 'src ${ADDR[echo]}:$PORT' | grep -q ." || { say "echo: not listening"; return 1; }
    else
        wait_for 10 sh -c "dig +short +tries=1 +time=1 @${ADDR[$name]} -p $PORT tasks.svc1.svc A | grep -q '^10\.'" ||
            { say "$name: not answering"; tail -5 "$W/$name"/*log* 2>/dev/null >&2; stop_pid "$pid"; return 1; }
        r=$(dig +short @"${ADDR[$name]}" -p $PORT tasks.svc1.svc A | sort | tr '\n' ' ')
        say "$name: tasks.svc1.svc -> $r"
        [ "$(wc -w <<<"$r")" = 3 ] || { say "$name: expected 3 answers"; stop_pid "$pid"; return 1; }
    fi
    pin_threads "$name"
    if [ "$CAP" -gt 0 ]; then cg_join "$name" || { say "$name: cannot make its cgroup"; stop_pid "$pid"; return 1; }; fi
    PID[$name]=$pid
}

# One measurement of one server; results lines "NAME KIND ROUND figures...".
measure() { # NAME ROUND KIND (max | cap | lat)
    local name=$1 round=$2 kind=$3 r t0 t1
    case $kind in
    max)
        r=$(run_max "$name" "r$round")
        say "round $round: $name: max: qps completed lost cpu_us/q busy% other% cpu_total_us/q = $r"
        ;;
    cap)
        cg_join "$name" # a child forked since the start (none of ours do; cheap to be sure)
        t0=$(cg_throttled "$name")
        cg_cap "$name" "$CAP" || die "cannot set the CPU cap of $name"
        r=$(run_max "$name" "r$round.cap" "$CAP_OUTSTANDING")
        cg_cap "$name" off
        t1=$(cg_throttled "$name")
        r="$r $((t1 - t0))"
        say "round $round: $name: max at ${CAP}% of a CPU: qps completed lost cpu_us/q busy% other% cpu_total_us/q throttled = $r"
        ;;
    lat)
        r=$(run_lat "$name" "r$round")
        say "round $round: $name: at $RATE/s: p50_us p99_us lost qps rcvbuf_drops cpu_us/q other% cpu_total_us/q = $r"
        ;;
    esac
    [ -n "$r" ] && echo "$name $kind $round $r" >>"$W/results"
}

perf_peerd() {
    taskset -c $CLIENT_CPU dnsperf -s "${ADDR[peerd]}" -p $PORT -d "$W/queries.txt" -l 12 \
        -c "$CLIENTS" -q "$OUTSTANDING" -T 1 -t 2 >/dev/null 2>&1 &
    local dp=$!
    track $dp
    sleep 1
    perf record -q -g -o "$W/perf.data" -p "${PID[peerd]}" -- sleep 10 >/dev/null 2>&1
    wait $dp
    perf report -i "$W/perf.data" --stdio --no-children 2>/dev/null | head -80 >"$W/perf.txt"
    say "peerd: perf profile in $W/perf.txt"
}

# the median of the numbers on stdin, one a line (ignoring anything else)
median() { sort -g | awk '$1 ~ /^-?[0-9.]+$/ { v[++n] = $1 } END { if (!n) print ""; else if (n % 2) print v[(n + 1) / 2]; else print (v[n / 2] + v[n / 2 + 1]) / 2 }'; }
# One max run of peerd for the churn comparison: capped like the server-bound run when the bench
# caps (with the client the limit, churn could only show as noise), else uncapped.
run_churn_max() { # TAG
    if [ "$CAP" -gt 0 ]; then
        cg_cap peerd "$CAP" || die "cannot set the CPU cap of peerd"
        run_max peerd "$1" "$CAP_OUTSTANDING"
        cg_cap peerd off
    else
        run_max peerd "$1"
    fi
}
# Churn windows alternate with quiet ones, Q C Q C Q C Q (CHURN_WINDOWS churn windows), all the
# same run, and the medians are compared: this VM's speed swings by 25% within a minute (a quiet
# run has gone from 113k to 178k QPS between two windows), more than one window against its
# neighbours can tell from churn.
CHURN_WINDOWS=3
churn_window() { # WINDOW (1..): one churn window; appends "c QPS ..." to $W/churn.runs and its spot checks to $W/churn.checks
    local win=$1 lp dp ok=0 bad=0
    "$W/bin/loader" churn "$CHURN" $((DURATION + 4)) $NSVC "$W/peerd/n2/ctl.sock:2" "$W/peerd/n3/ctl.sock:3" \
        >"$W/churn.$win.txt" 2>&1 &
    lp=$!
    track $lp
    sleep 2 # the churn under way
    [ "$win" = 1 ] && count_records "${ADDR[peerd]}" >"$W/churn.mid" # one full sweep mid-churn
    run_churn_max "churn.c$win" >"$W/churn.max" &
    dp=$!
    sleep 1
    while kill -0 $dp 2>/dev/null; do # light spot checks (niced, on the client CPU)
        if check_answers; then ok=$((ok + 1)); else bad=$((bad + 1)); fi
        sleep 1
    done
    wait $dp
    echo "c $(cat "$W/churn.max")" >>"$W/churn.runs"
    wait $lp
    echo "$ok $bad $(awk '{ print $1 }' "$W/churn.$win.txt")" >>"$W/churn.checks"
    say "peerd churn window $win: $(cat "$W/churn.$win.txt"); max: $(cat "$W/churn.max"); spot checks ok=$ok bad=$bad"
}
measure_churn() { # PID of the DNS node
    local i r after=0 qm cm
    : >"$W/churn.runs"
    : >"$W/churn.checks"
    for i in $(seq $CHURN_WINDOWS); do
        echo "q $(run_churn_max "churn.q$i")" >>"$W/churn.runs"
        churn_window "$i"
    done
    for i in $(seq 15); do # every endpoint back in DNS after the churn
        after=$(count_records "${ADDR[peerd]}")
        [ "$after" = $((3 * NSVC)) ] && break
        sleep 2
    done
    say "peerd churn: $after task records after the churn"
    echo "q $(run_churn_max "churn.q$((CHURN_WINDOWS + 1))")" >>"$W/churn.runs"
    qm=$(awk '$1 == "q" { print $2 }' "$W/churn.runs" | median)
    cm=$(awk '$1 == "c" { print $2 }' "$W/churn.runs" | median)
    # the churn window with the median QPS gives the other figures of the line
    r=$(awk -v m="$cm" '$1 == "c" && $2 == m { $1 = ""; print; exit }' "$W/churn.runs")
    say "peerd churn: quiet windows $(awk '$1 == "q" { printf "%s ", $2 }' "$W/churn.runs")(median $qm); churn windows $(awk '$1 == "c" { printf "%s ", $2 }' "$W/churn.runs")(median $cm)"
    echo "peerd churn $r $(awk '{ ok += $1; bad += $2; n += $3 } END { print ok + 0, bad + 0 }' "$W/churn.checks") $(cat "$W/churn.mid") $after $(awk '{ n += $3 } END { print n + 0 }' "$W/churn.checks") $qm $(awk '$1 == "q" { printf "%s%s", s, $2; s = "," }' "$W/churn.runs") $(awk '$1 == "c" { printf "%s%s", s, $2; s = "," }' "$W/churn.runs")" >>"$W/results"
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
rmem_raise || die "cannot set net.core.rmem_default"
say "net.core.rmem_default $RMEM_SAVED -> $RMEM_BYTES for the run (restored at exit)"
gen_data
: >"$W/results"
# peerd's answer path alone (no IO, warm caches), on the server CPU: the floor of its DNS work
answer_ns=$(taskset -c $SERVER_CPU "$W/bin/answer" 2000000 | awk '{ for (i = 1; i < NF; i++) if ($(i + 1) == "ns/query,") print $i }')
say "peerd answer path alone (tests/bench/dns/answer.c): ${answer_ns:-?} ns/query"
UP=""
for s in $SERVERS; do
    if start_server "$s"; then UP="$UP $s"; else say "$s: FAILED to start"; fi
done
read -r -a up <<<"$UP"
sleep 2
for round in $(seq 1 "$ROUNDS"); do
    k=$(((round - 1) % ${#up[@]}))
    order=("${up[@]:k}" "${up[@]:0:k}")
    say "round $round of $ROUNDS: ${order[*]}"
    # one kind of run for every server back to back, so that the figures a verdict compares were
    # taken seconds apart (this VM's speed drifts by more than the servers differ over minutes)
    kinds="max lat tlat"
    [ "$CAP" -gt 0 ] && kinds="max cap lat tlat"
    for kind in $kinds; do
        if [ "$kind" = tlat ]; then measure_tlat "$round" "${order[@]}"; continue; fi
        for s in "${order[@]}"; do measure "$s" "$round" "$kind"; done
    done
done
T_ROUNDS=$(($(date +%s) - T_START))
if [ -n "${PID[peerd]:-}" ]; then
    [ "$PERF" = 1 ] && command -v perf >/dev/null && perf_peerd
    measure_churn "${PID[peerd]}"
fi
while read -r p; do stop_pid "$p"; done <"$W/pids"
: >"$W/pids"
if [ "$WORK" = 1 ]; then
    say "instructions per query (work.sh)"
    # work.sh refuses to start while a bench address is still taken: let the stopped servers (nsd's
    # children among them) release their sockets first
    for _ in $(seq 50); do
        busy=0
        for a in "${ADDR[@]}"; do ss -Hlun "src $a:$PORT" | grep -q . && busy=1; done
        [ $busy = 0 ] && break
        sleep 0.2
    done
    if ! BENCH_DNS_WORK_OUT="$W/work.md" BENCH_DNS_WORK_RESULTS="$W/work.results" BENCH_DNS_SERVERS="$SERVERS" \
        "$HERE/work.sh" "$BUILD_DIR" >"$W/work.log" 2>&1; then
        say "work.sh failed; its last lines:"
        tail -5 "$W/work.log" | while read -r l; do say "  $l"; done
    fi
elif [ -n "$DOC" ] && [ -f "$DOC" ] && grep -q '^<!-- work -->' "$DOC"; then
    # keep the last work.sh section
    sed -n '/^<!-- work -->/,/^<!-- \/work -->/p' "$DOC" >"$W/work.md"
fi
T_ALL=$(($(date +%s) - T_START))
say "timed rounds took $T_ROUNDS s, everything $T_ALL s"

# ------------------------------------------------------------------ report
# results lines: "NAME max ROUND qps completed lost cpu busy% other% cpu_total"
#                "NAME cap ROUND qps completed lost cpu busy% other% cpu_total throttled_periods"
#                "NAME lat ROUND p50 p99 lost qps rcvbuf_drops cpu other% cpu_total"
#                "peerd churn qps completed lost cpu busy% other% cpu_total ok bad mid after changes
#                 quiet_median quiet_qps_list churn_qps_list" (the churn window with the median QPS)
raw() { awk -v s="$1" -v k="$2" -v r="$3" -v f="$4" '$1 == s && $2 == k && $3 == r { print $(f + 3); exit }' "$W/results"; }
get() { awk -v s="$1" -v k="$2" -v f="$3" '$1 == s && $2 == k { print $(f + 2); exit }' "$W/results"; }
# median over the rounds of field F (ignoring rounds without a number): median() is defined above
med() { # NAME KIND FIELD
    awk -v s="$1" -v k="$2" -v f="$3" '$1 == s && $2 == k { print $(f + 3) }' "$W/results" | median
}
# median over the rounds of (server - echo of the same round) in field F: the DNS work
med_work() { # NAME KIND FIELD
    awk -v s="$1" -v k="$2" -v f="$3" '$1 == "echo" && $2 == k { e[$3] = $(f + 3) }
        $1 == s && $2 == k { v[$3] = $(f + 3) }
        END { for (r in v) if (r in e && v[r] ~ /^[0-9.]+$/ && e[r] ~ /^[0-9.]+$/) printf "%.3f\n", v[r] - e[r] }' "$W/results" | median
}
# peerd-vs-knot figures paired by round: A's field F of KIND over B's, per round in round order,
# and the median of those ratios (the verdicts use it: pairs taken seconds apart cancel the drift
# of this VM's speed between rounds, which is larger than the servers' differences)
ratios() { # A B KIND FIELD
    awk -v a="$1" -v b="$2" -v k="$3" -v f="$4" '$2 == k && $1 == a { x[$3] = $(f + 3) } $2 == k && $1 == b { y[$3] = $(f + 3) }
        END { for (r = 1; r <= 1000; r++) if ((r in x) && (r in y) && y[r] + 0 > 0) printf "%.2f\n", x[r] / y[r] }' "$W/results"
}
med_ratio() { ratios "$@" | median; }
fmt() { awk -v a="$1" -v p="${2:-%.2f}" 'BEGIN { if (a == "") print "-"; else printf p "\n", a }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "-"; else printf "%.2f", a / b }'; }
verdict() { if awk "BEGIN { exit !($1) }"; then echo "**met**"; else echo "**not met**"; fi; }
has() { grep -q "^$1 max " "$W/results"; }
row_med() { # NAME: medians of the process figures
    local s=$1 work work50
    has "$s" || { echo "| $s | failed | | | | | | | | | | | | |"; return; }
    if [ "$s" = echo ]; then work="(floor)" work50="(floor)"; else
        work=$(fmt "$(med_work "$s" max 4)") work50=$(fmt "$(med_work "$s" lat 6)")
    fi
    echo "| $s | $(fmt "$(med "$s" max 1)" %.0f) | $(fmt "$(med "$s" max 5)" %.0f)% | $(fmt "$(med "$s" max 6)" %.0f)% | $(fmt "$(med "$s" max 3)" %.0f) | $(fmt "$(med "$s" max 4)") | $work | $(fmt "$(med "$s" lat 6)") | $work50 | $(fmt "$(med "$s" lat 1)" %.0f) | $(fmt "$(med "$s" lat 2)" %.0f) | $(fmt "$(med "$s" lat 3)" %.0f) | $(fmt "$(med "$s" lat 5)" %.0f) | $(fmt "$(med "$s" lat 7)" %.0f)% |"
}
row_total() { # NAME: medians of the whole-CPU figures
    local s=$1 w w50
    has "$s" || { echo "| $s | failed | | | |"; return; }
    if [ "$s" = echo ]; then w="(floor)" w50="(floor)"; else
        w=$(fmt "$(med_work "$s" max 7)") w50=$(fmt "$(med_work "$s" lat 8)")
    fi
    echo "| $s | $(fmt "$(med "$s" max 7)") | $w | $(fmt "$(med "$s" lat 8)") | $w50 |"
}
row_cap() { # NAME: medians of the server-bound (capped) runs
    local s=$1 e q
    grep -q "^$s cap " "$W/results" || { echo "| $s | failed | | | | |"; return; }
    q=$(med "$s" cap 1) e=$(med echo cap 1)
    echo "| $s | $(fmt "$q" %.0f) | $(ratio "$q" "$e") | $(fmt "$(med "$s" cap 5)" %.0f)% | $(fmt "$(med "$s" cap 3)" %.0f) | $(fmt "$(med "$s" cap 4)") | $(fmt "$(med "$s" cap 8)" %.0f) |"
}
row_tlat() { # NAME: medians of the timestamped latency runs
    local s=$1
    grep -q "^$s tlat " "$W/results" || { echo "| $s | failed | | | | | | |"; return; }
    echo "| $s | $(fmt "$(med "$s" tlat 1)" %.1f) | $(fmt "$(med "$s" tlat 2)" %.1f) | $(fmt "$(med "$s" tlat 3)" %.1f) | $(fmt "$(med "$s" tlat 4)" %.0f) | $(fmt "$(med "$s" tlat 5)" %.0f) | $(fmt "$(med "$s" tlat 6)" %.0f) | $(fmt "$(med "$s" tlat 7)" %.0f) |"
}
row_raw() { # NAME ROUND
    local s=$1 r=$2
    [ -n "$(raw "$s" max "$r" 1)" ] || return 0
    echo "| $r | $s | $(raw "$s" max "$r" 1) | $(raw "$s" cap "$r" 1) | $(raw "$s" max "$r" 3) | $(raw "$s" max "$r" 4) | $(raw "$s" max "$r" 7) | $(raw "$s" max "$r" 5)% | $(raw "$s" max "$r" 6)% | $(raw "$s" lat "$r" 6) | $(raw "$s" lat "$r" 8) | $(raw "$s" lat "$r" 1) | $(raw "$s" lat "$r" 2) | $(raw "$s" lat "$r" 3) | $(raw "$s" lat "$r" 5) | $(raw "$s" lat "$r" 7)% |"
}
# instructions per query from work.sh: "NAME rate Ir(N1) Ir(N2) Ir/query ..."
work_ir() { [ -s "$W/work.results" ] && awk -v s="$1" '$1 == s { print $5; exit }' "$W/work.results"; }

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
    echo "  The servers not being measured sit idle on CPU $SERVER_CPU meanwhile (peerd node 1 keeps its timers)."
    echo "- Socket receive buffers: peerd and echo ask for 8 MB; for the run net.core.rmem_default is 8 MB"
    echo "  (restored after), so the servers that keep the kernel's default (knot, dnsmasq) get the same."
    echo "- $ROUNDS rounds: all servers start once and stay up; each round runs each kind of measurement"
    echo "  (max QPS, capped max QPS, dnsperf at the fixed rate, latency.c at the fixed rate) for every"
    echo "  server back to back, in an order rotated by one server each round. The tables below are the"
    echo "  medians over the rounds (DNS work: the median of each round's server minus echo figure); every"
    echo "  round's raw figures follow them. The peerd-vs-knot verdicts on QPS and p99 need the median of"
    echo "  the per-round ratios and the ratio of the medians to agree: this VM's speed drifts between rounds"
    echo "  by more than the servers differ (echo's capped QPS has moved by 25% within ten minutes), figures"
    echo "  taken seconds apart cancel that, and a verdict the two readings disagree on is not one. The rounds"
    echo "  took $T_ROUNDS s (whole run: $T_ALL s)."
    echo "- Max QPS: \`dnsperf -l $DURATION -c $CLIENTS -q $OUTSTANDING -T 1 -t 2\`. CPU/query: utime+stime of the"
    echo "  server process (and children) from /proc/PID/stat over that run / queries completed"
    echo "  (clock ticks of 1/$CLK_TCK s), measured over the max-QPS run and over the fixed-rate run;"
    echo "  DNS work/query = CPU/query minus echo's in the same kind of run. The fixed-rate figure compares"
    echo "  every server at the same offered load (at max load the batching per syscall differs, and"
    echo "  the client may be the limit: see the server CPU busy column, 100% = one CPU saturated)."
    echo "- Other load on the server CPU: busy time of CPU $SERVER_CPU (/proc/stat) not spent in the server"
    echo "  process, over the max-QPS run (loopback softirq work charged to no process, and anything else"
    echo "  running on the machine, peerd's idle nodes included: this is a shared machine)."
    echo "- Lost queries are counted by dnsperf (no answer within 2 s); kernel rcvbuf drops are the"
    echo "  UdpRcvbufErrors delta of /proc/net/snmp over the run (a full server socket receive buffer)."
    echo "- Latency: \`dnsperf -Q $RATE -l $LAT_S -v\`; dnsperf 2.10 has no latency histogram option, so"
    echo "  p50/p99 come from sorting the per-query latencies that -v prints. dnsperf stamps an answer when"
    echo "  its receive thread reads it, and that thread shares the client CPU with the sending thread, so"
    echo "  these figures are the client's (echo's p99 is as high as any server's); the server's latency"
    echo "  is the next table's."
    echo "- Server latency: \`latency.c\` (tests/bench/dns), one busy-polling thread on CPU $CLIENT_CPU that sends"
    echo "  the same queries on a fixed schedule at $RATE/s from 4 sockets, stamps each just before its send()"
    echo "  and takes the answer's arrival time from the kernel (SO_TIMESTAMPNS, stamped when the server's"
    echo "  reply enters loopback, inside the server's send call), so the client's own pauses do not count."
    echo "  $TLAT_SLOTS slots of $TLAT_SLOT_S s per server and round (each after a $WARMUP_S s warm-up), the servers taking"
    echo "  turns slot by slot, pooled per server: this VM stalls for milliseconds about once a second and"
    echo "  those stalls set the p99, so they must fall on every server alike. Late sends: queries the client sent more than"
    echo "  100 µs behind schedule (it was held up; they go out at once and count from when they went out)."
    echo
    echo "## Results (medians over $ROUNDS rounds)"
    echo
    echo "| server | max QPS | server CPU busy (max run) | other load on the server CPU (max run) | lost (max run) | CPU µs/query (max) | DNS work µs/query (max) | CPU µs/query @${RATE}/s | DNS work µs/query @${RATE}/s | p50 µs @${RATE}/s | p99 µs @${RATE}/s | lost @${RATE}/s | kernel rcvbuf drops @${RATE}/s | other load on the server CPU @${RATE}/s |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    for s in $SERVERS; do row_med "$s"; done
    echo
    echo "### Server latency at ${RATE}/s (latency.c, kernel receive timestamps)"
    echo
    echo "| server | p50 µs | p90 µs | p99 µs | p99.9 µs | max µs | lost | late sends |"
    echo "|---|---|---|---|---|---|---|---|"
    for s in $SERVERS; do row_tlat "$s"; done
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
    if [ "$CAP" -gt 0 ]; then
        echo "### Server-bound max QPS: each server's CPU capped at ${CAP}% of one CPU"
        echo
        echo "Uncapped, every server above keeps up with one dnsperf thread (busy well under 100%), so the"
        echo "max-QPS column measures dnsperf. For this run each server's processes get a CFS quota of"
        echo "${CAP}% of one CPU (cgroup v1 cpu controller, period $CG_PERIOD_US µs, and cpu.shares 10240 so the"
        echo "budget is the server's even on a busy machine) and dnsperf keeps $CAP_OUTSTANDING queries outstanding"
        echo "(\`-q $CAP_OUTSTANDING\`; -q $OUTSTANDING would be drained early in each of the server's slices, and then"
        echo "the server waits on the client):"
        echo "QPS is then what the server does with a fixed CPU budget, its own kernel work (receive and"
        echo "send system calls) included. Throttled: CFS periods in which the server used its whole quota"
        echo "(about $((DURATION * 1000000 / CG_PERIOD_US)) periods per run; most of them means the cap was the limit)."
        echo
        echo "| server | max QPS at ${CAP}% CPU | vs echo | server CPU busy | lost | CPU µs/query | throttled periods |"
        echo "|---|---|---|---|---|---|---|"
        for s in $SERVERS; do row_cap "$s"; done
        echo
    fi
    if has peerd && has knot; then
        pq=$(med peerd max 1) kq=$(med knot max 1)
        pw=$(med_work peerd lat 8) kw=$(med_work knot lat 8) pwm=$(med_work peerd max 7) kwm=$(med_work knot max 7)
        p99p=$(med peerd lat 2) p99k=$(med knot lat 2) pl=$(med peerd lat 3)
        pl_max=$(awk '$1 == "peerd" && $2 == "lat" { if ($6 > m) m = $6 } END { print m + 0 }' "$W/results")
        echo "peerd/knot (medians): QPS $(ratio "$pq" "$kq"), CPU/query $(ratio "$(med peerd max 4)" "$(med knot max 4)"), DNS work/query (whole CPU) $(ratio "$pw" "$kw") at ${RATE}/s and $(ratio "$pwm" "$kwm") at max, server latency p50 $(ratio "$(med peerd tlat 1)" "$(med knot tlat 1)") and p99 $(ratio "$(med peerd tlat 3)" "$(med knot tlat 3)"), dnsperf p99 $(ratio "$p99p" "$p99k")."
        echo
        echo "## Targets"
        echo
        echo "Verdicts on the medians over the $ROUNDS rounds (and, for DNS work, on the instruction counts)."
        echo
        echo "| target | peerd | knot | verdict |"
        echo "|---|---|---|---|"
        if [ "$CAP" -gt 0 ]; then
            pc=$(med peerd cap 1) kc=$(med knot cap 1)
            cr=$(med_ratio peerd knot cap 1)
            echo "| max QPS at least knot's (server-bound: CPU capped at ${CAP}%; met when the median of the per-round ratios $(ratios peerd knot cap 1 | tr '\n' ' ')and the ratio of the medians agree) | $(fmt "$pc" %.0f) (paired ratio $(fmt "$cr")x; ratio of medians $(ratio "$pc" "$kc")x) | $(fmt "$kc" %.0f) | $(verdict "${cr:-0} >= 1 && ${pc:-0} >= ${kc:-1e12}") |"
            echo "| max QPS uncapped (dnsperf-bound: both below 100% busy; for reference) | $(fmt "$pq" %.0f) ($(ratio "$pq" "$kq")x) | $(fmt "$kq" %.0f) | $(verdict "${pq:-0} >= ${kq:-1e12}") |"
        else
            echo "| max QPS at least knot's | $(fmt "$pq" %.0f) | $(fmt "$kq" %.0f) | $(verdict "${pq:-0} >= ${kq:-1e12}") |"
        fi
        pi=$(work_ir peerd) ki=$(work_ir knot) ei=$(work_ir echo)
        if [ -n "$pi" ] && [ -n "$ki" ] && [ -n "$ei" ]; then
            echo "| DNS work/query in instructions (callgrind, minus echo) at most half of knot's | $((pi - ei)) | $((ki - ei)) (half: $(((ki - ei) / 2))) | $(verdict "$((pi - ei)) <= $((ki - ei)) / 2") |"
        fi
        echo "| DNS work/query (whole CPU) at most half of knot's (at ${RATE}/s) | $(fmt "$pw" %.3f) µs | $(fmt "$kw" %.3f) µs (half: $(awk -v k="$kw" 'BEGIN { if (k == "") print "-"; else printf "%.3f", k / 2 }')) | $(verdict "${pw:-1e9} <= ${kw:--1e9} / 2") |"
        echo "| DNS work/query (whole CPU) at most half of knot's (max run) | $(fmt "$pwm" %.3f) µs | $(fmt "$kwm" %.3f) µs (half: $(awk -v k="$kwm" 'BEGIN { if (k == "") print "-"; else printf "%.3f", k / 2 }')) | $(verdict "${pwm:-1e9} <= ${kwm:--1e9} / 2") |"
        echo "| no query lost at ${RATE}/s | median $(fmt "$pl" %.0f) lost (most in a round: $pl_max) | median $(fmt "$(med knot lat 3)" %.0f) lost | $(verdict "${pl:-1} == 0") |"
        tp=$(med peerd tlat 3) tk=$(med knot tlat 3)
        tr_=$(med_ratio peerd knot tlat 3)
        echo "| p99 at ${RATE}/s at most knot's (server latency, latency.c; met when the median of the per-round ratios $(ratios peerd knot tlat 3 | tr '\n' ' ')and the ratio of the medians agree) | $(fmt "$tp" %.1f) µs (paired ratio $(fmt "$tr_")x; ratio of medians $(ratio "$tp" "$tk")x) | $(fmt "$tk" %.1f) µs | $(verdict "${tr_:-1e9} <= 1 && ${tp:-1e9} <= ${tk:-0}") |"
        echo "| p99 at ${RATE}/s, dnsperf -v (client-bound: echo $(fmt "$(med echo lat 2)" %.0f) µs; for reference) | $(fmt "$p99p" %.0f) µs | $(fmt "$p99k" %.0f) µs | $(verdict "${p99p:-1e9} <= ${p99k:-0}") |"
        cq=$(get peerd churn 1)
        if [ -n "$cq" ]; then
            cm=$(get peerd churn 13)
            echo "| QPS under $CHURN changes/s within 10% of quiet ($( [ "$CAP" -gt 0 ] && echo "capped at ${CAP}%; ")medians of $CHURN_WINDOWS churn windows and the $((CHURN_WINDOWS + 1)) quiet ones they alternate with) | $cq ($(ratio "$cq" "$cm")x quiet $cm) | | $(verdict "$cq >= 0.9 * ${cm:-1e12}") |"
            echo "| answers correct under churn (dig spot checks) | $(get peerd churn 8) ok, $(get peerd churn 9) bad | | $(verdict "$(get peerd churn 9) == 0 && $(get peerd churn 8) > 0") |"
        fi
        echo
    fi
    echo "## Every round"
    echo
    echo "Raw figures per round (each round ran one kind of measurement for every server back to back, in"
    echo "the round's order). CPU µs/query: process (utime+stime) and whole CPU."
    echo
    echo "| round | server | max QPS | max QPS capped | lost (max) | CPU µs/q (max) | CPU µs/q whole (max) | busy (max) | other load (max) | CPU µs/q @${RATE}/s | CPU µs/q whole @${RATE}/s | p50 µs | p99 µs | lost @${RATE}/s | rcvbuf drops | other load @${RATE}/s |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    for round in $(seq 1 "$ROUNDS"); do
        for s in $(awk -v r="$round" '$2 == "max" && $3 == r { print $1 }' "$W/results"); do row_raw "$s" "$round"; done
    done
    echo
    if grep -q " tlat " "$W/results"; then
        echo "Server latency (latency.c) per round: p50 / p99 / p99.9 µs, lost, late sends."
        echo
        echo "| round | server | p50 µs | p99 µs | p99.9 µs | lost | late sends |"
        echo "|---|---|---|---|---|---|---|"
        for round in $(seq 1 "$ROUNDS"); do
            for s in $(awk -v r="$round" '$2 == "tlat" && $3 == r { print $1 }' "$W/results"); do
                echo "| $round | $s | $(raw "$s" tlat "$round" 1) | $(raw "$s" tlat "$round" 3) | $(raw "$s" tlat "$round" 4) | $(raw "$s" tlat "$round" 6) | $(raw "$s" tlat "$round" 7) |"
            done
        done
        echo
    fi
    if grep -q '^peerd churn' "$W/results"; then
        echo "## peerd under churn"
        echo
        echo "loader.c made $(get peerd churn 12) endpoint changes at $CHURN/s on nodes 2 and 3 (deregister a random"
        echo "(service, node) endpoint, register back the one taken down 50 changes earlier, so 50 endpoints are down at any time, each for"
        echo "about 1 s) during $CHURN_WINDOWS max-QPS runs of $DURATION s after the rounds$( [ "$CAP" -gt 0 ] && echo " (capped at ${CAP}% of a CPU, -q $CAP_OUTSTANDING, as the server-bound run)"),"
        echo "alternating with $((CHURN_WINDOWS + 1)) quiet runs of the same kind (Q C Q C ... Q). Churn windows: $(get peerd churn 15) QPS"
        echo "(median $(get peerd churn 1), $(get peerd churn 3) lost, $(get peerd churn 4) CPU µs/query); quiet windows: $(get peerd churn 14) QPS (median $(get peerd churn 13))."
        echo "Spot checks during the churn (dig svcN.svc: its one VIP;"
        echo "tasks.svcN.svc: 1-3 addresses, all of service N, node 1's among them; nosuchN.svc NXDOMAIN): $(get peerd churn 8) ok,"
        echo "$(get peerd churn 9) bad. A sweep of all 1,000 tasks.svcN.svc mid-churn found $(get peerd churn 10) of 3000"
        echo "records (the endpoints down at that moment are gone from DNS: the churn reaches DNS); after the churn: $(get peerd churn 11)."
        echo
    fi
    [ -s "$W/work.md" ] && cat "$W/work.md"
} >"$W/report.md"

cat "$W/report.md"
if [ -n "$DOC" ]; then
    mkdir -p "$(dirname "$DOC")"
    if [ -f "$DOC" ] && grep -q '^<!-- notes -->' "$DOC"; then # keep hand-written notes below the marker
        sed -n '/^<!-- notes -->/,$p' "$DOC" >"$W/notes"
        cat "$W/report.md" - "$W/notes" <<<"" >"$W/doc"
        cp "$W/doc" "$DOC"
    else
        cp "$W/report.md" "$DOC"
    fi
    say "report written to $DOC"
fi
