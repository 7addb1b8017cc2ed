#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# End to end, in the lab (scripts/lab.sh, LAB=wpe2e): four nodes, site A
# (a1, a2) behind a NAT router whose UDP mappings expire after 5 s, site B
# (b1, b2) public, wireguard-go between every pair, a VXLAN pod overlay, one
# agent per node, Prometheus scraping them.
#
#   1. Prometheus scrapes every agent (PromQL over its HTTP API).
#   2. observe mode, two lanes at once (b1 -> a1 and b2 -> a2), each a series of
#      trials: quiet both ways, idle past the NAT timeout, one TCP connection
#      from B's pod to A's pod, with A speaking first never ("fail": 2.5 s
#      timeout), before the connection ("before"), or D seconds after it
#      started (the path reopens: D=0.4 loses one SYN, 1.5 two, 2.5 three), or
#      on a path still warm ("warm").
#      - the problem: at least one cold connection needs a retransmitted SYN;
#      - ground truth from nftables counters: SYNs that left B (output on its
#        vxlan device) and SYNs that reached A (input); lost and retransmitted =
#        left - arrived (- 1 for a connection that never got through: its last
#        SYN's loss shows no retransmission);
#      - warmpath's first-packet drops (B's pinned maps, peer A) must equal
#        it in every trial: recall and false positives are printed;
#      - a connection on a warm path counts no SYN retransmit.
#   3. idle mode (--keepalive-interval 2), a1<->a2 busy with a ping:
#      - the cure: 0 of K cold connections (both lanes) need a retransmission;
#      - the busy pair gets 0 probes; every idle pair about one exchange per
#        interval (0.5-1.5: one, not two); the agents' probes_sent_total agrees
#        with the wire; Prometheus has the probes of every node.
#   4. teardown leaves nothing of the lab.

# shellcheck source=selftests/lib.sh
. "$(dirname "$0")/../lib.sh"
wp_require_root
export LAB=wpe2e LAB_INDEX=1
# shellcheck source=scripts/lab.sh
. "$(dirname "$0")/../../scripts/lab.sh"
lab_require || exit 2

