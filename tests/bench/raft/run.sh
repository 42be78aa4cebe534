#!/usr/bin/env bash
# Raft benchmark: peerd's managers side by side with etcd 3.4, 3 members each on loopback, fsync on,
# the same election timeout (1000 ms; heartbeat 100 ms), one load generator (loadgen.c) for both.
#
#   tests/bench/raft/run.sh [BUILD_DIR]           full run (about 10 minutes)
#   BENCH_QUICK=1 tests/bench/raft/run.sh build   quick run (3 s windows, 1 round, 3 kills; ~3 min)
#
# Measures, peerd and etcd runs interleaved so machine noise hits both:
#   1. the disk's raw append(256 B)+fdatasync rate (fsyncrate.c): the ceiling for unbatched commits;
#   2. write throughput and latency (p50/p99) with 1, 16 and 64 clients, 256-byte values, one
#      connection and one request in flight per client; client i talks to member i % 3, the leader
#      first (so the 1-client run is the sequential latency against the leader); peerd writes are
#      config.create with unique names over the control socket, etcd writes are PUTs of unique keys
#      through the v3 JSON gateway (HTTP/1.1 keep-alive);
#   3. per committed write, over all 3 members: bytes written to disk (/proc/PID/io write_bytes)
#      and fsyncs (etcd: etcd_disk_wal_fsync_duration_seconds_count from /metrics; peerd: the WAL's
#      fdatasync + directory fsync counters from `peerctl raft status --json`);
#   4. failover: kill -9 the leader, then one writer per survivor retries until a write succeeds
#      (time from the kill); the killed member restarts and the cluster settles between kills.
#
# Settings (environment):
#   BENCH_QUICK=1             quick presets; explicit settings win
#   BENCH_SECONDS=10          each throughput window                 (quick: 3)
#   BENCH_ROUNDS=3            rounds of the throughput matrix        (quick: 1)
#   BENCH_CLIENTS="1 16 64"   concurrencies
#   BENCH_KILLS=5             leader kills per system and timeout    (quick: 3)
#   BENCH_ATTEMPT_MS="250 5000"  failover client's per-attempt timeouts (a set of kills for each)
#   BENCH_VALUE=256           value bytes
#   BENCH_SYSTEMS="peerd etcd"
#   BENCH_DIR=/tmp            where the data dirs go (both systems on the same filesystem)
#   BENCH_DOC=docs/bench/raft.md   report file ("" = print only)
#   BENCH_KEEP=1              keep the work dir
set -u -o pipefail
export LC_ALL=C

REPO=$(cd "$(dirname "$0")/../../.." && pwd)
BUILD_DIR=${1:-${BUILD_DIR:-$REPO/build}}
BUILD_DIR=$(cd "$BUILD_DIR" 2>/dev/null && pwd) || { echo "no build dir ${1:-build}" >&2; exit 2; }
PEERD=$BUILD_DIR/core/daemon/peerd
PEERCTL=$BUILD_DIR/cli/peerctl

QUICK=${BENCH_QUICK:-0}
if [ "$QUICK" = 1 ]; then d_secs=3 d_rounds=1 d_kills=3; else d_secs=10 d_rounds=3 d_kills=5; fi
SECS=${BENCH_SECONDS:-$d_secs}
ROUNDS=${BENCH_ROUNDS:-$d_rounds}
CLIENTS=${BENCH_CLIENTS:-"1 16 64"}
KILLS=${BENCH_KILLS:-$d_kills}
ATTEMPT_MS=${BENCH_ATTEMPT_MS:-"250 5000"}
VALUE=${BENCH_VALUE:-256}
SYSTEMS=${BENCH_SYSTEMS:-"peerd etcd"}
BASE=${BENCH_DIR:-/tmp}
DOC=${BENCH_DOC-$REPO/docs/bench/raft.md}
KEEP=${BENCH_KEEP:-0}
ELECTION_MS=1000
SNAP_EVERY=100000 # etcd 3.4's default snapshot count, for both
HEARTBEAT_MS=100
PEERD_NET=127.0.60
ETCD_NET=127.0.61

CMDLINE="tests/bench/raft/run.sh $*"
for v in BENCH_QUICK BENCH_SECONDS BENCH_ROUNDS BENCH_CLIENTS BENCH_KILLS BENCH_ATTEMPT_MS BENCH_VALUE BENCH_SYSTEMS BENCH_DIR; do
    [ -n "${!v+x}" ] && CMDLINE="$v=\"${!v}\" $CMDLINE"
