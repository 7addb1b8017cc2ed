#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# Attribution through WireGuard: B sits behind a NAT, so A sees B's
# handshakes from the NAT's address, no node's. Kernel WireGuard when this
# kernel has it (the qemu guest: read over generic netlink), else
# wireguard-go (read over its UAPI socket); WP_WG=kernel|go forces one.
#
#   netns wpt<pid>xa                 netns wpt<pid>xr             netns wpt<pid>xb
#  +------------------------------+ +------------------------+ +-------------------------+
#  | warmpath run (auto, no       | |  nft masquerade        | |                         |
#  |  --underlay-interface)       | |  10.99.0.0/24 -> rA    | |                         |
#  |  --peer b=10.205.0.2         | |                        | |                         |
#  |  --peer c=10.205.0.3 (no WG) | |                        | |                         |
#  | wgA 10.205.0.1 (wireguard-go)| |                        | | wgB 10.205.0.2          |
#  |  peer B: allowed 10.205.0.2, | |                        | |  + 10.244.2.1 (a "pod") |
#  |  10.244.2.0/24, keepalive 5  | |                        | |  peer A: 192.168.205.1  |
#  | uA 192.168.205.1 ============== rA .254    rB 10.99.0.254 ======= uB 10.99.0.2      |
#  +------------------------------+ +------------------------+ +-------------------------+
#
# 1. The underlay is found from the route to B's endpoint: uA.
# 2. /peers lists the device (source uapi) and B's key, endpoint (the NAT's
#    address) and keepalive, named b through its allowed IPs.
# 3. A handshake B initiates is counted for peer b at the NAT's endpoint, not
#    for "_unknown".
# 4. Pod traffic to 10.244.2.1 (routed by B's allowed IPs) counts for peer b
#    without being listed as a prefix of b.
# 5. b is held warm by the keepalive (5 s <= 10 s): never probed in idle
#    mode, counted as suppressed with reason wireguard_keepalive; c is probed.
# 6. B's source port changes: an endpoint change is counted.
# 7. With WARMPATH_NO_WIREGUARD_PREFIXES=1 the pod traffic is no peer's.
#
# With kernel WireGuard (and the ipip module: the qemu guest) also Calico's
# IPIP over it: tunl0 on A (10.242.0.1/32) and B, B's pod block 10.243.2.0/24
# routed "via 10.205.0.2 dev tunl0 onlink" and in B's allowed IPs on A.
# 4b. auto watches tunl0 too; pings to B's IPIP pod 10.243.2.1 count once per
#     packet for peer b (the encapsulated packet on the WireGuard device), the
#     inner ones on tunl0 in its per-interface counters; nothing unmatched.
# After 5, 'warmpath status' and 'status --json | jq .wireguard' are printed
# between "# --- status" markers (the kernel WireGuard peers as status shows them).

# shellcheck source=selftests/lib.sh
. "$(dirname "$0")/../lib.sh"
wp_require_root
wp_require_cmds wg curl nft jq

wg_ab_names 10.205.0 192.168.205
NS_R=${WP_TAG}r
B_UL=10.99.0.2 # behind the NAT in NS_R
NAT_UL=192.168.205.254
POD_B=10.244.2.1
POD_IPIP=10.243.2.1 # a pod of B reached by IPIP over WireGuard (kernel only)
IPIP=0
WG_PORT=51820
METRICS=127.0.0.1:9051

# kernel WireGuard if a wireguard link can be made here, else wireguard-go
WG_KIND=${WP_WG:-}
if [ -z "$WG_KIND" ]; then
	WG_KIND=go
	if ip link add "${WP_TAG}probe" type wireguard 2>/dev/null; then
		ip link del "${WP_TAG}probe"
		WG_KIND=kernel
	fi
fi
if [ "$WG_KIND" = go ] && ! command -v wireguard-go >/dev/null; then
	echo "$(basename "$0"): no kernel WireGuard and no wireguard-go" >&2
	exit 2
fi
WG_SOURCE=$([ "$WG_KIND" = kernel ] && echo netlink || echo uapi)

# wg_make VAR NS IFNAME: a WireGuard interface of $WG_KIND (VAR: wireguard-go's pid)
wg_make()
{
	if [ "$WG_KIND" = kernel ]; then
		printf -v "$1" '%s' ""
		ip -n "$2" link add "$3" type wireguard
	else
		wg_start "$1" "$2" "$3"
	fi
}