LANES=()
# shellcheck disable=SC2317 # called by the EXIT trap
e2e_exit()
{
	[ ${#LANES[@]} -eq 0 ] || kill "${LANES[@]}" 2>/dev/null
	lab_down
	_wp_cleanup
}
trap e2e_exit EXIT

K=3
IDLE=6.5
WINDOW=16
BUSY=a1-a2
TRIALS=(fail before 0.4 warm 1.5 2.5 warm 0.4 1.5 2.5)

e2e_finish()
{
	lab_down
	check_eq "$(lab_leftovers | tr '\n' ' ')" "" "teardown: nothing of the lab left"
	wp_finish
}

# --- setup --------------------------------------------------------------------------
if lab_up; then
	ok "setup: lab up (4 nodes, NAT, wireguard-go, VXLAN, Prometheus)"
else
	fail "setup: lab up"
	e2e_finish
fi
if lab_agents_start observe; then
	ok "setup: 4 agents in --mode observe"
else
	fail "setup: 4 agents in --mode observe"
	e2e_finish
fi
# shellcheck disable=SC2119 # all pairs
if lab_warm; then ok "setup: every pod reaches every pod"; else fail "setup: pod mesh"; fi

# --- 1. Prometheus ------------------------------------------------------------------
# shellcheck disable=SC2317 # called through lab_wait
prom_up() { [ "$(lab_promql "count(up{job=\"warmpath\",lab=\"$LAB\"} == 1)" | jq -r '.data.result[0].value[1]')" = 4 ]; }
lab_wait 15 prom_up
check_eq "$(lab_promql "up{lab=\"$LAB\"}" | jq -r '[.data.result[] | select(.value[1] == "1") | .metric.node] | sort | join(",")')" \
	"a1,a2,b1,b2" "prometheus: up == 1 for every node"
check_eq "$(lab_promql "warmpath_build_info{lab=\"$LAB\"}" | jq -r '[.data.result[].metric.node] | sort | join(",")')" \
	"a1,a2,b1,b2" "prometheus: warmpath_build_info from every node"

# --- 2. observe: the problem and detection accuracy ----------------------------------
# lane SRC DST FILE: the trials from SRC's pod to DST's pod, one line each:
# SPEC RC MS SYN_LEFT SYN_ARRIVED FIRST_PACKET_DROPS SYN_RETRANSMITS
lane()
{
	local src=$1 dst=$2 out=$3 spec res rc o0 i0 f0 r0 bg

	for spec in "${TRIALS[@]}"; do
		if [ "$spec" != warm ]; then
			lab_quiet "$dst-$src"
			sleep "$IDLE"
		else
			sleep 0.3
		fi
		o0=$(lab_counter "$src" "syn_out_$dst")
		i0=$(lab_counter "$dst" "syn_in_$src")
		f0=$(lab_peer "$src" "$dst" first_packet_drops)
		r0=$(lab_peer "$src" "$dst" syn_retransmits)
		bg=
		case "$spec" in
		fail | warm) res=$(lab_connect "$src" "$dst" 2.5) ;;
		before)
			lab_send "$dst" "$src"
			sleep 0.3
			res=$(lab_connect "$src" "$dst" 8)
			;;
		*)
			(sleep "$spec" && lab_send "$dst" "$src") &
			bg=$!
			res=$(lab_connect "$src" "$dst" 8)
			;;
		esac
		[ -n "$bg" ] && wait "$bg"
		rc=${res% *}
		sleep 0.5
		echo "$spec $rc ${res#* } $(($(lab_counter "$src" "syn_out_$dst") - o0))" \
			"$(($(lab_counter "$dst" "syn_in_$src") - i0))" \
			"$(($(lab_peer "$src" "$dst" first_packet_drops) - f0))" \
			"$(($(lab_peer "$src" "$dst" syn_retransmits) - r0))" >>"$out"
	done
}

info "observe: ${#TRIALS[@]} trials in each of two lanes (b1->a1, b2->a2), ${IDLE}s idle before each cold one"
: >"$WP_TMP/lane-b1" && : >"$WP_TMP/lane-b2"
lane b1 a1 "$WP_TMP/lane-b1" &
LANES+=($!)
lane b2 a2 "$WP_TMP/lane-b2" &
LANES+=($!)
wait "${LANES[@]}"
LANES=()

TRUTH=0 DET=0 HIT=0 FP=0 COLD_RETX=0 WARM_RETX=0 PROBLEM=0 MISMATCH=0
info "trial    lane    result  ms     SYNs left/arrived  lost+retx  warmpath fpd  syn_retx"
for lane_src in b1 b2; do
	while read -r spec rc ms left arrived fpd retx; do
		lost=$((left - arrived))
		truth=$lost
		[ "$rc" != 0 ] && [ "$lost" -gt 0 ] && truth=$((lost - 1))
		info "$(printf '%-8s %s->a%s   %-7s %-6s %2d / %-2d             %-10d %-13d %d' "$spec" \
			"$lane_src" "${lane_src#b}" "$([ "$rc" = 0 ] && echo ok || echo timeout)" "$ms" \
			"$left" "$arrived" "$truth" "$fpd" "$retx")"
		if [ "$spec" = warm ]; then
			WARM_RETX=$((WARM_RETX + retx))
		else
			[ "$left" -gt 1 ] && PROBLEM=$((PROBLEM + 1))
			COLD_RETX=$((COLD_RETX + retx))
		fi
		TRUTH=$((TRUTH + truth)) DET=$((DET + fpd))
		HIT=$((HIT + (fpd < truth ? fpd : truth)))
		FP=$((FP + (fpd > truth ? fpd - truth : 0)))
		[ "$fpd" != "$truth" ] && MISMATCH=$((MISMATCH + 1))
	done <"$WP_TMP/lane-$lane_src"
done
NTRIALS=$(cat "$WP_TMP/lane-b1" "$WP_TMP/lane-b2" | wc -l)
check_eq "$NTRIALS" $((2 * ${#TRIALS[@]})) "observe: every trial ran"
check_true "the problem: $PROBLEM cold connection(s) needed a retransmitted SYN (want >= 1)" \
	test "$PROBLEM" -ge 1
check_true "the problem: the NAT router dropped unsolicited packets ($(lab_router_counter unsolicited_udp))" \
	test "$(lab_router_counter unsolicited_udp)" -gt 0
RECALL=$(awk -v h=$HIT -v t=$TRUTH 'BEGIN { printf "%.2f", t ? h / t : 1 }')
info "accuracy: $TRUTH lost SYNs (retransmitted, nftables), warmpath counted $DET first-packet drops:" \
	"recall $RECALL ($HIT/$TRUTH), false positives $FP, trials that differ $MISMATCH/$NTRIALS"
check_true "accuracy: lost SYNs to detect ($TRUTH > 0)" test "$TRUTH" -gt 0
check_eq "$DET" "$TRUTH" "accuracy: warmpath first-packet drops == lost SYNs (sum)"
check_eq "$MISMATCH" 0 "accuracy: equal in every trial"
check_eq "$FP" 0 "accuracy: no false positive"
check_eq "$COLD_RETX" 0 "accuracy: no cold-start loss counted as a plain SYN retransmit"
check_eq "$WARM_RETX" 0 "accuracy: no SYN retransmit counted on warm connections (1 SYN each)"

# --- 3. idle: the cure, probes per pair ------------------------------------------------
if lab_agents_start idle; then
	ok "idle: 4 agents restarted in --mode idle --keepalive-interval $LAB_KEEPALIVE"
else
	fail "idle: agents restart"
	e2e_finish
fi
lab_busy_start "${BUSY%-*}" "${BUSY#*-}"
sleep 3
declare -A REQ0 SENT0
sent_pair() { echo $(($(lab_metric "$1" warmpath_probes_sent_total "$2") + $(lab_metric "$2" warmpath_probes_sent_total "$1"))); }
for p in $(lab_pairs); do
	REQ0[$p]=$(lab_probe_requests "${p%-*}" "${p#*-}")
	SENT0[$p]=$(sent_pair "${p%-*}" "${p#*-}")
done
t0=$(date +%s%N)
sleep "$IDLE"
for lane_src in b1 b2; do
	dst=a${lane_src#b}
	o0=$(lab_counter $lane_src "syn_out_$dst")
	i0=$(lab_counter "$dst" "syn_in_$lane_src")
	f0=$(lab_peer $lane_src "$dst" first_packet_drops)
	r0=$(lab_peer $lane_src "$dst" syn_retransmits)
	okc=0
	for ((i = 0; i < K; i++)); do
		res=$(lab_connect $lane_src "$dst" 2.5)
		[ "${res% *}" = 0 ] && okc=$((okc + 1))
	done
	sleep 0.3
	left=$(($(lab_counter $lane_src "syn_out_$dst") - o0))
	arrived=$(($(lab_counter "$dst" "syn_in_$lane_src") - i0))
	info "cure $lane_src->$dst: $okc/$K connected, SYNs left $left, arrived $arrived"
	check_eq "$okc" $K "the cure: $K/$K cold connections $lane_src->$dst connect"
	check_eq "$((left - K))" 0 "the cure: 0 of $K connections $lane_src->$dst needed a retransmission"
	check_eq "$arrived" $K "the cure: every SYN $lane_src->$dst arrived"
	check_eq "$(($(lab_peer $lane_src "$dst" first_packet_drops) - f0))" 0 \
		"the cure: warmpath on $lane_src saw no first-packet drop"
	check_eq "$(($(lab_peer $lane_src "$dst" syn_retransmits) - r0))" 0 \
		"the cure: warmpath on $lane_src saw no SYN retransmit"
done
while [ $((($(date +%s%N) - t0) / 1000000000)) -lt $WINDOW ]; do sleep 0.2; done
sleep 0.5 # answers in flight
span=$(awk -v t="$t0" -v n="$(date +%s%N)" 'BEGIN { printf "%.1f", (n - t) / 1e9 }')
for p in $(lab_pairs); do
	req=$(($(lab_probe_requests "${p%-*}" "${p#*-}") - ${REQ0[$p]}))
	sent=$(($(sent_pair "${p%-*}" "${p#*-}") - ${SENT0[$p]}))
	per=$(awk -v n="$req" -v s="$span" -v i="$LAB_KEEPALIVE" 'BEGIN { printf "%.2f", n * i / s }')
	info "pair $p: $req probe exchanges in ${span}s = $per per ${LAB_KEEPALIVE}s interval (agents say $sent sent)"
	if [ "$p" = "$BUSY" ]; then
		check_eq "$req" 0 "probes: busy pair $p receives 0 probes"
	else
		check_true "probes: idle pair $p ~1 exchange per interval ($per, want 0.5-1.5)" \
			awk -v x="$per" 'BEGIN { exit !(x >= 0.5 && x <= 1.5) }'
	fi
	check_true "probes: $p warmpath_probes_sent_total ($sent) matches the wire ($req, +-1)" \
		test $((sent - req)) -ge -1 -a $((sent - req)) -le 1
done
lab_busy_stop "${BUSY%-*}" "${BUSY#*-}"
sleep 1.5 # one more scrape
check_eq "$(lab_promql "sum by (node) (warmpath_probes_sent_total{lab=\"$LAB\"}) > 0" |
	jq -r '[.data.result[].metric.node] | sort | join(",")')" "a1,a2,b1,b2" \
	"prometheus: probes of every node scraped (sum by (node) (warmpath_probes_sent_total) > 0)"

e2e_finish
