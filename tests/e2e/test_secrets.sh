#!/usr/bin/env bash
# Secrets and autolock on three managers (h1 --init, h2 and h3 joined with the manager token;
# snapshots every 16 entries):
# - the secret round trip: create from a file (with labels) and from stdin on a follower, listed on
#   every manager, inspect shows metadata and labels but never the data, bad input (duplicate, bad
#   name, empty, over 500 KiB, unknown) fails and changes nothing, rm;
# - encryption at rest: after snapshots, no file under any node's data dir (WAL, snapshots, key
#   files) and no log holds a secret's plaintext; the key files are 0600;
# - autolock: turning it on prints the unlock key and every manager drops its KEK file; a restarted
#   manager refuses management until unlocked, a wrong key is refused and keeps it locked, the right
#   one unlocks it and it catches up; after a rotation the old key no longer unlocks it and the new
#   one does; turned off, a restarted manager needs no key.
source "$(dirname "$0")/lib/cluster.sh"
N=3
export E2E_PEERD_ARGS="--no-dns --snapshot-every 16 ${E2E_PEERD_ARGS:-}"
export E2E_MANAGERS="1 2 3"

has_secret() { e2e_ctl "$1" secret ls | awk 'NR > 1 { print $2 }' | grep -x "$2" >/dev/null; }
secret_count() { e2e_ctl "$1" secret ls | awk 'NR > 1' | wc -l; }
unlock_with() { echo "$2" | e2e_ctl "$1" swarm unlock; }
no_kek() { [ ! -e "$E2E_WORK/h$1/data/raft/kek" ]; }
has_kek() { [ -e "$E2E_WORK/h$1/data/raft/kek" ]; }
# Files under the hosts' data dirs and logs that contain $1 (none expected).
leaks() { grep -rlaF -- "$1" "$E2E_WORK"/h*/data "$E2E_WORK"/h*/peerd.log 2>/dev/null || true; }
# Files holding a PEM private key other than a node's own node.key: the CA key (a cluster made by
# swarm init) lives in the Raft store, sealed like the secrets; it must never show up in plaintext.
key_leaks() { leaks "PRIVATE KEY" | grep -v '/data/node\.key$' || true; }
# Expect a command to fail with a message matching $1.
must_fail() {
  local want=$1 out rc=0
  shift
  out=$("$@" 2>&1) || rc=$?
  [ $rc -ne 0 ] || e2e_fail "'$*' succeeded, want an error like '$want'"
  grep -q -- "$want" <<<"$out" || e2e_fail "'$*': want '$want', got: $out"
}

