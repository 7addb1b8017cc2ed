#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# WireGuard handshakes watched on the underlay: two wireguard-go peers over a
# veth, the agent on A with --underlay-interface, its /metrics read over HTTP.
#
#   netns wpt<pid>xa                             netns wpt<pid>xb
#  +----------------------------------+        +----------------------------------+
#  | warmpath run --interface wgA     |        |                                  |
#  |   --underlay-interface uA        |        |                                  |
#  |   --peer b=10.204.0.2,           |        |                                  |
#  |            192.168.204.2         |        |                                  |
#  |   --metrics-listen 127.0.0.1:9051|        |                                  |
#  |                                  |        |                                  |
#  | wpt<pid>xwa (wireguard-go, tun)  |   wg   | wpt<pid>xwb (wireguard-go, tun)  |
#  |   10.204.0.1/24 <~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~> 10.204.0.2/24               |
#  |        udp 51820                 |        |        udp 51820                 |
#  | uA 192.168.204.1/24 ================ veth ===== uB 192.168.204.2/24          |
#  |  (tcx: handshakes seen here)     |        | nft (phase 2): drop udp sport    |
#  |                                  |        |   51820 udp length 100, i.e. the |
#  |                                  |        |   92-byte handshake responses    |
#  +----------------------------------+        +----------------------------------+
#
# 1. A ping through the tunnel makes A initiate: one completed handshake,
#    direction "initiated", peer "b", with an RTT sample (count >= 1, sum > 0),
#    and wireguard-go's last-handshake age for b's public key.
# 2. B's responses dropped, A's session cleared (peer removed and re-added),
#    a ping: A initiates and retries every 5 s, so within ~12 s at least one
#    initiation is unanswered, and no handshake completes.
# 3. Responses let through again: the next retry completes.
# No PersistentKeepalive anywhere: WireGuard only handshakes when we make it.

# shellcheck source=selftests/lib.sh
. "$(dirname "$0")/../lib.sh"
wp_require_root
wp_require_cmds wireguard-go wg curl

wg_ab_names 10.204.0 192.168.204
WG_PORT=51820
METRICS=127.0.0.1:9051 # inside netns A: its own loopback
EP="$B_UL:$WG_PORT"
L_B="peer=\"b\",endpoint=\"$EP\""

setup()
{
	wg_go_ab || return 1
	B_PUB=$(cat "$WP_TMP/b.pub")
}

# metrics: the agent's /metrics, fetched inside netns A.
metrics()
{
	wp_metrics "$NS_A" "$METRICS"
}

# series NAME LABELS
series()
{
	echo "$1{$2}"
}

HS=warmpath_wireguard_handshakes_total
COMPLETED=$(series $HS "$L_B,direction=\"initiated\",result=\"completed\"")
UNANSWERED=$(series $HS "$L_B,direction=\"initiated\",result=\"unanswered\"")
INITIATIONS=$(series warmpath_wireguard_handshake_initiations_total "$L_B,direction=\"initiated\"")
RTT_COUNT=$(series warmpath_wireguard_handshake_rtt_seconds_count "$L_B")
RTT_SUM=$(series warmpath_wireguard_handshake_rtt_seconds_sum "$L_B")

# value_at_least SERIES MIN: the current value of SERIES is >= MIN (integers).
# shellcheck disable=SC2317 # called through wait_for
value_at_least()
{
	local v

	v=$(wp_metric "$(metrics)" "$1")
	[ -n "$v" ] && [ "${v%.*}" -ge "$2" ] 2>/dev/null
}

if setup; then
	ok "setup: two wireguard-go peers over a veth underlay"
else
	fail "setup: two wireguard-go peers over a veth underlay"
	wp_finish
fi
check_eq "$(in_ns "$NS_A" wg show "$WG_A" latest-handshakes | cut -f2)" 0 \
	"setup: no handshake before the agent runs"

pin_new PIN 1 "$NS_A"
LOG=$WP_TMP/agent.log
if agent_start "$NS_A" "$PIN" "$LOG" --interface "$WG_A" --underlay-interface uA \
	--peer b=$B_ADDR,$B_UL --mode observe --metrics-listen $METRICS; then
	ok "agent starts with --underlay-interface uA"
else
	fail "agent starts with --underlay-interface uA"
	wp_finish
fi
check_eq "$(status_json "$PIN" | jq -r '[.interfaces[] | select(.underlay) | .name] | join(",")')" \
	uA "agent: uA is the underlay"

# --- 1. a handshake A initiates --------------------------------------------------
info "1. ping through the tunnel: A initiates a handshake"
if wait_for 10 ping_n "$NS_A" $B_ADDR 1; then
	ok "1: ping through the tunnel"
else
	fail "1: ping through the tunnel"
