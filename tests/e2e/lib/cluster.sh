# e2e harness: N hosts, each a network namespace wired to a bridge in a "switch" namespace, one
# peerd per host. Source it, then call e2e_setup N. Everything it creates (namespaces, processes,
# nftables tables, the work dir) is torn down by an EXIT/INT/TERM trap, even when a test fails.
#
#   e2e_setup N                 create hosts h1..hN (10.99.0.1..N/24) and start peerd on each;
#                               host 1 makes the cluster (--init) and hosts 2..N join it at start
#                               (--join-token, --join-manager h1:2377) with the worker token, or the
#                               manager token for the hosts in $E2E_MANAGERS (e.g. "1 2 3"; e2e_setup
#                               then waits until all of them are Raft voters). E2E_AUTOJOIN=0: none of
#                               that; each peerd waits for 'peerctl swarm init' / 'peerctl swarm join'.
#                               A restart needs no flags: the state is in the data dir.
#   e2e_start I [ARGS...]       (re)start peerd on host I;  e2e_stop I [SIG] stops it by PID
#                               ($E2E_PEERD_ARGS, when set, is appended to every start, e2e_setup's too,
#                               and $E2E_ARGS_H<I> to host I's only)
#   e2e_wait_managers [SECS]    wait until every host in $E2E_MANAGERS is a Raft voter (leader or
#                               follower) and sees them all as voters
#   e2e_bg I CMD...             a helper process (e.g. a test DNS upstream) in host I's namespace,
#                               output in h<I>/bg.log, PID in $E2E_BG_PID; killed at teardown
#   e2e_ctl I ARGS...           peerctl against host I's daemon, run inside its namespace
#   e2e_exec I CMD...           any command inside host I's namespace (dig, nft, ...)
#   e2e_loss I PCT              drop PCT% of packets arriving at host I (nftables, numgen)
#   e2e_block I J               drop packets from host J arriving at host I (one-way partition)
#   e2e_heal I                  remove host I's fault rules
#   e2e_wait_for SECS CMD...    retry CMD every 0.1 s until it succeeds or SECS pass
#   expect_error WHAT PAT CMD.. CMD must fail with output matching PAT (grep -iE); logs the refusal
#   e2e_main FN                 run scenario FN in a subshell (its trap tears down), then assert that
#                               no namespace, process, nftables table or file of the run is left
# E2E_KEEP_LOGS=DIR copies every host's peerd.log there at teardown (for a failure's post-mortem).
# Requires root and network namespaces; exits 77 (ctest: skipped) otherwise.
set -euo pipefail

E2E_ID="pd$$"
E2E_STATE="/tmp/peerd-e2e-state.$$" # what the scenario created, for the check after teardown
E2E_WORK=""
E2E_N=0
E2E_SUBNET="10.99.0"
declare -a E2E_PIDS=()
declare -a E2E_BG_PIDS=()
E2E_BG_PID=""

e2e_log() { printf '[e2e %s] %s\n' "$(date +%H:%M:%S.%3N)" "$*" >&2; }
e2e_fail() { e2e_log "FAIL: $*"; exit 1; }

e2e_require() {
  [ "$(id -u)" -eq 0 ] || { echo "e2e: needs root; skipped"; exit 77; }
  command -v ip >/dev/null || { echo "e2e: iproute2 missing; skipped"; exit 77; }
  ip netns add "${E2E_ID}-probe" 2>/dev/null || { echo "e2e: no network namespaces; skipped"; exit 77; }
  ip netns del "${E2E_ID}-probe"
  : "${PEERD:?PEERD must name the peerd binary}" "${PEERCTL:?PEERCTL must name the peerctl binary}"
}

e2e_ns() { echo "${E2E_ID}-h$1"; }
e2e_sw() { echo "${E2E_ID}-sw"; }
e2e_sock() { echo "$E2E_WORK/h$1/peerd.sock"; }
e2e_addr() { echo "${E2E_SUBNET}.$1"; }

