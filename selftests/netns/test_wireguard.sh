#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# warmpath on a real L3 device: WireGuard (wireguard-go, a tun device) between
# two namespaces over a veth underlay.
#
#   netns wpt<pid>xa                            netns wpt<pid>xb
#  +---------------------------------+        +---------------------------------+
#  | warmpath run (--interface auto  |        |                                 |
#  |   then --interface wgA)         |        |                                 |
#  |   --peer b=10.202.0.2           |        |                                 |
#  |                                 |        |                                 |
#  | wpt<pid>xwa (wireguard-go, tun) |  wg    | wpt<pid>xwb (wireguard-go, tun) |
#  |   10.202.0.1/24  <~~~~~~~~~~~~~~~~~~~~~~~~~~> 10.202.0.2/24                |
#  |        udp 51820                |        |        udp 51820                |
#  | uA 192.168.202.1/24 ================ veth ====== uB 192.168.202.2/24       |
#  | nft: drop udp dport 7000        |        | nft: drop udp dport 7000, 9050  |
#  +---------------------------------+        +---------------------------------+
#
# --interface auto must choose the wireguard-go device (by its UAPI socket) and
# not the veth; the layout is l3. Exactly N UDP datagrams and N pings each way
# through the tunnel, M probe datagrams (to 9050 from A, from 9050 out of B):
# the counters of peer b are exact, in tcx and in tc mode.

# shellcheck source=selftests/lib.sh
. "$(dirname "$0")/../lib.sh"
wp_require_root
wp_require_cmds wireguard-go wg

N=10
M=3
PORT=7000
PROBE=9050
# packets at tc on an L3 (tun) device: no Ethernet header
UDP_LEN=30 # 20 ip + 8 udp + 2 "x\n"
ICMP_LEN=84 # 20 ip + 8 icmp + 56

wg_ab_names 10.202.0 192.168.202

# --- setup ---------------------------------------------------------------------
setup()
{
	wg_go_ab || return 1
	udp_sink "$NS_A" $PORT
	udp_sink "$NS_B" $PORT $PROBE
	# handshake now, so no packet of the measured traffic waits for one
	wait_for 10 ping_n "$NS_A" $B_ADDR 1
}

if setup; then
	ok "setup: wireguard-go tunnel up"
else
	fail "setup: wireguard-go tunnel up"
	wp_finish
fi
check_match "$(in_ns "$NS_A" wg show "$WG_A" latest-handshakes)" $'\t[1-9]' "setup: handshake done"
WG_IFINDEX=$(ip -n "$NS_A" -j link show "$WG_A" | jq '.[0].ifindex')

E_TX=0 E_RX=0 E_TXP=0 E_RXP=0 E_TXB=0 E_RXB=0

traffic_mix()
{
	send_udp "$NS_A" $B_ADDR $PORT $N
	send_udp "$NS_B" $A_ADDR $PORT $N
	ping_n "$NS_A" $B_ADDR $N || info "ping A->B lost packets"
	ping_n "$NS_B" $A_ADDR $N || info "ping B->A lost packets"
	send_udp "$NS_A" $B_ADDR $PROBE $M
	send_udp_from "$NS_B" $PROBE $A_ADDR $PORT $M
	E_TX=$((E_TX + 3 * N + M))
	E_RX=$((E_RX + 3 * N + M))
	E_TXP=$((E_TXP + M))
	E_RXP=$((E_RXP + M))
	E_TXB=$((E_TXB + N * UDP_LEN + 2 * N * ICMP_LEN + M * UDP_LEN))
	E_RXB=$((E_RXB + N * UDP_LEN + 2 * N * ICMP_LEN + M * UDP_LEN))
}

check_counts()
{
	check_peer_counts "$PIN" b "$1" tx_packets=$E_TX rx_packets=$E_RX tx_probe_packets=$E_TXP \
		rx_probe_packets=$E_RXP tx_bytes=$E_TXB rx_bytes=$E_RXB \
		tx_probe_bytes=$((E_TXP * UDP_LEN)) rx_probe_bytes=$((E_RXP * UDP_LEN))
}

# --- 1. --interface auto --------------------------------------------------------
pin_new PIN 1 "$NS_A"
LOG=$WP_TMP/agent-auto.log
info "auto: agent with the default --interface auto, peer b=$B_ADDR"
# --underlay-interface none: the tunnel alone (the underlay found from the
# route to the endpoints is test_wireguard_nat.sh's)
if agent_start "$NS_A" "$PIN" "$LOG" --peer b=$B_ADDR --mode observe --underlay-interface none; then
	ok "auto: agent starts"
else
	fail "auto: agent starts"
	wp_finish
