#!/usr/bin/env bash
# DNS benchmark, noise-free part: user-space instructions per query of each server, counted by
# valgrind's callgrind (deterministic, whatever the load on the machine; all threads and forked
# processes of a server counted). Same servers, configs, data set and query mix as run.sh (both
# take them from lib.sh).
#
#   tests/bench/dns/work.sh [BUILD_DIR]     about 5 minutes (any machine load); run.sh calls it too
#
# Per server, started under `valgrind --tool=callgrind`, after 1,000 warm-up queries: two windows
# of a fixed number of queries (N1, then N2 > N1: the first N lines of the query mix), sent by
# onebyone.c one at a time (the next only after the answer) at most RATE a second, the same for
# every server; every query must be answered (a window with a lost query is repeated, then the rate
# halved for that server, which the report says). The server's instruction count (Ir, summed over
# its threads and processes, read live with `callgrind_control -e Ir`) is read right before and
# after each window, and
#     Ir/query = (Ir(N2 window) - Ir(N1 window)) / (N2 - N1),
# which cancels start-up, zone loading and whatever each window costs once. Then an idle stretch
# shows the server's background (timers) per second.
# DNS work per query = a server's Ir/query minus echo's (echo.c: the same IO, no DNS work).
# Kernel work (syscalls, loopback delivery) is not counted by callgrind: it is the echo floor's
# part, and the same for all servers.
#
# With one query in flight every wakeup of every server finds exactly one datagram (recvmmsg
# returns 1 message), so per-wakeup costs (epoll, the event loop, the recvmmsg that finds the queue
# empty) are paid once per query by every server alike: the unbatched cost. At the timed bench's
# rates batching spreads them.
#
# Settings (environment):
#   BENCH_DNS_WORK_RATE=2000        queries/s at most (the servers under valgrind answer one at a
#                                   time at some 500-2000/s)
#   BENCH_DNS_WORK_N1=3000 BENCH_DNS_WORK_N2=9000    queries in the two windows
#   BENCH_DNS_SERVERS="echo peerd knot nsd unbound dnsmasq"
#   BENCH_DNS_WORK_OUT=FILE         also write the report section there (run.sh uses this)
#   BENCH_DNS_WORK_RESULTS=FILE     and the raw figures, one line a server: name rate Ir(N1)
#                                   Ir(N2) Ir/query idle_Ir/s idle_Ir/query achieved_qps
#   BENCH_DNS_DOC=docs/bench/dns.md the section replaces the one between the <!-- work --> markers
#                                   ("" = print only; not written when BENCH_DNS_WORK_OUT is set)
#   BENCH_DNS_WORK_PROFILE=DIR      keep each server's callgrind profile of its N2 window there
#                                   (for callgrind_annotate)
#   BENCH_DNS_WORK_PEERD=PATH       the peerd binary to run (default: the build's, debug info
#                                   stripped, which valgrind 3.19 cannot read when it is DWARF 5)
#   BENCH_KEEP=1                    keep the work dir
set -u -o pipefail
export LC_ALL=C

START_S=180 # under valgrind start-up and zone loading are some 50x slower
SERVER_WRAP=(valgrind --tool=callgrind) # completed below, once the work dir exists
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh" "$@"

RATE=${BENCH_DNS_WORK_RATE:-2000}
N1=${BENCH_DNS_WORK_N1:-3000}
N2=${BENCH_DNS_WORK_N2:-9000}
SERVERS=${BENCH_DNS_SERVERS:-"echo peerd knot nsd unbound dnsmasq"}
OUT=${BENCH_DNS_WORK_OUT:-}
RESULTS=${BENCH_DNS_WORK_RESULTS:-}
DOC=${BENCH_DNS_DOC-$REPO/docs/bench/dns.md}
PROFILE=${BENCH_DNS_WORK_PROFILE:-}
KEEP=${BENCH_KEEP:-0}
WARM=1000 # queries sent first, not counted
IDLE_S=5  # idle stretch for the background figure, s

CMDLINE="tests/bench/dns/work.sh $*"
for v in BENCH_DNS_WORK_RATE BENCH_DNS_WORK_N1 BENCH_DNS_WORK_N2 BENCH_DNS_SERVERS; do
    [ -n "${!v+x}" ] && CMDLINE="$v=\"${!v}\" $CMDLINE"
