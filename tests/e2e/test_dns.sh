#!/usr/bin/env bash
# Service DNS at 127.0.0.11 on three peerd: an endpoint registered on h1 is answered on h2 and h3
# within 1 s (tasks.web.svc, SRV, over UDP and TCP; web.svc answers its VIP); deregistered -> NXDOMAIN within 1 s;
# other names go to an upstream the test runs on 127.0.0.2:5353 (positive and negative answers,
# cached); an upstream that never answers gives SERVFAIL within the timeout; the fuzz corpus fired
# at the live server (UDP and TCP) crashes nothing; bursts of 500 distinct queries each get their own
# reply; a taken DNS address stops peerd with a clear
# error; kill -9 h1 -> its records leave tasks.web within failure detection; clean exits (no leak).
source "$(dirname "$0")/lib/cluster.sh"
: "${E2E_TOOLS:?E2E_TOOLS must name the e2e tools dir}"
UPSTREAM=127.0.0.2:5353

now_ms() { date +%s%3N; }
# wait_ms LIMIT_MS CMD...: retry CMD every 50 ms; print the elapsed ms; fail (1) past the limit.
wait_ms() {
  local limit=$1 t0 el
  shift
  t0=$(now_ms)
  while :; do
    "$@" >/dev/null 2>&1 && break
    el=$(($(now_ms) - t0))
    [ "$el" -le "$limit" ] || { echo "$el"; return 1; }
    sleep 0.05
  done
  echo $(($(now_ms) - t0))
}
q() { local i=$1; shift; e2e_exec "$i" dig +time=1 +tries=1 @127.0.0.11 "$@"; }
status() { q "$@" | grep -o 'status: [A-Z]*' | cut -d' ' -f2; }
answers() { q "$1" +short "${@:2}"; }                                  # answers I NAME [TYPE] [+tcp]
has_a() { answers "$1" "$2" "${@:4}" | grep -qx "$3"; }                 # has_a I NAME IP [+tcp]
lacks_a() { ! answers "$1" "$2" | grep -qx "$3"; }
status_is() { [ "$(status "$1" "$2")" = "$3" ]; }
stat_of() { e2e_ctl "$1" dns stats --json | grep -o "\"$2\": [0-9]*" | grep -o '[0-9]*$'; }
query_ms() { q "$@" | awk '/Query time/ { print $4 }'; }

