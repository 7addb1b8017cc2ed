#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# Peer prefixes from the routing table, no prefix given by hand: pod traffic
# through a flannel-VXLAN-like and a Calico-VXLAN-like overlay is attributed
# to the right peer, nothing is unmatched, and a route added at run time (a
# new IPAM block) is picked up within a second.
#
#   netns a (agent)           netns b                    netns c
#   ua 192.168.211.1/24       ub 192.168.211.2/24        uc 192.168.211.3/24
#     \________________ bridge br0 in netns s _______________/
#
#   flannel-like: device fl (vxlan id 1, port 8472), address 10.244.N.0/32
#     (the VTEP address), pods 10.244.N.5/32 (on lo); on every node, for each
#     other node M: 10.244.M.0/24 via 10.244.M.0 dev fl onlink, a permanent
#     neighbour 10.244.M.0 -> M's VTEP MAC, an FDB entry MAC -> 192.168.211.M.
#     Agent peers: --peer b=192.168.211.2 (the node address only): the route's
#     gateway is resolved through the neighbour and FDB entries.
#   Calico-like: device vc (vxlan id 4096, port 4789, like vxlan.calico),
#     tunnel address 10.245.N.192/32, IPAM block 10.245.N.0/26 (pod .5): for
#     each other node M: 10.245.M.0/26 via 10.245.M.192 dev vc onlink, neighbour
#     and FDB as Calico writes them. Agent peers: --peer b=10.245.2.192 (the
#     IPv4VXLANTunnelAddr): the gateway is the peer's own address.

# shellcheck source=selftests/lib.sh
. "$(dirname "$0")/../lib.sh"
wp_require_root
wp_require_cmds jq

N=10
NS_S=${WP_TAG}s
declare -A NS IDX
IDX[a]=1 IDX[b]=2 IDX[c]=3
for n in a b c; do NS[$n]=${WP_TAG}$n; done
UNDER=192.168.211

mac_of() { ip -n "$1" -j link show "$2" | jq -r '.[0].address'; }

setup()
{
	local n m i j

	ns_add "$NS_S" || return 1
	ip -n "$NS_S" link add br0 type bridge || return 1
	ip -n "$NS_S" link set br0 up
	for n in a b c; do
		i=${IDX[$n]}
		ns_add "${NS[$n]}" || return 1
		ip -n "${NS[$n]}" link add u$n type veth peer name s$n netns "$NS_S" || return 1
		iface_disable_ipv6 "$NS_S" s$n
		ip -n "$NS_S" link set s$n master br0 up
		ip -n "${NS[$n]}" addr add "$UNDER.$i/24" dev u$n
		ip -n "${NS[$n]}" link set u$n up
		in_ns "${NS[$n]}" sysctl -qw net.ipv4.conf.all.rp_filter=0 \
			net.ipv4.conf.default.rp_filter=0 >/dev/null
		ip -n "${NS[$n]}" link add fl type vxlan id 1 local "$UNDER.$i" dev u$n \
			dstport 8472 nolearning || return 1
		ip -n "${NS[$n]}" link add vc type vxlan id 4096 local "$UNDER.$i" dev u$n \
			dstport 4789 nolearning || return 1
		for d in fl vc; do
			iface_disable_ipv6 "${NS[$n]}" $d
			ip -n "${NS[$n]}" link set $d up
		done
		ip -n "${NS[$n]}" addr add "10.244.$i.0/32" dev fl
		ip -n "${NS[$n]}" addr add "10.245.$i.192/32" dev vc
		ip -n "${NS[$n]}" addr add "10.244.$i.5/32" dev lo
		ip -n "${NS[$n]}" addr add "10.245.$i.5/32" dev lo
	done
	for n in a b c; do
		for m in a b c; do
			[ $n = $m ] && continue
			j=${IDX[$m]}
			# flannel: route via the VTEP address, neighbour, FDB
			ip -n "${NS[$n]}" route add "10.244.$j.0/24" via "10.244.$j.0" dev fl onlink ||
				return 1
			ip -n "${NS[$n]}" neigh add "10.244.$j.0" lladdr "$(mac_of "${NS[$m]}" fl)" \
				dev fl nud permanent || return 1
			bridge -n "${NS[$n]}" fdb append "$(mac_of "${NS[$m]}" fl)" dev fl \
				dst "$UNDER.$j" self permanent || return 1
			# Calico VXLAN: the /26 block via the tunnel address
			ip -n "${NS[$n]}" route add "10.245.$j.0/26" via "10.245.$j.192" dev vc \
				onlink || return 1
			ip -n "${NS[$n]}" neigh add "10.245.$j.192" \
				lladdr "$(mac_of "${NS[$m]}" vc)" dev vc nud permanent || return 1
			bridge -n "${NS[$n]}" fdb append "$(mac_of "${NS[$m]}" vc)" dev vc \
				dst "$UNDER.$j" self permanent || return 1
		done
	done
}

