#!/usr/bin/env bash
# Five peerd in five namespaces: join; kill -9 one (all others mark it failed and drop its endpoints);
# restart it (alive again); graceful leave (left, never failed); 10% loss for 60 s (no false failure);
# a node with the wrong key neither joins nor appears; the gossip key rotated live with no failure;
# a gossip-only member (--join, no token) is alive everywhere but runs no Raft, is refused on 2377
# and cannot be promoted.
source "$(dirname "$0")/lib/cluster.sh"
N=5
LOSS_SECS=${E2E_LOSS_SECS:-60}

all_see() { # all_see ID STATUS HOSTS...
  local id=$1 want=$2
  shift 2
  for h in "$@"; do [ "$(e2e_member_status "$h" "$id")" = "$want" ] || return 1; done
}
endpoint_count() { e2e_ctl "$1" service endpoints "$2" | awk 'NR > 1' | wc -l; }
endpoint_gone_everywhere() {
  local svc=$1
  shift
  for h in "$@"; do [ "$(endpoint_count "$h" "$svc")" -eq 0 ] || return 1; done
}
endpoint_count_is() { [ "$(endpoint_count "$1" "$2")" -eq "$3" ]; }
broadcasts_done() { [ "$(e2e_ctl "$1" gossip stats | awk '$1 == "broadcast_queue" { print $2 }')" = 0 ]; }
# keyrings_rotated OLD: every host's keyring file holds one key, not OLD.
keyrings_rotated() {
  local i f
  for i in $(seq "$N"); do
    f="$E2E_WORK/h$i/data/gossip.keyring"
    [ "$(grep -c . "$f")" -eq 1 ] && ! grep -qF -- "$1" "$f" || return 1
  done
}
failed_total() { # failures declared by any of the given hosts
  local t=0 n
  for h in "$@"; do
    n=$(e2e_ctl "$h" gossip stats --json | grep -o '"deads_declared": [0-9]*' | grep -o '[0-9]*$')
    t=$((t + ${n:-0}))
  done
  echo $t
}

