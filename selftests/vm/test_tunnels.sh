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
# One count per packet and direction for peer b, whatever it crosses: through
# wg0 alone, or IPIP / VXLAN over wg0 (tunl0 and vx0 are flagged stacked on
# the watched WireGuard device: the encapsulated packet on wg0 counts for the
# peer, where encap_ipip / encap_vxlan count it too). The per-device detail
# stays: each device's own tx/rx counters (status --json .interfaces[], the
# status table's "packets per interface" line) show the packet on each.
#
# Then Calico's IPIP over WireGuard with no prefix given by hand: node b comes
# from a fake API server (selftests/vm/fake_nodes_api.sh) with its InternalIP
# 10.240.0.2 (the underlay) and projectcalico.org/IPv4Address 10.241.0.2/24
# (its wg0 address, as IP_AUTODETECTION_METHOD=interface=wg0 sets it: not the
# InternalIP); node c is given by its address only (--peer c=10.241.0.3).
# B's IPAM blocks 10.245.5.0/26 (and 10.245.5.64/26, routed while the agent
# runs) and c's 10.245.6.0/26, routed "via <node> dev tunl0 proto bird
# onlink", become the peers' prefixes from the routing table; pings to B's
# pods count once for b, nothing for c, nothing unmatched.

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

check_match "$(cat "$LOG")" "tunl0: stacked on a watched WireGuard device" \
	"tunl0 flagged stacked on wg0"
check_match "$(cat "$LOG")" "vx0: stacked on a watched WireGuard device" \
	"vx0 flagged stacked on wg0"

E_TX=0 E_RX=0 E_IPIP=0 E_VXLAN=0
declare -A E_IF=([wg0]="0 0" [tunl0]="0 0" [vx0]="0 0")
stat()
{
	status_json "$PIN" | jq -r ".datapath.$1"
}

# per_if: "wg0 TX/RX tunl0 TX/RX vx0 TX/RX" from the per-interface counters
per_if()
{
	status_json "$PIN" | jq -r '[.interfaces[] | select(.underlay | not)] | sort_by(.name) |
		map("\(.name) \(.tx_packets // "-")/\(.rx_packets // "-")") | join(" ")'
}

# if_add DEV DTX DRX: DEV's per-interface counters move by DTX / DRX too
if_add()
{
	local tx rx

	read -r tx rx <<<"${E_IF[$1]}"
	E_IF[$1]="$((tx + $2)) $((rx + $3))"
}

# phase NAME DTX DRX DIPIP DVXLAN DEV CMD...: run CMD; peer b's counters must
# move by exactly DTX / DRX (once per packet), wg0's and DEV's (the tunnel over
# it, - for none) per-interface counters by the same.
phase()
{
	local name=$1 want=

	E_TX=$((E_TX + $2)) E_RX=$((E_RX + $3)) E_IPIP=$((E_IPIP + $4)) E_VXLAN=$((E_VXLAN + $5))
	if_add wg0 "$2" "$3"
	[ "$6" = - ] || if_add "$6" "$2" "$3"
	shift 6
	"$@" || info "$name: traffic command failed"
	check_eq "$(wait_peer "$PIN" b tx_packets $E_TX 5)" $E_TX "$name: tx_packets (once per packet)"
	check_eq "$(wait_peer "$PIN" b rx_packets $E_RX 5)" $E_RX "$name: rx_packets (once per packet)"
	check_eq "$(stat encap_ipip)" $E_IPIP "$name: encap_ipip"
	check_eq "$(stat encap_vxlan)" $E_VXLAN "$name: encap_vxlan"
	for d in tunl0 vx0 wg0; do
		want+="${want:+ }$d ${E_IF[$d]/ //}"
	done
	check_eq "$(per_if)" "$want" "$name: per-interface detail"
}

