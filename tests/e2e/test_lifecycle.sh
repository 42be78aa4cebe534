#!/usr/bin/env bash
# The whole cluster lifecycle, as a Swarm user runs it (issue 5, "Shown by"):
#   - swarm init on h1; the printed worker command and `swarm join-token manager`'s command, run as
#     printed: h2, h3 managers, h4, h5 workers; 3 voters;
#   - node ls agrees on every manager; promote h4, then demote it; drain + label h5;
#   - kill -9 the leader: a management command succeeds on a survivor within FAILOVER_BOUND_MS
#     (measured and printed); the old leader restarts and is Reachable again;
#   - kill 2 of 3 managers: every management command fails within 2 s with "no manager quorum"
#     while DNS and gossip keep answering; restart them: recovery;
#   - kill 2 of 3 again and run `swarm init --force-new-cluster` on the survivor: the secret and
#     config made before are there, writes commit, the dead managers are removed, and two fresh
#     managers joined with the new manager command bring the count back to 3.
# The failover bound: a follower whose TLS connection to the leader is closed (kill -9 closes it)
# campaigns after 1 + 2 * rank ticks of 100 ms; without that hint, after the randomized election
# timeout of 10..20 ticks (1-2 s). Add pre-vote + vote (a few ms on a LAN), a request that was in
# flight to the dead leader failing at its 1.5 s deadline, and the gossip LAN profile's
# suspicion (a dead node stays "alive" for a few seconds, which only matters to the reachability
# count, not to the election): 2 s + 1.5 s + slack = 5 s.
source "$(dirname "$0")/lib/cluster.sh"
FAILOVER_BOUND_MS=5000
QUORUM_BOUND_MS=2000

now_ms() { date +%s%3N; }
join_cmd() { grep -o 'peerctl swarm join --token PDTKN-1-[0-9a-z-]* [0-9.]*:2377' <<<"$1"; }
# Per node "id role status availability manager_status", sorted, from node ls --json on host I.
view() {
  local rows row f line
  rows=$(e2e_ctl "$1" node ls --json 2>/dev/null | tr -d '\n' | grep -o '{[^{}]*"labels"') || return 1
  while read -r row; do
    line=""
    for f in id role status availability manager_status; do
      line="$line $(grep -o "\"$f\": \"[A-Za-z0-9]*\"" <<<"$row" | cut -d'"' -f4)"
    done
    echo "$line"
  done <<<"$rows" | sort
}
field_of() { view "$1" | awk -v id="$2" -v k="$3" '$1 == id { print $k }'; } # k: 2 role .. 5 mstatus
mstatus_of() { field_of "$1" "$2" 5; }
voters() { e2e_ctl "$1" raft status --json 2>/dev/null | grep -c '"suffrage": "voter"'; }
voters_are() { [ "$(voters "$1")" = "$2" ]; }
# node ls on every given manager shows the same rows, n_managers of them managers, all Ready.
agree() {
  local want=$1 ref i
  shift
  ref=$(view "$1") || return 1
  [ "$(grep -c ' manager ' <<<"$ref")" = "$want" ] || return 1
  grep -q ' Down ' <<<"$ref" && return 1
  grep -q 'Unreachable' <<<"$ref" && return 1
  for i in "$@"; do [ "$(view "$i")" = "$ref" ] || return 1; done
}
is_worker() { local o; o=$(e2e_ctl "$1" raft status 2>&1) || true; grep -q 'no manager' <<<"$o"; }
others() { local i; for i in 1 2 3; do [ "$i" != "$1" ] && echo "$i"; done; }

# A management command must fail fast with the no-quorum message.
expect_no_quorum() {
  local h=$1 out ms t0
  shift
  t0=$(now_ms)
  out=$(e2e_ctl "$h" "$@" 2>&1) && e2e_fail "'$*' succeeded without quorum: $out"
  ms=$(($(now_ms) - t0))
  e2e_log "without quorum: '$*' -> $ms ms: $out"
  grep -q "no manager quorum" <<<"$out" || e2e_fail "'$*': $out"
  [ "$ms" -lt $QUORUM_BOUND_MS ] || e2e_fail "'$*' took $ms ms (bound $QUORUM_BOUND_MS ms)"
}

