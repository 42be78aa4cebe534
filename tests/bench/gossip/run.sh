#!/usr/bin/env bash
# Gossip benchmark: peerd (SWIM + Lifeguard) side by side with HashiCorp Serf (memberlist), on
# loopback, every node its own process on its own 127.x.y.z address.
#
#   tests/bench/gossip/run.sh [BUILD_DIR]          full run (about 35-40 minutes)
#   BENCH_QUICK=1 tests/bench/gossip/run.sh build  quick run (N=8, 3 kills, 20 s windows; ~5 min)
#
# Needs root (nftables for loss injection and byte counters) and serf (installed with apt-get
# when missing). For each system and each N it measures, one system at a time:
#   1. join convergence: from the first joiner's launch until every node has seen N-1 others join
#      (timestamps from the logs; then every node's member list is checked for N alive);
#   2. steady state over a window: gossip bytes sent per node (nftables counters on udp+tcp port
#      7946 of the system's address range: IP packet bytes), CPU (utime+stime from /proc/PID/stat)
#      and RSS (VmRSS) per node;
#   3. failure detection: kill -9 a node (a different one each time), time to the first suspicion
#      anywhere, to the first node marking it failed and to every other node marking it failed;
#      then a new node on a spare address replaces it, so the cluster stays at N;
#   4. at N = BENCH_LOSS_N: false positives during windows of random UDP loss (nftables
#      `numgen random` drop of gossip packets between the system's addresses only: udp and tcp by
#      default, BENCH_LOSS_PROTO=udp for udp only), then a heal period.
# Timing comes from log lines: peerd stamps its lines in ms; Serf stamps to the second only, so
# its output goes through tsline (tsline.c, built here), which stamps each line in us on arrival.
#
# Settings (environment):
#   BENCH_QUICK=1          quick presets (below); any setting given explicitly wins
#   BENCH_NS="8 32 128"    cluster sizes                  (quick: 8)
#   BENCH_KILLS=5          kills per N                    (quick: 3)
#   BENCH_STEADY_S=60      steady-state window            (quick: 20)
#   BENCH_SETTLE_S=10      pause after join before measuring (quick: 5)
#   BENCH_LOSS_N=32        N for the loss windows, 0 = none (quick: 8)
#   BENCH_LOSS_PCTS="10 20" loss percentages, one window each
#   BENCH_LOSS_PROTO=all    all: every udp and tcp packet between the nodes; udp: only udp to :7946
#   BENCH_LOSS_S=120       each loss window               (quick: 20)
#   BENCH_HEAL_S=30        after a loss window, events still counted (quick: 20)
#   BENCH_SYSTEMS="peerd serf"
#   BENCH_DOC=docs/bench/gossip.md   report file ("" = print only)
#   BENCH_DETECT_TIMEOUT_S=90  BENCH_JOIN_TIMEOUT_S=180  BENCH_KEEP=1 (keep the work dir)
#   BENCH_PEERD_NET=127.77 BENCH_SERF_NET=127.78   first two octets of each system's addresses
set -u -o pipefail
export LC_ALL=C

REPO=$(cd "$(dirname "$0")/../../.." && pwd)
BUILD_DIR=${1:-${BUILD_DIR:-$REPO/build}}
BUILD_DIR=$(cd "$BUILD_DIR" 2>/dev/null && pwd) || { echo "no build dir ${1:-build}" >&2; exit 2; }
PEERD=$BUILD_DIR/core/daemon/peerd
PEERCTL=$BUILD_DIR/cli/peerctl

QUICK=${BENCH_QUICK:-0}
if [ "$QUICK" = 1 ]; then
    d_ns="8" d_kills=3 d_steady=20 d_settle=5 d_loss_n=8 d_loss_s=20 d_heal=20
else
    d_ns="8 32 128" d_kills=5 d_steady=60 d_settle=10 d_loss_n=32 d_loss_s=120 d_heal=30
fi
NS=${BENCH_NS:-$d_ns}
KILLS=${BENCH_KILLS:-$d_kills}
STEADY_S=${BENCH_STEADY_S:-$d_steady}
SETTLE_S=${BENCH_SETTLE_S:-$d_settle}
LOSS_N=${BENCH_LOSS_N:-$d_loss_n}
LOSS_PCTS=${BENCH_LOSS_PCTS:-"10 20"}
LOSS_PROTO=${BENCH_LOSS_PROTO:-all}
LOSS_S=${BENCH_LOSS_S:-$d_loss_s}
HEAL_S=${BENCH_HEAL_S:-$d_heal}
SYSTEMS=${BENCH_SYSTEMS:-"peerd serf"}
DOC=${BENCH_DOC-$REPO/docs/bench/gossip.md}
DETECT_TIMEOUT_S=${BENCH_DETECT_TIMEOUT_S:-90}
JOIN_TIMEOUT_S=${BENCH_JOIN_TIMEOUT_S:-180}
REPLACE_TIMEOUT_S=60
KEEP=${BENCH_KEEP:-0}
PEERD_NET=${BENCH_PEERD_NET:-127.77}
SERF_NET=${BENCH_SERF_NET:-127.78}
TABLE=pdbench_gossip
PORT=7946

CMDLINE="$0 $*"
for v in BENCH_QUICK BENCH_NS BENCH_KILLS BENCH_STEADY_S BENCH_SETTLE_S BENCH_LOSS_N BENCH_LOSS_PCTS \
    BENCH_LOSS_PROTO BENCH_LOSS_S BENCH_HEAL_S BENCH_SYSTEMS BENCH_DETECT_TIMEOUT_S BENCH_JOIN_TIMEOUT_S; do
    [ -n "${!v+x}" ] && CMDLINE="$v=\"${!v}\" $CMDLINE"
done

