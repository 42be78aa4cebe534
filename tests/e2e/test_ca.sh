#!/usr/bin/env bash
# Certificates over time: short-lived node certificates renew by themselves (new serial, later
# expiry, no node marked failed, Raft writes going on); a renewal request for another node id is
# refused; `swarm ca --rotate` moves every node to a new root without a failed management call,
# old join tokens are refused and the new ones work; a promoted worker gets its manager certificate
# by a renewal; no CA key is ever a plaintext file.
source "$(dirname "$0")/lib/cluster.sh"
: "${E2E_TOOLS:?}"

EXPIRY=40 # seconds: renewals come 20-32 s after each issue

ca_json() { e2e_ctl "$1" swarm ca --json; }
# The serial the leader's records give node $2 (asked on manager $1); "renewed I ID OLD": a new one.
serial_of() { ca_json "$1" | tr -d '\n ' | grep -o "\"node_id\":\"$2\"[^}]*" | grep -o '"serial":"[0-9a-f]*"' | cut -d'"' -f4; }
renewed() { local s; s=$(serial_of "$1" "$2"); [ -n "$s" ] && [ "$s" != "$3" ]; }
root_of() { ca_json "$1" | tr -d '\n ' | grep -o "\"node_id\":\"$2\"[^}]*" | grep -o '"root":"[a-z]*"' | cut -d'"' -f4; }
rotation_done() { ca_json "$1" | tr -d '\n ' | grep -q '"previous_root":""'; }
all_ready() { [ "$(e2e_ctl 1 node ls | awk 'NR > 1 && /Ready/' | wc -l)" -eq "$1" ]; }

# No private key in plaintext anywhere but a node's own node.key (the CA key lives in the Raft
# store, which is sealed on disk).
no_plain_ca_key() {
  local leaks
  leaks=$(grep -rlaF -- "PRIVATE KEY" "$E2E_WORK"/h*/data 2>/dev/null | grep -v '/node\.key$' || true)
  [ -z "$leaks" ] || e2e_fail "a private key in plaintext outside node.key: $leaks"
  ! ls "$E2E_WORK"/h*/data/ca.key >/dev/null 2>&1 || e2e_fail "a ca.key file exists"
}

# Management calls in the background (a config write each 0.5 s); failures are counted.
WRITES_LOG=""
start_writes() { # $1: a tag that keeps the config names of each run apart
  WRITES_LOG="$E2E_WORK/writes-$1.log"
  : >"$WRITES_LOG"
  (
    local n=0
    while :; do
      n=$((n + 1))
      if echo "v$n" | e2e_ctl 1 config create "cfg-$1-$n" - >/dev/null 2>>"$WRITES_LOG.err"; then
        echo "ok $n" >>"$WRITES_LOG"
      else
        echo "FAIL $n" >>"$WRITES_LOG"
      fi
      sleep 0.5
    done
  ) &
  WRITES_PID=$!
  E2E_BG_PIDS+=("$WRITES_PID") # the harness's teardown ends it if the test fails first
  echo "pid $WRITES_PID" >>"$E2E_STATE"
}
stop_writes() {
  kill "$WRITES_PID" 2>/dev/null
  wait "$WRITES_PID" 2>/dev/null || true
  local ok fail
  ok=$(grep -c '^ok' "$WRITES_LOG" || true)
  fail=$(grep -c '^FAIL' "$WRITES_LOG" || true)
  e2e_log "management writes during $1: $ok ok, $fail failed"
  [ "$fail" -eq 0 ] || e2e_fail "$fail management write(s) failed during $1: $(tail -3 "$WRITES_LOG.err")"
  [ "$ok" -ge 5 ] || e2e_fail "only $ok management writes went through during $1"
}

