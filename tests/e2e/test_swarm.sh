#!/usr/bin/env bash
# Cluster lifecycle with the PKI: swarm init on h1, workers join with the printed command, join
# tokens rotate, leave; every bad join is refused with a clear error and changes nothing; the Raft
# port (mutual TLS) refuses garbage, another cluster's certificate and a worker's certificate.
source "$(dirname "$0")/lib/cluster.sh"
: "${E2E_TOOLS:?}"

probe() { local i=$1; shift; e2e_exec "$i" "$E2E_TOOLS/pki_probe" "$@"; }

waiting_without_state() { # I: no certificate, key or seeds in the data dir, and peerd waits for init/join
  local d="$E2E_WORK/h$1/data" f
  for f in node.crt node.key ca.crt ca.key swarm.seeds gossip.keyring; do
    [ ! -e "$d/$f" ] || return 1
  done
  [ "$(e2e_ctl "$1" info --json | grep -o '"role": "[a-z]*"')" = '"role": "none"' ]
}
# CMD prints exactly WANT (for e2e_wait_for: the command runs again on every try).
output_is() { local want=$1; shift; [ "$("$@" 2>/dev/null)" = "$want" ]; }
# I HOST...: hI's swarm.seeds lists exactly these hosts, in this order (managers first, then by address)
seeds_are() { local i=$1; shift; [ "$(sed 's/:[0-9]*$//' "$E2E_WORK/h$i/data/swarm.seeds" | tr '\n' ' ')" = "$* " ]; }
no_cluster_state() { waiting_without_state "$1" || e2e_fail "h$1 has cluster state (or a role) it should not have"; }

