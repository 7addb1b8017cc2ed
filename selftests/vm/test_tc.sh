#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# The tc clsact path on a kernel without tcx (6.1 in the vmtest guest): exact
# per-peer counts on a veth pair with the default --attach-mode auto, and
# cleanup / clean exit leaving foreign tc filters and qdiscs in place.
#
#   netns wpt<pid>xa                       netns wpt<pid>xb
#   warmpath run --interface vA            vB 10.230.0.2/24
#     --peer b=10.230.0.2 --mode observe   nft: drop udp 7000 (no ICMP back)
#   vA 10.230.0.1/24 ========= veth ========
#
# (a) auto falls back to tc: one filter per direction, attach "tc"; N UDP
#     each way and N pings each way: tx/rx packets and bytes exact
# (b) SIGKILL, then an operator's matchall filter on the clsact qdisc warmpath
#     created; 'warmpath cleanup': our filters gone, the foreign filter and
#     so the qdisc stay
# (c) a foreign clsact with foreign filters that end the chain (matchall
#     action pass, priority 2) before the agent starts, and a foreign root
#     qdisc: warmpath runs first (counts exact); after SIGTERM both qdiscs and
#     the filters stay

. "$(dirname "$0")/vm_lib.sh"
wp_require_root

N=10
PORT=7000
UDP_LEN=44 # 14 eth + 20 ip + 8 udp + 2
ICMP_LEN=98 # 14 eth + 20 ip + 8 icmp + 56

veth_ab 10.230.0 || { fail "setup: veth"; wp_finish; }
udp_sink "$NS_A" $PORT
udp_sink "$NS_B" $PORT
pin_new PIN 1 "$NS_A"
LOG=$WP_TMP/agent.log
AGENT=(--interface vA --peer "b=$B_ADDR" --mode observe)

E_TX=0 E_RX=0 E_TXB=0 E_RXB=0
traffic()
{
	send_udp "$NS_A" $B_ADDR $PORT $N
	send_udp "$NS_B" $A_ADDR $PORT $N
	ping_n "$NS_A" $B_ADDR $N || info "ping A->B lost packets"
	ping_n "$NS_B" $A_ADDR $N || info "ping B->A lost packets"
	E_TX=$((E_TX + 3 * N)) E_RX=$((E_RX + 3 * N))
	E_TXB=$((E_TXB + N * UDP_LEN + 2 * N * ICMP_LEN))
	E_RXB=$((E_RXB + N * UDP_LEN + 2 * N * ICMP_LEN))
}

check_counts()
{
	check_peer_counts "$PIN" b "$1" 5 tx_packets=$E_TX rx_packets=$E_RX tx_bytes=$E_TXB \
		rx_bytes=$E_RXB
}

# foreign matchall filters at PRIO on vA in DIR
matchall_foreign()
{
	in_ns "$NS_A" tc filter show dev vA "$1" | grep -c "pref $2 matchall chain 0 handle"
}

# --- (a) auto -> tc ------------------------------------------------------------
if ! agent_start "$NS_A" "$PIN" "$LOG" "${AGENT[@]}"; then
	fail "auto: agent starts"
	wp_finish
fi
ok "auto: agent starts"
check_eq "$(attach_of "$PIN" vA)" tc "auto: no tcx on $(uname -r): attach mode tc"
check_eq "$(tc_ours "$NS_A" vA ingress) $(tc_ours "$NS_A" vA egress)" "1 1" \
	"auto: one filter of ours per direction"
check_eq "$(ls "$PIN/links" 2>/dev/null | wc -l)" 0 "auto: no tcx link pinned"
traffic
check_counts "tc"
S=$(status_json "$PIN")
check_eq "$(jq -r '.datapath.matched' <<<"$S")" $((E_TX + E_RX)) "tc: datapath matched"
check_eq "$(jq -r '.datapath.unmatched' <<<"$S")" 0 "tc: datapath unmatched"

# --- (b) SIGKILL, a foreign filter on our clsact, cleanup -------------------------
stop_pid "$AGENT_PID" KILL
# behind ours (49152: tc's default priority), so ours still sees every packet
in_ns "$NS_A" tc filter add dev vA ingress prio 49152 protocol all matchall action pass
in_ns "$NS_A" tc filter add dev vA egress prio 49152 protocol all matchall action pass
check_eq "$(matchall_foreign ingress 49152) $(matchall_foreign egress 49152)" "1 1" \
	"foreign matchall filters added after the crash"
send_udp "$NS_A" $B_ADDR $PORT $N
E_TX=$((E_TX + N)) E_TXB=$((E_TXB + N * UDP_LEN))
check_eq "$(wait_peer "$PIN" b tx_packets $E_TX 5)" $E_TX "SIGKILL: orphan filters still count"
C=$(nsx "$NS_A" "$WARMPATH" cleanup --pin-path "$PIN" -v 2>&1)
check_eq "$?" 0 "cleanup: exits 0"
check_eq "$(tc_ours "$NS_A" vA ingress) $(tc_ours "$NS_A" vA egress)" "0 0" \
	"cleanup: our filters removed"
check_eq "$(matchall_foreign ingress 49152) $(matchall_foreign egress 49152)" "1 1" \
	"cleanup: foreign filters on the qdisc we created kept"
check_match "$(in_ns "$NS_A" tc qdisc show dev vA)" "qdisc clsact" "cleanup: clsact kept (not empty)"
check_true "cleanup: pin dir removed" test ! -e "$PIN"
in_ns "$NS_A" tc qdisc del dev vA clsact

# --- (c) foreign qdiscs and filters before the start, clean exit ----------------
# a foreign filter that ends the chain (TC_ACT_OK) at priority 2, the way
# Cilium's and Calico's filters do: warmpath (priority 1) must run first and count all
in_ns "$NS_A" tc qdisc add dev vA root handle 1: fq_codel
in_ns "$NS_A" tc qdisc add dev vA clsact
in_ns "$NS_A" tc filter add dev vA ingress prio 2 protocol all matchall action pass
in_ns "$NS_A" tc filter add dev vA egress prio 2 protocol all matchall action pass
pin_new PIN 2 "$NS_A"
E_TX=0 E_RX=0 E_TXB=0 E_RXB=0
check_agent_start "foreign qdiscs: agent starts" "$NS_A" "$PIN" "$LOG" "${AGENT[@]}"
check_eq "$(tc_ours "$NS_A" vA ingress) $(tc_ours "$NS_A" vA egress)" "1 1" \
	"foreign qdiscs: one filter of ours per direction"
traffic
check_counts "first in the chain, ahead of a foreign TC_ACT_OK filter"
stop_pid "$AGENT_PID" TERM
check_eq "$STOP_RC" 0 "SIGTERM: exits 0"
check_eq "$(tc_ours "$NS_A" vA ingress) $(tc_ours "$NS_A" vA egress)" "0 0" \
	"SIGTERM: our filters removed"
check_eq "$(matchall_foreign ingress 2) $(matchall_foreign egress 2)" "1 1" \
	"SIGTERM: foreign filters kept"
Q=$(in_ns "$NS_A" tc qdisc show dev vA)
check_match "$Q" "qdisc clsact" "SIGTERM: foreign clsact kept"
check_match "$Q" "qdisc fq_codel 1: root" "SIGTERM: foreign root qdisc kept"

wp_finish