# prefix_src PIN PEER PREFIX: the source of one prefix of one peer (empty: absent)
prefix_src()
{
	status_json "$1" | jq -r --arg p "$2" --arg x "$3" \
		'.peers[] | select(.name == $p) | .prefixes[]? | select(.prefix == $x) | .source'
}
_prefix_src_is() { [ "$(prefix_src "$1" "$2" "$3")" == "$4" ]; }
unmatched() { status_json "$1" | jq -r '.datapath.unmatched // 0'; }
# pod_ping SRC DST: N pings from a's pod address, all answered
pod_ping() { in_ns "${NS[a]}" ping -q -n -c $N -i 0.02 -W 2 -I "$1" "$2" >/dev/null; }

# traffic_check LABEL PIN SRC_A DST_B DST_C: N pings a -> b and a -> c pods, exact counts
traffic_check()
{
	local label=$1 pin=$2 src=$3 tb0 tc0 u0

	tb0=$(peer_get "$pin" b tx_packets)
	tc0=$(peer_get "$pin" c tx_packets)
	u0=$(unmatched "$pin")
	check_true "$label: pod a -> pod b answered" \
		pod_ping "$src" "$4"
	check_true "$label: pod a -> pod c answered" \
		pod_ping "$src" "$5"
	sleep 0.3
	check_eq "$(($(peer_get "$pin" b tx_packets) - tb0))" $N "$label: b counts the $N pings"
	check_eq "$(($(peer_get "$pin" c tx_packets) - tc0))" $N "$label: c counts the $N pings"
	check_eq "$(($(peer_get "$pin" b rx_packets) >= N))" 1 "$label: b counts the replies"
	check_eq "$(($(unmatched "$pin") - u0))" 0 "$label: nothing unmatched"
}

# new_block LABEL PIN PEER WHAT SRC ADDR BLOCK VIA DEV: WHAT, a block of PEER
# routed at run time (ADDR/32 on PEER's lo; in a, BLOCK via VIA dev DEV), is
# PEER's within 1 s; N pings from SRC in a to ADDR are counted for PEER.
new_block()
{
	local label=$1 pin=$2 peer=$3 what=$4 src=$5 addr=$6 block=$7 t0 u0

	ip -n "${NS[$peer]}" addr add "$addr/32" dev lo
	ip -n "${NS[a]}" route add "$block" via "$8" dev "$9" onlink
	check_true "$label: $what is $peer's within 1 s" \
		wait_for 1 _prefix_src_is "$pin" "$peer" "$block" route
	t0=$(peer_get "$pin" "$peer" tx_packets)
	u0=$(unmatched "$pin")
	check_true "$label: pod in the new block answers" pod_ping "$src" "$addr"
	sleep 0.3
	check_eq "$(($(peer_get "$pin" "$peer" tx_packets) - t0))" $N \
		"$label: new block counted for $peer"
	check_eq "$(($(unmatched "$pin") - u0))" 0 "$label: new block: nothing unmatched"
}

# agent_in_a LABEL PINVAR N NAME ARGS...: the agent in a with ARGS on a new pin
# (PINVAR, number N) logging to agent_NAME.log; "LABEL: agent started" fails,
# with the log, when it does not start.
agent_in_a()
{
	local label=$1 pinvar=$2

	pin_new "$pinvar" "$3" "${NS[a]}"
	LOG=$WP_TMP/agent_$4.log
	shift 4
	agent_start "${NS[a]}" "${!pinvar}" "$LOG" "$@" && return 0
	fail "$label: agent started"
	dump_log "$LOG"
	return 1
}