run() {
  e2e_setup $N
  local ids=() i
  for i in $(seq $N); do ids[$i]=$(e2e_node_id "$i"); done
  for i in $(seq $N); do
    e2e_wait_for 15 e2e_alive_count_is "$i" $N || e2e_fail "h$i does not see $N alive members"
  done
  e2e_log "joined: all $N see $N alive"

  # An endpoint owned by h5 reaches every node.
  e2e_ctl 5 service register web --addr "$(e2e_addr 5):8080" --port http:8080/tcp >/dev/null
  for i in 1 2 3 4; do
    e2e_wait_for 5 endpoint_count_is "$i" web 1 ||
      e2e_fail "h$i did not learn web's endpoint"
  done
  for i in 1 5; do # spread: nothing left to piggyback (gossip stats)
    e2e_wait_for 15 broadcasts_done "$i" || e2e_fail "h$i still has broadcasts queued: $(e2e_ctl "$i" gossip stats)"
  done

  # kill -9 h5: everyone marks it failed, and its endpoint leaves every table.
  local t0=$SECONDS
  e2e_stop 5 KILL || true
  e2e_wait_for 30 all_see "${ids[5]}" failed 1 2 3 4 || e2e_fail "h5 not marked failed everywhere"
  e2e_log "kill -9 h5: failed everywhere after $((SECONDS - t0)) s"
  e2e_wait_for 5 endpoint_gone_everywhere web 1 2 3 4 || e2e_fail "dead node's endpoint still served"

  # Restart h5: alive again everywhere, with the same identity.
  e2e_start 5 # no flags: its certificate and seeds are in the data dir
  [ "$(e2e_node_id 5)" = "${ids[5]}" ] || e2e_fail "h5 changed identity"
  e2e_wait_for 20 all_see "${ids[5]}" alive 1 2 3 4 || e2e_fail "restarted h5 not alive again"

  # Graceful leave of h4: seen as left, never as failed.
  local before
  before=$(failed_total 1 2 3 5)
  e2e_stop 4 TERM || e2e_fail "h4 did not exit 0"
  e2e_wait_for 10 all_see "${ids[4]}" left 1 2 3 5 || e2e_fail "h4's leave not seen as left"
  sleep 3
  [ "$(failed_total 1 2 3 5)" -eq "$before" ] || e2e_fail "a graceful leave was counted as a failure"
  e2e_start 4
  e2e_wait_for 20 all_see "${ids[4]}" alive 1 2 3 5 || e2e_fail "h4 did not rejoin"

  # 10% loss on every host for LOSS_SECS: nobody is declared failed.
  before=$(failed_total 1 2 3 4 5)
  for i in $(seq $N); do e2e_loss "$i" 10; done
  sleep "$LOSS_SECS"
  for i in $(seq $N); do e2e_heal "$i"; done
  local after
  after=$(failed_total 1 2 3 4 5)
  [ "$after" -eq "$before" ] || e2e_fail "false failures under 10% loss: $((after - before))"
  for i in $(seq $N); do e2e_alive_count_is "$i" $N || e2e_fail "h$i lost a member under 10% loss"; done
  e2e_log "10% loss for ${LOSS_SECS}s: no false failure"

  # Live key rotation, committed through Raft (swarm gossip-key --rotate), with no member marked
  # failed; in a swarm the gossip-only verbs refuse and name it.
  local k1 out
  k1=$(head -1 "$E2E_WORK/h1/data/gossip.keyring")
  before=$(failed_total 1 2 3 4 5)
  out=$(e2e_ctl 2 gossip key install "$("$PEERCTL" gossip key generate)" 2>&1) &&
    e2e_fail "gossip key install in a swarm succeeded"
  grep -q 'swarm gossip-key --rotate' <<<"$out" || e2e_fail "gossip key install in a swarm: $out"
  out=$(e2e_ctl 1 swarm gossip-key --rotate 2>&1) || e2e_fail "swarm gossip-key --rotate: $out"
  e2e_wait_for 60 keyrings_rotated "$k1" || e2e_fail "keyrings not rotated: $(e2e_ctl 1 swarm gossip-key)"
  sleep 3
  [ "$(failed_total 1 2 3 4 5)" -eq "$before" ] || e2e_fail "key rotation caused failures"
  for i in $(seq $N); do e2e_alive_count_is "$i" $N || e2e_fail "h$i lost members during rotation"; done
  e2e_log "key rotation: done with no failure"

  # A node holding the old (now removed) key can neither join nor appear anywhere.
  local bad_key="$E2E_WORK/old.keyring"
  echo "$k1" >"$bad_key"
  e2e_stop 5 TERM
  rm -rf "$E2E_WORK/h5/data"
  local st=0
  e2e_exec 5 "$PEERD" --data-dir "$E2E_WORK/h5/data" --socket "$E2E_WORK/h5/bad.sock" \
    --advertise-addr "$(e2e_addr 5)" --join "$(e2e_addr 1)" --gossip-key-file "$bad_key" --join-retries 2 \
    >"$E2E_WORK/h5/bad.log" 2>&1 || st=$?
  [ $st -eq 1 ] || e2e_fail "wrong-key node exited $st, want 1"
  grep -q "could not join" "$E2E_WORK/h5/bad.log" || e2e_fail "no clear join error: $(tail -3 "$E2E_WORK/h5/bad.log")"
  for i in 1 2 3 4; do
    [ "$(e2e_ctl "$i" members | awk 'NR>1' | wc -l)" -eq $N ] || e2e_fail "h$i lists an unexpected member"
  done
  local auth
  auth=$(e2e_ctl 1 gossip stats --json | grep -o '"unknown_key": [0-9]*\|"auth_failures": [0-9]*' | grep -o '[0-9]*$' | paste -sd+ | bc)
  [ "${auth:-0}" -gt 0 ] || e2e_fail "frames under the wrong key were not counted"

  # A gossip-only member (--join with the current keyring, no token): in gossip like any node, but
  # with no certificate it runs no Raft, and the Raft port refuses what it sends there.
  rm -rf "$E2E_WORK/h5/data"
  cp "$E2E_WORK/h1/data/gossip.keyring" "$E2E_WORK/good.keyring"
  e2e_start 5 --join "$(e2e_addr 1)" --gossip-key-file "$E2E_WORK/good.keyring"
  local id5
  id5=$(e2e_node_id 5)
  e2e_wait_for 15 all_see "$id5" alive 1 2 3 4 || e2e_fail "the gossip-only member is not alive everywhere"
  grep -q "role: gossip-only member" "$E2E_WORK/h5/peerd.log" || e2e_fail "h5 did not log its gossip-only role"
  local rs
  rs=$(e2e_ctl 5 raft status 2>&1) || true
  grep -q 'runs no manager' <<<"$rs" || e2e_fail "a gossip-only member runs Raft: $rs"
  [ ! -e "$E2E_WORK/h5/data/node.crt" ] || e2e_fail "a gossip-only member has a certificate"
  # a Raft frame (version 1, type RAFT, from 1 to 2) sent without TLS: closed by the server
  e2e_exec 5 "$E2E_TOOLS/pki_probe" raw "$(e2e_addr 1):2377" 00000012010100000000000000010000000000000002 >/dev/null ||
    e2e_fail "h1's Raft port did not close a plaintext frame from the gossip-only member"
  # ... and it cannot be promoted: with no certificate it could never take part in Raft
  e2e_wait_for 10 eval "e2e_ctl 1 node ls -q | grep -q $id5" || e2e_fail "the gossip-only member has no node record"
  local pr
  pr=$(e2e_ctl 1 node promote "$id5" 2>&1) && e2e_fail "promoting a gossip-only member succeeded: $pr"
  grep -q "has no certificate of this cluster" <<<"$pr" || e2e_fail "promoting a gossip-only member: $pr"
  e2e_log "gossip-only member: alive everywhere, no Raft, refused on 2377, not promotable"
}
e2e_main run
