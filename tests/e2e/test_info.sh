#!/usr/bin/env bash
# Three peerd in three namespaces each answer `peerctl info` with their own stable identity;
# a second peerd on a used data dir is refused; a join at start (--join-token) with a wrong token or
# an unreachable manager exits 1 clearly, and --bootstrap-expect is refused; nothing of the run
# remains afterwards.
source "$(dirname "$0")/lib/cluster.sh"

run() {
  e2e_setup 3
  declare -A ids
  for i in 1 2 3; do
    out=$(e2e_ctl "$i" info --json)
    id=$(grep -o '"node_id": "[0-9a-z]*"' <<<"$out" | cut -d'"' -f4)
    [ ${#id} -eq 25 ] || e2e_fail "h$i: no node id in: $out"
    [ -z "${ids[$id]:-}" ] || e2e_fail "h$i: node id $id not unique"
    ids[$id]=$i
    # h1 makes the cluster (--init); h2 and h3 join it with the worker token, so they are workers.
    want=manager
    [ "$i" -eq 1 ] || want=worker
    grep -q "\"role\": \"$want\"" <<<"$out" || e2e_fail "h$i: role is not $want: $out"
    e2e_ctl "$i" info | grep -q "^Node ID  *$id" || e2e_fail "h$i: table output lacks the id"
  done

  # A worker has no store: peerctl events says so and exits 1.
  local ev st=0
  ev=$(e2e_ctl 2 events 2>&1) || st=$?
  [ $st -eq 1 ] && grep -q "runs no manager" <<<"$ev" || e2e_fail "events on a worker: exit $st: $ev"

  # A second daemon on the same data dir exits 1 naming the dir and the holder's pid.
  local msg st=0
  msg=$(e2e_exec 1 "$PEERD" --data-dir "$E2E_WORK/h1/data" --socket "$E2E_WORK/h1/other.sock" 2>&1) || st=$?
  [ $st -eq 1 ] || e2e_fail "second peerd exited $st, want 1"
  grep -q "$E2E_WORK/h1/data" <<<"$msg" && grep -q "pid ${E2E_PIDS[1]}" <<<"$msg" ||
    e2e_fail "lock message does not name dir and pid: $msg"

  # Joining at start (--join-token): a wrong token stops peerd with the manager's refusal and
  # leaves nothing behind; an unreachable manager is tried --join-retries times, then exit 1.
  local tok bad d2=$E2E_WORK/h3/second
  tok=$(e2e_ctl 1 swarm join-token -q worker)
  bad="${tok%?}$([ "${tok: -1}" = 0 ] && echo 1 || echo 0)"
  st=0
  msg=$(e2e_exec 3 "$PEERD" --data-dir "$d2" --socket "$E2E_WORK/h3/second.sock" --no-dns \
    --join-token "$bad" --join-manager "$(e2e_addr 1):2377" 2>&1) || st=$?
  [ $st -eq 1 ] && grep -q "join at start: .*wrong, or rotated" <<<"$msg" ||
    e2e_fail "a wrong token at start: exit $st: $(tail -2 <<<"$msg")"
  [ ! -e "$d2/node.crt" ] && [ ! -e "$d2/ca.crt" ] || e2e_fail "a refused join at start left state behind"
  st=0
  msg=$(e2e_exec 3 "$PEERD" --data-dir "$d2" --socket "$E2E_WORK/h3/second.sock" --no-dns --join-retries 2 \
    --join-token "$tok" --join-manager "$(e2e_addr 3):2377" 2>&1) || st=$?
  [ $st -eq 1 ] && grep -q "attempt 1 of 2 failed" <<<"$msg" && grep -q "no more attempts" <<<"$msg" ||
    e2e_fail "an unreachable manager at start: exit $st: $(tail -2 <<<"$msg")"
  # The flags that formed managers over plaintext are gone, with the replacement named.
  st=0
  msg=$(e2e_exec 3 "$PEERD" --data-dir "$d2" --bootstrap-expect 3 2>&1) || st=$?
  [ $st -eq 2 ] && grep -q -- "--bootstrap-expect was removed.*--init" <<<"$msg" ||
    e2e_fail "--bootstrap-expect: exit $st: $(head -1 <<<"$msg")"
  e2e_log "join at start: wrong token and unreachable manager refused clearly; --bootstrap-expect refused"

  # The node id survives a restart; SIGTERM exits 0.
  local before after
  before=$(e2e_ctl 2 info --json | grep -o '"node_id": "[0-9a-z]*"')
  e2e_stop 2 TERM || e2e_fail "peerd h2 did not exit 0 on SIGTERM"
  e2e_start 2
  after=$(e2e_ctl 2 info --json | grep -o '"node_id": "[0-9a-z]*"')
  [ "$before" = "$after" ] || e2e_fail "node id changed across restart: $before vs $after"

  # Daemon gone: one line naming the socket, exit 1, within a second.
  e2e_stop 3 TERM
  local t0=$SECONDS
  st=0
  msg=$(e2e_ctl 3 info 2>&1) || st=$?
  [ $st -eq 1 ] || e2e_fail "peerctl with no daemon exited $st, want 1"
  [ $((SECONDS - t0)) -le 1 ] || e2e_fail "peerctl took too long to fail"
  [ "$(wc -l <<<"$msg")" -eq 1 ] && grep -q "$(e2e_sock 3)" <<<"$msg" || e2e_fail "bad error: $msg"

  # SIGINT (Ctrl-C under `make run`) also exits 0; under ASan a leak would make the exit non-zero.
  e2e_stop 1 INT || e2e_fail "peerd h1 did not exit 0 on SIGINT"
  grep -q 'shutting down reason=signal=SIGINT' "$E2E_WORK/h1/peerd.log" || e2e_fail "no shutdown log line"

  # Usage errors exit 2.
  st=0; e2e_ctl 1 frobnicate 2>/dev/null || st=$?
  [ $st -eq 2 ] || e2e_fail "unknown command exited $st"
  st=0; e2e_ctl 1 info --nope 2>/dev/null || st=$?
  [ $st -eq 2 ] || e2e_fail "unknown flag exited $st"
}

e2e_main run
