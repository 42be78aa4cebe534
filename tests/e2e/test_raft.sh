#!/usr/bin/env bash
# Three managers in three namespaces (h1 --init; h2 and h3 join it with the manager token, over
# mutual TLS on 2377): a leader is elected; a config written on a follower is listed on every node; kill -9 the
# leader → writes resume on the survivors (time measured), and a write forwarded to the dying leader
# fails at once with a retryable "leader changed" error; the restarted node catches up; with two
# of three down writes fail within 2 s with "no manager quorum" (exit 1); back up → writes work;
# everything survives a full restart of all three (WAL replay). Snapshots every 20 entries, so the
# survivors compact past the killed leader's log while it is down and it catches up by snapshot,
# and every restart recovers from snapshot + WAL; a clean stop of the leader hands leadership over.
source "$(dirname "$0")/lib/cluster.sh"
N=3
export E2E_PEERD_ARGS="--no-dns --snapshot-every 20 ${E2E_PEERD_ARGS:-}"
export E2E_MANAGERS="1 2 3"

role_of() { e2e_ctl "$1" raft status --json 2>/dev/null | grep -o '"role": "[a-z]*"' | cut -d'"' -f4; }
leader_of() { e2e_ctl "$1" raft status --json 2>/dev/null | grep -o '"leader": "[0-9a-z]*"' | cut -d'"' -f4; }
# A host whose raft role is leader, among the given hosts.
find_leader() {
  local h
  for h in "$@"; do [ "$(role_of "$h")" = leader ] && { echo "$h"; return 0; }; done
  return 1
}
# All given hosts name the same, non-empty leader.
agree_on_leader() {
  local want="" h l
  for h in "$@"; do
    l=$(leader_of "$h")
    [ -n "$l" ] || return 1
    [ -z "$want" ] || [ "$l" = "$want" ] || return 1
    want=$l
  done
}
has_config() { e2e_ctl "$1" config ls | awk 'NR > 1 { print $2 }' | grep -qx "$2"; }
config_count() { e2e_ctl "$1" config ls | awk 'NR > 1' | wc -l; }
now_ms() { date +%s%3N; }

