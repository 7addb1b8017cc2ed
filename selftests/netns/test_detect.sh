#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# Detection on a real device: cold starts, first-packet drops, SYN retransmits
# on a warm path, passive SYN RTT and unanswered cold starts, as metrics and as
# event log lines.
#
#   netns wpt<pid>xa (client)                   netns wpt<pid>xb (server)
#  +------------------------------------+      +------------------------------------+
#  | warmpath run --interface vA        |      | ncat -lk 10.203.0.2 7001           |
#  |   --peer b=10.203.0.2              |      |                                    |
#  |   --mode observe                   |      | nft table inet wptonce, when set:  |
#  |   --cold-threshold 2               |      |   drop the first SYN to 7001 only  |
#  |   --probe-timeout 500              |      |   (numgen inc mod 10^9 == 0)       |
#  |   --tick-interval 0.2              |      |                                    |
#  |   --metrics-listen 127.0.0.1:9051  | veth | nft: drop udp dport 7000 (no ICMP) |
#  | vA 10.203.0.1/24 =========================== vB 10.203.0.2/24                  |
#  | curl /metrics, ncat -z (connect)   |      |                                    |
#  +------------------------------------+      +------------------------------------+
#
# (a) cold path: idle >= 2.5 s, the first SYN of one connection dropped at B:
#     exactly 1 first-packet drop, 0 SYN retransmits, 1 cold start, its
#     recovery (>= the 1 s SYN retransmission timer), one log line
# (b) warm path (ping every 0.2 s): the same drop is 1 SYN retransmit and no
#     first-packet drop
# (c) 5 connections: 5 passive SYN RTT samples > 0
# (d) idle, then one UDP datagram B swallows: 1 unanswered cold start after
#     --probe-timeout, counted once
# (e) --log-format json: the first-packet drop as one JSON object

# shellcheck disable=SC2317 # the _*() predicates run through wait_for
# shellcheck source=selftests/lib.sh
. "$(dirname "$0")/../lib.sh"
wp_require_root
wp_require_cmds curl

NS_A=${WP_TAG}a
NS_B=${WP_TAG}b
A_ADDR=10.203.0.1
B_ADDR=10.203.0.2
TPORT=7001 # TCP listener on B
UPORT=7000 # UDP, swallowed by B's nft (no answer, no ICMP)
MPORT=9051 # metrics, on A's loopback
COLD=2 # --cold-threshold, s
IDLE=2.5 # how long the tests idle to make a cold start
LOG=$WP_TMP/agent.log

# --- helpers ---------------------------------------------------------------------

# metrics: the agent's /metrics (from inside A: it listens on A's loopback)
metrics()
{
	wp_metrics "$NS_A" "127.0.0.1:$MPORT"
}

# metric NAME: the value of NAME{...peer="b"...}; empty when the series is absent
metric()
{
	wp_peer_metric "$(metrics)" "$1" b
}

# check_metric NAME OP WANT LABEL
check_metric()
{
	local v

	v=$(metric "$1")
	if num_cmp "$v" "$2" "$3"; then
		ok "$4"
	else
		fail "$4" "$1{peer=\"b\"} = '${v:-absent}', want $2 $3"
	fi
}

# check_delta NAME BEFORE WANT LABEL: the metric grew by exactly WANT
check_delta()
{
	local v

	v=$(metric "$1")
	if [ -n "$v" ] && [ -n "$2" ] && num_cmp "$(awk -v a="$v" -v b="$2" 'BEGIN { print a - b }')" == "$3"; then
		ok "$4"
	else
		fail "$4" "$1{peer=\"b\"}: before '${2:-absent}', now '${v:-absent}', want +$3"
	fi
}

_metric_is()
{
	num_cmp "$(metric "$1")" "$2" "$3"
}

# wait_metric NAME OP WANT [TIMEOUT]
wait_metric()
{
	wait_for "${4:-3}" _metric_is "$1" "$2" "$3"
}

