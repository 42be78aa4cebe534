#!/usr/bin/env bash
# Service VIPs: three managers (h1 --init, h2 and h3 joined with the manager token) and one worker
# (h4, joined with the worker token: no Raft).
# A service registered on the worker gets a VIP from the leader, inside --vip-range, and every node
# answers `dig <svc>.svc` with that one VIP within VIP_BOUND_S; `tasks.<svc>.svc` stays the task
# address and the VIP's PTR names the service. kill -9 the leader: the VIP is unchanged everywhere
# and a newly registered service still gets a VIP from the new leader. Release: a service
# re-registered inside --vip-grace keeps its VIP; gone longer, its VIP is released and reused.
# Every manager stopped: the worker still answers both VIPs and lists them (`peerctl service ls`).
# Deregister: NXDOMAIN.
source "$(dirname "$0")/lib/cluster.sh"
RANGE_PREFIX="10.97.0"
VIP_BOUND_S=5
GRACE_S=2
export E2E_PEERD_ARGS="--vip-range ${RANGE_PREFIX}.0/24 --vip-grace $GRACE_S ${E2E_PEERD_ARGS:-}"
export E2E_MANAGERS="1 2 3"

role_of() { e2e_ctl "$1" raft status --json 2>/dev/null | grep -o '"role": "[a-z]*"' | cut -d'"' -f4; }
find_leader() {
  local h
  for h in "$@"; do [ "$(role_of "$h")" = leader ] && { echo "$h"; return 0; }; done
  return 1
}
# The A answers of NAME on host I, one per line.
a_of() { e2e_exec "$1" dig +short +time=1 +tries=1 @127.0.0.11 "$2" A 2>/dev/null | grep -E '^[0-9.]+$' || true; }
# Host I answers NAME with exactly one address, inside the VIP range; prints it.
vip_on() {
  local out
  out=$(a_of "$1" "$2")
  [ "$(printf '%s\n' "$out" | grep -c .)" = 1 ] || return 1
  case "$out" in "$RANGE_PREFIX".*) echo "$out" ;; *) return 1 ;; esac
}
# Host I answers NAME with exactly VIP.
answers() { [ "$(vip_on "$1" "$2")" = "$3" ]; }
nxdomain() { e2e_exec "$1" dig +time=1 +tries=1 @127.0.0.11 "$2" A | grep -q 'status: NXDOMAIN'; }
now_ms() { date +%s%3N; }

