#!/usr/bin/env bash
# A local multi-host lab: N network namespaces on one bridge, one peerd in each.
#   deploy/lab/netns.sh up N [BUILD_DIR]   start (default N=3, BUILD_DIR=build)
#   deploy/lab/netns.sh ctl I ARGS...      run peerctl against host I
#   deploy/lab/netns.sh sh I               a shell inside host I's namespace
#   deploy/lab/netns.sh down               stop every peerd by PID and delete the namespaces
# Hosts are peerd-lab-h1..hN at 10.99.0.1..N/24; state lives under /tmp/peerd-lab.
set -euo pipefail
LAB=/tmp/peerd-lab
SW=peerd-lab-sw
ns() { echo "peerd-lab-h$1"; }
[ "$(id -u)" -eq 0 ] || { echo "netns.sh: run as root" >&2; exit 1; }

up() {
  local n=${1:-3} build=${2:-build}
  [ -e "$LAB" ] && { echo "lab already up (run: $0 down)" >&2; exit 1; }
  mkdir -p "$LAB"
  echo "$n" >"$LAB/n"
  echo "$(realpath "$build")" >"$LAB/build"
  ip netns add "$SW"
  ip -n "$SW" link add br0 type bridge
  ip -n "$SW" link set br0 up
  for i in $(seq "$n"); do
    ip netns add "$(ns "$i")"
    ip -n "$(ns "$i")" link set lo up
    ip link add eth0 netns "$(ns "$i")" type veth peer name "h$i" netns "$SW"
    ip -n "$SW" link set "h$i" master br0 up
    ip -n "$(ns "$i")" addr add "10.99.0.$i/24" dev eth0
    ip -n "$(ns "$i")" link set eth0 up
    mkdir -p "$LAB/h$i"
    ip netns exec "$(ns "$i")" "$build/core/daemon/peerd" --data-dir "$LAB/h$i/data" \
      --socket "$LAB/h$i/peerd.sock" --advertise-addr "10.99.0.$i" >"$LAB/h$i/peerd.log" 2>&1 &
    echo $! >"$LAB/h$i/pid"
  done
  echo "lab up: $n hosts, each peerd waiting for init/join; try:"
  echo "  $0 ctl 1 swarm init --advertise-addr 10.99.0.1     # prints the join command"
  echo "  $0 ctl 2 swarm join --token PDTKN-... 10.99.0.1:2377"
}

down() {
  [ -e "$LAB" ] || return 0
  local n
  n=$(cat "$LAB/n")
  for i in $(seq "$n"); do
    [ -f "$LAB/h$i/pid" ] && kill -TERM "$(cat "$LAB/h$i/pid")" 2>/dev/null || true
  done
  sleep 1
  for i in $(seq "$n"); do ip netns del "$(ns "$i")" 2>/dev/null || true; done
  ip netns del "$SW" 2>/dev/null || true
  rm -rf "$LAB"
}

case ${1:-} in
  up) shift; up "$@" ;;
  down) down ;;
  ctl) i=$2; shift 2; ip netns exec "$(ns "$i")" "$(cat "$LAB/build")/cli/peerctl" --socket "$LAB/h$i/peerd.sock" "$@" ;;
  sh) ip netns exec "$(ns "$2")" "${SHELL:-bash}" ;;
  *) sed -n '2,8p' "$0"; exit 2 ;;
esac