e2e_teardown() {
  local rc=$?
  trap - EXIT INT TERM
  local i pid
  for i in "${!E2E_PIDS[@]}"; do
    pid=${E2E_PIDS[$i]}
    [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${E2E_BG_PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  for i in "${!E2E_PIDS[@]}"; do
    pid=${E2E_PIDS[$i]}
    [ -z "$pid" ] && continue
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [ $rc -ne 0 ] && [ -n "$E2E_WORK" ]; then
    for f in "$E2E_WORK"/h*/peerd.log; do
      [ -f "$f" ] && { echo "--- $f (last 30 lines)"; tail -30 "$f"; }
    done
  fi
  for i in $(seq "$E2E_N"); do ip netns del "$(e2e_ns "$i")" 2>/dev/null || true; done
  ip netns del "$(e2e_sw)" 2>/dev/null || true
  [ -n "${E2E_KEEP_LOGS:-}" ] && [ -n "$E2E_WORK" ] && { mkdir -p "$E2E_KEEP_LOGS"; for f in "$E2E_WORK"/h*/peerd.log; do cp "$f" "$E2E_KEEP_LOGS/$(basename "$(dirname "$f")").log"; done; }
  [ -n "$E2E_WORK" ] && rm -rf "$E2E_WORK"
  exit $rc
}

# Every namespace, process and directory recorded in the state file is gone.
e2e_assert_clean() {
  local left kind val
  left=$(ip netns list | grep -c "^${E2E_ID}-" || true)
  [ "$left" -eq 0 ] || e2e_fail "namespaces left behind: $(ip netns list | grep "^${E2E_ID}-")"
  nft list tables 2>/dev/null | grep -q "$E2E_ID" && e2e_fail "nftables table left in the host namespace"
  [ -f "$E2E_STATE" ] || return 0
  while read -r kind val; do
    case $kind in
      pid) kill -0 "$val" 2>/dev/null && e2e_fail "process $val left running" ;;
      work) [ -e "$val" ] && e2e_fail "work dir $val left behind" ;;
    esac
  done <"$E2E_STATE"
  rm -f "$E2E_STATE"
  e2e_log "clean: no namespace, process, nftables table or work dir left"
}

e2e_main() {
  local rc=0
  ( "$@" ) || rc=$?
  if [ $rc -eq 77 ]; then rm -f "$E2E_STATE"; exit 77; fi
  e2e_assert_clean
  [ $rc -eq 0 ] && e2e_log "PASS" || e2e_log "FAIL (exit $rc)"
  exit $rc
}

e2e_setup() {
  e2e_require
  E2E_N=$1
  E2E_WORK=$(mktemp -d /tmp/peerd-e2e.XXXXXX)
  echo "work $E2E_WORK" >"$E2E_STATE"
  trap e2e_teardown EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  local sw i ns
  sw=$(e2e_sw)
  ip netns add "$sw"
  ip -n "$sw" link add br0 type bridge
  ip -n "$sw" link set br0 up
  for i in $(seq "$E2E_N"); do
    ns=$(e2e_ns "$i")
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    ip link add eth0 netns "$ns" type veth peer name "h$i" netns "$sw"
    ip -n "$sw" link set "h$i" master br0 up
    ip -n "$ns" addr add "$(e2e_addr "$i")/24" dev eth0
    ip -n "$ns" link set eth0 up
    mkdir -p "$E2E_WORK/h$i"
    E2E_PIDS[$i]=""
  done
  if [ "${E2E_AUTOJOIN:-1}" != 1 ]; then
    for i in $(seq "$E2E_N"); do e2e_start "$i"; done # each waits for 'swarm init' / 'swarm join'
    return 0
  fi
  e2e_start 1 --init
  local wtoken mtoken
  e2e_wait_for 15 e2e_ctl 1 swarm join-token -q worker || e2e_fail "h1 made no join tokens"
  wtoken=$(e2e_ctl 1 swarm join-token -q worker)
  mtoken=$(e2e_ctl 1 swarm join-token -q manager)
  for i in $(seq 2 "$E2E_N"); do
    e2e_start "$i" --join-token "$(e2e_is_manager "$i" && echo "$mtoken" || echo "$wtoken")" \
      --join-manager "$(e2e_addr 1):2377"
  done
  for i in $(seq 2 "$E2E_N"); do
    e2e_wait_for 20 test -e "$E2E_WORK/h$i/data/node.crt" || e2e_fail "h$i did not join: $(tail -3 "$E2E_WORK/h$i/peerd.log")"
  done
  [ -z "${E2E_MANAGERS:-}" ] || e2e_wait_managers 60
}

# Is host I one of $E2E_MANAGERS (host 1, which made the cluster, always is)?
e2e_is_manager() { [ "$1" = 1 ] || [[ " ${E2E_MANAGERS:-} " == *" $1 "* ]]; }

# Host I is a voter (leader or follower) and its configuration has exactly N voters.
e2e_voters_are() {
  local out
  out=$(e2e_ctl "$1" raft status --json 2>/dev/null) || return 1
  grep -q '"role": "\(leader\|follower\)"' <<<"$out" || return 1
  [ "$(grep -o '"suffrage": "voter"' <<<"$out" | wc -l)" -eq "$2" ]
}

e2e_wait_managers() {
  local secs=${1:-60} h hosts n
  hosts=$(printf '%s\n' 1 ${E2E_MANAGERS:-} | sort -un)
  n=$(wc -w <<<"$hosts")
  local deadline=$((SECONDS + secs))
  for h in $hosts; do
    while ! e2e_voters_are "$h" "$n"; do
      [ $SECONDS -lt "$deadline" ] || e2e_fail "h$h is not one of $n Raft voters after ${secs}s: $(e2e_ctl "$h" raft status 2>&1 | head -20)"
      sleep 0.2
    done
  done
  e2e_log "managers $(echo $hosts): $n Raft voters"
}

