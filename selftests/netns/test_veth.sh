#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# warmpath on a real L2 device: a veth pair between two namespaces.
#
#   netns wpt<pid>xa                          netns wpt<pid>xb
#  +-------------------------------+        +----------------------------+
#  | warmpath run --interface vA   |        |                            |
#  |   --peer b=10.201.0.2         |        |                            |
#  |   (tcx or tc on vA in + out)  |  veth  |  10.201.0.2/24             |
#  |   vA 10.201.0.1/24  =================== vB 10.201.0.3/24 (same pfx) |
#  |   route 10.201.1.0/24 dev vA  |        |     10.201.1.2/24 (unmatch)|
#  |   nft: drop udp dport 7000    |        |  nft: drop udp dport 7000, |
#  +-------------------------------+        |       9050 (no ICMP back)  |
#                                           +----------------------------+
#
# Exactly N UDP datagrams and N pings each way, M probe datagrams (UDP to port
# 9050 from A, from source port 9050 out of B): the per-peer counters must be
# exact, in tcx and tc mode, across SIGKILL and restart (one attachment per
# hook), after SIGTERM (status), and cleanup must spare a foreign filter and pin.

# shellcheck source=selftests/lib.sh
. "$(dirname "$0")/../lib.sh"
wp_require_root

N=10 # workload datagrams / pings each way
M=3 # probe datagrams each way
K=4 # datagrams sent while the agent is dead
PORT=7000 # workload port (dropped on input: no ICMP port unreachable)
PROBE=9050 # the default --probe-port
# frame sizes at tc on an Ethernet device: 14 eth + 20 ip + 8 udp + 2 "x\n";
# 14 + 20 + 8 icmp + 56 ping payload
UDP_LEN=44
ICMP_LEN=98

B_ADDR2=10.201.0.3 # in b's /24, not b's address
B_OTHER=10.201.1.2 # no peer's prefix

veth_ab 10.201.0 || { fail "setup: namespaces and veth"; wp_finish; }
ip -n "$NS_B" addr add $B_ADDR2/24 dev vB
ip -n "$NS_B" addr add $B_OTHER/24 dev vB
ip -n "$NS_A" route add 10.201.1.0/24 dev vA
udp_sink "$NS_A" $PORT
udp_sink "$NS_B" $PORT $PROBE
if ! ping_n "$NS_A" $B_ADDR 1; then
	fail "setup: veth reachable"
	wp_finish
fi
IFINDEX=$(ifindex "$NS_A" vA)

pin_new PIN 1 "$NS_A"
LOG=$WP_TMP/agent.log
AGENT=(--interface vA --peer "b=$B_ADDR" --mode observe -v)

# tx / rx / tx_probe / rx_probe / tx_bytes / rx_bytes the test expects
E_TX=0 E_RX=0 E_TXP=0 E_RXP=0 E_TXB=0 E_RXB=0

# The full mix each way; updates the expected counters.
traffic_mix()
{
	send_udp "$NS_A" $B_ADDR $PORT $N # tx N
	send_udp "$NS_B" $A_ADDR $PORT $N # rx N
	ping_n "$NS_A" $B_ADDR $N || info "ping A->B lost packets"
	ping_n "$NS_B" $A_ADDR $N || info "ping B->A lost packets"
	send_udp "$NS_A" $B_ADDR $PROBE $M # tx probe M (to 9050)
	send_udp_from "$NS_B" $PROBE $A_ADDR $PORT $M # rx probe M (from 9050)
	E_TX=$((E_TX + 2 * N + N + M))
	E_RX=$((E_RX + N + 2 * N + M))
	E_TXP=$((E_TXP + M))
	E_RXP=$((E_RXP + M))
	E_TXB=$((E_TXB + N * UDP_LEN + 2 * N * ICMP_LEN + M * UDP_LEN))
	E_RXB=$((E_RXB + N * UDP_LEN + 2 * N * ICMP_LEN + M * UDP_LEN))
}

# N workload datagrams A->B only.
traffic_tx()
{
	send_udp "$NS_A" $B_ADDR $PORT "$1"
	E_TX=$((E_TX + $1))
	E_TXB=$((E_TXB + $1 * UDP_LEN))
}

# check_counts LABEL: every counter of peer b against the expectation.
check_counts()
{
	check_peer_counts "$PIN" b "$1" tx_packets=$E_TX rx_packets=$E_RX tx_probe_packets=$E_TXP \
		rx_probe_packets=$E_RXP tx_bytes=$E_TXB rx_bytes=$E_RXB
}

# our tc filters (handle 0x5750) on vA in DIR
tc_ours()
{
	in_ns "$NS_A" tc filter show dev vA "$1" | grep -c 'handle 0x5750'
}