fi
L=$(cat "$LOG")
check_match "$L" "interface auto: chose .*$WG_A\(wireguard-go" "auto: log says it chose the wireguard-go device"
check_nomatch "$L" "chose .*uA\(" "auto: the veth underlay is not chosen"
S=$(status_json "$PIN")
check_eq "$(jq -r '.interfaces | length' <<<"$S")" 1 "auto: one interface"
check_eq "$(jq -r '.interfaces[0].name' <<<"$S")" "$WG_A" "auto: the wireguard-go interface"
check_eq "$(jq -r '.interfaces[0].ifindex' <<<"$S")" "$WG_IFINDEX" "auto: its ifindex"
check_eq "$(jq -r '.interfaces[0].layout' <<<"$S")" l3 "auto: layout l3"
check_eq "$(jq -r '.interfaces[0].attach' <<<"$S")" tcx "auto: attach tcx"
check_eq "$(peer_get "$PIN" b tx_packets)" 0 "auto: counters start at 0"

traffic_mix
check_counts "auto"
S=$(status_json "$PIN")
check_eq "$(jq -r '.datapath.matched' <<<"$S")" $((E_TX + E_RX)) "auto: datapath matched"
check_eq "$(jq -r '.datapath.non_ip' <<<"$S")" 0 "auto: datapath non_ip (no ARP on L3)"
check_eq "$(jq -r '.datapath.malformed' <<<"$S")" 0 "auto: datapath malformed"
check_eq "$(jq -r '.datapath.unmatched' <<<"$S")" 0 "auto: datapath unmatched"

# the underlay carries the same traffic encrypted: nothing of it is counted
check_eq "$(jq -r '.datapath.packets' <<<"$S")" $((E_TX + E_RX)) "auto: only tunnel packets seen"

stop_pid "$AGENT_PID" TERM
check_eq "$STOP_RC" 0 "auto: agent exits 0 on SIGTERM"
check_eq "$(peer_get "$PIN" b tx_packets)" $E_TX "auto: status after exit"

# --- 2. explicit --interface, tc mode -------------------------------------------
pin_new PIN 2 "$NS_A"
LOG=$WP_TMP/agent-explicit.log
E_TX=0 E_RX=0 E_TXP=0 E_RXP=0 E_TXB=0 E_RXB=0
info "explicit: agent with --interface $WG_A --attach-mode tc"
if agent_start "$NS_A" "$PIN" "$LOG" --interface "$WG_A" --peer b=$B_ADDR --mode observe \
	--attach-mode tc --underlay-interface none; then
	ok "explicit: agent starts"
else
	fail "explicit: agent starts"
fi
S=$(status_json "$PIN")
check_eq "$(jq -r '[.interfaces[].name] | join(",")' <<<"$S")" "$WG_A" "explicit: only $WG_A"
check_eq "$(jq -r '.interfaces[0].layout' <<<"$S")" l3 "explicit: layout l3"
check_eq "$(jq -r '.interfaces[0].attach' <<<"$S")" tc "explicit: attach tc"
check_eq "$(in_ns "$NS_A" tc filter show dev "$WG_A" ingress | grep -c 'handle 0x5750')" 1 \
	"explicit: one tc filter of ours on ingress"
check_eq "$(in_ns "$NS_A" tc filter show dev "$WG_A" egress | grep -c 'handle 0x5750')" 1 \
	"explicit: one tc filter of ours on egress"
traffic_mix
check_counts "explicit tc"

stop_pid "$AGENT_PID" KILL
send_udp "$NS_A" $B_ADDR $PORT $N
E_TX=$((E_TX + N))
E_TXB=$((E_TXB + N * UDP_LEN))
if agent_start "$NS_A" "$PIN" "$LOG" --interface "$WG_A" --peer b=$B_ADDR --mode observe \
	--attach-mode tc --underlay-interface none; then
	ok "explicit restart: agent starts"
else
	fail "explicit restart: agent starts"
fi
check_eq "$(in_ns "$NS_A" tc filter show dev "$WG_A" ingress | grep -c 'handle 0x5750')" 1 \
	"explicit restart: one tc filter of ours on ingress"
ping_n "$NS_A" $B_ADDR $N
E_TX=$((E_TX + N)) E_RX=$((E_RX + N))
E_TXB=$((E_TXB + N * ICMP_LEN)) E_RXB=$((E_RXB + N * ICMP_LEN))
check_counts "explicit restart: counters survive, +$N pings count $N"

stop_pid "$AGENT_PID" TERM
check_eq "$STOP_RC" 0 "explicit: agent exits 0 on SIGTERM"
check_eq "$(in_ns "$NS_A" tc filter show dev "$WG_A" ingress | grep -c 'handle 0x5750')" 0 \
	"explicit: SIGTERM removes our filter"

# wireguard-go goes away cleanly with its UAPI socket
stop_pid "$WGPID_A" TERM
stop_pid "$WGPID_B" TERM
check_true "wireguard-go: UAPI sockets removed" \
	test ! -e "/var/run/wireguard/$WG_A.sock" -a ! -e "/var/run/wireguard/$WG_B.sock"

wp_finish