done
[ "$N2" -gt "$N1" ] && [ "$N1" -gt 0 ] && [ "$RATE" -gt 0 ] ||
    { echo "work.sh: need 0 < N1 < N2 and RATE > 0" >&2; exit 2; }

command -v valgrind >/dev/null && command -v callgrind_control >/dev/null ||
    DEBIAN_FRONTEND=noninteractive apt-get install -y valgrind >/dev/null ||
    { echo "work.sh: cannot install valgrind" >&2; exit 1; }

mkdir -p "$W/cg"
cc -O2 -o "$W/bin/onebyone" "$HERE/onebyone.c" || die "cannot build onebyone.c"
# valgrind 3.19 (Debian 12) cannot read clang's DWARF 5 and gives up on the binary: run a copy of
# peerd without debug info (its symbols stay, so callgrind_annotate still names the functions), or
# BENCH_DNS_WORK_PEERD, e.g. a build with -gdwarf-4 for line-level annotation.
if [ -n "${BENCH_DNS_WORK_PEERD:-}" ]; then
    PEERD=$BENCH_DNS_WORK_PEERD
else
    objcopy --strip-debug "$PEERD" "$W/bin/peerd" || die "objcopy failed"
    PEERD=$W/bin/peerd
fi
SERVER_WRAP=(valgrind --tool=callgrind --callgrind-out-file="$W/cg/%p.out" --log-file="$W/cg/%p.log")
# peerd's node 1 is also the cluster's manager and a gossip member: its VIP reconciler (a 500 ms
# timer that scans every service: some 15M Ir/s here, in lumps of 8M that no window length
# cancels), raft's tick, gossip (its timers, packets and push-pull syncs with nodes 2-3, key
# republishing), the control socket's idle timer, the certificate renewal / CA rotation tick and
# the gossip keyring rotation tick (both static `tick`s) and the swarm.seeds refresh run
# whatever the queries do. They are left out of peerd's count: collection is switched off inside
# their entry points (--toggle-collect flips it on entry and back on return). What background is
# left shows in the idle column.
PEERD_NOT_DNS=(on_tick tick_cb udp_recv stream_read out_connected stream_write_done on_stream_conn
    idle_cb stream_free_cb join_cb linger_cb republish_cb tick seeds_refresh)