run() {
  export E2E_PEERD_ARGS="--dns-upstream $UPSTREAM --dns-timeout-ms 1500"
  e2e_setup 3
  for i in 1 2 3; do
    e2e_wait_for 15 e2e_alive_count_is "$i" 3 || e2e_fail "h$i does not see 3 alive members"
  done
  for i in 2 3; do
    e2e_bg "$i" "$E2E_TOOLS/dns_upstream" 127.0.0.2 5353
    e2e_wait_for 5 grep -q ready "$E2E_WORK/h$i/bg.log" || e2e_fail "test upstream did not start on h$i"
  done

  # Node names from membership.
  local host
  host=$(e2e_exec 1 hostname)
  # (the namespaces share one hostname: any node's address answers it)
  node_answered() { answers 2 "$host.node" | grep -q '^10\.99\.0\.[123]$'; }
  e2e_wait_for 5 node_answered || e2e_fail "$host.node not answered on h2: $(q 2 "$host.node")"

  # Register on h1: answered on h2 and h3 within 1 s.
  e2e_ctl 1 service register web --addr "$(e2e_addr 1):8080" --port http:8080/tcp >/dev/null
  local ms i
  for i in 2 3; do
    ms=$(wait_ms 1000 has_a "$i" tasks.web.svc "$(e2e_addr 1)") || e2e_fail "h$i: tasks.web.svc not answered within 1 s ($ms ms)"
    e2e_log "register -> tasks.web.svc answered on h$i after $ms ms"
  done
  # web.svc: its VIP once the managers allocated it (test_vip.sh covers VIPs in depth).
  vip_answered() { answers 2 web.svc | grep -qx '10\.96\.[0-9]*\.[0-9]*'; }
  e2e_wait_for 3 vip_answered || e2e_fail "web.svc not answered with a VIP: $(answers 2 web.svc)"
  has_a 3 tasks.web.svc "$(e2e_addr 1)" +tcp || e2e_fail "tasks.web.svc over TCP not answered"
  answers 2 _http._tcp.web.svc SRV | grep -q ' 8080 ' || e2e_fail "SRV _http._tcp.web.svc: $(answers 2 _http._tcp.web.svc SRV)"
  has_a 1 tasks.web "$(e2e_addr 1)" || e2e_fail "bare tasks.web not answered on h1"

  # Deregister: NXDOMAIN within 1 s.
  e2e_ctl 1 service deregister web >/dev/null
  for i in 2 3; do
    ms=$(wait_ms 1000 status_is "$i" tasks.web.svc NXDOMAIN) || e2e_fail "h$i: tasks.web.svc not NXDOMAIN within 1 s ($ms ms)"
    e2e_log "deregister -> NXDOMAIN on h$i after $ms ms"
  done
  status_is 2 web.svc NXDOMAIN || e2e_fail "web.svc still answered after deregister"

  # Forwarding to the test's upstream; the second ask is a cache hit (positive and negative).
  local hits0 fwd_ms hit_ms
  hits0=$(stat_of 2 cache_hits)
  has_a 2 www.example.test 192.0.2.7 || e2e_fail "external name not forwarded: $(q 2 www.example.test)"
  fwd_ms=$(query_ms 2 api.example.test)
  hit_ms=$(query_ms 2 api.example.test)
  has_a 2 WWW.Example.Test 192.0.2.7 || e2e_fail "cached answer lost for another spelling"
  status_is 2 missing.test NXDOMAIN || e2e_fail "upstream NXDOMAIN not relayed"
  status_is 2 missing.test NXDOMAIN || e2e_fail "cached NXDOMAIN not served"
  [ "$(stat_of 2 cache_hits)" -ge $((hits0 + 3)) ] || e2e_fail "no cache hits: $(e2e_ctl 2 dns stats)"
  e2e_log "forwarded query ${fwd_ms} ms, cached ${hit_ms} ms (dig's Query time)"

  # The fuzz corpus at the live server over UDP and TCP: it keeps answering.
  local out
  e2e_ctl 2 service register fz --addr 10.1.2.3 >/dev/null
  e2e_wait_for 5 has_a 2 tasks.fz.svc 10.1.2.3 || e2e_fail "fz not registered"
  out=$(e2e_exec 2 "$E2E_TOOLS/dns_blast" 127.0.0.11 53 tasks.fz.svc "${FUZZ_CORPUS:?}"/fuzz_dns_wire/*) ||
    e2e_fail "server stopped answering after the fuzz corpus: $out"
  kill -0 "${E2E_PIDS[2]}" || e2e_fail "peerd on h2 died under the fuzz corpus"
  has_a 2 tasks.fz.svc 10.1.2.3 || e2e_fail "h2 no longer answers after the fuzz corpus"
  e2e_log "fuzz corpus fired at h2 over UDP and TCP: $out"

  # Bursts far deeper than one recvmmsg batch: every reply is its own query's (id, name as spelled,
  # rcode, record, OPT), none lost.
  out=$(e2e_exec 2 "$E2E_TOOLS/dns_burst" 127.0.0.11 53 tasks.fz.svc 10.1.2.3 500 3) ||
    e2e_fail "a burst of queries got wrong or missing replies: $out"
  e2e_log "$out"

  # A DNS address already taken: exit 1 naming it and the way out.
  local st=0 msg
  msg=$(e2e_exec 2 "$PEERD" --data-dir "$E2E_WORK/h2/second" --socket "$E2E_WORK/h2/second.sock" \
    --gossip-port 7950 --listen-addr 127.0.0.1:2378 --init 2>&1) || st=$?
  [ $st -eq 1 ] || e2e_fail "second peerd on a taken DNS address exited $st, want 1: $msg"
  grep -q '127.0.0.11:53' <<<"$msg" && grep -q -- '--dns-addr' <<<"$msg" && grep -q -- '--no-dns' <<<"$msg" ||
    e2e_fail "unclear DNS bind error: $msg"
  e2e_log "taken DNS address: $(grep 127.0.0.11 <<<"$msg" | head -1)"

  # An upstream that never answers: SERVFAIL within the timeout (h3 restarted onto it).
  e2e_bg 3 "$E2E_TOOLS/dns_upstream" 127.0.0.3 5353 silent
  e2e_stop 3 TERM || e2e_fail "peerd h3 did not exit 0"
  E2E_PEERD_ARGS="--dns-upstream 127.0.0.3:5353 --dns-timeout-ms 1000" e2e_start 3
  local el s
  out=$(e2e_exec 3 dig +time=5 +tries=1 @127.0.0.11 slow.example.test)
  s=$(grep -o 'status: [A-Z]*' <<<"$out" | cut -d' ' -f2)
  el=$(awk '/Query time/ { print $4 }' <<<"$out")
  [ "$s" = SERVFAIL ] || e2e_fail "silent upstream gave '$s', want SERVFAIL"
  [ "${el:-0}" -ge 900 ] && [ "$el" -le 2000 ] || e2e_fail "SERVFAIL after $el ms, want about the 1000 ms timeout"
  e2e_log "silent upstream -> SERVFAIL after $el ms (timeout 1000 ms)"

  # kill -9 h1: its records leave tasks.web on h2 within failure detection; h3's stay.
  e2e_wait_for 15 e2e_alive_count_is 2 3 || e2e_fail "h3 did not rejoin"
  e2e_ctl 1 service register web --addr "$(e2e_addr 1):8080" >/dev/null
  e2e_ctl 3 service register web --addr "$(e2e_addr 3):8080" >/dev/null
  e2e_wait_for 5 has_a 2 tasks.web.svc "$(e2e_addr 1)" || e2e_fail "h1's web not on h2"
  e2e_wait_for 5 has_a 2 tasks.web.svc "$(e2e_addr 3)" || e2e_fail "h3's web not on h2"
  e2e_stop 1 KILL || true
  ms=$(wait_ms 30000 lacks_a 2 tasks.web.svc "$(e2e_addr 1)") || e2e_fail "dead h1's record still served after $ms ms"
  has_a 2 tasks.web.svc "$(e2e_addr 3)" || e2e_fail "h3's record went too"
  e2e_log "kill -9 h1 -> its record left tasks.web.svc on h2 after $ms ms"

  e2e_ctl 2 dns stats >&2
  # Clean exits: under ASan a leak would make them non-zero.
  e2e_stop 2 TERM || e2e_fail "peerd h2 did not exit 0"
  e2e_stop 3 TERM || e2e_fail "peerd h3 did not exit 0"
}
e2e_main run
