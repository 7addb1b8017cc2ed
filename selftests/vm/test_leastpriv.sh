#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# The SIGKILL / restart cycle under exactly the DaemonSet's capabilities (read
# from deploy/kubernetes/daemonset.yaml; setpriv: bounding, inheritable and
# ambient sets, no CAP_SYS_ADMIN) on the tc path, the only path a kernel
# without tcx has.
#
#   netns wpt<pid>xa                                     netns wpt<pid>xb
#   setpriv <DaemonSet caps> warmpath run --interface vA   vB 10.231.0.2/24
#     --peer b=10.231.0.2 --mode observe --attach-mode tc
#   vA 10.231.0.1/24 ============== veth ==================
#
# Start, count; SIGKILL (filters keep counting), restart: it must start, keep
# one filter per direction and exact counts, three times over; a start that
# fails must leave the running attachment counting; then 'warmpath cleanup'
# under the same capabilities removes our filters and pins.

. "$(dirname "$0")/vm_lib.sh"
wp_require_root

N=10
K=4
PORT=7000
CYCLES=3
DS=$WP_ROOT/deploy/kubernetes/daemonset.yaml

# the capabilities the DaemonSet adds: add: ["BPF", "NET_ADMIN", ...]
CAPS=$(awk '/capabilities:/ { c = 1 } c && /add:/ { print; exit }' "$DS" |
	grep -o '"[A-Z_]*"' | tr -d '"' | tr '[:upper:]' '[:lower:]' | sed 's/^/+/' | paste -sd,)
if [ -z "$CAPS" ]; then
	fail "setup: capabilities from $DS"
	wp_finish
fi
info "DaemonSet capabilities: $CAPS"
SETPRIV=(setpriv "--inh-caps=-all,$CAPS" "--ambient-caps=-all,$CAPS" "--bounding-set=-all,$CAPS" --)
CAPPED=$WP_TMP/warmpath-capped
printf '#!/usr/bin/env bash\nexec %s "%s" "$@"\n' "${SETPRIV[*]}" "$WARMPATH" >"$CAPPED"
chmod +x "$CAPPED"

# the effective set a capped process gets must be exactly the DaemonSet's
declare -A CAPNUM=([chown]=0 [dac_override]=1 [kill]=5 [setuid]=7 [net_bind_service]=10
	[net_admin]=12 [net_raw]=13 [ipc_lock]=14 [sys_ptrace]=19 [sys_admin]=21
	[sys_resource]=24 [perfmon]=38 [bpf]=39)
WANT_MASK=0
for c in ${CAPS//,/ }; do
	c=${c#+}
	if [ -z "${CAPNUM[$c]:-}" ]; then
		fail "setup: capability $c unknown to this test"
		wp_finish
	fi
	WANT_MASK=$((WANT_MASK | (1 << CAPNUM[$c])))
done
GOT=$("${SETPRIV[@]}" awk '/^CapEff:/ { print $2 }' /proc/self/status)
check_eq "$((16#${GOT:-0}))" "$WANT_MASK" "setpriv: effective set is exactly the DaemonSet's (CapEff $GOT)"
check_eq "$(( (16#${GOT:-0} >> 21) & 1 ))" 0 "setpriv: no CAP_SYS_ADMIN"

veth_ab 10.231.0 || { fail "setup: veth"; wp_finish; }
udp_sink "$NS_B" $PORT
pin_new PIN 1 "$NS_A"
LOG=$WP_TMP/agent.log
AGENT=(--interface vA --peer "b=$B_ADDR" --mode observe --attach-mode tc)
E_TX=0

# capped_start: agent_start with the capped binary
capped_start()
{
	local WARMPATH=$CAPPED

	agent_start "$NS_A" "$PIN" "$LOG" "${AGENT[@]}"
}

tx()
{
	send_udp "$NS_A" $B_ADDR $PORT "$1"
	E_TX=$((E_TX + $1))
}

if capped_start; then
	ok "least privilege: agent starts"
else
	dump_log "$LOG"
	fail "least privilege: agent starts"
	wp_finish
fi
check_eq "$(attach_of "$PIN" vA)" tc "least privilege: attach mode tc"
tx $N
check_eq "$(wait_peer "$PIN" b tx_packets $E_TX 5)" $E_TX "least privilege: exact count"

for c in $(seq $CYCLES); do
	stop_pid "$AGENT_PID" KILL
	check_eq "$(tc_ours "$NS_A" vA ingress) $(tc_ours "$NS_A" vA egress)" "1 1" \
		"cycle $c: SIGKILL leaves one filter per direction"
	tx $K
	check_eq "$(wait_peer "$PIN" b tx_packets $E_TX 5)" $E_TX "cycle $c: orphan filters count"
	if capped_start; then
		ok "cycle $c: restart under the DaemonSet's capabilities"
	else
		fail "cycle $c: restart under the DaemonSet's capabilities" \
			"$(grep -v '^$' "$LOG" | tail -2 | tr '\n' ' ')"
	fi
	check_eq "$(tc_ours "$NS_A" vA ingress) $(tc_ours "$NS_A" vA egress)" "1 1" \
		"cycle $c: one filter of ours per direction"
	# started or not: what is attached keeps counting, map entries intact
	tx $N
	check_eq "$(wait_peer "$PIN" b tx_packets $E_TX 5)" $E_TX \
		"cycle $c: +$N datagrams count $N (single attachment, still counting)"
	if [ -z "$AGENT_PID" ] || ! kill -0 "$AGENT_PID" 2>/dev/null; then
		# a refused start left nothing running: restart again for the next cycle
		# only makes sense once the bug is fixed
		break
	fi
done

[ -n "$AGENT_PID" ] && kill -0 "$AGENT_PID" 2>/dev/null && stop_pid "$AGENT_PID" KILL
C=$(nsx "$NS_A" "$CAPPED" cleanup --pin-path "$PIN" 2>&1)
RC=$?
check_eq "$RC" 0 "least-privilege cleanup: exits 0"
[ "$RC" = 0 ] || info "cleanup said: $(tr '\n' ' ' <<<"$C")"
check_eq "$(tc_ours "$NS_A" vA ingress) $(tc_ours "$NS_A" vA egress)" "0 0" \
	"least-privilege cleanup: our filters removed"
check_true "least-privilege cleanup: pin dir removed" test ! -e "$PIN"

wp_finish