# drop_once_add: from now on, B drops the first SYN to TPORT and no other.
# Rule 1 counts every SYN, rule 2 drops when its own counter is 0 (numgen inc
# evaluates only for the SYNs that reach it, so exactly the first).
drop_once_add()
{
	ip netns exec "$NS_B" nft -f - <<EOF
table inet wptonce {
	chain input {
		type filter hook input priority -10; policy accept;
		tcp dport $TPORT tcp flags & (syn | ack) == syn counter
		tcp dport $TPORT tcp flags & (syn | ack) == syn numgen inc mod 1000000000 == 0 counter drop
	}
}
EOF
}

# drop_once_counters: "SYNs dropped" of the two rules
drop_once_counters()
{
	ip netns exec "$NS_B" nft -j list table inet wptonce |
		jq -r '[.nftables[] | .rule? | select(.) | .expr[] | .counter? | select(.) | .packets] | join(" ")'
}

drop_once_del()
{
	ip netns exec "$NS_B" nft delete table inet wptonce
}

# connect_once: one TCP connection A -> B:TPORT (3-way handshake, then close);
# sets CONNECT_MS to how long the connect took
connect_once()
{
	local t0 rc

	t0=$(date +%s%N)
	ip netns exec "$NS_A" ncat -z -w 5 $B_ADDR $TPORT
	rc=$?
	CONNECT_MS=$((($(date +%s%N) - t0) / 1000000))
	return $rc
}

# log_count REGEX: lines of the agent log matching
log_count()
{
	grep -cE -- "$1" "$LOG"
}

_log_has()
{
	[ "$(log_count "$1")" -ge "$2" ]
}

# json_events NAME: the JSON log objects of event NAME, one a line
json_events()
{
	jq -cR --arg e "$1" 'fromjson? | select(type == "object" and .event == $e)' "$LOG"
}

_json_has()
{
	[ "$(json_events "$1" | wc -l)" -ge "$2" ]
}

_gap_dropped()
{
	metrics | grep -q '^warmpath_cold_start_idle_seconds_count{outcome="dropped"} 1$'
}

# --- setup -----------------------------------------------------------------------
if ! ns_add "$NS_A" || ! ns_add "$NS_B"; then
	fail "setup: namespaces"
	wp_finish
fi
veth_pair "$NS_A" vA $A_ADDR/24 "$NS_B" vB $B_ADDR/24
udp_sink "$NS_B" $UPORT
# shellcheck disable=SC2217 # the redirections are for the background ncat
bg LISTENER ip netns exec "$NS_B" ncat -lk $B_ADDR $TPORT </dev/null >/dev/null 2>&1
if ! ping_n "$NS_A" $B_ADDR 1 || ! wait_for 3 connect_once; then
	fail "setup: veth and listener reachable"
	wp_finish
fi

pin_new PIN 1 "$NS_A"
# every SYN tracked (warm ones are a 1-in-16 sample by default): exact warm counts below
export WARMPATH_SYN_SAMPLE_MASK=0
AGENT=(--interface vA --peer "b=$B_ADDR" --mode observe --cold-threshold "$COLD"
	--probe-timeout 500 --tick-interval 0.2 --metrics-listen "127.0.0.1:$MPORT")
info "agent on vA: ${AGENT[*]}"
if ! agent_start "$NS_A" "$PIN" "$LOG" "${AGENT[@]}"; then
	fail "agent starts"
	wp_finish
fi
ok "agent starts"
check_match "$(metrics)" '^warmpath_build_info' "metrics served on 127.0.0.1:$MPORT"

# the peer is seen both ways (a never-seen peer makes no cold start)
ping_n "$NS_A" $B_ADDR 1 || info "warm-up ping lost"
check_metric warmpath_cold_starts_total == 0 "warm-up: no cold start for a never-seen peer"