setup()
{
	ns_add "$NS_A" && ns_add "$NS_R" && ns_add "$NS_B" || return 1
	veth_pair "$NS_A" uA $A_UL/24 "$NS_R" rA $NAT_UL/24 || return 1
	veth_pair "$NS_B" uB $B_UL/24 "$NS_R" rB 10.99.0.254/24 || return 1
	ip -n "$NS_B" route add default via 10.99.0.254 || return 1
	in_ns "$NS_R" sysctl -qw net.ipv4.ip_forward=1 >/dev/null || return 1
	in_ns "$NS_R" nft -f - <<EOF || return 1
table ip wptnat {
	chain post {
		type nat hook postrouting priority 100; policy accept;
		ip saddr 10.99.0.0/24 oifname "rA" masquerade
	}
}
EOF
	wg_keys a b || return 1
	A_PUB=$(cat "$WP_TMP/a.pub")
	B_PUB=$(cat "$WP_TMP/b.pub")
	wg_make WGPID_A "$NS_A" "$WG_A" || return 1
	wg_make WGPID_B "$NS_B" "$WG_B" || return 1
	# the ipip module makes a tunl0 in every namespace: Calico's IPIP over wg
	local allowed=$B_ADDR/32,10.244.2.0/24
	if [ "$WG_KIND" = kernel ] && ip -n "$NS_A" link show tunl0 >/dev/null 2>&1; then
		IPIP=1
		allowed+=,10.243.2.0/24
	fi
	# A knows no endpoint for B (B is behind the NAT): B's handshakes tell it
	wg_iface_up "$NS_A" "$WG_A" a b "$allowed" $A_ADDR/24 persistent-keepalive 5 &&
		wg_iface_up "$NS_B" "$WG_B" b a $A_ADDR/32 $B_ADDR/24 endpoint $A_UL:$WG_PORT \
			persistent-keepalive 5 &&
		ip -n "$NS_B" addr add $POD_B/32 dev "$WG_B" &&
		ip -n "$NS_A" route add 10.244.2.0/24 dev "$WG_A" || return 1
	[ $IPIP = 1 ] || return 0
	ip -n "$NS_A" link set tunl0 up &&
		ip -n "$NS_B" link set tunl0 up &&
		ip -n "$NS_A" addr add 10.242.0.1/32 dev tunl0 &&
		ip -n "$NS_A" route add 10.243.2.0/24 via $B_ADDR dev tunl0 onlink &&
		ip -n "$NS_B" addr add $POD_IPIP/32 dev lo &&
		ip -n "$NS_B" route add 10.242.0.0/24 via $A_ADDR dev tunl0 onlink
}