run() {
  e2e_setup 4
  [ "$(e2e_ctl 4 raft status 2>&1 | grep -c 'no manager')" = 1 ] || e2e_fail "h4 is not a worker"
  e2e_wait_for 30 find_leader 1 2 3 || e2e_fail "no leader elected"
  local L W t0 t1 i vip vip2
  L=$(find_leader 1 2 3)
  e2e_log "leader h$L; h4 is a worker"

  # Register on the worker: every node answers the same VIP within the bound.
  t0=$(now_ms)
  e2e_ctl 4 service register web --addr 10.99.0.4:8080 >/dev/null || e2e_fail "register failed"
  e2e_wait_for $VIP_BOUND_S vip_on 1 web.svc >/dev/null || e2e_fail "h1: no VIP for web.svc within ${VIP_BOUND_S}s"
  vip=$(vip_on 1 web.svc)
  for i in 2 3 4; do
    e2e_wait_for $VIP_BOUND_S answers "$i" web.svc "$vip" || e2e_fail "h$i does not answer web.svc $vip"
  done
  t1=$(now_ms)
  e2e_log "web.svc -> $vip on all 4 nodes $((t1 - t0)) ms after register (bound ${VIP_BOUND_S} s)"
  answers 2 web "$vip" || e2e_fail "the bare name 'web' does not answer the VIP"
  [ "$(a_of 3 tasks.web.svc)" = 10.99.0.4 ] || e2e_fail "tasks.web.svc is not the task address"
  local rev
  rev=$(echo "$vip" | awk -F. '{ print $4"."$3"."$2"."$1".in-addr.arpa" }')
  e2e_exec 2 dig +short +time=1 +tries=1 @127.0.0.11 "$rev" PTR | grep -qx 'web.svc.' ||
    e2e_fail "PTR $rev does not answer web.svc."

  # kill -9 the leader: the VIP stays; a new service gets a VIP from the new leader.
  e2e_stop "$L" KILL || true
  local live=()
  for i in 1 2 3 4; do [ "$i" -ne "$L" ] && live+=("$i"); done
  W=""
  for i in 1 2 3; do [ "$i" -ne "$L" ] && W="$W $i"; done
  e2e_wait_for 20 find_leader $W >/dev/null || e2e_fail "no new leader after killing h$L"
  e2e_log "killed leader h$L; new leader h$(find_leader $W)"
  for i in "${live[@]}"; do answers "$i" web.svc "$vip" || e2e_fail "h$i: web.svc changed after the failover"; done
  t0=$(now_ms)
  e2e_ctl 4 service register db --addr 10.99.0.4:5432 >/dev/null || e2e_fail "register db failed"
  e2e_wait_for $VIP_BOUND_S vip_on 4 db.svc >/dev/null || e2e_fail "db.svc got no VIP from the new leader"
  vip2=$(vip_on 4 db.svc)
  [ "$vip2" != "$vip" ] || e2e_fail "db.svc got web's VIP $vip"
  for i in "${live[@]}"; do
    e2e_wait_for $VIP_BOUND_S answers "$i" db.svc "$vip2" || e2e_fail "h$i does not answer db.svc $vip2"
  done
  t1=$(now_ms)
  e2e_log "after failover: web.svc still $vip everywhere; db.svc -> $vip2 in $((t1 - t0)) ms"

  # Release after the grace: back inside the grace keeps the VIP; gone longer frees it for reuse.
  local vip3 vip4
  e2e_ctl 4 service register tmp --addr 10.99.0.4:9000 >/dev/null || e2e_fail "register tmp failed"
  e2e_wait_for $VIP_BOUND_S vip_on 4 tmp.svc >/dev/null || e2e_fail "tmp.svc got no VIP"
  vip3=$(vip_on 4 tmp.svc)
  e2e_ctl 4 service deregister tmp >/dev/null
  sleep 1
  e2e_ctl 4 service register tmp --addr 10.99.0.4:9000 >/dev/null
  e2e_wait_for 2 answers 4 tmp.svc "$vip3" || e2e_fail "tmp.svc lost its VIP when re-registered inside the grace"
  e2e_ctl 4 service deregister tmp >/dev/null
  t0=$(now_ms)
  listed() { e2e_ctl 4 service ls | awk '{ print $1 }' | grep -qx tmp; }
  e2e_wait_for $((GRACE_S + 5)) eval '! listed' || e2e_fail "tmp's VIP was not released after the grace"
  t1=$(now_ms)
  e2e_ctl 4 service register new --addr 10.99.0.4:9001 >/dev/null
  e2e_wait_for $VIP_BOUND_S vip_on 4 new.svc >/dev/null || e2e_fail "new.svc got no VIP"
  vip4=$(vip_on 4 new.svc)
  [ "$vip4" = "$vip3" ] || e2e_fail "released $vip3 not reused (new.svc got $vip4)"
  e2e_ctl 4 service deregister new >/dev/null
  e2e_log "tmp kept $vip3 when back inside the ${GRACE_S} s grace; released $((t1 - t0)) ms after it left; reused by new.svc"

  # Every manager down: the worker still answers both VIPs (cluster-owned gossip entries).
  for i in 1 2 3; do e2e_stop "$i" TERM || true; done
  sleep 3 # past the managers' leave / failure detection
  answers 4 web.svc "$vip" || e2e_fail "h4 lost web.svc's VIP with every manager down"
  answers 4 db.svc "$vip2" || e2e_fail "h4 lost db.svc's VIP with every manager down"
  local ls
  ls=$(e2e_ctl 4 service ls)
  echo "$ls" >&2
  echo "$ls" | grep -Eq "^web +$vip +1\$" || e2e_fail "service ls does not show web $vip"
  echo "$ls" | grep -Eq "^db +$vip2 +1\$" || e2e_fail "service ls does not show db $vip2"
  e2e_ctl 4 service ls --json | grep -q "\"vip\": \"$vip\"" || e2e_fail "service ls --json lacks the VIP"
  e2e_log "every manager down: h4 answers web.svc $vip and db.svc $vip2"

  # Deregister: NXDOMAIN within 1 s.
  e2e_ctl 4 service deregister web >/dev/null || e2e_fail "deregister failed"
  e2e_wait_for 1 nxdomain 4 web.svc || e2e_fail "web.svc not NXDOMAIN after deregister"
  answers 4 db.svc "$vip2" || e2e_fail "db.svc went with web"
  e2e_log "deregistered web: NXDOMAIN"
}

e2e_main run