# Ir of every thread of every process of a server, now (the processes are found by their command
# line, as cpu_ticks does; nsd forks a server child and xfrd, all under valgrind).
server_pids() { # NAME
    local p
    for p in $(grep -l -F -- "$(marker "$1")" /proc/[0-9]*/cmdline 2>/dev/null); do
        p=${p#/proc/}
        echo "${p%/cmdline}"
    done
}
ir_now() { # NAME
    local p sum=0 n
    for p in $(server_pids "$1"); do
        n=$(callgrind_control -e Ir "$p" 2>/dev/null | awk '$1 == "Th" { gsub(",", "", $3); s += $3 } END { print s + 0 }')
        sum=$((sum + n))
    done
    echo $sum
}

# One window: the first N queries of the mix, one at a time, at most R/s; echoes "Ir answered".
window() { # NAME N R
    local name=$1 n=$2 r=$3 out="$W/$1.$2.txt" i0 i1
    i0=$(ir_now "$name")
    taskset -c $CLIENT_CPU "$W/bin/onebyone" "${ADDR[$name]}" $PORT "$W/queries.txt" "$n" "$r" >"$out" 2>&1
    i1=$(ir_now "$name")
    echo "$((i1 - i0)) $(awk '$1 == "sent" { print $4, $6 }' "$out")"
}

# Can callgrind_control read every process of the server? (A child forked by the server, as nsd's
# server and xfrd, has no vgdb channel of its own, so its count is only in its profile at exit.)
all_reachable() { # NAME
    local p
    for p in $(server_pids "$1"); do
        callgrind_control -e Ir "$p" 2>/dev/null | grep -q '^ *Th ' || return 1
    done
}

# Ir of one whole run of a server: start it, 1,000 warm-up queries, N queries, stop it; the count
# is the sum of its processes' profiles written at exit. Echoes "Ir answered qps".
whole_run() { # NAME N R
    local name=$1 n=$2 r=$3 pid p i out="$W/$1.$2.txt"
    rm -f "$W"/cg/*.out*
    pid=$(start_$name)
    track "$pid"
    wait_for "$START_S" sh -c "dig +short +tries=1 +time=2 @${ADDR[$name]} -p $PORT tasks.svc1.svc A | grep -q '^10\.'" ||
        { stop_pid "$pid"; echo "0 0 0"; return; }
    taskset -c $CLIENT_CPU "$W/bin/onebyone" "${ADDR[$name]}" $PORT "$W/queries.txt" "$WARM" "$r" >/dev/null 2>&1
    taskset -c $CLIENT_CPU "$W/bin/onebyone" "${ADDR[$name]}" $PORT "$W/queries.txt" "$n" "$r" >"$out" 2>&1
    local procs
    procs=$(server_pids "$name")
    own_kill "$pid" TERM
    for i in $(seq 600); do # valgrind writes each profile at exit: wait for all of them
        local alive=0
        for p in $procs; do kill -0 "$p" 2>/dev/null && alive=1; done
        [ $alive = 0 ] && break
        sleep 0.1
    done
    stop_pid "$pid"
    echo "$(cat "$W"/cg/*.out* 2>/dev/null | awk '$1 == "totals:" { s += $2 } END { print s + 0 }') $(awk '$1 == "sent" { print $4, $6 }' "$out")"
}

# For servers that fork (nsd): two whole runs, of N1 and of N2 queries; start-up, zone loading
# and shutdown are the same in both and cancel. Its background is in both runs for the time they
# took (nsd's idle count is some 60 Ir/s: nothing).
measure_whole_runs() { # NAME
    local name=$1 r=$RATE try ir1 ir2 a1 a2 q2
    say "$name: forks processes that callgrind_control cannot reach: two whole runs instead"
    for try in 1 2 3 4 5 6; do
        read -r ir1 a1 _ < <(whole_run "$name" "$N1" "$r")
        read -r ir2 a2 q2 < <(whole_run "$name" "$N2" "$r")
        [ "$a1" = "$N1" ] && [ "$a2" = "$N2" ] && [ "$ir1" -gt 0 ] && break
        say "$name: answered $a1 of $N1 and $a2 of $N2 at $r/s (try $try)"
        [ $((try % 2)) = 0 ] && r=$((r / 2))
        ir1=""
    done
    [ -n "$ir1" ] || { say "$name: lost queries at every rate"; return 1; }
    awk -v s="$name" -v r="$r" -v a="$ir1" -v b="$ir2" -v n1="$N1" -v n2="$N2" -v q="$q2" \
        'BEGIN { printf "%s %d %d %d %.0f - - %.0f whole\n", s, r, a, b, (b - a) / (n2 - n1), q }' >>"$W/results"
    say "$name: rate Ir(N1 run) Ir(N2 run) Ir/query = $(tail -1 "$W/results" | cut -d' ' -f2-)"
}

measure_work() { # NAME
    local name=$1 pid r try a1 a2 q2 ir1 ir2 i0 i1 p
    say "$name: starting under callgrind on ${ADDR[$name]}:$PORT"
    if [ "$name" = peerd ]; then
        local saved=("${SERVER_WRAP[@]}") f
        for f in "${PEERD_NOT_DNS[@]}"; do SERVER_WRAP+=("--toggle-collect=$f"); done
        SERVER_WRAP+=(--collect-atstart=yes) # a --toggle-collect makes it "no" otherwise
        pid=$(start_peerd)
        local rc=$?
        SERVER_WRAP=("${saved[@]}")
        [ $rc = 0 ] || { say "peerd: setup failed"; return 1; }
    else
        pid=$(start_$name)
        track "$pid"
    fi
    [ "$name" = echo ] || wait_for "$START_S" sh -c "dig +short +tries=1 +time=2 @${ADDR[$name]} -p $PORT tasks.svc1.svc A | grep -q '^10\.'" ||
        { say "$name: not answering"; stop_pid "$pid"; return 1; }
    [ "$name" = echo ] && { wait_for "$START_S" sh -c "ss -Hlun 'src ${ADDR[echo]}:$PORT' | grep -q ." || return 1; }
    [ -n "$(server_pids "$name")" ] || { say "$name: no process found"; stop_pid "$pid"; return 1; }
    if [ "$name" != peerd ] && ! all_reachable "$name"; then
        stop_pid "$pid"
        measure_whole_runs "$name"
        return
    fi
    r=$RATE
    window "$name" "$WARM" "$r" >/dev/null # first-time costs (lazy binding, first allocations) go here
    for try in 1 2 3 4 5 6; do
        read -r ir1 a1 _ < <(window "$name" "$N1" "$r")
        [ -n "$PROFILE" ] && for p in $(server_pids "$name"); do callgrind_control -z "$p" >/dev/null 2>&1; done
        read -r ir2 a2 q2 < <(window "$name" "$N2" "$r")
        [ "$a1" = "$N1" ] && [ "$a2" = "$N2" ] && break
        say "$name: answered $a1 of $N1 and $a2 of $N2 at $r/s (try $try)"
        [ $((try % 2)) = 0 ] && r=$((r / 2)) # two tries at a rate, then half of it
        ir1="" ir2=""
    done
    if [ -z "$ir2" ]; then say "$name: lost queries at every rate"; stop_pid "$pid"; return 1; fi
    if [ -n "$PROFILE" ]; then
        mkdir -p "$PROFILE"
        for p in $(server_pids "$name"); do
            callgrind_control --dump="N2 window" "$p" >/dev/null 2>&1
        done
        sleep 1
        for f in "$W"/cg/*.out.*; do [ -f "$f" ] && mv "$f" "$PROFILE/$name.${f##*/}"; done
    fi
    # background: Ir over an idle stretch, per second and per query at the N2 window's pace
    i0=$(ir_now "$name")
    sleep "$IDLE_S"
    i1=$(ir_now "$name")
    awk -v s="$name" -v r="$r" -v a="$ir1" -v b="$ir2" -v n1="$N1" -v n2="$N2" -v idle=$((i1 - i0)) -v t="$IDLE_S" -v q="$q2" \
        'BEGIN { printf "%s %d %d %d %.0f %.0f %.1f %.0f\n", s, r, a, b, (b - a) / (n2 - n1), idle / t, q ? idle / t / q : 0, q }' >>"$W/results"
    say "$name: rate Ir(N1) Ir(N2) Ir/query idle_Ir/s idle_Ir/query achieved_qps = $(tail -1 "$W/results" | cut -d' ' -f2-)"
    if [ "$name" = peerd ]; then
        while read -r p; do stop_pid "$p"; done <"$W/pids"
        : >"$W/pids"
    else
        stop_pid "$pid"
    fi
}