run() {
  E2E_AUTOJOIN=0 e2e_setup 4
  local out wcmd addr mtoken h1id h2id h3id
  out=$(e2e_ctl 1 swarm init --advertise-addr 10.99.0.1 --cert-expiry ${EXPIRY}s) || e2e_fail "init: $out"
  wcmd=$(grep -o 'peerctl swarm join --token PDTKN-1-[0-9a-z-]* 10.99.0.1:2377' <<<"$out") || e2e_fail "init: $out"
  addr=10.99.0.1:2377
  mtoken=$(e2e_ctl 1 swarm join-token -q manager)
  out=$(e2e_ctl 2 swarm join --token "$mtoken" "$addr") || e2e_fail "h2 manager join: $out"
  out=$(e2e_ctl 3 ${wcmd#peerctl }) || e2e_fail "h3 worker join: $out"
  h1id=$(e2e_node_id 1)
  h2id=$(e2e_node_id 2)
  h3id=$(e2e_node_id 3)
  e2e_wait_for 30 eval "e2e_ctl 1 node ls | awk -v id=$h2id '\$1 == id' | grep -q Reachable" ||
    e2e_fail "h2 did not become a Reachable manager: $(e2e_ctl 1 node ls)"
  e2e_wait_for 15 all_ready 3 || e2e_fail "not every node Ready: $(e2e_ctl 1 node ls)"
  no_plain_ca_key
  e2e_ctl 1 swarm ca >&2

  # --- renewal: every node's serial changes within one lifetime, and again
  local s1 s2 s3
  e2e_wait_for 10 test -n "$(serial_of 1 "$h3id")" || e2e_fail "no certificate record for h3: $(ca_json 1)"
  s1=$(serial_of 1 "$h1id") s2=$(serial_of 1 "$h2id") s3=$(serial_of 1 "$h3id")
  local crt3
  crt3=$(sha256sum <"$E2E_WORK/h3/data/node.crt")
  start_writes renew
  e2e_wait_for $((EXPIRY + 10)) eval 'renewed 1 $h1id $s1 && renewed 1 $h2id $s2 && renewed 1 $h3id $s3' ||
    e2e_fail "not every certificate renewed within ${EXPIRY}s: $(e2e_ctl 1 swarm ca)"
  [ "$(sha256sum <"$E2E_WORK/h3/data/node.crt")" != "$crt3" ] || e2e_fail "h3's node.crt did not change"
  [ "$(stat -c %a "$E2E_WORK/h3/data/node.key")" = 600 ] || e2e_fail "h3 node.key is not 0600 after renewal"
  [ ! -e "$E2E_WORK/h3/data/node.key.new" ] || e2e_fail "h3 left node.key.new behind"
  s3=$(serial_of 1 "$h3id")
  e2e_wait_for $((EXPIRY + 10)) eval 'renewed 1 $h3id $s3' || e2e_fail "h3 did not renew a second time"
  stop_writes "renewals"
  all_ready 3 || e2e_fail "a node is not Ready after renewals: $(e2e_ctl 1 node ls)"
  e2e_ctl 1 members | awk 'NR > 1 && $4 != "alive" { bad = 1 } END { exit bad }' ||
    e2e_fail "a member was marked failed during renewals: $(e2e_ctl 1 members)"
  grep -q "certificate renewed" "$E2E_WORK/h3/peerd.log" || e2e_fail "h3 logged no renewal"
  e2e_ctl 1 swarm ca >&2

  # --- the renewal RPC: a CSR for another node id, garbage
  out=$(e2e_exec 3 "$E2E_TOOLS/cert_probe" "$E2E_WORK/h3/data" "$addr") || e2e_fail "own renewal refused: $out"
  expect_error "a CSR for another node id" "CN is not the node id" \
    e2e_exec 3 "$E2E_TOOLS/cert_probe" "$E2E_WORK/h3/data" "$addr" "$h2id"
  expect_error "a worker certificate on the Raft port" "closed by server" \
    e2e_exec 3 "$E2E_TOOLS/pki_probe" tls-raft "$E2E_WORK/h3/data" "$addr"

  # --- rotation: every node moves to the new root, management never fails
  local oldtoken newtoken root
  oldtoken=$(e2e_ctl 1 swarm join-token -q worker)
  start_writes rotate
  local t0
  t0=$(date +%s.%N)
  out=$(e2e_ctl 1 swarm ca --rotate) || e2e_fail "rotate: $out"
  echo "$out" >&2
  newtoken=$(grep -o 'peerctl swarm join --token PDTKN-1-[0-9a-z-]* 10.99.0.1:2377' <<<"$out" | head -1 | awk '{print $5}')
  [ -n "$newtoken" ] && [ "$newtoken" != "$oldtoken" ] || e2e_fail "rotate printed no new worker token: $out"
  [ "$(e2e_ctl 1 swarm join-token -q worker)" = "$newtoken" ] || e2e_fail "join-token differs from rotate's"
  e2e_wait_for 30 rotation_done 1 || e2e_fail "the rotation did not complete: $(e2e_ctl 1 swarm ca)"
  e2e_log "rotation complete (old root dropped) $(echo "$(date +%s.%N) - $t0" | bc) s after 'swarm ca --rotate'"
  for id in "$h1id" "$h2id" "$h3id"; do
    [ "$(root_of 1 "$id")" = current ] || e2e_fail "node $id is not on the new root: $(e2e_ctl 1 swarm ca)"
  done
  rotation_done 2 || e2e_fail "h2 still holds the old root: $(e2e_ctl 2 swarm ca)"
  root=$(ca_json 1 | tr -d '\n ' | grep -o '"root":"[0-9a-f]*"' | head -1 | cut -d'"' -f4)
  e2e_wait_for 20 eval "[ \$(grep -c 'BEGIN CERTIFICATE' $E2E_WORK/h3/data/ca.crt) -eq 1 ]" ||
    e2e_fail "h3 kept the old root in its ca.crt"
  sleep 2
  stop_writes "the CA rotation"
  all_ready 3 || e2e_fail "a node is not Ready after the rotation: $(e2e_ctl 1 node ls)"
  e2e_log "rotated to root $root"
  e2e_ctl 1 swarm ca >&2

  # --- a promotion rides a renewal: the worker gets a manager certificate and joins Raft over mTLS
  e2e_ctl 1 node promote "$h3id" >/dev/null || e2e_fail "promote h3"
  e2e_wait_for 30 eval "e2e_ctl 1 node ls | awk -v id=$h3id '\$1 == id' | grep -q Reachable" ||
    e2e_fail "promoted h3 did not become a Reachable manager: $(e2e_ctl 1 node ls)"
  [ "$(ca_json 1 | tr -d '\n ' | grep -o "\"node_id\":\"$h3id\"[^}]*" | grep -o '"role":"[a-z]*"' | cut -d'"' -f4)" = manager ] ||
    e2e_fail "h3's certificate is not a manager one: $(e2e_ctl 1 swarm ca)"
  grep -q "certificate renewal (promoted to manager)" "$E2E_WORK/h3/peerd.log" || e2e_fail "h3 did not renew for its promotion"

  # --- tokens: the old one is refused, the new one works
  expect_error "a join with the pre-rotation token" "another cluster|CA" e2e_ctl 4 swarm join --token "$oldtoken" "$addr"
  out=$(e2e_ctl 4 swarm join --token "$newtoken" "$addr") || e2e_fail "join with the new token: $out"
  e2e_wait_for 15 all_ready 4 || e2e_fail "h4 not Ready: $(e2e_ctl 1 node ls)"
  [ "$(grep -c 'BEGIN CERTIFICATE' "$E2E_WORK/h4/data/ca.crt")" -eq 1 ] || e2e_fail "h4's ca.crt is not the new root alone"
  out=$(e2e_exec 4 "$E2E_TOOLS/cert_probe" "$E2E_WORK/h4/data" "$addr") || e2e_fail "h4's renewal refused: $out"

  # --- a removed node cannot renew
  local h4id
  h4id=$(e2e_node_id 4)
  e2e_ctl 1 node rm --force "$h4id" >/dev/null || e2e_fail "node rm h4"
  expect_error "a removed node's renewal" "refused|closed" e2e_exec 4 "$E2E_TOOLS/cert_probe" "$E2E_WORK/h4/data" "$addr"
  no_plain_ca_key
}

e2e_main run