fi
wait_for 5 value_at_least "$COMPLETED" 1
M=$(metrics)
[ "$WP_VERBOSE" = 1 ] && grep wireguard <<<"$M" | sed 's/^/#   /'
check_cmp "$(wp_metric "$M" "$COMPLETED")" '>=' 1 "1: handshakes completed, initiated, peer b"
check_eq "$(wp_metric "$M" "$UNANSWERED")" 0 "1: none unanswered"
check_cmp "$(wp_metric "$M" "$RTT_COUNT")" '>=' 1 "1: handshake RTT count"
check_cmp "$(wp_metric "$M" "$RTT_SUM")" '>' 0 "1: handshake RTT sum > 0"
AGE=$(wp_metric "$M" "$(series warmpath_wireguard_peer_last_handshake_seconds \
	"interface=\"$WG_A\",peer=\"b\",public_key=\"$B_PUB\",endpoint=\"$EP\"")")
if [ -n "$AGE" ] && awk -v v="$AGE" 'BEGIN { exit !(v >= 0 && v < 30) }'; then
	ok "1: wireguard-go last handshake of b's key, seconds ago ($AGE)"
else
	fail "1: wireguard-go last handshake of b's key, seconds ago" "got '$AGE'"
fi
check_eq "$(wp_metric "$M" "warmpath_wireguard_uapi_up{interface=\"$WG_A\"}")" 1 \
	"1: UAPI of $WG_A read"
W=$(status_json "$PIN" | jq -c --arg ep "$EP" '.wireguard.endpoints[]? | select(.endpoint == $ep)')
check_eq "$(jq -r '.peer' <<<"$W")" b "1: status: endpoint of peer b"
check_cmp "$(jq -r '.initiated.completed' <<<"$W")" '>=' 1 "1: status: completed"
BASE_COMPLETED=$(wp_metric "$M" "$COMPLETED")
BASE_INIT=$(wp_metric "$M" "$INITIATIONS")

# --- 2. responses dropped --------------------------------------------------------
info "2. B's handshake responses dropped (udp length 100), A's session cleared"
in_ns "$NS_B" nft -f - <<EOF
table inet wpthsblock {
	chain output {
		type filter hook output priority 0; policy accept;
		udp sport $WG_PORT udp length 100 counter drop
	}
}
EOF
check_rc $? 0 "2: nft rule in B"
# removing and re-adding the peer drops A's keys: the next packet needs a handshake
in_ns "$NS_A" wg set "$WG_A" peer "$B_PUB" remove &&
	in_ns "$NS_A" wg set "$WG_A" peer "$B_PUB" allowed-ips $B_ADDR/32 endpoint $EP
check_rc $? 0 "2: peer b removed and re-added on A"
in_ns "$NS_A" ping -q -n -c 1 -W 1 $B_ADDR >/dev/null 2>&1
check_rc $? nonzero "2: ping fails without a handshake"
# WireGuard retries after 5 s (+ jitter): the retry makes the first one unanswered
if wait_for 12 value_at_least "$UNANSWERED" 1; then
	ok "2: unanswered initiation counted within 12 s"
else
	fail "2: unanswered initiation counted within 12 s" \
		"$(metrics | grep -E "^warmpath_wireguard_(handshakes|handshake_initiations)_total\{$L_B" | tr '\n' ' ')"
fi
M=$(metrics)
check_cmp "$(wp_metric "$M" "$INITIATIONS")" '>=' $((BASE_INIT + 1)) "2: initiations went on"
check_eq "$(wp_metric "$M" "$COMPLETED")" "$BASE_COMPLETED" "2: no handshake completed"
DROPS=$(in_ns "$NS_B" nft list table inet wpthsblock | grep -o 'packets [0-9]*' | cut -d' ' -f2)
check_cmp "$DROPS" '>=' 1 "2: B's nft rule dropped the responses"
check_eq "$(in_ns "$NS_A" wg show "$WG_A" latest-handshakes | cut -f2)" 0 \
	"2: wireguard-go on A has no handshake either"

# --- 3. responses let through again ----------------------------------------------
info "3. responses let through: the next retry completes"
in_ns "$NS_B" nft delete table inet wpthsblock
if wait_for 12 value_at_least "$COMPLETED" $((BASE_COMPLETED + 1)); then
	ok "3: a handshake completes again"
else
	fail "3: a handshake completes again" "$(wp_metric "$(metrics)" "$COMPLETED")"
fi
wait_for 5 ping_n "$NS_A" $B_ADDR 1
check_rc $? 0 "3: ping through the tunnel again"

stop_pid "$AGENT_PID" TERM
check_eq "$STOP_RC" 0 "agent exits 0 on SIGTERM"
stop_pid "$WGPID_A" TERM
stop_pid "$WGPID_B" TERM
check_true "wireguard-go: UAPI sockets removed" \
	test ! -e "/var/run/wireguard/$WG_A.sock" -a ! -e "/var/run/wireguard/$WG_B.sock"

wp_finish
