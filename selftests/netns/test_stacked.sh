#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# One count per packet on stacked devices: VXLAN over WireGuard (wireguard-go)
# between two namespaces, both devices watched (--interface auto).
#
#   netns wpt<pid>xa                            netns wpt<pid>xb
#  +---------------------------------+        +---------------------------------+
#  | warmpath run --interface auto   |        |                                 |
#  |   --peer b=10.204.0.2,10.205.0.0/24      |                                 |
#  | vxA (vxlan 42, remote 10.204.0.2)  vxlan | vxB  10.205.0.2/24              |
#  |   10.205.0.1/24 ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~>                          |
#  | wgA (wireguard-go) 10.204.0.1/24 <~~~~~~~~~~> wgB 10.204.0.2/24            |
#  | uA 192.168.204.1/24 ================ veth ====== uB 192.168.204.2/24       |
#  +---------------------------------+        +---------------------------------+
#
# Each ping to 10.205.0.2 is seen on vxA (inner packet, pod prefix of b) and on
# wgA (VXLAN packet, node address of b). Peer b counts it once; the status
# table's per-interface counters show it on both devices.

# shellcheck source=selftests/lib.sh
. "$(dirname "$0")/../lib.sh"
wp_require_root
wp_require_cmds wireguard-go wg

N=10
wg_ab_names 10.204.0 192.168.204
VX_A=${WP_TAG}va
VX_B=${WP_TAG}vb

setup()
{
	wg_go_ab || return 1
	ip -n "$NS_A" link add "$VX_A" type vxlan id 42 local $A_ADDR remote $B_ADDR dstport 4789 || return 1
	ip -n "$NS_B" link add "$VX_B" type vxlan id 42 local $B_ADDR remote $A_ADDR dstport 4789 || return 1
	iface_disable_ipv6 "$NS_A" "$VX_A"
	iface_disable_ipv6 "$NS_B" "$VX_B"
	ip -n "$NS_A" addr add 10.205.0.1/24 dev "$VX_A"
	ip -n "$NS_B" addr add 10.205.0.2/24 dev "$VX_B"
	ip -n "$NS_A" link set "$VX_A" up
	ip -n "$NS_B" link set "$VX_B" up
	wait_for 10 ping_n "$NS_A" $B_ADDR 1 && wait_for 10 ping_n "$NS_A" 10.205.0.2 1
}

if setup; then
	ok "setup: vxlan over wireguard-go up"
else
	fail "setup: vxlan over wireguard-go up"
	wp_finish
fi

_peer_ge()
{
	[ "$(peer_get "$1" "$2" "$3")" -ge "$4" ] 2>/dev/null
}

pin_new PIN 1 "$NS_A"
LOG=$WP_TMP/agent.log
if agent_start "$NS_A" "$PIN" "$LOG" --peer "b=$B_ADDR,10.205.0.0/24" --mode observe \
	--underlay-interface none; then
	ok "agent starts"
else
	fail "agent starts"
	wp_finish
fi
S=$(status_json "$PIN")
check_eq "$(jq -r '.interfaces | length' <<<"$S")" 2 "both devices watched"
check_match "$(cat "$LOG")" "$VX_A: stacked on a watched WireGuard device" "the vxlan device is flagged stacked"
# one status snapshot for every baseline
TX0=$(jq -r '.peers[] | select(.name == "b") | .tx_packets' <<<"$S")
RX0=$(jq -r '.peers[] | select(.name == "b") | .rx_packets' <<<"$S")
VX0=$(jq -r --arg n "$VX_A" '.interfaces[] | select(.name == $n) | .tx_packets' <<<"$S")
WG0=$(jq -r --arg n "$WG_A" '.interfaces[] | select(.name == $n) | .tx_packets' <<<"$S")

ping_n "$NS_A" 10.205.0.2 $N || info "pings over vxlan lost packets"
wait_for 3 _peer_ge "$PIN" b rx_packets $((RX0 + N))
sleep 0.5
S=$(status_json "$PIN")
VX1=$(jq -r --arg n "$VX_A" '.interfaces[] | select(.name == $n) | .tx_packets' <<<"$S")
WG1=$(jq -r --arg n "$WG_A" '.interfaces[] | select(.name == $n) | .tx_packets' <<<"$S")
TX1=$(jq -r '.peers[] | select(.name == "b") | .tx_packets' <<<"$S")
RX1=$(jq -r '.peers[] | select(.name == "b") | .rx_packets' <<<"$S")
info "deltas: peer tx $((TX1 - TX0)) rx $((RX1 - RX0)), $VX_A tx $((VX1 - VX0)), $WG_A tx $((WG1 - WG0))"
check_eq "$((VX1 - VX0))" $N "per-interface detail: $N pings on the vxlan device"
# the WireGuard device also carries what the vxlan device sends that is not IP
# (a neighbour probe): every packet it carried, once
check_eq "$((TX1 - TX0))" "$((WG1 - WG0))" "peer b tx: each packet once (= the WireGuard device's count)"
check_true "peer b tx: the $N pings, not twice ($((TX1 - TX0)))" \
	test $((TX1 - TX0)) -ge $N -a $((TX1 - TX0)) -lt $((2 * N))
check_true "peer b rx: the $N replies, not twice ($((RX1 - RX0)))" \
	test $((RX1 - RX0)) -ge $N -a $((RX1 - RX0)) -lt $((2 * N))
check_match "$("$WARMPATH" status --pin-path "$PIN")" "packets per interface:.* $VX_A tx [0-9]+ rx [0-9]+" "status table shows per-interface counts"

# more pings right before the agent stops (no tick folds them after): status
# sums the per-CPU counters itself, each packet once
ping_n "$NS_A" 10.205.0.2 $N || info "pings over vxlan lost packets"
stop_pid "$AGENT_PID" TERM
check_eq "$STOP_RC" 0 "agent exits 0"
TX2=$(peer_get "$PIN" b tx_packets)
check_true "status after exit: the last $N pings counted once ($((TX2 - TX1)))" \
	test $((TX2 - TX1)) -ge $N -a $((TX2 - TX1)) -lt $((2 * N))
wp_finish
