#!/usr/bin/env bash
# Malformed, truncated and oversized control frames get an error reply or a closed connection, and
# peerd keeps serving every other client throughout.
source "$(dirname "$0")/lib/cluster.sh"
: "${E2E_TOOLS:?}" "${FUZZ_CORPUS:?}"

probe() { e2e_exec 1 "$E2E_TOOLS/ctl_probe" "$(e2e_sock 1)" "$@"; }

# {"v":1,"id":7,"op":"info"} framed
INFO_REQ=0000001083a17601a2696407a26f70a4696e666f
run() {
  e2e_setup 1
  local out

  # Valid frame, body not msgpack -> error reply; the same connection still works afterwards.
  out=$(probe send:00000003c1c1c1 recv send:$INFO_REQ recv)
  grep -q 'ok=0 code=-1000' <<<"$out" || e2e_fail "malformed body: $out"
  grep -q 'reply id=7 ok=1' <<<"$out" || e2e_fail "connection unusable after a bad frame: $out"

  # Wrong protocol version -> error naming it, id echoed.
  out=$(probe send:0000000d83a17602a2696409a26f70a178 recv)
  grep -q 'id=9 ok=0 code=-1003' <<<"$out" || e2e_fail "version: $out"

  # Unknown op -> error, connection stays.
  out=$(probe send:0000000f83a17601a2696403a26f70a3626f6f recv send:$INFO_REQ recv)
  grep -q 'code=-1018' <<<"$out" && grep -q 'id=7 ok=1' <<<"$out" || e2e_fail "unknown op: $out"

  # Oversized length -> error reply, then the connection is closed.
  out=$(probe send:7fffffff00 recv closed)
  grep -q 'code=-1002' <<<"$out" || e2e_fail "oversized: $out"

  # Zero-length frame -> error, closed.
  probe send:00000000 recv closed >/dev/null || e2e_fail "zero-length frame not refused"

  # A client holding half a frame does not block others.
  probe send:000000ff8384 sleep:3000 &
  local holder=$!
  sleep 0.3
  e2e_ctl 1 info >/dev/null || e2e_fail "info blocked by a half-sent frame"

  # Truncated frame then close.
  probe send:0000006483a1 >/dev/null
  wait $holder || true

  # Random bytes and every fuzz corpus input, one connection each.
  head -c 65536 /dev/urandom >"$E2E_WORK/rand.bin"
  probe "file:$E2E_WORK/rand.bin" >/dev/null 2>&1 || true
  for f in "$FUZZ_CORPUS"/*/*; do
    probe "file:$f" >/dev/null 2>&1 || true
  done

  # Still alive and counting what it refused.
  out=$(e2e_ctl 1 stats --json)
  local bad
  bad=$(grep -o '"ctl_bad_frames": [0-9]*' <<<"$out" | grep -o '[0-9]*$')
  [ "${bad:-0}" -ge 5 ] || e2e_fail "bad frames not counted: $out"
  e2e_ctl 1 info >/dev/null || e2e_fail "daemon stopped answering"
  e2e_stop 1 TERM || e2e_fail "peerd did not exit 0 after the abuse"
}
e2e_main run
