#!/usr/bin/env bash
# Benchmarks (not part of CI), side by side with the peer systems; results go to docs/bench/.
#   tests/bench/run.sh [BUILD_DIR]     (what `make bench` runs)
# Each bench reads its own BENCH_* settings from the environment (see its run.sh).
set -u -o pipefail
BUILD_DIR=${1:-build}
HERE=$(cd "$(dirname "$0")" && pwd)
rc=0

# gossip: peerd vs Serf (join, failure detection, false positives under loss, bytes/CPU/RSS)
"$HERE/gossip/run.sh" "$BUILD_DIR" || rc=1

# dns: peerd's DNS server vs knot, nsd, unbound, dnsmasq with dnsperf (QPS, CPU/query, latency, churn)
"$HERE/dns/run.sh" "$BUILD_DIR" || rc=1

# raft: peerd's managers vs etcd 3.4, 3 members each (write throughput/latency, disk cost, failover)
"$HERE/raft/run.sh" "$BUILD_DIR" || rc=1

exit $rc