phase "wg0 UDP a->b" $N 0 0 0 - send_udp "$NS_A" 10.241.0.2 $PORT $N
phase "wg0 UDP b->a" 0 $N 0 0 - send_udp "$NS_B" 10.241.0.1 $PORT $N
phase "wg0 ping" $N $N 0 0 - ping_n "$NS_A" 10.241.0.2 $N
phase "IPIP over wg UDP a->pod" $N 0 $N 0 tunl0 send_udp "$NS_A" 10.243.1.2 $PORT $N
phase "IPIP over wg ping a->pod" $N $N $((2 * N)) 0 tunl0 ping_n "$NS_A" 10.243.1.2 $N
phase "VXLAN over wg UDP a->b" $N 0 0 $N vx0 send_udp "$NS_A" 10.244.0.2 $PORT $N
phase "VXLAN over wg UDP b->a" 0 $N 0 $N vx0 send_udp "$NS_B" 10.244.0.1 $PORT $N
phase "VXLAN over wg ping" $N $N 0 $((2 * N)) vx0 ping_n "$NS_A" 10.244.0.2 $N
check_eq "$(stat unmatched)" 0 "no unmatched packet"
check_match "$("$WARMPATH" status --pin-path "$PIN")" \
	"packets per interface:.* tunl0 tx ${E_IF[tunl0]% *} rx ${E_IF[tunl0]#* }( |$)" \
	"status table: tunl0's own packets ($(per_if))"

stop_pid "$AGENT_PID" TERM
check_eq "$STOP_RC" 0 "SIGTERM: exits 0"
for d in tunl0 vx0 wg0; do
	check_eq "$(tc_ours "$NS_A" $d ingress) $(tc_ours "$NS_A" $d egress)" "0 0" \
		"SIGTERM: no filter of ours left on $d"
done

# --- Calico IPIP over WireGuard: no prefix by hand, blocks from BIRD's routes ----
# B's pods in the IPAM block 10.245.5.0/26, routed on A as BIRD does
# ("via <node> dev tunl0 proto bird onlink"); a block of a node c (no traffic)
# routed the same way. b comes from the API server (InternalIP + IPv4Address),
# c is given by its address: the blocks become prefixes from the routing
# table, a block added later too.
info "Calico IPIP over kernel WireGuard: b from the API (IPv4Address), c by address, blocks from proto bird routes"
ip -n "$NS_B" addr add 10.245.5.5/32 dev lo &&
	ip -n "$NS_B" addr add 10.245.5.69/32 dev lo &&
	ip -n "$NS_A" route add 10.245.5.0/26 via 10.241.0.2 dev tunl0 proto bird onlink &&
	ip -n "$NS_A" route add 10.245.6.0/26 via 10.241.0.3 dev tunl0 proto bird onlink
check_rc $? 0 "calico: /26 blocks routed via the nodes' addresses on tunl0, proto bird"
node_json()
{
	printf '{"metadata":{"name":"%s","resourceVersion":"100","annotations":{"projectcalico.org/IPv4Address":"%s"}},"status":{"addresses":[{"type":"InternalIP","address":"%s"}]}}' "$@"
}
printf '{"kind":"NodeList","apiVersion":"v1","metadata":{"resourceVersion":"100"},"items":[%s,%s]}' \
	"$(node_json a 10.241.0.1/24 10.240.0.1)" "$(node_json b 10.241.0.2/24 10.240.0.2)" \
	>"$WP_TMP/nodes.json"
bg API_PID ip netns exec "$NS_A" ncat -k -l 127.0.0.1 18080 \
	--sh-exec "bash $(dirname "$0")/fake_nodes_api.sh $WP_TMP/nodes.json"
pin_new PIN 2 "$NS_A"
if ! agent_start "$NS_A" "$PIN" "$WP_TMP/agent2.log" --interface auto --peer c=10.241.0.3 \
	--kubernetes --kube-api http://127.0.0.1:18080 --kube-token-file none \
	--kube-ca-file system --node-name a --mode observe; then
	fail "calico: agent starts (b from the API server, c by address)"
	wp_finish
fi
ok "calico: agent starts (b from the API server, c by address)"
wait_for 10 _peer_is "$PIN" b name b
check_rc $? 0 "calico: node b discovered through the fake API server"
check_match "$(head -1 "$WP_TMP/nodes.json.requests")" "^GET /api/v1/nodes\?.*resourceVersion=0" \
	"calico: the node list is served from the watch cache (resourceVersion=0)"