# the foreign u32 filters (prio 2) on vA, ingress + egress
tc_foreign()
{
	echo $(($(in_ns "$NS_A" tc filter show dev vA ingress | grep -c "pref 2 u32 .*fh 800::800") + \
		$(in_ns "$NS_A" tc filter show dev vA egress | grep -c "pref 2 u32 .*fh 800::800")))
}

pinned_links()
{
	ls "$PIN/links" 2>/dev/null | sort | tr '\n' ' '
}

link_id()
{
	bpftool link show pinned "$PIN/links/if${IFINDEX}_$1" -j 2>/dev/null | jq -r '.id'
}

WANT_LINKS="if${IFINDEX}_egress if${IFINDEX}_ingress "

# --- 1. tcx (attach mode auto) ------------------------------------------------
info "tcx: agent on vA, peer b=$B_ADDR"
if ! agent_start "$NS_A" "$PIN" "$LOG" "${AGENT[@]}"; then
	fail "tcx: agent starts"
	wp_finish
fi
ok "tcx: agent starts"
S=$(status_json "$PIN")
check_eq "$(jq -r '.interfaces | length' <<<"$S")" 1 "tcx: one interface in status"
check_eq "$(jq -r '.interfaces[0].name' <<<"$S")" vA "tcx: interface name"
check_eq "$(jq -r '.interfaces[0].ifindex' <<<"$S")" "$IFINDEX" "tcx: interface ifindex"
check_eq "$(jq -r '.interfaces[0].layout' <<<"$S")" l2 "tcx: layout l2 on veth"
check_eq "$(jq -r '.interfaces[0].attach' <<<"$S")" tcx "tcx: attach mode tcx"
check_match "$(cat "$LOG")" "attached to vA \(ifindex $IFINDEX, l2, tcx\)" "tcx: log names the attachment"
check_eq "$(pinned_links)" "$WANT_LINKS" "tcx: one pinned link per direction"
check_eq "$(tc_ours ingress)$(tc_ours egress)" 00 "tcx: no tc filter of ours"
check_eq "$(peer_get "$PIN" b tx_packets)" 0 "tcx: counters start at 0"

traffic_mix
check_counts "tcx"
S=$(status_json "$PIN")
check_eq "$(jq -r '.datapath.matched' <<<"$S")" $((E_TX + E_RX)) "tcx: datapath matched"
check_eq "$(jq -r '.datapath.probe' <<<"$S")" $((E_TXP + E_RXP)) "tcx: datapath probe"
check_eq "$(jq -r '.datapath.malformed' <<<"$S")" 0 "tcx: datapath malformed"
check_eq "$(jq -r '.datapath.unmatched' <<<"$S")" 0 "tcx: datapath unmatched"
check_eq "$(jq -r '.unmatched | length' <<<"$S")" 0 "tcx: no unmatched address"
check_eq "$(peer_get "$PIN" b tx_probe_bytes)" $((M * UDP_LEN)) "tcx: tx_probe_bytes"
check_eq "$(peer_get "$PIN" b rx_probe_bytes)" $((M * UDP_LEN)) "tcx: rx_probe_bytes"

T=$("$WARMPATH" status --pin-path "$PIN" 2>&1)
check_match "$T" "^b +$E_TX +$E_RX +$E_TXB +$E_RXB +$E_TXP +$E_RXP " "tcx: status table row of peer b"
check_match "$T" "vA\(l2,tcx\)" "tcx: status table interface"

D=$(bpftool map dump pinned "$PIN/peers" 2>&1)
check_match "$D" '"last_tx_ns": [1-9]' "bpftool map dump: last_tx_ns field"
check_match "$D" "\"tx_packets\": $E_TX\b" "bpftool map dump: tx_packets field"
check_match "$D" '"last_rx_ns": [1-9]' "bpftool map dump: last_rx_ns field"

# --- 2. SIGKILL, restart: the pinned links keep counting, then are replaced ------
LINK_IN=$(link_id ingress)
LINK_EG=$(link_id egress)
stop_pid "$AGENT_PID" KILL
check_eq "$(pinned_links)" "$WANT_LINKS" "tcx SIGKILL: links stay pinned"
traffic_tx $K
check_eq "$(wait_peer "$PIN" b tx_packets $E_TX)" $E_TX "tcx SIGKILL: orphan links still count"

check_agent_start "tcx restart: agent starts" "$NS_A" "$PIN" "$LOG" "${AGENT[@]}"
check_eq "$(pinned_links)" "$WANT_LINKS" "tcx restart: one pinned link per direction"
check_eq "$(link_id ingress) $(link_id egress)" "$LINK_IN $LINK_EG" \
	"tcx restart: the same links, program replaced in place"
check_eq "$(tc_ours ingress)$(tc_ours egress)" 00 "tcx restart: no tc filter of ours"
check_counts "tcx restart: counters survive"
traffic_tx $N
check_counts "tcx restart: +$N datagrams count $N (single attachment)"
traffic_mix
check_counts "tcx restart: mix"