run() {
  e2e_setup $N
  local tag mark_file mark_stdin f=$E2E_WORK/secret.txt L F R i
  tag=$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
  mark_file="file-secret-$tag"
  mark_stdin="stdin-secret-$tag"
  printf 'password=%s\n' "$mark_file" >"$f"

  e2e_wait_for 30 e2e_find_leader 1 2 3 || e2e_fail "no leader elected"
  L=$(e2e_find_leader 1 2 3)
  F=$(( L % 3 + 1 ))
  e2e_log "leader h$L; writing on follower h$F"

  # Round trip: from a file with labels, and from stdin.
  local id
  id=$(e2e_ctl "$F" secret create db-pass "$f" --label env=prod --label team=core) || e2e_fail "secret create (file)"
  [ -n "$id" ] || e2e_fail "secret create printed no id"
  printf '%s' "$mark_stdin" | e2e_ctl "$F" secret create api-key - >/dev/null || e2e_fail "secret create (stdin)"
  for i in 1 2 3; do
    e2e_wait_for 5 has_secret "$i" db-pass && e2e_wait_for 5 has_secret "$i" api-key ||
      e2e_fail "h$i does not list both secrets"
  done
  local ins
  for i in 1 2 3; do
    ins=$(e2e_ctl "$i" secret inspect db-pass) || e2e_fail "inspect on h$i failed"
    grep -q "ID: *$id" <<<"$ins" && grep -q 'env=prod' <<<"$ins" || e2e_fail "inspect on h$i: $ins"
    ins=$(e2e_ctl "$i" secret inspect --json "$id"; e2e_ctl "$i" secret inspect api-key)
    grep -q -e "$tag" -e '"data"' <<<"$ins" && e2e_fail "inspect on h$i shows the data: $ins"
  done
  e2e_log "secret round trip: $id listed and inspected on all 3, no data shown"

  # Bad input: a clear error each, and nothing changes.
  local before
  before=$(secret_count "$L")
  must_fail 'already exists' e2e_ctl "$F" secret create db-pass "$f"
  must_fail 'invalid secret name' e2e_ctl "$F" secret create 'bad/name' "$f"
  : >"$E2E_WORK/empty"
  must_fail 'secret data is empty' e2e_ctl "$F" secret create empty "$E2E_WORK/empty"
  head -c 600000 /dev/zero >"$E2E_WORK/big"
  must_fail 'over the size limit' e2e_ctl "$F" secret create big "$E2E_WORK/big"
  must_fail 'not found' e2e_ctl "$F" secret inspect nope
  must_fail 'not found' e2e_ctl "$F" secret rm nope
  [ "$(secret_count "$L")" -eq "$before" ] || e2e_fail "bad input changed the secret count"
  e2e_ctl "$F" secret rm api-key >/dev/null || e2e_fail "secret rm api-key"
  for i in 1 2 3; do e2e_wait_for 5 eval "! has_secret $i api-key" || e2e_fail "h$i still lists api-key"; done
  e2e_log "bad input refused (duplicate, name, empty, size, unknown); rm works"

  # Enough writes for every manager to snapshot, then look for the plaintext everywhere.
  for i in $(seq 24); do e2e_ctl "$F" config create "fill-$i" "$E2E_WORK/empty" >/dev/null || e2e_fail "fill $i"; done
  for i in 1 2 3; do
    e2e_wait_for 10 grep -q "raft snapshot index=" "$E2E_WORK/h$i/peerd.log" || e2e_fail "h$i took no snapshot"
    ls "$E2E_WORK/h$i/data/raft/snap/"*.snap >/dev/null 2>&1 || e2e_fail "h$i has no snapshot file"
    for k in dek kek; do
      [ "$(stat -c %a "$E2E_WORK/h$i/data/raft/$k")" = 600 ] || e2e_fail "h$i raft/$k is not 0600"
    done
  done
  local found
  found=$(leaks "$tag")$(key_leaks)
  [ -z "$found" ] || e2e_fail "secret or key plaintext found in: $found"
  e2e_log "no plaintext in $(find "$E2E_WORK"/h*/data -type f | wc -l) files under 3 data dirs (WAL, snapshots) nor the logs"

  # Autolock on: the key is printed once; every manager re-wraps its data key and drops the KEK.
  local out key key_body
  out=$(e2e_ctl "$F" swarm update --autolock=true) || e2e_fail "swarm update --autolock=true failed"
  key=$(echo "$out" | grep -o 'PDUNLK-1-[A-Za-z0-9_-]*')
  [ -n "$key" ] || e2e_fail "no unlock key printed: $out"
  [ "$(e2e_ctl "$L" swarm unlock-key -q)" = "$key" ] || e2e_fail "unlock-key -q on h$L differs"
  for i in 1 2 3; do e2e_wait_for 5 no_kek "$i" || e2e_fail "h$i kept its KEK file under autolock"; done
  key_body=${key#PDUNLK-1-}
  found=$(leaks "$key_body")
  [ -z "$found" ] || e2e_fail "unlock key found in: $found"

  # A restarted manager is locked until the right key is given.
  R=$F
  e2e_stop "$R" TERM || e2e_fail "h$R did not stop cleanly"
  e2e_start "$R"
  must_fail 'this node is locked: run peerctl swarm unlock' e2e_ctl "$R" secret ls
  must_fail 'this node is locked' e2e_ctl "$R" raft status
  e2e_ctl "$L" secret create while-locked "$f" >/dev/null || e2e_fail "write while h$R is locked"
  must_fail 'invalid unlock key' unlock_with "$R" "PDUNLK-1-$(printf 'A%.0s' $(seq 43))"
  must_fail 'invalid unlock key' unlock_with "$R" not-a-key
  must_fail 'this node is locked' e2e_ctl "$R" secret ls
  unlock_with "$R" "$key" || e2e_fail "the right key did not unlock h$R"
  e2e_wait_for 10 has_secret "$R" while-locked || e2e_fail "unlocked h$R did not catch up"
  e2e_log "autolock: h$R restarted locked, wrong keys refused, unlocked and caught up"

  # Rotation: the old key no longer unlocks a restarted manager, the new one does.
  local key2
  key2=$(e2e_ctl "$L" swarm unlock-key --rotate -q) || e2e_fail "unlock-key --rotate failed"
  [ -n "$key2" ] && [ "$key2" != "$key" ] || e2e_fail "rotation gave no new key"
  e2e_ctl "$L" secret create after-rotate "$f" >/dev/null || e2e_fail "write after rotation"
  e2e_wait_for 10 has_secret "$R" after-rotate || e2e_fail "h$R did not apply the rotation"
  e2e_stop "$R" TERM || e2e_fail "h$R did not stop cleanly"
  e2e_start "$R"
  must_fail 'invalid unlock key' unlock_with "$R" "$key"
  unlock_with "$R" "$key2" || e2e_fail "the rotated key did not unlock h$R"
  e2e_wait_for 10 has_secret "$R" after-rotate || e2e_fail "h$R lost data after the rotation"
  e2e_log "rotation: old key refused, new key unlocks"

  # Autolock off: KEK files come back, and a restart needs no key.
  e2e_ctl "$L" swarm update --autolock=false >/dev/null || e2e_fail "swarm update --autolock=false failed"
  for i in 1 2 3; do e2e_wait_for 5 has_kek "$i" || e2e_fail "h$i has no KEK file after autolock off"; done
  e2e_stop "$R" TERM || e2e_fail "h$R did not stop cleanly"
  e2e_start "$R"
  e2e_wait_for 10 has_secret "$R" after-rotate || e2e_fail "h$R is not serving after autolock off"
  found=$(leaks "$tag")$(leaks "${key2#PDUNLK-1-}")$(key_leaks)
  [ -z "$found" ] || e2e_fail "plaintext found at the end in: $found"
  e2e_log "autolock off: h$R restarted without a key"

  for i in 1 2 3; do e2e_stop "$i" TERM || e2e_fail "h$i exited $? at the end (leak or crash?)"; done
}

e2e_main run