# prefix_src PEER PREFIX: where one prefix of one peer comes from (empty: absent)
prefix_src()
{
	status_json "$PIN" | jq -r --arg p "$1" --arg x "$2" \
		'.peers[] | select(.name == $p) | .prefixes[]? | select(.prefix == $x) | .source'
}
_prefix_src_is() { [ "$(prefix_src "$1" "$2")" == "$3" ]; }
# calico_snap: "b_tx b_rx c_tx c_rx tunl0 TX/RX wg0 TX/RX unmatched"
calico_snap()
{
	status_json "$PIN" | jq -r '
		def p($n; $f): ([.peers[] | select(.name == $n) | .[$f]] | first) // 0;
		def i($n): ([.interfaces[] | select(.name == $n) |
			"\(.tx_packets // 0)/\(.rx_packets // 0)"] | first) // "-";
		[p("b"; "tx_packets"), p("b"; "rx_packets"), p("c"; "tx_packets"),
		 p("c"; "rx_packets"), i("tunl0"), i("wg0"), .datapath.unmatched // 0] |
		map(tostring) | join(" ")'
}
# calico_ping POD: N pings to a pod of B; b counts each once, the inner packets
# on tunl0 and the encapsulated ones on wg0, c nothing, nothing unmatched
calico_ping()
{
	local b_tx b_rx c_tx c_rx t w u b_tx1 b_rx1 c_tx1 c_rx1 t1 w1 u1 tt tr wt wr

	read -r b_tx b_rx c_tx c_rx t w u <<<"$(calico_snap)"
	check_true "calico: $N pings to B's pod $1 answered" ping_n "$NS_A" "$1" $N
	wait_for 5 _peer_is "$PIN" b rx_packets $((b_rx + N))
	read -r b_tx1 b_rx1 c_tx1 c_rx1 t1 w1 u1 <<<"$(calico_snap)"
	check_eq "$((b_tx1 - b_tx)) $((b_rx1 - b_rx))" "$N $N" "calico $1: peer b, once per packet (tx rx)"
	check_eq "$((c_tx1 - c_tx)) $((c_rx1 - c_rx))" "0 0" "calico $1: nothing for peer c"
	IFS=/ read -r tt tr <<<"$t"
	t=$(( ${t1%/*} - tt ))/$(( ${t1#*/} - tr ))
	IFS=/ read -r wt wr <<<"$w"
	w=$(( ${w1%/*} - wt ))/$(( ${w1#*/} - wr ))
	check_eq "tunl0 $t wg0 $w" "tunl0 $N/$N wg0 $N/$N" "calico $1: per-interface detail"
	check_eq "$((u1 - u))" 0 "calico $1: nothing unmatched"
}

check_eq "$(prefix_src b 10.241.0.2/32)" projectcalico.org/IPv4Address \
	"calico: b's 10.241.0.2 from projectcalico.org/IPv4Address (InternalIP is 10.240.0.2)"
wait_for 3 _prefix_src_is b 10.245.5.0/26 route
check_eq "$(prefix_src b 10.245.5.0/26)" route "calico: b's block 10.245.5.0/26 from its route"
check_eq "$(prefix_src c 10.245.6.0/26)" route "calico: c's block 10.245.6.0/26 from its route"
check_eq "$(prefix_src b 10.245.6.0/26)" "" "calico: c's block is not b's"
calico_ping 10.245.5.5
ip -n "$NS_A" route add 10.245.5.64/26 via 10.241.0.2 dev tunl0 proto bird onlink
# within a second on a real CPU; status itself is slow under TCG
wait_for 3 _prefix_src_is b 10.245.5.64/26 route
check_rc $? 0 "calico: a block routed at run time (10.245.5.64/26) is b's"
calico_ping 10.245.5.69
check_eq "$(status_json "$PIN" | jq -r '.datapath.unmatched')" 0 "calico: 0 unmatched in all"
stop_pid "$AGENT_PID" TERM
check_eq "$STOP_RC" 0 "calico: SIGTERM: exits 0"
stop_pid "$API_PID" TERM

wp_finish