# --- 3. SIGTERM: detached, maps stay, status still reads them --------------------
stop_pid "$AGENT_PID" TERM
check_eq "$STOP_RC" 0 "SIGTERM: agent exits 0"
check_match "$(cat "$LOG")" "exiting: detaching" "SIGTERM: agent logs the detach"
check_eq "$(pinned_links)" "" "SIGTERM: links unpinned"
check_true "SIGTERM: old ingress link gone" bash -c "! bpftool link show id $LINK_IN >/dev/null 2>&1"
T=$("$WARMPATH" status --pin-path "$PIN" 2>&1)
check_eq "$?" 0 "SIGTERM: status works after the agent exited"
check_match "$T" "^b +$E_TX +$E_RX " "SIGTERM: status shows the counts"
check_eq "$(peer_get "$PIN" b tx_packets)" $E_TX "SIGTERM: status --json tx_packets"
send_udp "$NS_A" $B_ADDR $PORT $N
sleep 0.2
check_eq "$(peer_get "$PIN" b tx_packets)" $E_TX "SIGTERM: nothing counted once detached"

# --- 4. tc clsact, next to a foreign filter ---------------------------------------
in_ns "$NS_A" tc qdisc add dev vA clsact
# a foreign filter in each direction (this kernel has u32 but no matchall)
in_ns "$NS_A" tc filter add dev vA ingress prio 2 protocol all u32 match u32 0 0
in_ns "$NS_A" tc filter add dev vA egress prio 2 protocol all u32 match u32 0 0
check_eq "$(tc_foreign)" 2 "tc: foreign u32 filters installed"
info "tc: agent on vA with --attach-mode tc"
check_agent_start "tc: agent starts" "$NS_A" "$PIN" "$LOG" "${AGENT[@]}" --attach-mode tc
S=$(status_json "$PIN")
check_eq "$(jq -r '.interfaces[0].attach' <<<"$S")" tc "tc: attach mode tc"
check_eq "$(jq -r '.interfaces[0].layout' <<<"$S")" l2 "tc: layout l2"
check_eq "$(tc_ours ingress) $(tc_ours egress)" "1 1" "tc: one filter at handle 0x5750 per direction"
check_match "$(in_ns "$NS_A" tc filter show dev vA ingress)" \
	"pref 1 bpf chain 0 handle 0x5750 wp_tc_ingress" "tc: filter prio 1 runs wp_tc_ingress"
check_eq "$(tc_foreign)" 2 "tc: foreign filter still there"
check_eq "$(pinned_links)" "" "tc: no tcx link pinned"
check_counts "tc: counters survive the mode change"
traffic_mix
check_counts "tc"

stop_pid "$AGENT_PID" KILL
check_eq "$(tc_ours ingress) $(tc_ours egress)" "1 1" "tc SIGKILL: filters stay"
traffic_tx $K
check_eq "$(wait_peer "$PIN" b tx_packets $E_TX)" $E_TX "tc SIGKILL: orphan filters still count"
check_agent_start "tc restart: agent starts" "$NS_A" "$PIN" "$LOG" "${AGENT[@]}" --attach-mode tc
check_eq "$(tc_ours ingress) $(tc_ours egress)" "1 1" "tc restart: one filter of ours per direction"
check_eq "$(tc_foreign)" 2 "tc restart: foreign filter still there"
check_counts "tc restart: counters survive"
traffic_tx $N
check_counts "tc restart: +$N datagrams count $N (single attachment)"

# --- 5. crash in one mode, restart in the other: never both -----------------------
stop_pid "$AGENT_PID" KILL
check_agent_start "tc->tcx restart: agent starts" "$NS_A" "$PIN" "$LOG" "${AGENT[@]}" --attach-mode tcx
check_eq "$(tc_ours ingress) $(tc_ours egress)" "0 0" "tc->tcx restart: our tc filters removed"
check_eq "$(tc_foreign)" 2 "tc->tcx restart: foreign filter still there"
check_eq "$(pinned_links)" "$WANT_LINKS" "tc->tcx restart: one pinned link per direction"
traffic_tx $N
check_counts "tc->tcx restart: +$N datagrams count $N"
LINK_IN=$(link_id ingress)

stop_pid "$AGENT_PID" KILL
check_agent_start "tcx->tc restart: agent starts" "$NS_A" "$PIN" "$LOG" "${AGENT[@]}" --attach-mode tc
check_eq "$(pinned_links)" "" "tcx->tc restart: tcx links unpinned"
check_true "tcx->tc restart: old tcx link gone" \
	bash -c "! bpftool link show id $LINK_IN >/dev/null 2>&1"
