#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# Kernel WireGuard with IPIP (Calico's tunl0 over wg) and VXLAN over it, found
# by --interface auto, on the tc path.
#
#   netns wpt<pid>xa                           netns wpt<pid>xb
#   warmpath run --interface auto
#     --peer b=10.241.0.2,10.243.1.0/24,10.244.0.2
#   tunl0 10.242.0.1/32                        tunl0 (pod 10.243.1.2 on lo)
#     10.243.1.0/24 via 10.241.0.2 onlink        10.242.0.0/24 via 10.241.0.1 onlink
#   vx0 10.244.0.1/24 (vni 42 over wg0)        vx0 10.244.0.2/24
#   wg0 10.241.0.1/24 (kernel wireguard) <~~~> wg0 10.241.0.2/24
#   uA 10.240.0.1/24 ============ veth ======= uB 10.240.0.2/24
#
# Auto-detection picks exactly tunl0, vx0 and wg0 (attach tc, no tcx on 6.1),
# and uA as the underlay (the route to wg0's endpoint) for handshakes only.
# Each packet is counted once on every watched device it crosses: through
# wg0 alone once, through tunl0 or vx0 twice (the inner packet on the tunnel,
# the encapsulated one on wg0, where encap_ipip / encap_vxlan count it).

. "$(dirname "$0")/vm_lib.sh"
wp_require_root

N=8
PORT=7000
NS_A=${WP_TAG}a
NS_B=${WP_TAG}b

setup()
{
	local ns self other i

	ns_add "$NS_A" && ns_add "$NS_B" || return 1
	ip -n "$NS_A" link add uA type veth peer name uB netns "$NS_B" || return 1
	ip -n "$NS_A" addr add 10.240.0.1/24 dev uA
	ip -n "$NS_B" addr add 10.240.0.2/24 dev uB
	ip -n "$NS_A" link set uA up
	ip -n "$NS_B" link set uB up
	(umask 077 && wg genkey >"$WP_TMP/a.key" && wg genkey >"$WP_TMP/b.key") || return 1
	wg pubkey <"$WP_TMP/a.key" >"$WP_TMP/a.pub"
	wg pubkey <"$WP_TMP/b.key" >"$WP_TMP/b.pub"
	for i in 1 2; do
		if [ $i = 1 ]; then ns=$NS_A self=a other=b; else ns=$NS_B self=b other=a; fi
		ip -n "$ns" link add wg0 type wireguard || return 1
		ip netns exec "$ns" wg set wg0 private-key "$WP_TMP/$self.key" listen-port 51820 \
			peer "$(cat "$WP_TMP/$other.pub")" allowed-ips "10.241.0.$((3 - i))/32" \
			endpoint "10.240.0.$((3 - i)):51820" || return 1
		ip -n "$ns" addr add "10.241.0.$i/24" dev wg0
		ip -n "$ns" link set wg0 up
		ip -n "$ns" link add vx0 type vxlan id 42 local "10.241.0.$i" \
			remote "10.241.0.$((3 - i))" dstport 4789 dev wg0 || return 1
		ip -n "$ns" addr add "10.244.0.$i/24" dev vx0
		ip -n "$ns" link set vx0 up
		ip -n "$ns" link set tunl0 up || return 1
		iface_disable_ipv6 "$ns" uA 2>/dev/null
		iface_disable_ipv6 "$ns" uB 2>/dev/null
	done
	# Calico's IPIP mode: a /32 on tunl0, pod CIDRs via the node, onlink
	ip -n "$NS_A" addr add 10.242.0.1/32 dev tunl0
	ip -n "$NS_A" route add 10.243.1.0/24 via 10.241.0.2 dev tunl0 onlink
	ip -n "$NS_B" addr add 10.243.1.2/32 dev lo
	ip -n "$NS_B" route add 10.242.0.0/24 via 10.241.0.1 dev tunl0 onlink
	# static neighbours on vx0: no ARP through the tunnel during the counts
	ip -n "$NS_A" neigh replace 10.244.0.2 dev vx0 nud permanent \
		lladdr "$(ip -n "$NS_B" -j link show vx0 | jq -r '.[0].address')"
	ip -n "$NS_B" neigh replace 10.244.0.1 dev vx0 nud permanent \
		lladdr "$(ip -n "$NS_A" -j link show vx0 | jq -r '.[0].address')"
	udp_sink "$NS_A" $PORT
	udp_sink "$NS_B" $PORT
	ping_n "$NS_A" 10.241.0.2 1 && ping_n "$NS_A" 10.243.1.2 1 && ping_n "$NS_A" 10.244.0.2 1
}

