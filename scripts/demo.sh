#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# sudo make demo [KEEP=1]: the cold-path problem and warmpath's cure, for real.
#
# Builds the lab (scripts/lab.sh: 4 nodes, site A behind a NAT whose UDP
# mappings expire after 5 s, wireguard-go between every pair, a VXLAN pod
# overlay on top, one warmpath agent per node, Prometheus), then:
#   1. agents in --mode observe: every path idle for 8 s, then 5 TCP connections
#      from b1 to a1's pod, each given 2.5 s to connect;
#   2. agents in --mode idle (--keepalive-interval 2): the same idle period, the
#      same 5 connections;
#   3. meanwhile a2<->b2 carry a steady ping (a busy pair): probes per pair;
#   4. where to look.
# Ends with a summary table. KEEP=1 leaves the lab running (agents in idle mode)
# and prints how to tear it down. Environment: DEMO_CONNECTIONS (5), DEMO_IDLE
# (8 s), DEMO_CONNECT_TIMEOUT (2.5 s), DEMO_WINDOW (20 s).

set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
# shellcheck source=scripts/lab.sh
. scripts/lab.sh
lab_prelude demo

K=${DEMO_CONNECTIONS:-5}
IDLE=${DEMO_IDLE:-8}
CTO=${DEMO_CONNECT_TIMEOUT:-2.5}
WINDOW=${DEMO_WINDOW:-20}
KEEP=${KEEP:-0}
SRC=b1 DST=a1 BUSY=a2-b2