# --- (a) first-packet drop on a cold path -----------------------------------------
info "(a) idle ${IDLE}s, then a connection whose first SYN B drops"
sleep $IDLE
drop_once_add
connect_once
check_eq "$?" 0 "(a) connection succeeds after the SYN retransmission"
check_true "(a) connect took the SYN retransmission timer ($CONNECT_MS ms)" \
	test "$CONNECT_MS" -ge 800
check_eq "$(drop_once_counters)" "2 1" "(a) nft: 2 SYNs reached B, exactly 1 dropped"
drop_once_del
check_metric warmpath_first_packet_drops_total == 1 "(a) first_packet_drops_total == 1"
check_metric warmpath_syn_retransmits_total == 0 "(a) syn_retransmits_total == 0"
check_metric warmpath_cold_starts_total == 1 "(a) cold_starts_total == 1"
check_metric warmpath_cold_start_recovery_seconds_count == 1 "(a) one cold-start recovery"
check_metric warmpath_cold_start_recovery_seconds_sum '>=' 0.8 \
	"(a) recovery includes the lost SYN (>= 0.8 s)"
check_metric warmpath_syn_rtt_seconds_count == 1 "(a) one SYN RTT sample"
check_eq "$(peer_get "$PIN" b first_packet_drops)" 1 "(a) status --json first_packet_drops"
# the cold-start tax: this gap lost its first packet (judged at the next tick)
wait_for 3 _gap_dropped
check_match "$(metrics)" '^warmpath_cold_start_idle_seconds_count\{outcome="dropped"\} 1$' \
	"(a) cold_start_idle_seconds: one dropped gap"
check_match "$(metrics)" '^warmpath_cold_start_idle_seconds_count\{outcome="clean"\} 0$' \
	"(a) cold_start_idle_seconds: no clean gap"
check_true "(a) status --json lifetime_upper_seconds >= the idle gap ($(peer_get "$PIN" b lifetime_upper_seconds))" \
	num_cmp "$(peer_get "$PIN" b lifetime_upper_seconds)" '>=' "$IDLE"
check_eq "$(peer_get "$PIN" b lifetime_lower_seconds)" "" "(a) no clean gap: lifetime_lower_seconds null"
wait_for 3 _log_has "first-packet drop" 1
check_eq "$(log_count "first-packet drop")" 1 "(a) one 'first-packet drop' log line"
check_match "$(grep "first-packet drop" "$LOG")" \
	"peer b, tcp $A_ADDR:[0-9]+ -> $B_ADDR:$TPORT, SYN sent 2 times" "(a) the line names peer and flow"
check_eq "$(log_count "cold start: peer b")" 1 "(a) one 'cold start' log line"

# --- (b) the same drop on a warm path ----------------------------------------------
info "(b) ping every 0.2 s, then a connection whose first SYN B drops"
bg PINGER ip netns exec "$NS_A" ping -q -n -i 0.2 -c 60 $B_ADDR >/dev/null
sleep 0.6
FPD0=$(metric warmpath_first_packet_drops_total)
RTX0=$(metric warmpath_syn_retransmits_total)
drop_once_add
connect_once
check_eq "$?" 0 "(b) connection succeeds"
check_eq "$(drop_once_counters)" "2 1" "(b) nft: 2 SYNs reached B, exactly 1 dropped"
drop_once_del
check_delta warmpath_syn_retransmits_total "$RTX0" 1 "(b) syn_retransmits_total +1"
check_delta warmpath_first_packet_drops_total "$FPD0" 0 "(b) first_packet_drops_total unchanged"
wait_for 3 _log_has "SYN retransmit" 1
check_eq "$(log_count "SYN retransmit")" 1 "(b) one 'SYN retransmit' log line"
check_eq "$(log_count "first-packet drop")" 1 "(b) no new 'first-packet drop' line"

# --- (c) passive SYN RTT -----------------------------------------------------------
info "(c) 5 connections"
RTT_N0=$(metric warmpath_syn_rtt_seconds_count)
RTT_S0=$(metric warmpath_syn_rtt_seconds_sum)
n=0
for _ in 1 2 3 4 5; do
	connect_once && n=$((n + 1))