done

die() { echo "raft bench: $*" >&2; exit 1; }
[ -x "$PEERD" ] && [ -x "$PEERCTL" ] || die "no peerd/peerctl in $BUILD_DIR: build the release targets first"
command -v etcd >/dev/null && command -v etcdctl >/dev/null || die "etcd/etcdctl missing (apt-get install etcd-server etcd-client)"
command -v curl >/dev/null || die "curl missing"
[ "$VALUE" -ge 1 ] 2>/dev/null && [ "$VALUE" -le 4096 ] || die "BENCH_VALUE must be 1..4096"

W=$(mktemp -d "$BASE/pdbench-raft.XXXXXX")
: >"$W/pids"
: >"$W/results"
say() { printf '[%s] %s\n' "$(date -u +%T)" "$*" | tee -a "$W/bench.log" >&2; }

# Kill only what this run started: the PID is listed and its command line names $W.
own_kill() {
    local p=$1 cmd
    [ -r "/proc/$p/cmdline" ] || return 0
    cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline") || return 0
    case "$cmd" in *"$W"*) kill -9 "$p" 2>/dev/null ;; esac
    return 0
}
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    { if [ -s "$W/pids" ]; then while read -r p; do own_kill "$p"; done <"$W/pids"; fi; wait; } 2>/dev/null
    if [ "$KEEP" = 1 ] || [ "$rc" -ne 0 ]; then echo "work dir kept: $W" >&2; else rm -rf "$W"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$W/bin" "$W/peerd" "$W/etcd"
ln -s "$PEERD" "$W/bin/peerd"
ln -s "$(command -v etcd)" "$W/bin/etcd"
cc -O2 -Wall -pthread -o "$W/bin/loadgen" "$REPO/tests/bench/raft/loadgen.c" || die "cannot build loadgen"
cc -O2 -Wall -o "$W/bin/fsyncrate" "$REPO/tests/bench/raft/fsyncrate.c" || die "cannot build fsyncrate"

declare -A PID
PEERD_MTOKEN=""
addr() { if [ "$1" = peerd ]; then echo "$PEERD_NET.$2"; else echo "$ETCD_NET.$2"; fi; }
# The load generator's endpoint of member i.
endpoint() { if [ "$1" = peerd ]; then echo "$W/peerd/n$2/peerd.sock"; else echo "$(addr etcd "$2"):2379"; fi; }

start_member() { # sys i
    local sys=$1 i=$2 a
    a=$(addr "$sys" "$i")
    if [ "$sys" = peerd ]; then
        local d=$W/peerd/n$i
        mkdir -p "$d"
        local args=(--data-dir "$d" --socket "$d/peerd.sock" --advertise-addr "$a" --listen-addr "$a:2377"
            --gossip-port 7946 --no-dns --snapshot-every $SNAP_EVERY --log-level info)
        # m1 makes the cluster, m2 and m3 join it with the manager token (mutual TLS on 2377); a
        # restart has its state in the data dir, and peerd ignores these flags then
        if [ "$i" = 1 ]; then args+=(--init)
        else args+=(--join-token "$PEERD_MTOKEN" --join-manager "$(addr peerd 1):2377"); fi
        "$W/bin/peerd" "${args[@]}" </dev/null >/dev/null 2>>"$W/peerd/n$i.log" &
    else
        local cluster="e1=http://$ETCD_NET.1:2380,e2=http://$ETCD_NET.2:2380,e3=http://$ETCD_NET.3:2380"
        "$W/bin/etcd" --name "e$i" --data-dir "$W/etcd/n$i" \
            --listen-client-urls "http://$a:2379" --advertise-client-urls "http://$a:2379" \
            --listen-peer-urls "http://$a:2380" --initial-advertise-peer-urls "http://$a:2380" \
            --initial-cluster "$cluster" --initial-cluster-token "pdbench-$$" --initial-cluster-state new \
            --election-timeout $ELECTION_MS --heartbeat-interval $HEARTBEAT_MS \
            --snapshot-count $SNAP_EVERY --quota-backend-bytes 4294967296 --log-outputs stderr \
            </dev/null >/dev/null 2>>"$W/etcd/n$i.log" &
    fi
    PID[$sys$i]=$!
    echo "$!" >>"$W/pids"
}

