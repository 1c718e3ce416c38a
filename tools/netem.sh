#!/usr/bin/env bash
# Put the loopback interface under the Ditto paper's network settings, or take them off.
#
#   sudo tools/netem.sh lan    # 5 Gbps, 0.4 ms round trip
#   sudo tools/netem.sh wan    # 400 Mbps, 40 ms round trip
#   sudo tools/netem.sh off    # back to plain loopback
#   tools/netem.sh show
#
# Process mode (prog.run(..., mode="processes")) talks over loopback, so it runs under these
# settings. On loopback a message crosses the qdisc once, so the one-way delay is half the
# round trip. Needs root and the kernel's sch_netem module; the script says so and exits 1
# when either is missing (machines of this project's kind have no sch_netem: see
# docs/mixed-rings.md for the modelled LAN/WAN figures used instead).
set -euo pipefail
dev=lo
case "${1:-}" in
  lan) delay=0.2ms rate=5gbit ;;
  wan) delay=20ms rate=400mbit ;;
  off) tc qdisc del dev "$dev" root 2>/dev/null || true; echo "loopback: no emulation"; exit 0 ;;
  show) tc qdisc show dev "$dev"; exit 0 ;;
  *) echo "usage: $0 lan|wan|off|show" >&2; exit 2 ;;
esac
if [ "$(id -u)" != 0 ]; then echo "$0: needs root (tc changes the loopback qdisc)" >&2; exit 1; fi
tc qdisc del dev "$dev" root 2>/dev/null || true
if ! tc qdisc add dev "$dev" root netem delay "$delay" rate "$rate" 2>/tmp/netem.err; then
  echo "$0: the kernel refused netem ($(cat /tmp/netem.err)); load sch_netem or use a machine that has it" >&2
  exit 1
fi
echo "loopback: one-way delay $delay, rate $rate"
tc qdisc show dev "$dev"