# ------------------------------------------------------------------ preflight
die() { echo "gossip bench: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (nftables)"
[ -x "$PEERD" ] && [ -x "$PEERCTL" ] || die "no peerd/peerctl in $BUILD_DIR: run make build"
command -v nft >/dev/null || die "nft missing (apt-get install nftables)"
if ! command -v serf >/dev/null; then
    echo "installing serf (apt-get)" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y serf >/dev/null || die "cannot install serf"
fi
SERF_BIN=$(command -v serf)
case " $SYSTEMS " in *" peerd "*|*" serf "*) ;; *) die "BENCH_SYSTEMS must name peerd and/or serf" ;; esac
for n in $NS; do
    [ "$n" -ge 3 ] 2>/dev/null || die "N must be >= 3 (got $n)"
    [ "$KILLS" -lt "$n" ] || die "BENCH_KILLS must be < N"
done
nft list table inet "$TABLE" >/dev/null 2>&1 && die "nft table inet $TABLE exists (another bench running?)"

W=$(mktemp -d /tmp/pdbench-gossip.XXXXXX)
: >"$W/pids"
: >"$W/results"
: >"$W/kills"

say() { printf '[%s] %s\n' "$(date -u +%T)" "$*" | tee -a "$W/bench.log" >&2; }

# Kill only processes this run started: the PID is in $W/pids and its command line names $W
# (every binary runs from $W/bin), so a PID reused by someone else is never touched.
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
    {
        if [ -s "$W/pids" ]; then
            while read -r p; do own_kill "$p"; done <"$W/pids"
        fi
        wait
    } 2>/dev/null
    nft delete table inet "$TABLE" 2>/dev/null
    if [ "$KEEP" = 1 ] || [ "$rc" -ne 0 ]; then echo "work dir kept: $W" >&2; else rm -rf "$W"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$W/bin"
ln -s "$PEERD" "$W/bin/peerd"
ln -s "$SERF_BIN" "$W/bin/serf"
if cc -O2 -o "$W/bin/tsline" "$REPO/tests/bench/gossip/tsline.c" 2>/dev/null; then
    :
else # fallback: bash's EPOCHREALTIME (slower: bash reads a pipe byte by byte)
    printf '#!/usr/bin/env bash\n# %s\nwhile IFS= read -r l; do printf "%%s %%s\\n" "$EPOCHREALTIME" "$l"; done\n' \
        "$W" >"$W/bin/tsline"
    chmod +x "$W/bin/tsline"
fi

# nftables: named byte counters per system (IP bytes of udp to :7946 and tcp to/from :7946, counted
# once, at output) and an empty chain that takes the loss rule during loss windows. Only the two
# bench address ranges match.
nft -f - <<EOF || die "nft setup failed"
table inet $TABLE {
    counter peerd_udp { }
    counter peerd_tcp { }
    counter serf_udp { }
    counter serf_tcp { }
    chain loss {
        type filter hook output priority -20; policy accept;
    }
    chain count {
        type filter hook output priority -10; policy accept;
        ip daddr $PEERD_NET.0.0/16 udp dport $PORT counter name "peerd_udp"
        ip daddr $PEERD_NET.0.0/16 tcp dport $PORT counter name "peerd_tcp"
        ip saddr $PEERD_NET.0.0/16 tcp sport $PORT counter name "peerd_tcp"
        ip daddr $SERF_NET.0.0/16 udp dport $PORT counter name "serf_udp"
        ip daddr $SERF_NET.0.0/16 tcp dport $PORT counter name "serf_tcp"
        ip saddr $SERF_NET.0.0/16 tcp sport $PORT counter name "serf_tcp"
    }
}
EOF

# ------------------------------------------------------------------ helpers
now() { echo "$EPOCHREALTIME"; }
calc() { awk "BEGIN { printf \"%.6f\", $* }"; }
net_of() { if [ "$1" = peerd ]; then echo "$PEERD_NET"; else echo "$SERF_NET"; fi; }
set_addr() { # sys slot -> $ADDR, without a subshell (launching 128 nodes quickly matters)
    if [ "$1" = peerd ]; then ADDR=$PEERD_NET; else ADDR=$SERF_NET; fi
    ADDR="$ADDR.$(($2 / 250)).$(($2 % 250 + 1))"
}
addr() { set_addr "$1" "$2"; echo "$ADDR"; }
median() { sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) { print "-"; exit }
    if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
maxof() { sort -g | awk 'END { print (NR ? $1 : "-") }'; }
result() { echo "$1 $2 $3 $4" >>"$W/results"; } # sys N key value
nft_bytes() {                                     # counter name -> bytes
    nft list counter inet "$TABLE" "$1" | awk '$1 == "packets" { print $4 }'
}

declare -A PID      # slot -> pid of the node
ACTIVE=()           # slots of running nodes
NEXT_SLOT=0
SERF_KEY=""
SEED_ADDR=""

active_str() { echo "${ACTIVE[*]}"; }

# Node start. Logs go to $W/<sys>/log/<slot>.log.
start_node() { # sys slot join(0|1)
    local sys=$1 slot=$2 join=$3 a
    set_addr "$sys" "$slot"; a=$ADDR
    if [ "$sys" = peerd ]; then
        local d=$W/peerd/n$slot
        mkdir -p "$d"
        local args=(--data-dir "$d" --socket "$d/peerd.sock" --advertise-addr "$a" --listen-addr "$a"
            --gossip-port "$PORT" --no-dns --log-level info)
        if [ "$join" = 1 ]; then # gossip-only members (no certificate, no Raft): what Serf agents are
            args+=(--join "$SEED_ADDR:$PORT" --gossip-key-file "$W/peerd/n0/gossip.keyring")
        else
            args+=(--init) # the seed makes a cluster (a peerd with neither flag waits for swarm init)
        fi
        "$W/bin/peerd" "${args[@]}" </dev/null >/dev/null 2>"$W/peerd/log/$slot.log" &
        PID[$slot]=$!
    else
        local f=$W/serf/n$slot.fifo
        mkfifo "$f"
        "$W/bin/tsline" <"$f" >"$W/serf/log/$slot.log" &
        echo $! >>"$W/pids"
        local args=(agent "-node=s$slot" "-bind=$a:$PORT" "-rpc-addr=$a:7373" -profile=lan
            "-encrypt=$SERF_KEY" -log-level=info)
        [ "$join" = 1 ] && args+=("-join=$SEED_ADDR:$PORT")
        "$W/bin/serf" "${args[@]}" </dev/null >"$f" 2>&1 &
        PID[$slot]=$!
    fi
    echo "${PID[$slot]}" >>"$W/pids"
}