check_eq "$(tc_ours ingress) $(tc_ours egress)" "1 1" "tcx->tc restart: one filter per direction"
traffic_tx $N
check_counts "tcx->tc restart: +$N datagrams count $N"

# SIGTERM in tc mode: our filters go, the clsact qdisc we did not create stays
stop_pid "$AGENT_PID" TERM
check_eq "$STOP_RC" 0 "tc SIGTERM: agent exits 0"
check_eq "$(tc_ours ingress) $(tc_ours egress)" "0 0" "tc SIGTERM: our filters removed"
check_eq "$(tc_foreign)" 2 "tc SIGTERM: foreign filters untouched"
check_match "$(in_ns "$NS_A" tc qdisc show dev vA)" "qdisc clsact" "tc SIGTERM: foreign clsact qdisc kept"

# --- 6. cleanup after a crash: ours go, foreign filter and pin stay ---------------
check_agent_start "tc again: agent starts" "$NS_A" "$PIN" "$LOG" "${AGENT[@]}" --attach-mode tc
check_eq "$(tc_ours ingress) $(tc_ours egress)" "1 1" "tc again: one filter per direction"
check_counts "tc again: counters survive"
stop_pid "$AGENT_PID" KILL
bpftool map create "$PIN/foreign" type array key 4 value 4 entries 1 name foreign
check_true "cleanup: foreign pin created" test -e "$PIN/foreign"
C=$(nsx "$NS_A" "$WARMPATH" cleanup --pin-path "$PIN" -v 2>&1)
check_eq "$?" 0 "cleanup: exits 0"
check_eq "$(tc_ours ingress) $(tc_ours egress)" "0 0" "cleanup: our tc filters removed"
check_eq "$(tc_foreign)" 2 "cleanup: foreign tc filter untouched"
check_true "cleanup: foreign pin untouched" test -e "$PIN/foreign"
check_eq "$(ls "$PIN" | tr '\n' ' ')" "foreign " "cleanup: all our pins removed"
check_match "$C" "removed map $PIN/peers" "cleanup -v lists what it removed"
rm -f "$PIN/foreign"
rmdir "$PIN"

# --- 7. a peer with a CIDR prefix; unmatched addresses ----------------------------
pin_new PIN 2 "$NS_A"
info "prefix: agent with --peer b=$B_ADDR,10.201.0.0/24"
if agent_start "$NS_A" "$PIN" "$LOG" --interface vA --peer b=$B_ADDR,10.201.0.0/24 \
	--mode observe; then
	ok "prefix: agent starts"
else
	fail "prefix: agent starts"
fi
send_udp "$NS_A" $B_ADDR2 $PORT $N
send_udp "$NS_A" $B_OTHER $PORT $M
check_eq "$(wait_peer "$PIN" b tx_packets $N)" $N "prefix: traffic to $B_ADDR2 counts for peer b"
check_eq "$(peer_get "$PIN" b tx_bytes)" $((N * UDP_LEN)) "prefix: tx_bytes"
check_eq "$(peer_get "$PIN" b rx_packets)" 0 "prefix: rx_packets"
wait_for 3 bash -c "[ \"\$('$WARMPATH' status --pin-path '$PIN' --json | jq '.datapath.unmatched')\" = $M ]"
S=$(status_json "$PIN")
check_eq "$(jq -r '.datapath.unmatched' <<<"$S")" $M "prefix: datapath unmatched"
check_eq "$(jq -r '.unmatched | length' <<<"$S")" 1 "unmatched: one address"
check_eq "$(jq -r '.unmatched[0].address' <<<"$S")" $B_OTHER "unmatched: the address outside every prefix"
check_eq "$(jq -r '.unmatched[0].tx_packets' <<<"$S")" $M "unmatched: its tx_packets"
check_eq "$(jq -r '.unmatched[0].tx_bytes' <<<"$S")" $((M * UDP_LEN)) "unmatched: its tx_bytes"
check_match "$("$WARMPATH" status --pin-path "$PIN")" "1 address\(es\) matched no peer" \
	"unmatched: the table mentions it"

# tcx cleanup after a crash: links detached, pin dir gone
LINK_IN=$(link_id ingress)
LINK_EG=$(link_id egress)
stop_pid "$AGENT_PID" KILL
nsx "$NS_A" "$WARMPATH" cleanup --pin-path "$PIN" >/dev/null 2>&1
check_eq "$?" 0 "tcx cleanup: exits 0"
check_true "tcx cleanup: links detached" \
	bash -c "! bpftool link show id $LINK_IN >/dev/null 2>&1 && ! bpftool link show id $LINK_EG >/dev/null 2>&1"
check_true "tcx cleanup: pin dir removed" test ! -e "$PIN"
send_udp "$NS_A" $B_ADDR $PORT 1
check_eq "$(tc_ours ingress) $(tc_ours egress)" "0 0" "tcx cleanup: no tc filter of ours"

wp_finish