# shellcheck disable=SC2317 # the EXIT trap
finish()
{
	local rc=$?

	if [ "$KEEP" = 1 ] && [ -e "$LAB_STATE" ]; then
		echo
		echo "KEEP=1: the lab keeps running$([ -n "$(lab_pid agent-b1)" ] && echo " (agents in --mode idle)")."
		echo "Tear it down with:  sudo $ROOT/scripts/lab.sh down"
	else
		lab_down
		[ "$rc" = 0 ] || echo "demo: failed (exit $rc); the lab was torn down" >&2
	fi
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

say() { printf '%s\n' "$*"; }
step() { printf '  %-72s' "$*"; }

# connections PHASE: K connections SRC -> DST's pod; results in R[PHASE.*]
declare -A R
connections()
{
	local ph=$1 i res rc ms o0 i0 o1 i1 d0 f0 c0 nat0 ok=0 retx=0 fail=0 out=0 in=0 times=()

	f0=$(lab_metric $SRC warmpath_first_packet_drops_total $DST)
	c0=$(lab_metric $SRC warmpath_cold_starts_total $DST)
	nat0=$(lab_router_counter unsolicited_udp)
	for ((i = 1; i <= K; i++)); do
		o0=$(lab_counter $SRC syn_out_$DST)
		i0=$(lab_counter $DST syn_in_$SRC)
		d0=$(lab_peer $SRC $DST first_packet_drops)
		res=$(lab_connect $SRC $DST "$CTO")
		rc=${res% *} ms=${res#* }
		sleep 0.2 # a late SYN reaches the counters
		o1=$(lab_counter $SRC syn_out_$DST)
		i1=$(lab_counter $DST syn_in_$SRC)
		out=$((out + o1 - o0)) in=$((in + i1 - i0))
		[ $((o1 - o0)) -gt 1 ] && retx=$((retx + 1))
		if [ "$rc" = 0 ]; then ok=$((ok + 1)); else fail=$((fail + 1)); fi
		times+=("$ms")
		printf '    #%d %-9s %5d ms   SYNs sent %d, reached %s %d   warmpath first-packet drops +%d\n' \
			"$i" "$([ "$rc" = 0 ] && echo connected || echo TIMEOUT)" "$ms" $((o1 - o0)) $DST \
			$((i1 - i0)) $(($(lab_peer $SRC $DST first_packet_drops) - d0))
	done
	sleep 1 # the agents' metrics follow the maps
	R[$ph.ok]=$ok R[$ph.retx]=$retx R[$ph.fail]=$fail R[$ph.out]=$out R[$ph.in]=$in
	R[$ph.fpd]=$(($(lab_metric $SRC warmpath_first_packet_drops_total $DST) - f0))
	R[$ph.cold]=$(($(lab_metric $SRC warmpath_cold_starts_total $DST) - c0))
	R[$ph.nat]=$(($(lab_router_counter unsolicited_udp) - nat0))
	mapfile -t times < <(printf '%s\n' "${times[@]}" | sort -n)
	R[$ph.tmed]=${times[$((K / 2))]}
	R[$ph.tmax]=${times[$((K - 1))]}
}

# probe exchanges per pair from a snapshot (P0) to now: R[PHASE,pair]
declare -A P0
probes_mark()
{
	local p

	for p in $(lab_pairs); do
		P0[$p]=$(lab_probe_requests "${p%-*}" "${p#*-}")
	done
}
probes_take()
{
	local p

	for p in $(lab_pairs); do
		R[$1.$p]=$(($(lab_probe_requests "${p%-*}" "${p#*-}") - ${P0[$p]}))
	done
}

say "warmpath demo: real WireGuard (wireguard-go) under real NAT, a VXLAN pod overlay on top"
say "  site A: a1, a2 behind a NAT router (nftables masquerade, UDP mappings expire after ${LAB_NAT_TIMEOUT}s)"
say "  site B: b1, b2 on the public side; WireGuard between every pair, no PersistentKeepalive"
say "  b1 -> a1 pod $(lab_pod $DST):$LAB_TCP_PORT crosses VXLAN, WireGuard and the NAT"
say
if [ -e "$LAB_STATE" ]; then
	step "removing the lab a previous run left"
	lab_down
	say "done"
fi
step "building the lab (namespaces, wireguard-go, VXLAN, NAT, Prometheus)"
lab_up
say "done"

# --- 1. observe ----------------------------------------------------------------
say
say "1. warmpath in --mode observe (counts and detects, sends nothing)"
step "agents up on a1 a2 b1 b2"
lab_agents_start observe
say "done"
probes_mark
# shellcheck disable=SC2119 # no argument: all pairs
lab_warm
# shellcheck disable=SC2119
lab_quiet

step "every path idle for ${IDLE}s (the NAT forgets a1's mapping after ${LAB_NAT_TIMEOUT}s)"
sleep "$IDLE"
say "done"
say "  $K connections $SRC -> $DST pod, ${CTO}s to connect each:"
connections observe
probes_take observe

# --- 2. idle --------------------------------------------------------------------
say
say "2. warmpath in --mode idle --keepalive-interval $LAB_KEEPALIVE (probes only pairs idle that long)"
step "agents restarted in idle mode; ping flowing ${BUSY%-*} <-> ${BUSY#*-} (busy pair)"
lab_agents_start idle
lab_busy_start "${BUSY%-*}" "${BUSY#*-}"
sleep 3
say "done"
t0=$(date +%s)
probes_mark
step "every other path idle for ${IDLE}s (no workload, only warmpath's probes)"
sleep "$IDLE"
say "done"
say "  $K connections $SRC -> $DST pod, ${CTO}s to connect each:"
connections idle
left=$((WINDOW - ($(date +%s) - t0)))
[ "$left" -gt 0 ] && sleep "$left"
span=$(($(date +%s) - t0))
probes_take idle
lab_busy_stop "${BUSY%-*}" "${BUSY#*-}"

# --- summary ----------------------------------------------------------------------
row() { printf '  %-44s %14s %14s\n' "$@"; }
say
say "== Summary: $K new TCP connections $SRC -> $DST pod after ${IDLE}s idle =="
row "" "observe" "idle (warm)"
row "connected within ${CTO}s" "${R[observe.ok]}/$K" "${R[idle.ok]}/$K"
row "needed a retransmitted SYN" "${R[observe.retx]}/$K" "${R[idle.retx]}/$K"
row "failed (timed out)" "${R[observe.fail]}/$K" "${R[idle.fail]}/$K"
row "connect time, median / max (ms)" "${R[observe.tmed]} / ${R[observe.tmax]}" \
	"${R[idle.tmed]} / ${R[idle.tmax]}"
row "SYNs sent by $SRC / reached $DST (nftables)" "${R[observe.out]} / ${R[observe.in]}" \
	"${R[idle.out]} / ${R[idle.in]}"
row "SYN retransmissions seen at $SRC (nftables)" "$((${R[observe.out]} - K))" "$((${R[idle.out]} - K))"
row "warmpath on $SRC: first-packet drops ($DST)" "${R[observe.fpd]}" "${R[idle.fpd]}"
row "warmpath on $SRC: cold starts ($DST)" "${R[observe.cold]}" "${R[idle.cold]}"
row "NAT router: unsolicited packets dropped" "${R[observe.nat]}" "${R[idle.nat]}"
retx_o=$((${R[observe.out]} - K)) retx_i=$((${R[idle.out]} - K))
say
say "  the problem: ${R[observe.retx]}/$K connections needed a retransmitted SYN, ${R[observe.fail]} never connected"
if [ "${R[observe.fpd]}" = "$retx_o" ]; then
	say "  detection:   warmpath counted all $retx_o retransmitted SYNs as first-packet drops"
else
	say "  detection:   warmpath counted ${R[observe.fpd]} first-packet drops for $retx_o retransmitted SYNs (MISMATCH)"
fi
say "  the cure:    ${R[idle.retx]}/$K connections needed a retransmitted SYN, ${R[idle.fail]} failed"
STATUS=0
if [ "$retx_o" -lt 1 ]; then
	say "  demo: the lab did not reproduce the cold path (no SYN was retransmitted in observe mode)"
	STATUS=1
fi
if [ "$retx_i" -gt 0 ] || [ "${R[idle.fail]}" -gt 0 ]; then
	say "  demo: warmpath --mode idle did not keep the path warm"
	STATUS=1
fi

say
say "== Probe exchanges per pair (requests on the wire, both agents) =="
printf '  %-8s %-22s %10s %22s\n' pair traffic observe "idle (${span}s window)"
for p in $(lab_pairs); do
	traffic=idle
	[ "$p" = "$BUSY" ] && traffic="busy (ping 5/s)"
	[ "$p" = "$DST-$SRC" ] && traffic="idle + $K connections"
	printf '  %-8s %-22s %10s %11s = %4s/interval\n' "$p" "$traffic" "${R[observe.$p]}" \
		"${R[idle.$p]}" "$(awk -v n="${R[idle.$p]}" -v s="$span" -v i="$LAB_KEEPALIVE" \
			'BEGIN { printf "%.2f", n * i / s }')"
done
say "  (an idle pair costs about one exchange per ${LAB_KEEPALIVE}s interval, not one per agent;"
say "   a busy pair costs none: its keep-alives are suppressed)"

# --- where to look ---------------------------------------------------------------
say
say "== Where to look =="
for n in "${LAB_NODES[@]}"; do
	say "  $n: $(lab_metrics_url "$n")/metrics   $(lab_metrics_url "$n")/peers"
done
say "  Prometheus: $(lab_prom_url)/graph   (scrapes all four agents every second)"
say "  PromQL:     sum by (node, peer) (warmpath_first_packet_drops_total)"
say "  status:     $WARMPATH status --pin-path $(lab_pin $SRC)"
say "  maps:       bpftool map dump pinned $(lab_pin $SRC)/peers"
say "  shell:      nsenter --net=/run/netns/$(lab_ns $SRC) bash"
if [ "$KEEP" != 1 ]; then
	say "  (the lab is torn down now; 'make demo KEEP=1' keeps it running)"
fi
exit $STATUS