gen_data
: >"$W/results"
t_start=$(date +%s)
for s in $SERVERS; do
    measure_work "$s" || say "$s: FAILED"
done
say "instruction counts took $(($(date +%s) - t_start)) s"

# ------------------------------------------------------------------ report
get() { awk -v s="$1" -v f="$2" '$1 == s { print $(f + 1); exit }' "$W/results"; }
echo_ir=$(get echo 4)
{
    echo "<!-- work -->"
    echo "## Instructions per query (callgrind)"
    echo
    echo "Produced by \`$CMDLINE\` on $(date -u +%Y-%m-%d) (UTC), peerd commit $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)."
    echo
    echo "User-space instructions (Ir) each server executes per query, counted by \`valgrind"
    echo "--tool=callgrind\` over all its threads and processes: deterministic, so unlike CPU time it"
    echo "does not move with the load on the machine (these runs can be made on a busy machine). Each"
    echo "server, with the same config, data and query mix as the timed runs, answered 1,000 warm-up"
    echo "queries, then a window of N1 = $N1 and one of N2 = $N2 queries, sent one at a time (the next"
    echo "after the answer; tests/bench/dns/onebyone.c) at most $RATE a second, the same for every"
    echo "server; every query was answered. Ir/query = (Ir(N2 window) - Ir(N1 window)) / (N2 - N1),"
    echo "which cancels start-up, zone loading and any per-window cost; DNS work/query = Ir/query minus"
    echo "echo's (the same IO, no DNS work). With one query in flight every wakeup of every server finds"
    echo "exactly one datagram, so each pays its per-wakeup cost (epoll, event loop, the recvmmsg that"
    echo "finds the queue empty) once per query: the unbatched cost, the same condition for all; at the"
    echo "timed runs' rates batching spreads it. Kernel work (syscalls, loopback delivery) is not counted:"
    echo "it is the echo floor's part and the same for every server."
    echo
    echo "peerd's node 1 is also the cluster's one manager and a gossip member: its VIP reconciler (a"
    echo "500 ms timer that scans every service, some 15M Ir/s with 1,000 services), raft's tick and"
    echo "gossip (its timer, packets and push-pull syncs from nodes 2-3) run whatever the queries do, in"
    echo "lumps that no window length cancels. They are left out of peerd's count: callgrind stops"
    echo "counting inside their entry points (\`--toggle-collect\` on ${PEERD_NOT_DNS[*]})."
    echo "nsd forks its server and xfrd processes, which \`callgrind_control\` cannot reach (no vgdb"
    echo "channel after a fork), so nsd is counted in two whole runs instead, one of 1,000 warm-up + N1"
    echo "queries and one of 1,000 + N2, from start to exit (the profiles written at exit, all processes"
    echo "summed): start-up, zone loading and shutdown are the same in both and cancel."
    echo "The idle columns show each server's remaining background (timers) per second and per query at"
    echo "the pace its N2 window ran (achieved queries/s); it is included in Ir/query."
    echo
    echo "| server | Ir, N1 window | Ir, N2 window | Ir/query | DNS work Ir/query (minus echo) | x knot's DNS work | achieved queries/s (N2) | idle Ir/s | idle Ir per query |"
    echo "|---|---|---|---|---|---|---|---|---|"
    knot_work=""
    [ -n "$(get knot 4)" ] && [ -n "$echo_ir" ] && knot_work=$(($(get knot 4) - echo_ir))
    for s in $SERVERS; do
        iq=$(get "$s" 4)
        [ -n "$iq" ] || { echo "| $s | failed | | | | | | | |"; continue; }
        if [ "$s" = echo ]; then work="(floor)" x="-"; elif [ -n "$echo_ir" ]; then
            work=$((iq - echo_ir))
            x=$(awk -v a="$work" -v b="${knot_work:-}" 'BEGIN { if (b == "" || b <= 0) print "-"; else printf "%.2f", a / b }')
        else work="-" x="-"; fi
        if [ "$(get "$s" 8)" = whole ]; then s="$s (whole runs)"; fi
        echo "| $s | $(get "${s%% *}" 2) | $(get "${s%% *}" 3) | $iq | $work | $x | $(get "${s%% *}" 7) | $(get "${s%% *}" 5) | $(get "${s%% *}" 6) |"
    done
    echo
    if [ -n "$knot_work" ] && [ -n "$(get peerd 4)" ]; then
        pw=$(($(get peerd 4) - echo_ir))
        if [ $((2 * pw)) -le "$knot_work" ]; then v="**met**"; else v="**not met**"; fi
        echo "DNS work per query at most half of knot's, in instructions: peerd $pw, knot $knot_work (half: $((knot_work / 2))): $v."
        [ "$(get peerd 1)" = "$(get knot 1)" ] && [ "$(get echo 1)" = "$(get knot 1)" ] ||
            echo "(Not every server was sent at most $RATE/s: a server lost queries at that rate, and its rate was halved: $(awk '{ printf "%s%s %s/s", sep, $1, $2; sep = ", " }' "$W/results").)"
        echo
    fi
    echo "<!-- /work -->"
} >"$W/work.md"

cat "$W/work.md"
[ -n "$RESULTS" ] && cp "$W/results" "$RESULTS"
if [ -n "$OUT" ]; then
    cp "$W/work.md" "$OUT"
elif [ -n "$DOC" ] && [ -f "$DOC" ]; then
    # replace the section between the markers; else put it in front of the hand-written notes
    if grep -q '^<!-- work -->' "$DOC"; then
        awk -v f="$W/work.md" '/^<!-- work -->/ { while ((getline l < f) > 0) print l; skip = 1; next }
            /^<!-- \/work -->/ { skip = 0; next } !skip' "$DOC" >"$W/doc"
    elif grep -q '^<!-- notes -->' "$DOC"; then
        awk -v f="$W/work.md" '/^<!-- notes -->/ { while ((getline l < f) > 0) print l; print "" } 1' "$DOC" >"$W/doc"
    else
        cat "$DOC" - "$W/work.md" <<<"" >"$W/doc"
    fi
    cp "$W/doc" "$DOC"
    say "section written to $DOC"
fi