# Prints the leader's member number (1..3) among the live members, or fails.
leader_of() { # sys
    local i
    for i in 1 2 3; do
        [ -d "/proc/${PID[$1$i]}" ] || continue
        if [ "$1" = peerd ]; then
            "$PEERCTL" --socket "$W/peerd/n$i/peerd.sock" raft status --json 2>/dev/null |
                grep -q '"role": "leader"' && { echo "$i"; return 0; }
        else
            etcdctl --endpoints "$(addr etcd "$i"):2379" --command-timeout 1s endpoint status -w simple 2>/dev/null |
                awk -F', ' '$5 == "true" { f = 1 } END { exit !f }' && { echo "$i"; return 0; }
        fi
    done
    return 1
}

# A leader, all three members up, and one write through every member succeeds.
wait_healthy() { # sys
    local sys=$1 t i ok
    for t in $(seq 1 300); do
        ok=1
        leader_of "$sys" >/dev/null || ok=0
        if [ $ok = 1 ]; then
            for i in 1 2 3; do
                "$W/bin/loadgen" run "$sys" "$(endpoint "$sys" "$i")" 1 0.05 "$VALUE" "h$t-$i" 2>/dev/null |
                    grep -q '^ok=[1-9]' || { ok=0; break; }
            done
        fi
        [ $ok = 1 ] && return 0
        sleep 0.2
    done
    die "$sys did not become healthy (logs in $W/$sys)"
}

start_cluster() { # sys
    local sys=$1 t
    start_member "$sys" 1
    if [ "$sys" = peerd ]; then
        for t in $(seq 1 200); do
            PEERD_MTOKEN=$("$PEERCTL" --socket "$W/peerd/n1/peerd.sock" swarm join-token -q manager 2>/dev/null) && break
            sleep 0.05
        done
        [ -n "$PEERD_MTOKEN" ] || die "peerd m1 made no manager token (see $W/peerd/n1.log)"
    fi
    start_member "$sys" 2
    start_member "$sys" 3
    wait_healthy "$sys"
    say "$sys: 3 members up, leader m$(leader_of "$sys")"
}

# Disk counters summed over the live members: "write_bytes fsyncs".
disk_counters() { # sys
    local sys=$1 i wb=0 fs=0 p v
    for i in 1 2 3; do
        p=${PID[$sys$i]}
        [ -r "/proc/$p/io" ] || continue
        v=$(awk '/^write_bytes:/ { print $2 }' "/proc/$p/io")
        wb=$((wb + ${v:-0}))
        if [ "$sys" = peerd ]; then
            v=$("$PEERCTL" --socket "$W/peerd/n$i/peerd.sock" raft status --json 2>/dev/null |
                tr -d ' \n' | grep -o '"fdatasyncs":[0-9]*\|"dir_fsyncs":[0-9]*' | cut -d: -f2 | awk '{ s += $1 } END { print s + 0 }')
        else
            v=$(curl -s "http://$(addr etcd "$i"):2379/metrics" |
                awk '/^etcd_disk_wal_fsync_duration_seconds_count/ { print $2 }')
        fi
        fs=$((fs + ${v:-0}))
    done
    echo "$wb $fs"
}

# Endpoints with the leader first, then the others.
endpoints_leader_first() { # sys
    local sys=$1 l i eps
    l=$(leader_of "$sys") || l=1
    eps=$(endpoint "$sys" "$l")
    for i in 1 2 3; do [ "$i" = "$l" ] || eps="$eps,$(endpoint "$sys" "$i")"; done
    echo "$eps"
}

throughput() { # sys clients round
    local sys=$1 c=$2 r=$3 before after out
    before=$(disk_counters "$sys")
    out=$("$W/bin/loadgen" run "$sys" "$(endpoints_leader_first "$sys")" "$c" "$SECS" "$VALUE" "r$r-c$c") ||
        die "loadgen failed on $sys"
    after=$(disk_counters "$sys")
    local ok wb fs
    ok=$(echo "$out" | sed 's/.*ok=\([0-9]*\).*/\1/')
    set -- $before $after
    wb=$(( $3 - $1 )); fs=$(( $4 - $2 ))
    echo "tput $sys $c $r $out wb=$wb fs=$fs" >>"$W/results"
    say "$sys c=$c round $r: $out  disk: ${wb} B, $fs fsyncs (all members)"
}