run() {
  E2E_AUTOJOIN=0 e2e_setup 5
  local t_start out wcmd mcmd i id1 id2 id3 id4 id5 L S K
  t_start=$(now_ms)
  echo "secret data" >"$E2E_WORK/f"

  # --- form the cluster with the printed commands
  out=$(e2e_ctl 1 swarm init --force-new-cluster 2>&1) && e2e_fail "force-new-cluster outside a cluster succeeded"
  grep -q "not part of a swarm" <<<"$out" || e2e_fail "force-new-cluster outside a cluster: $out"
  out=$(e2e_ctl 1 swarm init --advertise-addr 10.99.0.1) || e2e_fail "init: $out"
  wcmd=$(join_cmd "$out") || e2e_fail "init printed no worker command: $out"
  out=$(e2e_ctl 1 swarm join-token manager) || e2e_fail "join-token manager: $out"
  mcmd=$(join_cmd "$out") || e2e_fail "join-token manager printed no command: $out"
  for i in 2 3; do
    out=$(e2e_ctl "$i" ${mcmd#peerctl }) || e2e_fail "h$i manager join: $out"
    [ "$out" = "This node joined a swarm as a manager." ] || e2e_fail "h$i join output: $out"
  done
  for i in 4 5; do
    out=$(e2e_ctl "$i" ${wcmd#peerctl }) || e2e_fail "h$i worker join: $out"
    [ "$out" = "This node joined a swarm as a worker." ] || e2e_fail "h$i join output: $out"
  done
  for i in 1 2 3 4 5; do eval "id$i=$(e2e_node_id "$i")"; done
  e2e_wait_for 30 voters_are 1 3 || e2e_fail "not 3 voters: $(e2e_ctl 1 raft status)"
  e2e_wait_for 20 agree 3 1 2 3 || e2e_fail "node ls differs between managers: $(view 1) / $(view 2) / $(view 3)"
  e2e_ctl 1 node ls >&2
  e2e_log "formed: 3 managers, 2 workers; node ls agrees on h1, h2, h3 ($(($(now_ms) - t_start)) ms)"

  # --- promote h4, then demote it
  L=$(e2e_find_leader 1 2 3) || e2e_fail "no leader"
  promoted() { [ "$(mstatus_of "$L" "$id4")" = Reachable ] && voters_are "$L" 4; }
  out=$(e2e_ctl "$L" node promote "$id4" 2>&1) || e2e_fail "promote h4: $out"
  # its worker certificate is re-issued with the manager role by a renewal, then it catches up and votes
  e2e_wait_for 30 promoted || e2e_fail "h4 not a Reachable manager: $(view "$L")"
  e2e_ctl "$L" node demote "$id4" >/dev/null || e2e_fail "demote h4"
  e2e_wait_for 20 is_worker 4 || e2e_fail "h4 still runs Raft after its demotion"
  e2e_wait_for 10 voters_are "$L" 3 || e2e_fail "h4 still a voter"
  e2e_wait_for 10 eval '[ -z "$(mstatus_of '"$L"' '"$id4"')" ]' || e2e_fail "h4 still listed as a manager"
  e2e_log "h4 (worker token) promoted, then demoted to a worker"

  # --- drain and label h5
  e2e_ctl "$L" node update --availability drain --label-add zone=east "$id5" >/dev/null || e2e_fail "node update h5"
  e2e_ctl 2 node inspect "$id5" | grep -q '"zone": "east"' || e2e_fail "h5 lacks its label on h2"
  e2e_wait_for 5 eval '[ "$(field_of 3 '"$id5"' 4)" = Drain ]' || e2e_fail "h5 not Drain on h3"
  out=$(e2e_ctl "$L" secret create s1 "$E2E_WORK/f") || e2e_fail "secret create: $out"
  out=$(e2e_ctl "$L" config create c1 "$E2E_WORK/f") || e2e_fail "config create: $out"

  # --- kill -9 the leader: how long until management works on a survivor
  L=$(e2e_find_leader 1 2 3) || e2e_fail "no leader"
  S=$(others "$L" | head -1)
  local t0 ms n=0
  e2e_stop "$L" KILL || true
  t0=$(now_ms)
  until e2e_ctl "$S" node update --label-add "failover=$n" "$id5" >/dev/null 2>&1; do
    n=$((n + 1))
    [ $(($(now_ms) - t0)) -lt 15000 ] || e2e_fail "no management on h$S 15 s after killing leader h$L"
    sleep 0.05
  done
  ms=$(($(now_ms) - t0))
  e2e_log "leader h$L killed: a write committed on h$S after $ms ms (bound $FAILOVER_BOUND_MS ms, $n failed tries)"
  [ "$ms" -le $FAILOVER_BOUND_MS ] || e2e_fail "leader failover took $ms ms (bound $FAILOVER_BOUND_MS ms)"
  e2e_start "$L"
  e2e_wait_for 20 eval '[ "$(mstatus_of '"$S"' "$id'"$L"'")" = Reachable ]' || e2e_fail "h$L not Reachable again"
  e2e_log "h$L restarted: Reachable"

  # --- kill 2 of 3: management fails fast, DNS and gossip keep working; restart: recovery
  L=$(e2e_find_leader 1 2 3) || e2e_fail "no leader"
  K=$(others "$L" | head -1)
  for i in $(others "$K"); do e2e_stop "$i" KILL || true; done
  expect_no_quorum "$K" secret create s2 "$E2E_WORK/f"
  expect_no_quorum "$K" secret ls
  expect_no_quorum "$K" config create c2 "$E2E_WORK/f"
  expect_no_quorum "$K" node update --label-add a=b "$id5"
  expect_no_quorum "$K" node ls
  expect_no_quorum "$K" swarm join-token worker
  out=$(e2e_ctl "$K" node ls 2>&1) || true
  grep -q "no manager quorum: 1 of 3 managers reachable" <<<"$out" || e2e_fail "message: $out"
  e2e_ctl "$K" members >/dev/null || e2e_fail "gossip stopped without quorum"
  local host
  host=$(e2e_exec 1 hostname)
  e2e_exec 4 dig +time=1 +tries=1 +short @127.0.0.11 "$host.node" | grep -q '^10\.99\.0\.' ||
    e2e_fail "DNS stopped answering without quorum"
  for i in $(others "$K"); do e2e_start "$i"; done
  e2e_wait_for 20 e2e_ctl "$K" config create c3 "$E2E_WORK/f" || e2e_fail "no recovery after the restarts"
  e2e_wait_for 20 agree 3 1 2 3 || e2e_fail "node ls disagrees after recovery"
  e2e_log "quorum lost and recovered"

  # --- kill 2 of 3 again; force a new cluster on the survivor
  L=$(e2e_find_leader 1 2 3) || e2e_fail "no leader"
  K=$(others "$L" | tail -1)
  out=$(e2e_ctl "$K" swarm init --force-new-cluster 2>&1) && e2e_fail "force-new-cluster with a quorum succeeded"
  grep -q "have a quorum" <<<"$out" || e2e_fail "force-new-cluster with a quorum: $out"
  out=$(e2e_ctl 4 swarm init --force-new-cluster 2>&1) && e2e_fail "force-new-cluster on a worker succeeded"
  grep -q "not a swarm manager" <<<"$out" || e2e_fail "force-new-cluster on a worker: $out"
  out=$(e2e_ctl "$K" swarm init --force-new-cluster --advertise-addr 10.99.0.9 2>&1) &&
    e2e_fail "force-new-cluster with a new address succeeded"
  grep -q "cannot change" <<<"$out" || e2e_fail "force-new-cluster --advertise-addr: $out"
  local dead
  dead=$(others "$K")
  for i in $dead; do e2e_stop "$i" KILL || true; done
  expect_no_quorum "$K" secret ls
  t0=$(now_ms)
  out=$(e2e_ctl "$K" swarm init --force-new-cluster) || e2e_fail "force-new-cluster: $out"
  ms=$(($(now_ms) - t0))
  echo "$out" >&2
  grep -q "Swarm initialized: current node ($(eval echo \$id$K)) is now a manager." <<<"$out" ||
    e2e_fail "force-new-cluster output: $out"
  for i in $dead; do
    grep -q "$(eval echo \$id$i)" <<<"$out" || e2e_fail "force output does not name removed h$i: $out"
  done
  [ "$(join_cmd "$out" | awk '{print $5}')" = "$(awk '{print $5}' <<<"$wcmd")" ] ||
    e2e_fail "the worker token changed: $out"
  join_cmd "$out" | grep -q " $(e2e_addr "$K"):2377\$" || e2e_fail "the join command does not name h$K: $out"
  e2e_log "force-new-cluster on h$K answered in $ms ms"
  e2e_ctl "$K" secret ls | grep -q ' s1 ' || e2e_fail "secret s1 lost: $(e2e_ctl "$K" secret ls)"
  e2e_ctl "$K" config ls | grep -q ' c3 ' || e2e_fail "config c3 lost: $(e2e_ctl "$K" config ls)"
  e2e_ctl "$K" secret create s3 "$E2E_WORK/f" >/dev/null || e2e_fail "no write after force-new-cluster"
  voters_are "$K" 1 || e2e_fail "not a one-voter cluster: $(e2e_ctl "$K" raft status)"
  for i in $dead; do
    view "$K" | grep -q "$(eval echo \$id$i)" && e2e_fail "removed h$i still listed: $(view "$K")"
  done
  out=$(e2e_ctl "$K" swarm init --force-new-cluster 2>&1) && e2e_fail "a second force on a healthy one-manager cluster succeeded"

  # --- the new configuration is on disk: a restart comes back alone, leading, with the state
  e2e_stop "$K" TERM || e2e_fail "h$K did not stop cleanly"
  e2e_start "$K"
  e2e_wait_for 10 eval 'e2e_ctl '"$K"' secret ls | grep -q " s3 "' || e2e_fail "h$K lost the forced cluster on restart"
  voters_are "$K" 1 || e2e_fail "h$K is not alone after its restart: $(e2e_ctl "$K" raft status)"
  # --- a former manager back with its old state and certificate: refused on 2377, and told by
  # the new leader (gossip) to run as a worker: it stops its stale Raft; the cluster goes on
  local stale stale_id
  stale=$(head -1 <<<"$dead")
  stale_id=$(eval echo \$id$stale)
  e2e_start "$stale"
  e2e_wait_for 20 is_worker "$stale" || e2e_fail "former manager h$stale still runs its stale Raft"
  e2e_wait_for 10 grep -q "refused (removed from the cluster)" "$E2E_WORK/h$K/peerd.log" ||
    e2e_fail "h$K did not refuse the former manager's certificate"
  [ "$(e2e_raft_role "$K")" = leader ] || e2e_fail "h$K no longer leads with h$stale back"
  e2e_ctl "$K" config create c5 "$E2E_WORK/f" >/dev/null || e2e_fail "no write with the former manager back"
  view "$K" | grep -q "$stale_id" && e2e_fail "former manager h$stale listed again"
  e2e_stop "$stale" TERM || true
  e2e_log "force kept across a restart; former manager h$stale refused and demoted itself"

  # --- back to 3 managers: the dead managers come back as new nodes (a wiped data dir, the manager
  # join command of the new cluster); their old identities stay removed
  out=$(e2e_ctl "$K" swarm join-token manager) || e2e_fail "join-token manager after the force: $out"
  mcmd=$(join_cmd "$out") || e2e_fail "no manager join command after the force: $out"
  for i in $dead; do
    rm -rf "$E2E_WORK/h$i/data"
    e2e_start "$i"
    out=$(e2e_ctl "$i" ${mcmd#peerctl }) || e2e_fail "h$i manager re-join: $out"
  done
  e2e_wait_for 30 voters_are "$K" 3 || e2e_fail "not back to 3 voters: $(e2e_ctl "$K" raft status)"
  e2e_wait_for 20 agree 3 1 2 3 || e2e_fail "node ls differs after the force: $(view "$K") / $(view 1)"
  i=$(others "$K" | head -1)
  e2e_ctl "$i" secret ls | grep -q ' s3 ' || e2e_fail "h$i (new manager) does not serve the state"
  # one of the new managers can go: the quorum holds (2 of 3)
  e2e_stop "$i" KILL || true
  e2e_wait_for 10 e2e_ctl "$K" config create c4 "$E2E_WORK/f" || e2e_fail "no write with 2 of the 3 managers"
  e2e_ctl "$K" node ls >&2
  e2e_log "force-new-cluster: state kept, 3 managers again; whole run $(($(now_ms) - t_start)) ms"
}

e2e_main run