done
check_eq "$n" 5 "(c) 5 connections succeed"
check_delta warmpath_syn_rtt_seconds_count "$RTT_N0" 5 "(c) syn_rtt_seconds_count +5"
check_metric warmpath_syn_rtt_seconds_count '>=' 5 "(c) syn_rtt_seconds_count >= 5"
check_metric warmpath_syn_rtt_seconds_sum '>' "$RTT_S0" "(c) syn_rtt_seconds_sum grew"
check_match "$(metrics)" '^warmpath_syn_rtt_seconds_bucket\{.*peer="b".*le="\+Inf".*\} [0-9]' \
	"(c) syn_rtt_seconds has buckets"
stop_pid "$PINGER"

# --- (d) unanswered cold start -----------------------------------------------------
info "(d) idle ${IDLE}s, then one UDP datagram B swallows"
sleep $IDLE
UNANS0=$(metric warmpath_cold_starts_unanswered_total)
UNANS_LOG0=$(log_count "cold start unanswered: peer b")
# (a)'s cold SYN waited ~1 s for its answer, longer than --probe-timeout
info "unanswered cold starts so far: ${UNANS0:-absent}"
COLD0=$(metric warmpath_cold_starts_total)
send_udp "$NS_A" $B_ADDR $UPORT 1
check_delta warmpath_cold_starts_total "$COLD0" 1 "(d) the datagram is a cold start"
check_true "(d) status --json: peer b is cold" test "$(peer_get "$PIN" b cold)" = true
wait_metric warmpath_cold_starts_unanswered_total '>' "${UNANS0:-0}" 3
check_delta warmpath_cold_starts_unanswered_total "$UNANS0" 1 \
	"(d) cold_starts_unanswered_total +1 after --probe-timeout"
sleep 0.6 # a few more ticks: counted once per cold start
check_delta warmpath_cold_starts_unanswered_total "$UNANS0" 1 "(d) counted once"
check_eq "$(log_count "cold start unanswered: peer b")" $((UNANS_LOG0 + 1)) \
	"(d) one more 'cold start unanswered' log line"
stop_pid "$AGENT_PID" TERM
check_eq "$STOP_RC" 0 "agent exits 0 on SIGTERM"

# --- (e) the event as JSON ------------------------------------------------------------
pin_new PIN2 2 "$NS_A"
info "(e) agent with --log-format json; idle ${IDLE}s, first SYN dropped"
check_agent_start "(e) agent starts with --log-format json" "$NS_A" "$PIN2" "$LOG" "${AGENT[@]}" --log-format json
ping_n "$NS_A" $B_ADDR 1 || info "warm-up ping lost"
sleep $IDLE
drop_once_add
connect_once
check_eq "$?" 0 "(e) connection succeeds"
check_eq "$(drop_once_counters)" "2 1" "(e) nft: exactly 1 SYN dropped"
drop_once_del
check_metric warmpath_first_packet_drops_total == 1 "(e) first_packet_drops_total == 1"
check_metric warmpath_syn_retransmits_total == 0 "(e) syn_retransmits_total == 0"
wait_for 3 _json_has first_packet_drop 1
check_eq "$(json_events first_packet_drop | wc -l)" 1 "(e) one JSON first_packet_drop event"
J=$(json_events first_packet_drop | head -1)
check_eq "$(jq -r '[.peer, .proto, .dst, .dport, .direction, .syn_count] | join(" ")' <<<"$J")" \
	"b tcp $B_ADDR $TPORT tx 2" "(e) its peer, flow, direction, syn_count"
check_eq "$(json_events cold_start | wc -l)" 1 "(e) one JSON cold_start event"
check_eq "$(json_events syn_retransmit | wc -l)" 0 "(e) no JSON syn_retransmit event"
check_eq "$(grep -cv '^{' "$LOG")" 0 "(e) every log line is JSON"

wp_finish