run() {
  E2E_AUTOJOIN=0 e2e_setup 5
  local out cmd token addr h1id
  no_cluster_state 1
  expect_error "join-token before init" "not a swarm manager" e2e_ctl 1 swarm join-token worker

  # --- init on h1: node id and the exact join command
  out=$(e2e_ctl 1 swarm init --advertise-addr 10.99.0.1)
  echo "$out" >&2
  h1id=$(e2e_node_id 1)
  grep -q "Swarm initialized: current node ($h1id) is now a manager." <<<"$out" || e2e_fail "init output: $out"
  grep -q "run 'peerctl swarm join-token manager'" <<<"$out" || e2e_fail "init output lacks the manager hint"
  cmd=$(grep -o 'peerctl swarm join --token PDTKN-1-[0-9a-z-]* 10.99.0.1:2377' <<<"$out") ||
    e2e_fail "init output lacks the worker join command"
  token=$(awk '{print $5}' <<<"$cmd")
  addr=$(awk '{print $6}' <<<"$cmd")
  [ "$(e2e_ctl 1 swarm join-token -q worker)" = "$token" ] || e2e_fail "join-token -q differs from init's"
  for f in ca.crt node.crt node.key; do
    [ "$(stat -c %a "$E2E_WORK/h1/data/$f")" = 600 ] || e2e_fail "h1 $f is not 0600"
  done
  [ ! -e "$E2E_WORK/h1/data/ca.key" ] || e2e_fail "h1 keeps the CA key in a file (it belongs in the Raft store)"
  expect_error "second init" "already part of a swarm" e2e_ctl 1 swarm init

  # --- workers join with the printed command
  local i
  for i in 2 3; do
    out=$(e2e_ctl "$i" ${cmd#peerctl }) || e2e_fail "h$i join failed: $out"
    [ "$out" = "This node joined a swarm as a worker." ] || e2e_fail "h$i join output: $out"
    [ ! -e "$E2E_WORK/h$i/data/ca.key" ] || e2e_fail "worker h$i got the CA key"
    [ "$(stat -c %a "$E2E_WORK/h$i/data/node.key")" = 600 ] || e2e_fail "h$i node.key not 0600"
  done
  e2e_wait_for 15 e2e_alive_count_is 1 3 || e2e_fail "h1 does not see 3 members"
  e2e_wait_for 15 e2e_alive_count_is 3 3 || e2e_fail "h3 does not see 3 members"
  expect_error "join when already joined" "already part of a swarm" e2e_ctl 2 swarm join --token "$token" "$addr"

  # --- bad joins from h4: each refused on both sides, nothing stored
  local wrong="${token%?}$([ "${token: -1}" = 0 ] && echo 1 || echo 0)"
  expect_error "wrong token" "wrong, or rotated" e2e_ctl 4 swarm join --token "$wrong" "$addr"
  no_cluster_state 4
  expect_error "malformed token" "invalid join token" e2e_ctl 4 swarm join --token PDTKN-1-abc "$addr"
  expect_error "no manager there" "cannot reach|closed" e2e_ctl 4 swarm join --token "$token" 10.99.0.5:2377
  local mtoken
  mtoken=$(e2e_ctl 1 swarm join-token -q manager)

  # rotation: the old worker token fails from now on
  out=$(e2e_ctl 1 swarm join-token --rotate worker)
  grep -q "Successfully rotated worker join token." <<<"$out" || e2e_fail "rotate output: $out"
  local newtoken
  newtoken=$(e2e_ctl 1 swarm join-token -q worker)
  [ "$newtoken" != "$token" ] || e2e_fail "rotation kept the token"
  expect_error "rotated token" "wrong, or rotated" e2e_ctl 4 swarm join --token "$token" "$addr"
  no_cluster_state 4

  # another cluster: h5 makes its own; its token does not pin h1's CA
  out=$(e2e_ctl 5 swarm init --autolock) || e2e_fail "h5 init --autolock failed: $out"
  local ukey
  ukey=$(grep -o 'PDUNLK-1-[A-Za-z0-9_-]*' <<<"$out") || e2e_fail "init --autolock printed no unlock key: $out"
  [ "$(e2e_ctl 5 swarm unlock-key -q)" = "$ukey" ] || e2e_fail "h5's unlock key differs from the one init printed"
  local other
  other=$(e2e_ctl 5 swarm join-token -q worker)
  expect_error "another cluster's token" "pinned|another cluster|TLS" e2e_ctl 4 swarm join --token "$other" "$addr"
  no_cluster_state 4

  # a replayed join: a node id that already joined (h2's) asks again
  e2e_stop 4 TERM
  local h4id
  h4id=$(cat "$E2E_WORK/h4/data/node_id")
  cp "$E2E_WORK/h2/data/node_id" "$E2E_WORK/h4/data/node_id"
  e2e_start 4
  expect_error "replayed join" "already joined" e2e_ctl 4 swarm join --token "$newtoken" "$addr"
  no_cluster_state 4
  e2e_stop 4 TERM
  echo "$h4id" >"$E2E_WORK/h4/data/node_id"
  e2e_start 4

  # --- the Raft port: garbage, another CA's certificate, a worker's certificate
  out=$(probe 4 raw 10.99.0.1:2377 474554202f20485454502f312e310d0a486f73743a20780d0a0d0a) ||
    e2e_fail "garbage on 2377 was not closed: $out"
  out=$(probe 4 raw 10.99.0.1:2377 16030100ffffffff00) || e2e_fail "broken TLS record not closed: $out"
  expect_error "another CA's manager certificate" "refused" probe 5 tls "$E2E_WORK/h5/data" 10.99.0.1:2377
  # a worker's certificate opens a session for member requests only (the gossip keyring fetch):
  # its first Raft frame closes it
  expect_error "a worker certificate sending Raft" "closed by server" probe 2 tls-raft "$E2E_WORK/h2/data" 10.99.0.1:2377
  e2e_wait_for 5 grep -q "worker certificate cannot take part in Raft" "$E2E_WORK/h1/peerd.log" ||
    e2e_fail "h1 did not log the worker refusal"
  out=$(probe 1 tls "$E2E_WORK/h1/data" 10.99.0.1:2377) || e2e_fail "a manager certificate was refused: $out"
  e2e_ctl 1 swarm join-token -q worker >/dev/null || e2e_fail "h1 not serving after the bad input"

  # --- h4 joins with the manager token: the leader adds it to Raft, where it finds the CA key
  # (learner, then voter once caught up) over mutual TLS
  out=$(e2e_ctl 4 swarm join --token "$mtoken" "$addr") || e2e_fail "h4 manager join failed: $out"
  [ "$out" = "This node joined a swarm as a manager." ] || e2e_fail "h4 join output: $out"
  [ ! -e "$E2E_WORK/h4/data/ca.key" ] || e2e_fail "manager h4 got the CA key as a file"
  e2e_wait_for 15 e2e_alive_count_is 1 4 || e2e_fail "h1 does not see 4 members"
  local h4mid
  h4mid=$(e2e_node_id 4)
  e2e_wait_for 30 eval "e2e_ctl 1 node ls | awk -v id=$h4mid '\$1 == id' | grep -q Reachable" ||
    e2e_fail "h4 did not become a Reachable manager: $(e2e_ctl 1 node ls)"
  e2e_wait_for 10 output_is "$newtoken" e2e_ctl 4 swarm join-token -q worker ||
    e2e_fail "h4 (manager) does not serve management"
  # a steady cluster leaves swarm.seeds alone (SWIM's reshuffled member order once rewrote and
  # fsynced it every second on every node)
  e2e_wait_for 15 seeds_are 2 10.99.0.1 10.99.0.4 10.99.0.3 || e2e_fail "h2's seeds: $(cat "$E2E_WORK/h2/data/swarm.seeds")"
  e2e_wait_for 15 seeds_are 1 10.99.0.4 10.99.0.2 10.99.0.3 || e2e_fail "h1's seeds: $(cat "$E2E_WORK/h1/data/swarm.seeds")"
  local seeds_at
  seeds_at=$(stat -c %y "$E2E_WORK/h2/data/swarm.seeds" "$E2E_WORK/h1/data/swarm.seeds")
  sleep 4
  [ "$(stat -c %y "$E2E_WORK/h2/data/swarm.seeds" "$E2E_WORK/h1/data/swarm.seeds")" = "$seeds_at" ] ||
    e2e_fail "swarm.seeds rewritten while the members stayed the same"

  # --- leave: a manager needs --force; a worker leaves, forgets, and can join again as a new node
  expect_error "manager leave without --force" "force" e2e_ctl 1 swarm leave
  local h3id
  h3id=$(e2e_node_id 3)
  out=$(e2e_ctl 3 swarm leave) || e2e_fail "h3 leave failed: $out"
  [ "$out" = "Node left the swarm." ] || e2e_fail "leave output: $out"
  e2e_wait_for 10 waiting_without_state 3 || e2e_fail "h3 kept cluster state after leave"
  [ "$(e2e_node_id 3)" != "$h3id" ] || e2e_fail "h3 kept its node id after leave"
  e2e_wait_for 15 output_is left e2e_member_status 1 "$h3id" || e2e_fail "h1 does not see h3 as left"
  expect_error "leave when not in a swarm" "not part of a swarm" e2e_ctl 3 swarm leave
  out=$(e2e_ctl 3 swarm join --token "$newtoken" "$addr") || e2e_fail "h3 rejoin failed: $out"

  # --- a worker restarts from its stored state and rejoins gossip through its seeds
  local h2id
  h2id=$(e2e_node_id 2)
  e2e_stop 2 TERM || e2e_fail "h2 did not stop cleanly"
  e2e_start 2
  e2e_wait_for 15 output_is alive e2e_member_status 1 "$h2id" || e2e_fail "h2 not alive again after restart"
  grep -q "node certificate; cluster" "$E2E_WORK/h2/peerd.log" || e2e_fail "h2 did not restart from its certificate"

  # --- the manager restarts from its certificate and Raft state: the same tokens, still a manager
  e2e_stop 1 TERM || e2e_fail "h1 did not stop cleanly"
  e2e_start 1
  e2e_wait_for 15 output_is "$newtoken" e2e_ctl 1 swarm join-token -q worker ||
    e2e_fail "h1 lost its worker token across a restart"
  expect_error "init after a restart" "already part of a swarm" e2e_ctl 1 swarm init
}

e2e_main run