if ! setup; then
	fail "setup: wg0, tunl0 and vx0 between two namespaces"
	wp_finish
fi
ok "setup: kernel wireguard handshake, IPIP and VXLAN over it"
check_match "$(ip netns exec "$NS_A" wg show wg0 latest-handshakes)" $'\t[1-9]' \
	"kernel wireguard: a handshake happened"

pin_new PIN 1 "$NS_A"
LOG=$WP_TMP/agent.log
if ! agent_start "$NS_A" "$PIN" "$LOG" --interface auto \
	--peer "b=10.241.0.2,10.243.1.0/24,10.244.0.2" --mode observe; then
	fail "auto: agent starts"
	wp_finish
fi
ok "auto: agent starts"
S=$(status_json "$PIN")
check_eq "$(jq -r '[.interfaces[] | select(.underlay | not) | .name] | sort | join(" ")' <<<"$S")" \
	"tunl0 vx0 wg0" "auto: detects tunl0 (ipip), vx0 (vxlan), wg0 (wireguard), not the veth"
check_eq "$(jq -r '[.interfaces[] | select(.underlay) | .name] | join(" ")' <<<"$S")" uA \
	"auto: the underlay from the route to wg0's endpoint: uA"
check_eq "$(jq -r '[.interfaces[].attach] | unique | join(" ")' <<<"$S")" tc "auto: all on tc"
check_eq "$(jq -r '.interfaces[] | select(.name == "vx0") | .layout' <<<"$S")" l2 "vx0: layout l2"
check_eq "$(jq -r '.interfaces[] | select(.name == "wg0") | .layout' <<<"$S")" l3 "wg0: layout l3"
check_eq "$(jq -r '.interfaces[] | select(.name == "tunl0") | .layout' <<<"$S")" l3 "tunl0: layout l3"

E_TX=0 E_RX=0 E_IPIP=0 E_VXLAN=0
stat()
{
	status_json "$PIN" | jq -r ".datapath.$1"
}

# phase NAME DTX DRX DIPIP DVXLAN CMD...: run CMD, the counters must move exactly
phase()
{
	local name=$1

	E_TX=$((E_TX + $2)) E_RX=$((E_RX + $3)) E_IPIP=$((E_IPIP + $4)) E_VXLAN=$((E_VXLAN + $5))
	shift 5
	"$@" || info "$name: traffic command failed"
	check_eq "$(wait_peer "$PIN" b tx_packets $E_TX 5)" $E_TX "$name: tx_packets"
	check_eq "$(wait_peer "$PIN" b rx_packets $E_RX 5)" $E_RX "$name: rx_packets"
	check_eq "$(stat encap_ipip)" $E_IPIP "$name: encap_ipip"
	check_eq "$(stat encap_vxlan)" $E_VXLAN "$name: encap_vxlan"
}

phase "wg0 UDP a->b" $N 0 0 0 send_udp "$NS_A" 10.241.0.2 $PORT $N
phase "wg0 UDP b->a" 0 $N 0 0 send_udp "$NS_B" 10.241.0.1 $PORT $N
phase "wg0 ping" $N $N 0 0 ping_n "$NS_A" 10.241.0.2 $N
phase "IPIP over wg UDP a->pod" $((2 * N)) 0 $N 0 send_udp "$NS_A" 10.243.1.2 $PORT $N
phase "IPIP over wg ping a->pod" $((2 * N)) $((2 * N)) $((2 * N)) 0 ping_n "$NS_A" 10.243.1.2 $N
phase "VXLAN over wg UDP a->b" $((2 * N)) 0 0 $N send_udp "$NS_A" 10.244.0.2 $PORT $N
phase "VXLAN over wg UDP b->a" 0 $((2 * N)) 0 $N send_udp "$NS_B" 10.244.0.1 $PORT $N
phase "VXLAN over wg ping" $((2 * N)) $((2 * N)) 0 $((2 * N)) ping_n "$NS_A" 10.244.0.2 $N
check_eq "$(stat unmatched)" 0 "no unmatched packet"

stop_pid "$AGENT_PID" TERM
check_eq "$STOP_RC" 0 "SIGTERM: exits 0"
for d in tunl0 vx0 wg0; do
	check_eq "$(tc_ours "$NS_A" $d ingress) $(tc_ours "$NS_A" $d egress)" "0 0" \
		"SIGTERM: no filter of ours left on $d"
done

wp_finish
