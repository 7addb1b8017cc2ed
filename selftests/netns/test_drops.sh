#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# Kernel drops on a watched interface, by the kernel's own drop reason: the
# kfree_skb tracer (bpf/drops.bpf.c) seen through the agent's /metrics.
#
#   netns wpt<pid>xa                              netns wpt<pid>xb
#  +--------------------------------------+      +-----------------------------+
#  | warmpath run --interface vA          |      |                             |
#  |   --peer b=10.203.0.2 --mode observe |      |                             |
#  |   /metrics on 127.0.0.1:9051         | veth |                             |
#  |   vA 10.203.0.1/24  ============================ vB 10.203.0.2/24        |
#  |   UDP 7000: no socket, so the kernel |      |  N datagrams to             |
#  |   drops each datagram (no_socket)    |      |  10.203.0.1:7000            |
#  |   lo: not watched, drops not counted |      |                             |
#  +--------------------------------------+      +-----------------------------+
#
# Exactly N drops under {interface="vA",reason="no_socket"}, attributed to
# peer b; none for lo; the interfaces' own counters exported; the pinned drops
# map readable with bpftool, kept across a restart, removed by cleanup; a
# tracer that cannot load leaves the agent running with tracer_up 0.

# shellcheck source=selftests/lib.sh
. "$(dirname "$0")/../lib.sh"
wp_require_root

N=5 # datagrams to the closed port
PORT=7000 # nothing listens there in a
MPORT=9051 # metrics, inside a's namespace

SERIES="warmpath_kernel_drops_total{interface=\"vA\",reason=\"no_socket\"}"

if ! veth_ab 10.203.0 || ! ping_n "$NS_B" $A_ADDR 1; then
	fail "setup: veth reachable"
	wp_finish
fi
IFINDEX=$(ifindex "$NS_A" vA)

pin_new PIN 1 "$NS_A"
LOG=$WP_TMP/agent.log
AGENT=(--interface vA --peer "b=$B_ADDR" --mode observe --metrics-listen "127.0.0.1:$MPORT")

# metrics: the exposition of the agent in a
metrics()
{
	wp_metrics "$NS_A" "127.0.0.1:$MPORT"
}

# metric_value SERIES: the value of one exact series (empty if absent)
metric_value()
{
	wp_metric "$(metrics)" "$1"
}

metrics_up()
{
	[ -n "$(metrics)" ]
}

_metric_is()
{
	[ "$(metric_value "$1")" == "$2" ]
}

# wait_metric SERIES WANT: until the series has the value (3 s), then print it
wait_metric()
{
	wait_for 3 _metric_is "$1" "$2"
	# a late surplus drop would show now
	sleep 0.2
	metric_value "$1"
}

# drops_dump_count IFINDEX: the sum of the pinned drops map's counts for an ifindex
drops_dump_count()
{
	bpftool map dump pinned "$PIN/drops" -j 2>/dev/null |
		jq --argjson i "$1" '[.[] | (.formatted // .) | select(.key.ifindex == $i) | .value] | add // 0' 2>/dev/null
}

# --- 1. the agent loads the tracer -----------------------------------------------
info "agent on vA with /metrics on 127.0.0.1:$MPORT in $NS_A"
if ! agent_start "$NS_A" "$PIN" "$LOG" "${AGENT[@]}"; then
	fail "agent starts"
	wp_finish
fi
ok "agent starts"
wait_for 3 metrics_up
M=$(metrics)
check_match "$M" "^warmpath_kernel_drop_tracer_up 1$" "tracer up"
check_nomatch "$(cat "$LOG")" "drop tracer.*not loaded" "no tracer warning in the log"
check_eq "$(metric_value "$SERIES")" "" "no drop counted before the datagrams"
check_true "drops map pinned" test -e "$PIN/drops"

# --- 2. N datagrams to a closed port across vA -----------------------------------
send_udp "$NS_B" $A_ADDR $PORT $N
V=$(wait_metric "$SERIES" $N)
check_eq "$V" $N "$N datagrams to a closed port: $SERIES"
M=$(metrics)
check_nomatch "$M" '^warmpath_kernel_drops_total\{interface="lo"' "lo is not watched"
check_match "$M" "^warmpath_kernel_drop_attribution_total\{result=\"peer\"\} $N$" \
	"every drop attributed to a peer"