if ! setup; then
	fail "setup"
	wp_finish
fi

# --- flannel-like: peers by node address, gateway through neighbour + FDB --------
# a route through the underlay via b's address: not a tunnel, not b's
ip -n "${NS[a]}" route add 10.250.0.0/24 via $UNDER.2 dev ua
if agent_in_a flannel PIN 1 fl --interface fl --underlay-interface ua --mode observe \
	--peer b=$UNDER.2 --peer c=$UNDER.3; then
	ok "flannel: agent started"
	check_eq "$(prefix_src "$PIN" b 10.250.0.0/24)" "" "flannel: a route via the underlay is no one's"
	check_eq "$(prefix_src "$PIN" b 10.244.2.0/24)" route "flannel: b has its /24 from a route"
	check_eq "$(prefix_src "$PIN" c 10.244.3.0/24)" route "flannel: c has its /24 from a route"
	check_eq "$(prefix_src "$PIN" b $UNDER.2/32)" static "flannel: b's address is static"
	check_eq "$(prefix_src "$PIN" b 10.244.3.0/24)" "" "flannel: c's /24 is not b's"
	traffic_check flannel "$PIN" 10.244.1.5 10.244.2.5 10.244.3.5
	new_block flannel "$PIN" b "a route added at run time" 10.244.1.5 10.244.12.5 \
		10.244.12.0/24 10.244.2.0 fl
	# and removed
	ip -n "${NS[a]}" route del 10.244.12.0/24
	if wait_for 1 _prefix_src_is "$PIN" b 10.244.12.0/24 ""; then
		ok "flannel: a route removed at run time is gone within 1 s"
	else
		fail "flannel: a route removed at run time is gone within 1 s"
	fi
	stop_pid "$AGENT_PID"
fi

# --- --no-route-prefixes: the same traffic is unmatched ----------------------------
if agent_in_a --no-route-prefixes PIN2 2 off --interface fl --mode observe \
	--peer b=$UNDER.2 --no-route-prefixes --metrics-listen 127.0.0.1:9051; then
	check_eq "$(prefix_src "$PIN2" b 10.244.2.0/24)" "" "--no-route-prefixes: no route prefix"
	pod_ping 10.244.1.5 10.244.2.5
	sleep 2.5 # two samples of the coverage window, a second apart
	check_cmp "$(unmatched "$PIN2")" ">=" $N "--no-route-prefixes: the pings are unmatched"
	M=$(wp_metrics "${NS[a]}" 127.0.0.1:9051)
	check_cmp "$(wp_metric "$M" warmpath_unmatched_packets_ratio)" ">" 0.5 \
		"--no-route-prefixes: warmpath_unmatched_packets_ratio says so"
	check_eq "$(wp_metric "$M" warmpath_prefix_coverage_degraded)" 0 \
		"--no-route-prefixes: not degraded before a minute"
	check_eq "$(wp_metrics "${NS[a]}" 127.0.0.1:9051 /readyz)" ready \
		"--no-route-prefixes: /readyz still ready"
	check_eq "$(wp_metrics "${NS[a]}" 127.0.0.1:9051 /peers | jq -r '.peers[] |
		select(.name == "b") | .prefixes[] | "\(.prefix) \(.source)"')" \
		"$UNDER.2/32 static" "/peers: b's prefixes with their source"
	stop_pid "$AGENT_PID"
fi

# --- Calico-VXLAN-like: peers by tunnel address, /26 blocks -------------------------
if agent_in_a calico PIN3 3 vc --interface vc --mode observe \
	--peer b=10.245.2.192 --peer c=10.245.3.192; then
	ok "calico: agent started"
	check_eq "$(prefix_src "$PIN3" b 10.245.2.0/26)" route "calico: b has its /26 block"
	check_eq "$(prefix_src "$PIN3" c 10.245.3.0/26)" route "calico: c has its /26 block"
	traffic_check calico "$PIN3" 10.245.1.5 10.245.2.5 10.245.3.5
	new_block calico "$PIN3" c "a new IPAM block" 10.245.1.5 10.245.3.69 10.245.3.64/26 \
		10.245.3.192 vc
	stop_pid "$AGENT_PID"
fi

wp_finish