failover() { # sys k attempt_ms
    local sys=$1 k=$2 to=$3 l i eps="" out
    wait_healthy "$sys"
    l=$(leader_of "$sys") || die "$sys: no leader before kill $k"
    for i in 1 2 3; do [ "$i" = "$l" ] || eps="${eps:+$eps,}$(endpoint "$sys" "$i")"; done
    out=$(LOADGEN_TIMEOUT_MS=$to "$W/bin/loadgen" failover "$sys" "$eps" "${PID[$sys$l]}" "$VALUE" "f$to-$k")
    wait "${PID[$sys$l]}" 2>/dev/null
    echo "failover $sys $to $k $out" >>"$W/results"
    say "$sys kill $k (leader m$l, attempts time out after $to ms): $out"
    start_member "$sys" "$l"
    wait_healthy "$sys"
    sleep 2
}

# ------------------------------------------------------------------ run
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
say "work dir $W; load average $LOAD0; $(nproc) CPUs"
FSYNC=$("$W/bin/fsyncrate" "$W/fsync.probe" 5 "$VALUE")
say "raw disk: $FSYNC"
for s in $SYSTEMS; do start_cluster "$s"; done

order=($SYSTEMS)
for r in $(seq 1 "$ROUNDS"); do
    for c in $CLIENTS; do
        for s in "${order[@]}"; do throughput "$s" "$c" "$r"; done
        order=($(printf '%s\n' "${order[@]}" | tac)) # alternate who goes first
    done
done
LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)
for to in $ATTEMPT_MS; do
    for k in $(seq 1 "$KILLS"); do
        for s in $SYSTEMS; do failover "$s" "$k" "$to"; done
    done
done
FSYNC2=$("$W/bin/fsyncrate" "$W/fsync.probe" 5 "$VALUE")
say "raw disk (again): $FSYNC2"
LOAD2=$(cut -d' ' -f1-3 /proc/loadavg)

# ------------------------------------------------------------------ report
field() { sed -n "s/.*[ ^]$1=\([^ ]*\).*/\1/p"; }
median() { sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
maxof() { sort -g | tail -1; }
stat_of() { # sys clients field -> median over rounds
    awk -v s="$1" -v c="$2" '$1 == "tput" && $2 == s && $3 == c' "$W/results" | field "$3" | median
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "n/a"; else printf "%.2f", a / b }'; }
per_write() { # sys clients field(wb|fs)
    awk -v s="$1" -v c="$2" -v f="$3" '$1 == "tput" && $2 == s && $3 == c {
        for (i = 1; i <= NF; i++) { if ($i ~ "^ok=") ok += substr($i, 4); if ($i ~ "^" f "=") v += substr($i, length(f) + 2) }
    } END { if (ok) printf "%.1f", v / ok; else print "n/a" }' "$W/results"
}
verdict() { [ "$1" = 1 ] && echo "**met**" || echo "**missed**"; }