check_match "$M" "^warmpath_peer_kernel_drops_total\{peer=\"b\"\} $N$" "peer b: $N kernel drops"
check_match "$M" '^warmpath_interface_rx_dropped_total\{interface="vA"\} [0-9]+$' \
	"vA's own rx_dropped exported"
check_match "$M" '^warmpath_interface_tx_dropped_total\{interface="vA"\} [0-9]+$' \
	"vA's own tx_dropped exported"
check_match "$M" '^warmpath_interface_tx_errors_total\{interface="vA"\} [0-9]+$' \
	"vA's own tx_errors exported"
if command -v promtool >/dev/null; then
	if P=$(promtool check metrics <<<"$M" 2>&1); then
		ok "promtool check metrics"
	else
		fail "promtool check metrics" "$(head -c 400 <<<"$P" | tr '\n' ' ')"
	fi
fi

# drops inside a on lo (not watched) change nothing
send_udp "$NS_A" 127.0.0.1 $PORT $N
sleep 0.2
M=$(metrics)
check_nomatch "$M" '^warmpath_kernel_drops_total\{interface="lo"' "lo drops not counted"
check_eq "$(metric_value "$SERIES")" $N "lo drops do not count for vA"

D=$(bpftool map dump pinned "$PIN/drops" 2>&1)
check_match "$D" "\"ifindex\": $IFINDEX\b" "bpftool map dump drops: ifindex field"
check_match "$D" '"reason": [0-9]+' "bpftool map dump drops: reason field"
check_eq "$(drops_dump_count "$IFINDEX")" $N "bpftool map dump drops: the count"

# --- 3. restart: the pinned drops map keeps counting where it was ------------------
stop_pid "$AGENT_PID" TERM
check_eq "$STOP_RC" 0 "SIGTERM: agent exits 0"
check_true "SIGTERM: drops map stays pinned" test -e "$PIN/drops"
check_agent_start "restart: agent starts" "$NS_A" "$PIN" "$LOG" "${AGENT[@]}"
wait_for 3 metrics_up
check_eq "$(metric_value "$SERIES")" $N "restart: the count survives"
send_udp "$NS_B" $A_ADDR $PORT $N
check_eq "$(wait_metric "$SERIES" $((2 * N)))" $((2 * N)) "restart: +$N datagrams count $N"

# --- 4. cleanup removes the drops pin ------------------------------------------------
stop_pid "$AGENT_PID" KILL
nsx "$NS_A" "$WARMPATH" cleanup --pin-path "$PIN" >/dev/null 2>&1
check_eq "$?" 0 "cleanup: exits 0"
check_true "cleanup: drops pin removed" test ! -e "$PIN/drops"
check_true "cleanup: pin dir removed" test ! -e "$PIN"

# --- 5. a tracer that cannot load is a warning, not fatal ---------------------------
# a `drops` pin of another layout: the tracer cannot reuse it, the agent runs on
pin_new PIN 2 "$NS_A"
mkdir -p "$PIN"
bpftool map create "$PIN/drops" type hash key 4 value 4 entries 16 name drops
check_agent_start "tracer down: agent starts" "$NS_A" "$PIN" "$LOG" "${AGENT[@]}"
check_match "$(cat "$LOG")" "drop tracer.*not loaded" "tracer down: a warning in the log"
wait_for 3 metrics_up
M=$(metrics)
check_match "$M" "^warmpath_kernel_drop_tracer_up 0$" "tracer down: tracer_up 0"
check_match "$M" '^warmpath_interface_rx_dropped_total\{interface="vA"\} [0-9]+$' \
	"tracer down: interface counters still exported"
check_match "$M" '^warmpath_ready 1$' "tracer down: agent ready"
stop_pid "$AGENT_PID" TERM
check_eq "$STOP_RC" 0 "tracer down: SIGTERM exits 0"

wp_finish
