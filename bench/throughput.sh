#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# Throughput with and without warmpath on the path, side by side in one run:
#
#   netns wpt<pid>xa                         netns wpt<pid>xb
#   iperf3 -c, warmpath run --interface vA   iperf3 -s
#   vA 10.211.0.1/24 ========== veth ========== vB 10.211.0.2/24
#
# Per round, in alternating order: without the agent, then with it (started
# with --mode observe, its programs on vA's egress and ingress, stopped after
# the round): small-packet UDP (iperf3 -u -b 0 -l 64: packets per second
# received) and TCP (bits per second received). The figure is the median over
# the rounds of with/without. Over veth, not over wireguard-go, whose own cost
# would drown the difference. Goals: UDP >= 0.97, TCP >= 0.99. It prints; it
# does not assert. Exit status 0 when measured, 2 when it could not run.
#
# Usage: sudo bench/throughput.sh    Environment: BENCH_ROUNDS (5),
# BENCH_IPERF_TIME (3 s), WARMPATH.

set -uo pipefail

# shellcheck source=selftests/lib.sh
. "$(dirname "$0")/../selftests/lib.sh"
wp_require_root
command -v iperf3 >/dev/null || { echo "$(basename "$0"): 'iperf3' missing" >&2; exit 2; }

ROUNDS=${BENCH_ROUNDS:-5}
ITIME=${BENCH_IPERF_TIME:-3}
NS_A=${WP_TAG}a
NS_B=${WP_TAG}b
A_ADDR=10.211.0.1
B_ADDR=10.211.0.2
PORT=5299

die()
{
	echo "throughput: $*" >&2
	exit 2
}

ns_add "$NS_A" && ns_add "$NS_B" || die "creating namespaces failed"
veth_pair "$NS_A" vA $A_ADDR/24 "$NS_B" vB $B_ADDR/24 || die "veth failed"
ping_n "$NS_A" $B_ADDR 1 || die "veth not reachable"
bg SRV_PID ip netns exec "$NS_B" iperf3 -s -p $PORT >/dev/null 2>&1
wait_for 5 nsx "$NS_A" bash -c "exec 3<>/dev/tcp/$B_ADDR/$PORT" 2>/dev/null || die "iperf3 server did not start"
pin_new PIN 1 "$NS_A"

# udp_pps / tcp_bps: one run A -> B, the receiver's rate
udp_pps()
{
	ip netns exec "$NS_A" iperf3 -c $B_ADDR -p $PORT -u -b 0 -l 64 -t "$ITIME" -J 2>/dev/null |
		jq -r '.end.sum | if .seconds > 0 then ((.packets - .lost_packets) / .seconds) else empty end'
}

tcp_bps()
{
	ip netns exec "$NS_A" iperf3 -c $B_ADDR -p $PORT -t "$ITIME" -J 2>/dev/null |
		jq -r '.end.sum_received.bits_per_second // empty'
}

# measure STATE ROUND: both runs in STATE (with | without)
declare -A UDP TCP
measure()
{
	local u t

	if [ "$1" = with ]; then
		agent_start "$NS_A" "$PIN" "$WP_TMP/agent.log" --interface vA --peer "b=$B_ADDR" \
			--mode observe || die "agent did not start"
	fi
	u=$(udp_pps)
	t=$(tcp_bps)
	[ -n "$u" ] && [ -n "$t" ] || die "iperf3 failed ($1, round $2)"
	UDP[$1,$2]=$u
	TCP[$1,$2]=$t
	if [ "$1" = with ]; then
		stop_pid "$AGENT_PID"
		nsx "$NS_A" "$WARMPATH" cleanup --pin-path "$PIN" >/dev/null 2>&1
	fi
}

median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

echo "throughput over veth, iperf3 A -> B, ${ITIME}s runs, $ROUNDS rounds, with / without warmpath alternating"
for r in $(seq "$ROUNDS"); do
	if [ $((r % 2)) = 1 ]; then
		measure without "$r"
		measure with "$r"
	else
		measure with "$r"
		measure without "$r"
	fi
done

udp_ratios=() tcp_ratios=()
printf '\n%-6s %14s %14s %7s %14s %14s %7s\n' round "udp pps w/o" "udp pps with" ratio "tcp Mbit w/o" "tcp Mbit with" ratio
for r in $(seq "$ROUNDS"); do
	ur=$(awk -v a="${UDP[with,$r]}" -v b="${UDP[without,$r]}" 'BEGIN { printf "%.3f", a / b }')
	tr=$(awk -v a="${TCP[with,$r]}" -v b="${TCP[without,$r]}" 'BEGIN { printf "%.3f", a / b }')
	udp_ratios+=("$ur")
	tcp_ratios+=("$tr")
	awk -v r="$r" -v a="${UDP[without,$r]}" -v b="${UDP[with,$r]}" -v ur="$ur" \
		-v c="${TCP[without,$r]}" -v d="${TCP[with,$r]}" -v tr="$tr" \
		'BEGIN { printf "%-6s %14.0f %14.0f %7s %14.0f %14.0f %7s\n", r, a, b, ur, c / 1e6, d / 1e6, tr }'
done
echo
echo "64-byte UDP packets per second with warmpath: $(median "${udp_ratios[@]}")x of without (goal >= 0.97)"
echo "TCP throughput with warmpath: $(median "${tcp_ratios[@]}")x of without (goal >= 0.99)"