e2e_node_id() { e2e_ctl "$1" info --json | grep -o '"node_id": "[0-9a-z]*"' | cut -d'"' -f4; }

# Status of node ID as host I's gossip sees it (alive|suspect|failed|left, or "" if unknown).
e2e_member_status() { e2e_ctl "$1" members | awk -v id="$2" '$1 == id { print $4 }'; }

# True when host I sees exactly N members alive.
e2e_alive_count_is() { [ "$(e2e_ctl "$1" members | awk 'NR > 1 && $4 == "alive"' | wc -l)" -eq "$2" ]; }

e2e_exec() {
  local i=$1
  shift
  ip netns exec "$(e2e_ns "$i")" "$@"
}

e2e_ctl() {
  local i=$1
  shift
  ip netns exec "$(e2e_ns "$i")" "$PEERCTL" --socket "$(e2e_sock "$i")" "$@"
}

# expect_error WHAT PATTERN CMD...: CMD must fail with output matching PATTERN (extended, any case).
expect_error() {
  local what=$1 pattern=$2
  shift 2
  local out st=0
  out=$("$@" 2>&1) || st=$?
  [ $st -ne 0 ] || e2e_fail "$what: succeeded, want an error: $out"
  grep -qiE "$pattern" <<<"$out" || e2e_fail "$what: error '$out' does not match /$pattern/"
  e2e_log "$what: refused: $out"
}

e2e_wait_for() {
  local secs=$1
  shift
  local deadline=$((SECONDS + secs))
  while ! "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt "$deadline" ] || return 1
    sleep 0.1
  done
}

e2e_start() {
  local i=$1
  shift
  local ns host_args="E2E_ARGS_H$i"
  ns=$(e2e_ns "$i")
  ip netns exec "$ns" "$PEERD" --data-dir "$E2E_WORK/h$i/data" --socket "$(e2e_sock "$i")" \
    --advertise-addr "$(e2e_addr "$i")" --log-level debug "$@" ${E2E_PEERD_ARGS:-} ${!host_args:-} \
    >>"$E2E_WORK/h$i/peerd.log" 2>&1 &
  E2E_PIDS[$i]=$!
  echo "pid $!" >>"$E2E_STATE"
  e2e_wait_for 10 e2e_ctl "$i" info || e2e_fail "peerd on h$i did not come up"
}

e2e_bg() {
  local i=$1
  shift
  ip netns exec "$(e2e_ns "$i")" "$@" >>"$E2E_WORK/h$i/bg.log" 2>&1 &
  E2E_BG_PID=$!
  E2E_BG_PIDS+=("$E2E_BG_PID")
  echo "pid $E2E_BG_PID" >>"$E2E_STATE"
}

e2e_stop() {
  local i=$1 sig=${2:-TERM}
  local pid=${E2E_PIDS[$i]}
  [ -n "$pid" ] || return 0
  kill "-$sig" "$pid" 2>/dev/null || true
  local st=0
  wait "$pid" 2>/dev/null || st=$?
  E2E_PIDS[$i]=""
  return $st
}

e2e_nft() {
  local i=$1
  shift
  ip netns exec "$(e2e_ns "$i")" nft "$@"
}

e2e_faults_table() {
  local i=$1
  e2e_nft "$i" list table inet "$E2E_ID" >/dev/null 2>&1 && return 0
  e2e_nft "$i" add table inet "$E2E_ID"
  e2e_nft "$i" add chain inet "$E2E_ID" input '{ type filter hook input priority -10; policy accept; }'
}

e2e_loss() {
  local i=$1 pct=$2
  e2e_faults_table "$i"
  e2e_nft "$i" add rule inet "$E2E_ID" input iifname eth0 numgen random mod 100 lt "$pct" drop
}

e2e_block() {
  local i=$1 j=$2
  e2e_faults_table "$i"
  e2e_nft "$i" add rule inet "$E2E_ID" input ip saddr "$(e2e_addr "$j")" drop
}

e2e_heal() {
  local i=$1
  e2e_nft "$i" delete table inet "$E2E_ID" 2>/dev/null || true
}

# Raft role of host I (leader, follower, ...; empty when it does not answer).
e2e_raft_role() { e2e_ctl "$1" raft status --json 2>/dev/null | grep -o '"role": "[a-z]*"' | cut -d'"' -f4; }

# The first of the given hosts whose Raft role is leader (fails when none is).
e2e_find_leader() {
  local h
  for h in "$@"; do [ "$(e2e_raft_role "$h")" = leader ] && { echo "$h"; return 0; }; done
  return 1
}