wait_seed_ready() { # sys
    local i
    for i in $(seq 1 200); do
        if [ "$1" = peerd ]; then
            [ -s "$W/peerd/n0/gossip.keyring" ] && "$PEERCTL" --socket "$W/peerd/n0/peerd.sock" info >/dev/null 2>&1 &&
                return 0
        else
            grep -q "Serf agent running" "$W/serf/log/0.log" 2>/dev/null && return 0
        fi
        sleep 0.05
    done
    die "$1 seed did not start (see $W/$1/log/0.log)"
}

# peerd ids -> slots, for the log parser.
add_idmap() { # slot...
    local s i
    for s in "$@"; do
        for i in $(seq 1 200); do [ -s "$W/peerd/n$s/node_id" ] && break; sleep 0.05; done
        [ -s "$W/peerd/n$s/node_id" ] || die "peerd node $s wrote no node_id"
        echo "$(tr -d ' \n' <"$W/peerd/n$s/node_id") $s" >>"$W/peerd/idmap"
    done
}

# All of a system's logs as events: "observer_slot epoch_s kind subject_slot", each file in order.
# kind: join, suspect (observer now holds the subject suspect; Serf: its prober's "Suspect X has
# failed"), dead (observer marks the subject failed), declare (observer's own suspicion timer
# expired), probefail, alive-again, left, update.
events() { # sys
    if [ "$1" = peerd ]; then
        awk -v map="$W/peerd/idmap" '
            function iso2ep(s,   y, m, d, era, yoe, doy, doe) {   # 2026-11-22T06:02:01.152Z
                y = substr(s, 1, 4) + 0; m = substr(s, 6, 2) + 0; d = substr(s, 9, 2) + 0
                y -= (m <= 2); era = int(y / 400); yoe = y - era * 400
                doy = int((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1
                doe = yoe * 365 + int(yoe / 4) - int(yoe / 100) + doy
                return (era * 146097 + doe - 719468) * 86400 + substr(s, 12, 2) * 3600 + \
                       substr(s, 15, 2) * 60 + substr(s, 18, 6)
            }
            BEGIN { while ((getline l < map) > 0) { split(l, f, " "); slot[f[1]] = f[2] } }
            FNR == 1 { me = FILENAME; sub(/.*\//, "", me); sub(/\.log$/, "", me) }
            / member | swim probe failed | swim suspicion timeout / {
                kind = ""; who = ""
                for (i = 2; i < NF; i++) {
                    if ($i == "member") { kind = $(i + 1)
                        for (j = i + 2; j <= NF; j++) if (substr($j, 1, 5) == "peer=") { who = substr($j, 6); break }
                        break }
                    if ($i == "swim" && $(i + 2) == "failed") { kind = "probefail"; who = $(i + 3); break }
                    if ($i == "swim" && $(i + 2) == "timeout") { kind = "declare"; who = $(i + 3); break }
                }
                sub(/^node=/, "", who)
                if (kind != "" && (who in slot)) printf "%s %.3f %s %s\n", me, iso2ep($1), kind, slot[who]
            }' "$W"/peerd/log/*.log
    else
        awk '
            function subj(s) { if (s !~ /^s[0-9]+$/) return ""; return substr(s, 2) }
            FNR == 1 { me = FILENAME; sub(/.*\//, "", me); sub(/\.log$/, "", me) }
            $5 == "serf:" && $6 == "EventMemberJoin:" { w = subj($7); if (w != "") print me, $1, "join", w }
            $5 == "serf:" && $6 == "EventMemberFailed:" { w = subj($7); if (w != "") print me, $1, "dead", w }
            $5 == "serf:" && $6 == "EventMemberLeave:" { w = subj($7); if (w != "") print me, $1, "left", w }
            $5 == "memberlist:" && $6 == "Suspect" && $8 == "has" { w = subj($7)
                if (w != "") { print me, $1, "suspect", w; print me, $1, "probefail", w } }
            $5 == "memberlist:" && $6 == "Marking" && $9 == "failed," { w = subj($7); if (w != "") print me, $1, "declare", w }
        ' "$W"/serf/log/*.log
    fi
}

# Join convergence over the ACTIVE set: prints "<nodes not converged> <epoch of the last to converge>".
join_state() { # sys
    events "$1" | awk -v act="$(active_str)" '
        BEGIN { n = split(act, a, " "); for (i = 1; i <= n; i++) want[a[i]] = 1 }
        $3 == "join" && ($1 in want) && ($4 in want) && $4 != $1 && !(($1, $4) in seen) {
            seen[$1, $4] = 1; if (++c[$1] == n - 1) t[$1] = $2 }
        END { miss = 0; m = 0; for (s in want) { if (!(s in t)) miss++; else if (t[s] > m) m = t[s] }
              printf "%d %.6f\n", miss, m }'
}

# How many ACTIVE nodes list exactly N members alive (asked over each node's control channel).
views_ok() { # sys n
    local s ok=0 c
    for s in "${ACTIVE[@]}"; do
        if [ "$1" = peerd ]; then
            c=$("$PEERCTL" --socket "$W/peerd/n$s/peerd.sock" members --json 2>/dev/null | grep -c '"status": "alive"')
        else
            c=$("$W/bin/serf" members -status=alive "-rpc-addr=$(addr serf "$s"):7373" 2>/dev/null | grep -c .)
        fi
        [ "$c" = "$2" ] && ok=$((ok + 1))
    done
    echo "$ok"
}

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
rss_kb() { awk '$1 == "VmRSS:" { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
peerd_bytes_out() { # sum of bytes_out over ACTIVE
    local s t=0 b
    for s in "${ACTIVE[@]}"; do
        b=$("$PEERCTL" --socket "$W/peerd/n$s/peerd.sock" gossip stats --json 2>/dev/null |
            awk -F'[:,]' '/"bytes_out"/ { print $2 + 0 }')
        t=$((t + ${b:-0}))
    done
    echo "$t"
}

stop_all() {
    local s
    {
        for s in "${!PID[@]}"; do own_kill "${PID[$s]}"; done
        for s in "${!PID[@]}"; do wait "${PID[$s]}"; done
        wait # the tsline readers end with their writers
    } 2>/dev/null
    PID=()
    ACTIVE=()
}

# ------------------------------------------------------------------ phases
phase_join() { # sys n
    local sys=$1 n=$2 s t0 t1 st i
    set_addr "$sys" 0
    SEED_ADDR=$ADDR
    start_node "$sys" 0 0
    wait_seed_ready "$sys"
    [ "$sys" = peerd ] && add_idmap 0
    ACTIVE=(0)
    t0=$(now)
    for s in $(seq 1 $((n - 1))); do start_node "$sys" "$s" 1; ACTIVE+=("$s"); done
    t1=$(now)
    NEXT_SLOT=$n
    [ "$sys" = peerd ] && add_idmap $(seq 1 $((n - 1)))
    for i in $(seq 1 $((JOIN_TIMEOUT_S * 2))); do
        st=$(join_state "$sys")
        [ "${st%% *}" = 0 ] && break
        sleep 0.5
    done
    if [ "${st%% *}" = 0 ]; then
        result "$sys" "$n" join_s "$(calc "${st#* } - $t0")"
        result "$sys" "$n" join_last_s "$(calc "${st#* } - $t1")"
    else
        result "$sys" "$n" join_s "-"
        say "$sys N=$n: ${st%% *} nodes did not converge in ${JOIN_TIMEOUT_S}s"
    fi
    result "$sys" "$n" spawn_s "$(calc "$t1 - $t0")"
    local ok
    ok=$(views_ok "$sys" "$n")
    result "$sys" "$n" views_ok "$ok/$n"
    say "$sys N=$n: join $(grep "^$sys $n join_s " "$W/results" | awk '{print $4}')s (spawn $(calc "$t1 - $t0")s), $ok/$n member lists show $n alive"
}

phase_steady() { # sys n
    local sys=$1 n=$2 s a0 a1 ta tb t1 t2 b0 b1
    declare -A c0
    [ "$sys" = peerd ] && { ta=$(now); a0=$(peerd_bytes_out); }
    b0=$(($(nft_bytes "${sys}_udp") + $(nft_bytes "${sys}_tcp")))
    local u0; u0=$(nft_bytes "${sys}_udp")
    for s in "${ACTIVE[@]}"; do c0[$s]=$(cpu_ticks "${PID[$s]}"); done
    t1=$(now)
    sleep "$STEADY_S"
    b1=$(($(nft_bytes "${sys}_udp") + $(nft_bytes "${sys}_tcp")))
    local u1; u1=$(nft_bytes "${sys}_udp")
    local cpu_list="" rss_list=""
    for s in "${ACTIVE[@]}"; do cpu_list+="$(($(cpu_ticks "${PID[$s]}") - c0[$s])) "; done
    t2=$(now)
    for s in "${ACTIVE[@]}"; do rss_list+="$(rss_kb "${PID[$s]}") "; done
    [ "$sys" = peerd ] && { a1=$(peerd_bytes_out); tb=$(now); }
    local hz win
    hz=$(getconf CLK_TCK)
    win=$(calc "$t2 - $t1")
    result "$sys" "$n" bps "$(calc "($b1 - $b0) / $win / $n")"
    result "$sys" "$n" bps_udp "$(calc "($u1 - $u0) / $win / $n")"
    [ "$sys" = peerd ] && result "$sys" "$n" bps_app "$(calc "($a1 - $a0) / ($tb - $ta) / $n")"
    result "$sys" "$n" cpu_mean "$(echo "$cpu_list" | tr ' ' '\n' | awk -v hz="$hz" -v w="$win" \
        'NF { t += $1; c++ } END { printf "%.4f", t / hz / w / c * 100 }')"
    result "$sys" "$n" cpu_max "$(echo "$cpu_list" | tr ' ' '\n' | awk -v hz="$hz" -v w="$win" \
        'NF && $1 > m { m = $1 } END { printf "%.4f", m / hz / w * 100 }')"
    result "$sys" "$n" rss_mean "$(echo "$rss_list" | tr ' ' '\n' | awk 'NF { t += $1; c++ } END { printf "%.3f", t / c / 1024 }')"
    result "$sys" "$n" rss_max "$(echo "$rss_list" | tr ' ' '\n' | awk 'NF && $1 > m { m = $1 } END { printf "%.3f", m / 1024 }')"
    say "$sys N=$n: steady ${win}s: $(grep "^$sys $n \(bps\|cpu_mean\|rss_mean\) " "$W/results" | awk '{printf "%s=%s ", $3, $4}')"
}

# Kill -9 one node, time the detection, then replace it with a new node on a spare slot.
kill_one() { # sys n victim_slot k
    local sys=$1 n=$2 v=$3 k=$4 tk i st survivors
    local -a surv=()
    for s in "${ACTIVE[@]}"; do [ "$s" != "$v" ] && surv+=("$s"); done
    survivors="${surv[*]}"
    tk=$(now)
    { kill -9 "${PID[$v]}"; wait "${PID[$v]}"; } 2>/dev/null
    ACTIVE=("${surv[@]}")
    for i in $(seq 1 $((DETECT_TIMEOUT_S * 4))); do
        sleep 0.25
        st=$(events "$sys" | awk -v v="$v" -v tk="$tk" -v act="$survivors" '
            BEGIN { n = split(act, a, " "); for (i = 1; i <= n; i++) want[a[i]] = 1 }
            $4 == v && $2 >= tk && ($1 in want) {
                if ($3 == "suspect" && (fs == "" || $2 < fs)) fs = $2
                if ($3 == "dead" && !($1 in d)) { d[$1] = 1; nd++
                    if (fd == "" || $2 < fd) fd = $2; if (ld == "" || $2 > ld) ld = $2 } }
            END { printf "%d %s %s %s %d\n", nd, (fs == "" ? "-" : sprintf("%.3f", fs - tk)),
                  (fd == "" ? "-" : sprintf("%.3f", fd - tk)), (nd == n ? sprintf("%.3f", ld - tk) : "-"), n }')
        [ "${st%% *}" = "${#surv[@]}" ] && break
    done
    # sys N k victim marked_by survivors first_suspect_s first_dead_s all_dead_s
    set -- $st
    echo "$sys $n $k $v $1 $5 $2 $3 $4" >>"$W/kills"
    say "$sys N=$n kill $k (slot $v): first suspect ${2}s, first failed ${3}s, all failed ${4}s ($1/$5 marked)"
    # Replacement keeps the cluster at N (a crashed peerd restarted with the same id is refused
    # until its dead entry is reaped, so a new identity on a spare address stands in).
    local r=$NEXT_SLOT tr
    NEXT_SLOT=$((NEXT_SLOT + 1))
    tr=$(now)
    start_node "$sys" "$r" 1
    [ "$sys" = peerd ] && add_idmap "$r"
    for i in $(seq 1 $((REPLACE_TIMEOUT_S * 4))); do
        sleep 0.25
        st=$(events "$sys" | awk -v r="$r" -v tr="$tr" -v act="$survivors" '
            BEGIN { n = split(act, a, " "); for (i = 1; i <= n; i++) want[a[i]] = 1 }
            $3 == "join" && $4 == r && ($1 in want) && !($1 in j) { j[$1] = 1; c++; if ($2 > l) l = $2 }
            END { printf "%d %.3f\n", n - c, l - tr }')
        [ "${st%% *}" = 0 ] && break
    done
    ACTIVE+=("$r")
    if [ "${st%% *}" = 0 ]; then echo "$sys $n replace_s ${st#* }" >>"$W/replace"; else
        say "$sys N=$n: replacement slot $r not seen by ${st%% *} nodes after ${REPLACE_TIMEOUT_S}s"; fi
    sleep 2
}

phase_kills() { # sys n
    local sys=$1 n=$2 k v
    for k in $(seq 1 "$KILLS"); do
        v=${ACTIVE[$((1 + (k - 1) * (n - 1) / KILLS))]} # spread over the cluster, never the seed
        kill_one "$sys" "$n" "$v" "$k"
    done
    local f
    for f in first_suspect:7 first_dead:8 all_dead:9; do
        local col=${f#*:} key=${f%%:*}
        result "$sys" "$n" "${key}_med" "$(awk -v s="$sys" -v n="$n" -v c="$col" '$1 == s && $2 == n && $c != "-" { print $c }' "$W/kills" | median)"
        result "$sys" "$n" "${key}_max" "$(awk -v s="$sys" -v n="$n" -v c="$col" '$1 == s && $2 == n && $c != "-" { print $c }' "$W/kills" | maxof)"
    done
    # where detection time goes, per kill: probing (kill -> first suspect), suspicion (first
    # suspect -> first failed), dissemination (first failed -> all failed)
    result "$sys" "$n" susp_phase_med "$(awk -v s="$sys" -v n="$n" '$1 == s && $2 == n && $7 != "-" && $8 != "-" { print $8 - $7 }' "$W/kills" | median)"
    result "$sys" "$n" dissem_med "$(awk -v s="$sys" -v n="$n" '$1 == s && $2 == n && $8 != "-" && $9 != "-" { print $9 - $8 }' "$W/kills" | median)"
    result "$sys" "$n" kills_incomplete "$(awk -v s="$sys" -v n="$n" '$1 == s && $2 == n && $9 == "-"' "$W/kills" | wc -l)"
    result "$sys" "$n" replace_med "$(awk -v s="$sys" -v n="$n" '$1 == s && $2 == n { print $4 }' "$W/replace" 2>/dev/null | median)"
}

phase_loss() { # sys n pct
    local sys=$1 n=$2 pct=$3 t0 t1 t2 i ok net
    net=$(net_of "$sys")
    t0=$(now)
    # udp always goes node port -> node port 7946; a tcp connection may come from 127.0.0.1 (Serf
    # does not bind its dialer), so tcp is matched by the node's end: to :7946, or from :7946.
    local -a rules=("ip daddr $net.0.0/16 udp dport $PORT")
    [ "$LOSS_PROTO" = udp ] || rules+=("ip daddr $net.0.0/16 tcp dport $PORT" "ip saddr $net.0.0/16 tcp sport $PORT")
    local r
    for r in "${rules[@]}"; do
        nft add rule inet "$TABLE" loss $r numgen random mod 100 \< "$pct" counter drop || die "nft loss rule failed"
    done
    say "$sys N=$n: ${pct}% loss ($LOSS_PROTO) for ${LOSS_S}s"
    sleep "$LOSS_S"
    local dropped
    dropped=$(nft list chain inet "$TABLE" loss | awk '$0 ~ /counter packets/ { for (i = 1; i < NF; i++) if ($i == "packets") s += $(i + 1) } END { print s + 0 }')
    nft flush chain inet "$TABLE" loss
    say "$sys N=$n: loss window over, $dropped packets dropped"
    t1=$(now)
    sleep "$HEAL_S"
    t2=$(now)
    echo "$t0 $t2" >>"$W/$sys.losswin"
    # every node back to N alive at the end of the heal period? (if not, give it up to 60 s more
    # before the next phase, outside the counted window)
    local ok0
    ok0=$(views_ok "$sys" "$n")
    ok=$ok0
    for i in $(seq 1 60); do
        [ "$ok" = "$n" ] && break
        sleep 1
        ok=$(views_ok "$sys" "$n")
    done
    events "$sys" | awk -v t0="$t0" -v t2="$t2" '
        $2 >= t0 && $2 <= t2 {
            if ($3 == "dead") { ev++; if (!($4 in w)) { w[$4] = 1; nodes++ } }
            if ($3 == "declare") decl++
            if ($3 == "probefail") pf++ }
        END { printf "%d %d %d %d\n", nodes, ev, decl, pf }' >"$W/loss.tmp"
    local fp_nodes fp_ev decl pf
    read -r fp_nodes fp_ev decl pf <"$W/loss.tmp"
    result "$sys" "$n" "fp_nodes_$pct" "$fp_nodes"
    result "$sys" "$n" "fp_events_$pct" "$fp_ev"
    result "$sys" "$n" "fp_declares_$pct" "$decl"
    result "$sys" "$n" "probefail_$pct" "$pf"
    result "$sys" "$n" "healed_$pct" "$ok0/$n"
    say "$sys N=$n ${pct}% loss: $fp_nodes nodes wrongly failed ($fp_ev failed events, $decl timeouts, $pf failed probes); $ok0/$n lists show $n alive ${HEAL_S}s after the loss ended ($ok/$n $(calc "$(now) - $t1")s after)"
}

# Failed events about nodes that were never killed, outside the loss windows.
phase_spurious() { # sys n
    local sys=$1 n=$2 victims
    victims=$(awk -v s="$sys" -v n="$n" '$1 == s && $2 == n { printf "%s ", $4 }' "$W/kills")
    events "$sys" | awk -v vict="$victims" -v wf="$W/$sys.losswin" '
        BEGIN { nv = split(vict, a, " "); for (i = 1; i <= nv; i++) v[a[i]] = 1
                while ((getline l < wf) > 0) { split(l, f, " "); nw++; w0[nw] = f[1]; w1[nw] = f[2] } }
        $3 == "dead" && !($4 in v) { for (i = 1; i <= nw; i++) if ($2 >= w0[i] && $2 <= w1[i]) next; c++ }
        END { print c + 0 }' >"$W/spur.tmp"
    result "$sys" "$n" spurious "$(cat "$W/spur.tmp")"
}

run_system() { # sys n
    local sys=$1 n=$2 pct
    rm -rf "${W:?}/$sys"
    mkdir -p "$W/$sys/log"
    : >"$W/$sys.losswin"
    [ "$sys" = peerd ] && : >"$W/peerd/idmap"
    [ "$sys" = serf ] && SERF_KEY=$(head -c 32 /dev/urandom | base64)
    say "=== $sys N=$n"
    phase_join "$sys" "$n"
    sleep "$SETTLE_S"
    phase_steady "$sys" "$n"
    phase_kills "$sys" "$n"
    if [ "$n" = "$LOSS_N" ]; then
        for pct in $LOSS_PCTS; do sleep "$SETTLE_S"; phase_loss "$sys" "$n" "$pct"; done
    fi
    phase_spurious "$sys" "$n"
    stop_all
    if [ "$KEEP" = 1 ]; then mv "$W/$sys" "$W/$sys-$n"; else rm -rf "${W:?}/$sys"; fi
    sleep 1
}

# ------------------------------------------------------------------ run
T_START=$(now)
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
say "gossip bench: N=[$NS] kills=$KILLS steady=${STEADY_S}s loss N=$LOSS_N [$LOSS_PCTS]% ${LOSS_S}s; work dir $W"
for n in $NS; do
    for sys in $SYSTEMS; do run_system "$sys" "$n"; done
done
LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)
ELAPSED=$(calc "($(now) - $T_START) / 60")

# ------------------------------------------------------------------ report
val() { awk -v s="$1" -v n="$2" -v k="$3" '$1 == s && $2 == n && $3 == k { v = $4 } END { print (v == "" ? "-" : v) }' "$W/results"; }
fmt() { # number -> 3 significant digits (or as is)
    case "$1" in -|"") echo "-" ;; */*) echo "$1" ;; *) awk -v x="$1" 'BEGIN {
        a = x < 0 ? -x : x
        if (a == 0) print "0"; else if (a >= 100) printf "%.0f\n", x; else if (a >= 10) printf "%.1f\n", x
        else if (a >= 1) printf "%.2f\n", x; else printf "%.3f\n", x }' ;; esac
}
ratio() {
    case "$1$2" in */*) echo ""; return ;; *-*|"") echo "-"; return ;; esac
    awk -v p="$1" -v s="$2" 'BEGIN { if (s == 0) print (p == 0 ? "1 (both 0)" : "inf"); else printf "%.2f\n", p / s }'
}

ROWS="join_s|Join convergence: all N nodes see N alive, from the first joiner's launch (s)
join_last_s|  same, from the last joiner's launch (s)
spawn_s|  launching the N-1 joiners took (s)
first_suspect_med|Kill -9 -> first suspicion anywhere, median (s)
first_suspect_max|Kill -9 -> first suspicion anywhere, max (s)
first_dead_med|Kill -9 -> first node marks it failed, median (s)
all_dead_med|Kill -9 -> all nodes mark it failed, median (s)
all_dead_max|Kill -9 -> all nodes mark it failed, max (s)
susp_phase_med|  of which: first suspicion -> first failed, median (s)
dissem_med|  of which: first failed -> all failed, median (s)
kills_incomplete|Kills not marked failed by all within ${DETECT_TIMEOUT_S}s
replace_med|New node seen by all others (replacement join), median (s)
bps|Gossip bytes/s sent per node (IP bytes, udp+tcp, nft)
bps_udp|  of which udp
bps_app|  peerd's own bytes_out/s per node (sealed frames)
cpu_mean|CPU per node, mean (% of one core)
cpu_max|CPU per node, max (% of one core)
rss_mean|RSS per node, mean (MiB)
rss_max|RSS per node, max (MiB)
spurious|Failed events about never-killed nodes, outside loss windows
views_ok|Member lists showing N alive after join"
LOSS_ROWS="fp_nodes|Nodes wrongly declared failed
fp_events|  failed events (sum over observers)
fp_declares|  suspicion timeouts that declared a node failed
probefail|  failed probes
healed|  member lists showing N alive ${HEAL_S}s after the loss ended"

table() {
    echo "| Figure | N | peerd | Serf | peerd/Serf |"
    echo "|---|---:|---:|---:|---:|"
    local n line key label p s
    for n in $NS; do
        while IFS= read -r line; do
            key=${line%%|*} label=${line#*|}
            p=$(val peerd "$n" "$key") s=$(val serf "$n" "$key")
            [ "$p$s" = "--" ] && continue
            echo "| $label | $n | $(fmt "$p") | $(fmt "$s") | $(case $key in views_ok) echo "" ;; *) ratio "$p" "$s" ;; esac) |"
        done <<<"$ROWS"
        if [ "$n" = "$LOSS_N" ]; then
            for pct in $LOSS_PCTS; do
                while IFS= read -r line; do
                    key=${line%%|*}_$pct label="${line#*|} at ${pct}% loss (${LOSS_S}s)"
                    p=$(val peerd "$n" "$key") s=$(val serf "$n" "$key")
                    echo "| $label | $n | $(fmt "$p") | $(fmt "$s") | $(ratio "$p" "$s") |"
                done <<<"$LOSS_ROWS"
            done
        fi
    done
}

# target rows: label key limit(ratio) ; verdict per N
verdict() { # key limit n
    local p s
    p=$(val peerd "$3" "$1") s=$(val serf "$3" "$1")
    case "$p$s" in *-*) echo "no data"; return ;; esac
    awk -v p="$p" -v s="$s" -v l="$2" 'BEGIN { print (p <= l * s ? "met" : "not met") }'
}
targets() {
    echo "| Target | N | peerd | Serf | peerd/Serf | limit | verdict |"
    echo "|---|---:|---:|---:|---:|---:|---|"
    local n key label lim pct
    for n in $NS; do
        for t in "all_dead_med|Time until all nodes mark a crashed node failed (median)|0.5" \
            "all_dead_max|Time until all nodes mark a crashed node failed (max)|0.5" \
            "bps|Gossip bytes/s per node|1" "cpu_mean|CPU per node|1" "rss_mean|RSS per node|0.25"; do
            key=${t%%|*} lim=${t##*|} label=${t#*|} label=${label%|*}
            echo "| $label | $n | $(fmt "$(val peerd "$n" "$key")") | $(fmt "$(val serf "$n" "$key")") | $(ratio "$(val peerd "$n" "$key")" "$(val serf "$n" "$key")") | <= $lim x | $(verdict "$key" "$lim" "$n") |"
        done
        if [ "$n" = "$LOSS_N" ]; then
            for pct in $LOSS_PCTS; do
                key=fp_nodes_$pct
                echo "| False positives (nodes wrongly failed) at ${pct}% loss | $n | $(val peerd "$n" "$key") | $(val serf "$n" "$key") | $(ratio "$(val peerd "$n" "$key")" "$(val serf "$n" "$key")") | <= Serf | $(verdict "$key" 1 "$n") |"
            done
        fi
    done
}
summary() { # one line per target over all N
    local v key lim name
    for t in "all_dead_med|0.5|Failure detection (all nodes mark failed, median) at most half of Serf's" \
        "all_dead_max|0.5|Failure detection (all nodes mark failed, max) at most half of Serf's" \
        "fp|1|False positives at ${LOSS_PCTS// /% and }% loss no more than Serf's" \
        "bps|1|Bytes per second per node at most Serf's" "cpu_mean|1|CPU per node at most Serf's" \
        "rss_mean|0.25|RSS per node at most a quarter of Serf's"; do
        key=${t%%|*} name=${t##*|} lim=${t#*|} lim=${lim%%|*}
        v=""
        if [ "$key" = fp ]; then
            for pct in $LOSS_PCTS; do [ "$LOSS_N" != 0 ] && v+="$(verdict "fp_nodes_$pct" 1 "$LOSS_N"),"; done
        else
            for n in $NS; do v+="$(verdict "$key" "$lim" "$n"),"; done
        fi
        case "$v" in "") r="not measured" ;; *"not met"*) r="**not met**" ;; *"no data"*) r="no data" ;; *) r="met" ;; esac
        echo "- $name: $r"
    done
}

PEERD_SRC=$(awk -F= '/^CMAKE_HOME_DIRECTORY/ { print $2 }' "$BUILD_DIR/CMakeCache.txt" 2>/dev/null)
PEERD_SRC=${PEERD_SRC:-$REPO}
PEERD_COMMIT=$(git -C "$PEERD_SRC" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
if [ -n "$(git -C "$PEERD_SRC" status --porcelain -- gossip core cli 2>/dev/null)" ]; then
    PEERD_COMMIT="$PEERD_COMMIT + uncommitted changes in gossip/core/cli"
fi
SERF_VER="$(serf version 2>/dev/null | head -1) (Debian package $(dpkg-query -W -f='${Version}' serf 2>/dev/null))"

report() {
    cat <<EOF
# Gossip benchmark: peerd vs HashiCorp Serf

Produced by \`$CMDLINE\` (tests/bench/gossip/run.sh), $(date -u +%Y-%m-%dT%H:%MZ), in ${ELAPSED%.*} min.
$([ "$QUICK" = 1 ] && echo "**Quick run** (reduced scale): the full run is \`tests/bench/gossip/run.sh build\`.")

## Machine

- $(nproc) cores ($(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM, kernel $(uname -r), $(. /etc/os-release && echo "$PRETTY_NAME")
- peerd: commit $PEERD_COMMIT, release build (\`$BUILD_DIR\`)
- Serf: $SERF_VER
- load average at start: $LOAD0, at end: $LOAD1 (the 2 cores are shared with whatever else ran meanwhile)

## Setup

- Every node is its own process on its own loopback address: peerd on $PEERD_NET.x.y, Serf on
  $SERF_NET.x.y, gossip port $PORT (udp+tcp). One system runs at a time; nothing is pinned.
- Both encrypt: peerd XChaCha20-Poly1305 with its keyring, Serf \`-encrypt\` with a 32-byte key
  (AES-GCM). Serf runs \`-profile=lan\` (probe interval 1 s, probe timeout 500 ms, suspicion
  mult 4, max mult 6, gossip every 200 ms to 3 nodes, push/pull every 30 s); peerd its defaults
  (pd_swim_config_lan: probe interval 600 ms, probe timeout 200 ms, suspicion mult 2, max mult 6,
  3 confirmations brought by confirmation probes, the same gossip, and a periodic push/pull
  that is a digest datagram unless two states differ).
- Join: the seed starts, then N-1 nodes are launched at once, each joining the seed. Convergence
  is the time from the first joiner's launch (and from the last one's) until every node has
  logged the join of all N-1 others. Launching is part of it: a Serf agent takes far more CPU to
  start than peerd, and the 2 cores are shared by every starting process.
- Detection: $KILLS kills per N, a different node each time, never the seed; after every node has
  marked it failed (or ${DETECT_TIMEOUT_S}s) a new node on a spare address joins in its place,
  so N stays constant. "First suspicion" is the first peerd \`member suspect\` line / Serf
  \`Suspect X has failed\` line about the victim; "failed" is peerd \`member dead\` / Serf
  \`EventMemberFailed\`. peerd's log lines carry ms timestamps; Serf's log is time-stamped on
  arrival (us) by tsline, since Serf's own stamps have 1 s resolution.
- Steady state: a ${STEADY_S}s window after ${SETTLE_S}s of quiet; bytes are IP packet bytes sent to
  udp/$PORT and to/from tcp/$PORT within the system's address range (nftables counters),
  divided by N; CPU is utime+stime of each node process (Serf's tsline helper not counted);
  RSS is VmRSS at the end of the window.
- Loss: at N=$LOSS_N, ${LOSS_S}s windows of ${LOSS_PCTS// /% and }% random loss, one after the other,
  $(if [ "$LOSS_PROTO" = udp ]; then echo "on UDP to port $PORT in the system's range only (TCP untouched, so both systems' TCP fallback probes always get through)"; else echo "on every gossip packet of the system's nodes: UDP to port  and TCP to and from port  (probes, acks, ping-reqs, TCP fallback probes and push/pull alike)"; fi),
  nftables \`numgen random mod 100 < P drop\` at the output hook; each window is followed by
  ${HEAL_S}s without loss during which failures still count. "Nodes wrongly declared failed" is the
  number of distinct nodes that at least one node marked failed in that time.

## Results

$(table)

## Targets

"time until all nodes mark a crashed node failed at most half of Serf's, with no more false
positives than Serf at 10% and 20% loss; bytes per second per node and CPU at most Serf's; RSS per
node at most a quarter of Serf's"

$(summary)

$(targets)

## Notes
${BENCH_NOTE:+
$BENCH_NOTE
}
- Serf's push/pull is periodic (30 s, x3 at 128 nodes) and goes over TCP, so its bytes figure
  depends on how many push/pull rounds fall in the ${STEADY_S}s window; the "of which udp" row
  excludes it. A window of at least the push/pull interval (BENCH_STEADY_S=90 or more at N=128)
  evens this out. peerd's periodic push/pull is a digest datagram; TCP only when states differ.
- The 2 cores are shared: other work on the machine (see the load average) adds noise to join
  times and, less, to detection times.

## Raw kills

sys, N, kill, victim slot, nodes that marked it failed / survivors, first suspicion, first
failed, all failed (seconds after kill -9; "-" = not within ${DETECT_TIMEOUT_S}s)

\`\`\`
$(awk '{ printf "%-5s N=%-4s kill %s  slot %-4s %s/%s  suspect %-7s first-failed %-7s all-failed %s\n", $1, $2, $3, $4, $5, $6, $7, $8, $9 }' "$W/kills")
\`\`\`
EOF
}

REPORT=$(report)
echo "$REPORT"
if [ -n "$DOC" ]; then
    mkdir -p "$(dirname "$DOC")"
    echo "$REPORT" >"$DOC"
    say "report written to $DOC"
fi