{
    echo "# Raft benchmark: peerd vs etcd $(etcd --version | awk '/etcd Version/ { print $3 }')"
    echo
    echo "Produced by: \`$CMDLINE\`"
    echo
    echo "Date $(date -u '+%Y-%m-%d %H:%M UTC'), peerd $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null)" \
        "(RelWithDebInfo, clang), $(nproc) CPUs shared with other builds; load average (1/5/15 min) at start" \
        "$LOAD0, after the throughput runs $LOAD1, at the end $LOAD2."
    echo "3 members each on loopback ($PEERD_NET.1-3 and $ETCD_NET.1-3), data dirs on the same filesystem" \
        "($(df --output=source,fstype "$W" | tail -1 | tr -s ' ')), fsync on, election timeout $ELECTION_MS ms" \
        "(both randomize it in [1x, 2x)), heartbeat $HEARTBEAT_MS ms. Values $VALUE bytes; $SECS s windows," \
        "$ROUNDS round(s) (medians shown), peerd and etcd runs interleaved."
    echo
    echo "Raw disk, append $VALUE B + fdatasync in a loop (fsyncrate.c), before / after: \`$FSYNC\` / \`$FSYNC2\`." \
        "That is the ceiling for a log that syncs once per write; more needs batching."
    echo
    echo "## Throughput and latency"
    echo
    echo "| clients | peerd writes/s | etcd writes/s | ratio | peerd p50 / p99 ms | etcd p50 / p99 ms | p99 ratio | errors peerd / etcd |"
    echo "|---|---|---|---|---|---|---|---|"
    tput_ok=1 lat_ok=1
    for c in $CLIENTS; do
        pt=$(stat_of peerd "$c" tput); et=$(stat_of etcd "$c" tput)
        p50=$(stat_of peerd "$c" p50_us); p99=$(stat_of peerd "$c" p99_us)
        e50=$(stat_of etcd "$c" p50_us); e99=$(stat_of etcd "$c" p99_us)
        pe=$(awk -v c="$c" '$1 == "tput" && $2 == "peerd" && $3 == c' "$W/results" | field err | awk '{ s += $1 } END { print s + 0 }')
        ee=$(awk -v c="$c" '$1 == "tput" && $2 == "etcd" && $3 == c' "$W/results" | field err | awk '{ s += $1 } END { print s + 0 }')
        printf '| %s | %.0f | %.0f | %s | %.2f / %.2f | %.2f / %.2f | %s | %s / %s |\n' "$c" "$pt" "$et" \
            "$(ratio "$pt" "$et")" "$(awk -v v="$p50" 'BEGIN{print v/1000}')" "$(awk -v v="$p99" 'BEGIN{print v/1000}')" \
            "$(awk -v v="$e50" 'BEGIN{print v/1000}')" "$(awk -v v="$e99" 'BEGIN{print v/1000}')" \
            "$(ratio "$p99" "$e99")" "$pe" "$ee"
        want=1; [ "$c" -ge 64 ] && want=2
        awk -v a="$pt" -v b="$et" -v w="$want" 'BEGIN { exit !(a >= w * b) }' || tput_ok=0
        awk -v a="$p99" -v b="$e99" 'BEGIN { exit !(a <= b) }' || lat_ok=0
    done
    echo
    echo "The 1-client row is the sequential write latency (one write at a time, to the leader)."
    echo
    echo "## Disk cost per committed write (sum over the 3 members)"
    echo
    echo "| clients | peerd bytes | etcd bytes | peerd fsyncs | etcd fsyncs |"
    echo "|---|---|---|---|---|"
    for c in $CLIENTS; do
        echo "| $c | $(per_write peerd "$c" wb) | $(per_write etcd "$c" wb) | $(per_write peerd "$c" fs) | $(per_write etcd "$c" fs) |"
    done
    echo
    echo "Bytes: /proc/PID/io write_bytes (everything the process dirtied: log, snapshots, etcd's bbolt)." \
        "fsyncs: peerd's WAL fdatasync + directory fsync counters (raft status), etcd's" \
        "etcd_disk_wal_fsync_duration_seconds_count (WAL only; bbolt commits sync too and are not in it)."
    echo
    echo "## Failover (kill -9 the leader -> first successful write through a survivor)"
    echo
    echo "One writer per survivor; each attempt gives up after the client timeout and is retried at once" \
        "on a new connection (the short timeout measures the cluster's gap, the long one what a client" \
        "that waits for the server's answer sees)."
    echo
    echo "| client timeout ms | system | kills | median ms | max ms | all (ms) | peerd/etcd median |"
    echo "|---|---|---|---|---|---|---|"
    fo_ok=1
    for to in $ATTEMPT_MS; do
        for s in peerd etcd; do
            all=$(awk -v s="$s" -v t="$to" '$1 == "failover" && $2 == s && $3 == t' "$W/results" | field failover_ms | paste -sd' ')
            med=$(echo "$all" | tr ' ' '\n' | grep . | median); mx=$(echo "$all" | tr ' ' '\n' | grep . | maxof)
            eval "FO_$s=\$med FOMAX_$s=\$mx"
            r=""; [ "$s" = etcd ] && r=$(ratio "$FO_peerd" "$FO_etcd")
            echo "| $to | $s | $(echo "$all" | wc -w) | $med | $mx | $all | $r |"
        done
        awk -v a="${FO_peerd:-nan}" -v b="${FO_etcd:-nan}" -v c="${FOMAX_peerd:-nan}" -v d="${FOMAX_etcd:-nan}" \
            'BEGIN { exit !(a <= b && c <= d) }' || fo_ok=0
    done
    echo
    echo "## Verdicts"
    echo
    echo "- throughput >= etcd's at every concurrency and >= 2x at 64 clients: $(verdict $tput_ok)"
    echo "- p99 latency <= etcd's at every concurrency: $(verdict $lat_ok)"
    echo "- failover median and max <= etcd's (at each client timeout): $(verdict $fo_ok)"
    echo
    echo "## Raw results"
    echo
    echo '```'
    cat "$W/results"
    echo '```'
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