# snap PIN: one status snapshot (peer b, tunl0, the WireGuard device, datapath)
# as "b_tx b_rx tunl0_tx tunl0_rx wg_tx wg_rx encap_ipip unmatched"
snap()
{
	status_json "$1" | jq -r --arg w "$WG_A" '
		def ifc($n; $f): ([.interfaces[] | select(.name == $n) | .[$f] // 0] | first) // 0;
		([.peers[] | select(.name == "b")] | first) as $b |
		[$b.tx_packets, $b.rx_packets, ifc("tunl0"; "tx_packets"), ifc("tunl0"; "rx_packets"),
		 ifc($w; "tx_packets"), ifc($w; "rx_packets"), .datapath.encap_ipip,
		 .datapath.unmatched] | map(. // 0 | tostring) | join(" ")'
}

_b_rx_ge()
{
	[ "$(peer_get "$PIN" b rx_packets)" -ge "$1" ] 2>/dev/null
}

metrics()
{
	wp_metrics "$NS_A" "$METRICS"
}

peers_json()
{
	wp_metrics "$NS_A" "$METRICS" /peers
}

handshaken()
{
	[ "$(in_ns "$NS_A" wg show "$WG_A" latest-handshakes | cut -f2)" != 0 ]
}

info "WireGuard: $WG_KIND (read over $WG_SOURCE)"
if setup; then
	ok "setup: A, a NAT router, B behind it, $WG_KIND WireGuard on A and B"
else
	fail "setup: A, a NAT router, B behind it, $WG_KIND WireGuard on A and B"
	wp_finish
fi
# B's keepalive makes it handshake at once: A learns the NAT's address
wait_for 10 handshaken
check_rc $? 0 "setup: B handshaked through the NAT"
EP=$(in_ns "$NS_A" wg show "$WG_A" endpoints | cut -f2)
check_match "$EP" "^$NAT_UL:" "setup: A sees B at the NAT's address ($EP)"

pin_new PIN 1 "$NS_A"
LOG=$WP_TMP/agent.log
if agent_start "$NS_A" "$PIN" "$LOG" --peer b=$B_ADDR --peer c=10.205.0.3 --mode idle \
	--keepalive-interval 10 --metrics-listen $METRICS; then
	ok "agent starts without --underlay-interface"
else
	fail "agent starts without --underlay-interface"
	wp_finish
fi

# --- 1. the underlay ---------------------------------------------------------------
check_match "$(cat "$LOG")" "underlay interface uA: the route to the WireGuard endpoints" \
	"1: log names the underlay found from the route"
check_eq "$(status_json "$PIN" | jq -r '[.interfaces[] | select(.underlay) | .name] | join(",")')" \
	uA "1: uA attached as the underlay"

# --- 2. /peers: the device and B --------------------------------------------------
P=$(peers_json)
D=$(jq -c --arg i "$WG_A" '.wireguard.devices[] | select(.interface == $i)' <<<"$P")
check_eq "$(jq -r '.source' <<<"$D")" $WG_SOURCE "2: device read over $WG_SOURCE"
WB=$(jq -c --arg k "$B_PUB" '.peers[] | select(.public_key == $k)' <<<"$D")
check_eq "$(jq -r '.peer' <<<"$WB")" b "2: B's key belongs to peer b"
check_match "$(jq -r '.endpoint' <<<"$WB")" "^$NAT_UL:" "2: B's endpoint is the NAT's"
check_eq "$(jq -r '.persistent_keepalive_interval' <<<"$WB")" 5 "2: keepalive 5"
check_match "$(jq -r '.allowed_ips | join(",")' <<<"$WB")" "10.244.2.0/24" "2: allowed IPs"

# --- 3. a handshake from behind the NAT -------------------------------------------
info "3. B's session dropped and re-made: B initiates through the NAT"
in_ns "$NS_B" wg set "$WG_B" peer "$A_PUB" remove &&
	in_ns "$NS_B" wg set "$WG_B" peer "$A_PUB" allowed-ips $A_ADDR/32 \
		endpoint $A_UL:$WG_PORT persistent-keepalive 5
check_rc $? 0 "3: peer A re-added on B"
HS_B=
hs_named()
{
	HS_B=$(metrics | grep -E '^warmpath_wireguard_handshakes_total\{peer="b",endpoint="'"$NAT_UL"':[0-9]+",direction="received",result="completed"\} ' |
		awk '{ print $2 }')
	num_cmp "${HS_B:-x}" '>=' 1
}
wait_for 15 hs_named
check_cmp "${HS_B:-}" '>=' 1 "3: handshake received from the NAT's address, peer b"
check_eq "$(metrics | grep -c '^warmpath_wireguard_handshakes_total{peer="_unknown"')" 0 \
	"3: nothing _unknown"

# --- 4. pod traffic by allowed IPs ---------------------------------------------------
TX0=$(peer_get "$PIN" b tx_packets)
ping_n "$NS_A" $POD_B 5
check_rc $? 0 "4: ping to B's pod address through the tunnel"
TX1=$(peer_get "$PIN" b tx_packets)
check_cmp "$((TX1 - TX0))" '>=' 5 "4: pod traffic counted for peer b (+$((TX1 - TX0)))"

# --- 4b. IPIP over kernel WireGuard behind the NAT ------------------------------------
if [ $IPIP = 1 ]; then
	N=8
	info "4b. IPIP over kernel WireGuard: $N pings to B's pod $POD_IPIP through tunl0"
	check_eq "$(status_json "$PIN" | jq -r '[.interfaces[] | select(.underlay | not) | .name] | sort | join(" ")')" \
		"tunl0 $WG_A" "4b: auto watches tunl0 and $WG_A"
	check_match "$(cat "$LOG")" "tunl0: stacked on a watched WireGuard device" \
		"4b: tunl0 flagged stacked (counted per peer on $WG_A)"
	read -r BTX0 BRX0 TTX0 TRX0 WTX0 WRX0 IP0 UN0 <<<"$(snap "$PIN")"
	ping_n "$NS_A" $POD_IPIP $N
	check_rc $? 0 "4b: $N pings over IPIP over WireGuard answered"
	wait_for 5 _b_rx_ge $((BRX0 + N))
	sleep 0.5
	read -r BTX1 BRX1 TTX1 TRX1 WTX1 WRX1 IP1 UN1 <<<"$(snap "$PIN")"
	info "4b: deltas: b tx $((BTX1 - BTX0)) rx $((BRX1 - BRX0)), tunl0 tx $((TTX1 - TTX0))" \
		"rx $((TRX1 - TRX0)), $WG_A tx $((WTX1 - WTX0)) rx $((WRX1 - WRX0)), encap_ipip" \
		"$((IP1 - IP0)), unmatched $((UN1 - UN0))"
	check_eq "$((BTX1 - BTX0)) $((BRX1 - BRX0))" "$N $N" "4b: peer b: each packet once (tx rx)"
	check_eq "$((TTX1 - TTX0)) $((TRX1 - TRX0))" "$N $N" \
		"4b: per-interface detail: the inner packets on tunl0 (tx rx)"
	check_true "4b: per-interface detail: the encapsulated ones on $WG_A" \
		test $((WTX1 - WTX0)) -ge $N -a $((WRX1 - WRX0)) -ge $N
	check_eq "$((IP1 - IP0))" $((2 * N)) "4b: encap_ipip: every IPIP packet seen on $WG_A"
	check_eq "$((UN1 - UN0))" 0 "4b: nothing unmatched"
fi

# --- 5. held warm by the keepalive ---------------------------------------------------
info "5. 12 s of idle: b is held by the keepalive, c is probed"
sleep 12
M=$(metrics)
check_eq "$(wp_metric "$M" 'warmpath_wireguard_keepalive_held{peer="b"}')" 1 "5: b held"
check_eq "$(wp_peer_metric "$M" warmpath_probes_sent_total b)" 0 "5: b never probed"
check_cmp "$(wp_metric "$M" \
	'warmpath_keepalives_suppressed_by_reason_total{peer="b",reason="wireguard_keepalive"}')" \
	'>=' 1 "5: b's keep-alives suppressed, reason wireguard_keepalive"
check_cmp "$(wp_peer_metric "$M" warmpath_probes_sent_total c)" '>=' 1 "5: c probed"
check_eq "$(peers_json | jq -r '.wireguard.keepalive_held | join(",")')" b \
	"5: /peers: keepalive_held"

# --- status as an operator sees it (in the namespace: devices read there) ------------
T=$(nsx "$NS_A" "$WARMPATH" status --pin-path "$PIN" 2>&1)
TJ=$(nsx "$NS_A" "$WARMPATH" status --pin-path "$PIN" --json 2>/dev/null | jq .wireguard)
echo "# --- status ($([ "$WG_KIND" = kernel ] && echo "kernel WireGuard" || echo wireguard-go), $(uname -r)) ---"
head -60 <<<"$T"
echo "# --- status --json | jq .wireguard ---"
head -120 <<<"$TJ"
echo "# --- end of status ---"
check_match "$(grep -E '^(kernel WireGuard|wireguard-go) ' <<<"$T")" \
	"^$([ "$WG_KIND" = kernel ] && echo 'kernel WireGuard' || echo wireguard-go) $WG_A \\(listen port $WG_PORT, 1 peer" \
	"status: the $WG_KIND WireGuard device and its peer"
check_match "$(grep -F -- "$B_PUB" <<<"$T")" "^b +[^ ]+ +$NAT_UL:[0-9]+ .* 5s$" \
	"status: B's key, named b, at the NAT's endpoint, keepalive 5s"
check_eq "$(jq -r --arg i "$WG_A" --arg k "$B_PUB" \
	'.devices[] | select(.interface == $i) | .peers[] | select(.public_key == $k) | .peer' <<<"$TJ")" \
	b "status --json: .wireguard.devices lists B's key as peer b"

# --- 6. an endpoint change -------------------------------------------------------------
info "6. B moves to another source port: the NAT maps it anew"
C0=$(wp_metric "$(metrics)" warmpath_wireguard_endpoint_changes_total)
in_ns "$NS_B" wg set "$WG_B" listen-port 51999
moved()
{
	[ "$(in_ns "$NS_A" wg show "$WG_A" endpoints | cut -f2)" != "$EP" ]
}
wait_for 12 moved
check_rc $? 0 "6: A sees B at a new endpoint"
C1=$(wp_metric "$(metrics)" warmpath_wireguard_endpoint_changes_total)
check_cmp "$C1" '>=' $((${C0:-0} + 1)) "6: endpoint change counted ($C0 -> $C1)"
check_true "6: and logged" grep -qF "peer $B_PUB: endpoint $EP -> " "$LOG"

stop_pid "$AGENT_PID" TERM
check_eq "$STOP_RC" 0 "agent exits 0 on SIGTERM"

# --- 7. the opt-out ---------------------------------------------------------------------
info "7. WARMPATH_NO_WIREGUARD_PREFIXES=1: allowed IPs stay WireGuard's"
pin_new PIN2 2 "$NS_A"
export WARMPATH_NO_WIREGUARD_PREFIXES=1
agent_start "$NS_A" "$PIN2" "$WP_TMP/agent2.log" --peer b=$B_ADDR --mode observe \
	--metrics-listen $METRICS
check_rc $? 0 "7: agent starts"
unset WARMPATH_NO_WIREGUARD_PREFIXES
ping_n "$NS_A" $POD_B 5
check_eq "$(peer_get "$PIN2" b tx_packets)" 0 "7: pod traffic not b's"
check_cmp "$(status_json "$PIN2" | jq -r '.datapath.unmatched')" '>=' 5 "7: but unmatched"
stop_pid "$AGENT_PID" TERM
check_eq "$STOP_RC" 0 "7: agent exits 0 on SIGTERM"
[ -n "$WGPID_A" ] && stop_pid "$WGPID_A" TERM
[ -n "$WGPID_B" ] && stop_pid "$WGPID_B" TERM
wp_finish