run() {
  e2e_setup $N
  local f=$E2E_WORK/payload.txt t0 t1 L S F i n
  printf 'listen 8080\nworkers 4\n' >"$f"

  e2e_wait_for 30 find_leader 1 2 3 || e2e_fail "no leader elected"
  e2e_wait_for 10 agree_on_leader 1 2 3 || e2e_fail "hosts disagree on the leader"
  L=$(find_leader 1 2 3)
  e2e_log "leader elected: h$L"
  e2e_ctl "$L" raft status >&2

  # A write on a follower is forwarded; every node lists it.
  F=$(( L % 3 + 1 ))
  local id
  id=$(e2e_ctl "$F" config create web-conf "$f") || e2e_fail "config create on follower h$F failed"
  [ -n "$id" ] || e2e_fail "config create printed no id"
  for i in 1 2 3; do e2e_wait_for 5 has_config "$i" web-conf || e2e_fail "h$i does not list web-conf"; done
  e2e_ctl "$L" config inspect web-conf | grep -q 'workers 4' || e2e_fail "inspect shows wrong data"
  e2e_log "config create on follower h$F: id $id, listed on all 3"
  # Errors: duplicate name, bad name, oversized data.
  local dup
  dup=$(e2e_ctl "$F" config create web-conf "$f" 2>&1) && e2e_fail "duplicate name accepted"
  echo "$dup" | grep -q 'already exists' || e2e_fail "duplicate name: unexpected error: $dup"
  e2e_ctl "$F" config create 'bad/name' "$f" >/dev/null 2>&1 && e2e_fail "bad name accepted"

  # peerctl events streams the store's changes: a create and a remove, seen on the leader.
  local evout=$E2E_WORK/events.out evp
  ( e2e_ctl "$L" events --count 2 >"$evout" 2>&1 ) &
  evp=$!
  sleep 0.5
  e2e_ctl "$F" config create ev-conf "$f" >/dev/null || e2e_fail "config create ev-conf failed"
  e2e_ctl "$F" config rm ev-conf >/dev/null || e2e_fail "config rm ev-conf failed"
  for n in $(seq 50); do kill -0 "$evp" 2>/dev/null || break; sleep 0.1; done
  kill "$evp" 2>/dev/null && e2e_fail "peerctl events did not end after 2 events: $(cat "$evout")"
  wait "$evp" || e2e_fail "peerctl events failed: $(cat "$evout")"
  grep -q ' config create .*name=ev-conf' "$evout" && grep -q ' config remove .*name=ev-conf' "$evout" ||
    e2e_fail "events: want a config create and remove of ev-conf, got: $(cat "$evout")"
  e2e_log "events: $(tr '\n' '|' <"$evout")"

  # A write that a follower forwarded to a leader that dies fails at once with a retryable error
  # (not after the 1.5 s request timeout, and it is never re-sent): freeze the leader, write on a
  # follower, then kill -9 the leader.
  local inflight=$E2E_WORK/inflight.out tk tend bgp
  kill -STOP "${E2E_PIDS[$L]}"
  ( e2e_ctl "$F" config create in-flight "$f" >"$inflight" 2>&1; echo "rc=$? end=$(now_ms)" >>"$inflight" ) &
  bgp=$!
  sleep 0.5
  tk=$(now_ms)
  # kill -9 the leader: writes resume on the survivors.
  e2e_stop "$L" KILL || true
  wait "$bgp"
  tend=$(sed -n 's/^rc=[0-9]* end=\([0-9]*\)$/\1/p' "$inflight")
  e2e_log "in-flight forwarded write: $(tr '\n' ' ' <"$inflight")($((tend - tk)) ms after the kill)"
  grep -q '^rc=1 ' "$inflight" || e2e_fail "in-flight write on h$F did not fail with exit 1"
  grep -q 'leader changed while the write was in flight' "$inflight" ||
    e2e_fail "in-flight write: no 'leader changed' error: $(cat "$inflight")"
  [ $((tend - tk)) -le 800 ] || e2e_fail "in-flight write answered $((tend - tk)) ms after the kill (> 800)"
  local survivors=() ok=0
  for i in 1 2 3; do [ "$i" -ne "$L" ] && survivors+=("$i"); done
  S=${survivors[0]}
  t0=$(now_ms)
  for n in $(seq 60); do
    if e2e_ctl "$S" config create "after-kill" "$f" >/dev/null 2>&1; then ok=1; break; fi
    sleep 0.2
  done
  t1=$(now_ms)
  [ $ok = 1 ] || e2e_fail "writes did not resume after the leader was killed"
  e2e_log "FAILOVER: kill -9 leader h$L -> write accepted on h$S after $((t1 - t0)) ms"
  local L2
  L2=$(find_leader "${survivors[@]}") || e2e_fail "no new leader among survivors"
  e2e_log "new leader: h$L2"

  # While it is down, enough writes for the survivors to snapshot and compact past its log.
  for n in $(seq 40); do
    e2e_ctl "$S" config create "burst-$n" "$f" >/dev/null || e2e_fail "burst write $n failed"
  done
  e2e_wait_for 10 grep -q "raft snapshot index=" "$E2E_WORK/h$S/peerd.log" || e2e_fail "h$S took no snapshot"

  # The old leader restarts and catches up (by snapshot: its log is behind the compaction).
  e2e_start "$L" # no flags: the certificate, seeds and Raft state are in its data dir
  e2e_wait_for 20 has_config "$L" burst-40 || e2e_fail "restarted h$L did not catch up"
  has_config "$L" after-kill || e2e_fail "restarted h$L lacks after-kill"
  grep -q "raft snapshot installed" "$E2E_WORK/h$L/peerd.log" || e2e_fail "h$L caught up without a snapshot"
  e2e_log "restarted h$L caught up (lists after-kill and burst-40)"

  # Two of three down: writes fail fast with the quorum message.
  e2e_wait_for 10 agree_on_leader 1 2 3 || e2e_fail "no agreed leader after the restart"
  local down=() keep
  keep=$(find_leader 1 2 3)
  for i in 1 2 3; do [ "$i" -ne "$keep" ] && down+=("$i"); done
  e2e_stop "${down[0]}" KILL || true
  e2e_stop "${down[1]}" KILL || true
  local out rc=0
  t0=$(now_ms)
  out=$(e2e_ctl "$keep" config create no-quorum "$f" 2>&1) || rc=$?
  t1=$(now_ms)
  e2e_log "write with 1 of 3 managers: exit $rc after $((t1 - t0)) ms: $out"
  [ $rc -eq 1 ] || e2e_fail "write without quorum exited $rc, want 1"
  echo "$out" | grep -q 'no manager quorum' || e2e_fail "no 'no manager quorum' message"
  [ $((t1 - t0)) -le 2500 ] || e2e_fail "write without quorum took $((t1 - t0)) ms (> 2 s + slack)"
  rc=0
  out=$(e2e_ctl "$keep" config ls 2>&1) || rc=$?
  [ $rc -eq 1 ] && echo "$out" | grep -q 'no manager quorum' || e2e_fail "read without quorum: exit $rc: $out"

  # Back up: writes work again.
  e2e_start "${down[0]}"
  e2e_start "${down[1]}"
  ok=0
  t0=$(now_ms)
  for n in $(seq 100); do
    if e2e_ctl "${down[0]}" config create "quorum-back" "$f" >/dev/null 2>&1; then ok=1; break; fi
    sleep 0.2
  done
  [ $ok = 1 ] || e2e_fail "writes did not work again after the two managers came back"
  e2e_log "quorum back: write accepted after $(($(now_ms) - t0)) ms"

  # Full restart of all three: the WAL replays everything.
  local before
  e2e_wait_for 10 has_config "$keep" quorum-back || e2e_fail "h$keep missing quorum-back"
  before=$(config_count "$keep")
  for i in 1 2 3; do e2e_stop "$i" TERM || e2e_fail "h$i did not stop cleanly (exit $?)"; done
  for i in 1 2 3; do e2e_start "$i"; done
  e2e_wait_for 30 find_leader 1 2 3 || e2e_fail "no leader after a full restart"
  for i in 1 2 3; do
    e2e_wait_for 10 has_config "$i" quorum-back || e2e_fail "h$i lost data in a full restart"
    [ "$(config_count "$i")" -eq "$before" ] || e2e_fail "h$i has $(config_count "$i") configs, want $before"
  done
  e2e_ctl 2 config rm web-conf >/dev/null || e2e_fail "config rm failed after restart"
  e2e_wait_for 5 eval '! has_config 3 web-conf' || e2e_fail "web-conf still listed after rm"
  e2e_log "full restart: $before configs on every node; rm works"

  # A clean stop of the leader hands leadership over before it exits: the others lead at once.
  local CL others=() o t0
  e2e_wait_for 10 find_leader 1 2 3 >/dev/null || e2e_fail "no leader before the clean stop"
  CL=$(find_leader 1 2 3)
  for o in 1 2 3; do [ "$o" = "$CL" ] || others+=("$o"); done
  t0=$(now_ms)
  e2e_stop "$CL" TERM || e2e_fail "leader h$CL did not stop cleanly"
  e2e_log "clean stop of leader h$CL took $(($(now_ms) - t0)) ms"
  grep -q "raft leadership handed to" "$E2E_WORK/h$CL/peerd.log" || e2e_fail "h$CL did not hand leadership over"
  find_leader "${others[@]}" >/dev/null || e2e_fail "no leader among ${others[*]} right after the handoff"
  e2e_ctl "${others[0]}" config create after-handoff "$f" >/dev/null || e2e_fail "write after the handoff failed"
  e2e_log "handoff: h$(find_leader "${others[@]}") leads, a write went through at once"
  e2e_start "$CL"
  e2e_wait_for 10 has_config "$CL" after-handoff || e2e_fail "h$CL did not catch up after the handoff"

  for i in 1 2 3; do e2e_stop "$i" TERM || e2e_fail "h$i exited $? at the end (leak or crash?)"; done
}

e2e_main run
