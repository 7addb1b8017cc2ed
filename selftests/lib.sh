#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# Helpers for the warmpath device tests (selftests/netns/test_*.sh), in the
# manner of the kernel selftests: each check prints "ok NAME" or
# "not ok NAME: why", and summary prints "N passed, N failed" as the last line.
#
# Everything a test creates carries the per-run tag $WP_TAG (wpt<pid>x):
# network namespaces, bpffs pin directories, wireguard-go interfaces, the
# temporary directory. The EXIT trap kills the processes the test started (by
# their saved pid, never by name), runs 'warmpath cleanup' for each pin dir in
# the namespace its agent ran in, deletes the namespaces (and with them every
# link in them) and removes only the pin dirs and files this run created.
#
# Source it, then: wp_require_root; ...checks...; wp_finish (cleans up, checks
# nothing was left behind, prints the summary and exits with its status).

WP_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WARMPATH=${WARMPATH:-$WP_ROOT/warmpath}
# the tests read every peer's series (a flag, as the bench's --peer-metrics, wins)
export WARMPATH_PEER_METRICS=${WARMPATH_PEER_METRICS:-all}
WP_TAG=wpt$$x
WP_BPFFS=${WP_BPFFS:-/sys/fs/bpf}
WP_TMP=
WP_VERBOSE=${WP_VERBOSE:-0}

_wp_pass=0
_wp_fail=0
_wp_pids=() # pids of background processes we started
_wp_netns=() # namespaces we created
_wp_pins=() # pin dirs we created, "DIR|NETNS"
_wp_wgs=() # wireguard-go interface names we created
_wp_cleaned=0

# --- results ---------------------------------------------------------------

ok()
{
	_wp_pass=$((_wp_pass + 1))
	echo "ok $(( _wp_pass + _wp_fail )) $1"
}

fail()
{
	_wp_fail=$((_wp_fail + 1))
	echo "not ok $(( _wp_pass + _wp_fail )) $1: ${2:-failed}"
}

# check_eq GOT WANT NAME
check_eq()
{
	if [ "$1" == "$2" ]; then
		ok "$3"
	else
		fail "$3" "got '$1', want '$2'"
	fi
}

# check_rc GOT_RC WANT_RC NAME  (WANT_RC may be "nonzero")
check_rc()
{
	if [ "$2" = nonzero ]; then
		if [ "$1" -ne 0 ]; then ok "$3"; else fail "$3" "exit status 0, want non-zero"; fi
	else
		check_eq "$1" "$2" "$3"
	fi
}

# check_match TEXT REGEX NAME  (grep -E, case-sensitive)
check_match()
{
	if grep -qE -- "$2" <<<"$1"; then
		ok "$3"
	else
		fail "$3" "no match for /$2/ in: $(head -c 400 <<<"$1" | tr '\n' ' ')"
	fi
}

# check_nomatch TEXT REGEX NAME
check_nomatch()
{
	if grep -qE -- "$2" <<<"$1"; then
		fail "$3" "unexpected match for /$2/: $(grep -E -- "$2" <<<"$1" | head -3 | tr '\n' ' ')"
	else
		ok "$3"
	fi
}

# check_true NAME CMD...  (the command's exit status decides)
check_true()
{
	local name=$1

	shift
	if "$@"; then ok "$name"; else fail "$name" "'$*' is false"; fi
}

# Prints the summary line (always last) and returns non-zero on failure.
summary()
{
	echo "$_wp_pass passed, $_wp_fail failed"
	[ "$_wp_fail" -eq 0 ]
}

info()
{
	echo "# $*"
}

# --- polling ---------------------------------------------------------------

# wait_for TIMEOUT_S CMD...: run CMD every 0.1 s until it succeeds; 1 on timeout.
wait_for()
{
	local timeout=$1 deadline

	shift
	deadline=$(($(date +%s%N) + ${timeout%.*} * 1000000000))
	while :; do
		"$@" && return 0
		[ "$(date +%s%N)" -ge "$deadline" ] && return 1
		sleep 0.1
	done
}

# --- environment -----------------------------------------------------------

wp_require_root()
{
	if [ "$(id -u)" != 0 ]; then
		echo "$(basename "$0"): must run as root (network namespaces, BPF); try: sudo $0" >&2
		exit 2
	fi
	if [ ! -x "$WARMPATH" ]; then
		echo "$(basename "$0"): $WARMPATH not built; run 'make' first" >&2
		exit 2
	fi
	wp_ensure_bpffs "$WP_BPFFS" || exit 2
	wp_require_cmds ip tc nft jq nsenter bpftool ncat ping
	WP_TMP=$(mktemp -d "/tmp/$WP_TAG.XXXXXX")
	trap _wp_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

# wp_require_cmds CMD...: exit 2 (the test cannot run here) naming a missing one.
wp_require_cmds()
{
	local c

	for c; do
		if ! command -v "$c" >/dev/null; then
			echo "$(basename "$0"): '$c' missing; run scripts/install-deps.sh" >&2
			exit 2
		fi
	done
}

# wp_ensure_bpffs DIR: mount a bpffs at DIR when none is there (a fresh
# machine or container has none; root may mount it).
wp_ensure_bpffs()
{
	[ "$(stat -f -c %T "$1" 2>/dev/null)" = bpf_fs ] && return 0
	mkdir -p "$1" && mount -t bpf bpf "$1" && echo "# mounted a bpffs at $1"
	if [ "$(stat -f -c %T "$1" 2>/dev/null)" != bpf_fs ]; then
		echo "$(basename "$0"): $1 is not a bpffs and mounting one failed; mount -t bpf bpf $1" >&2
		return 1
	fi
}

# ns_add NAME: a fresh namespace, lo up, IPv6 off (no ND/MLD noise in counts).
ns_add()
{
	ip netns add "$1" || return 1
	_wp_netns+=("$1")
	ip netns exec "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
		net.ipv6.conf.default.disable_ipv6=1 >/dev/null
	ip -n "$1" link set lo up
}

# in_ns NS CMD...: inside the namespace with a private /sys (ip netns exec).
in_ns()
{
	local ns=$1

	shift
	ip netns exec "$ns" "$@"
}

# nsx NS CMD...: network namespace only; keeps the host's bpffs at /sys/fs/bpf.
nsx()
{
	local ns=$1

	shift
	nsenter --net="/run/netns/$ns" "$@"
}

# iface_disable_ipv6 NS IF
iface_disable_ipv6()
{
	ip netns exec "$1" sysctl -qw "net.ipv6.conf.$2.disable_ipv6=1" >/dev/null
}

# pin_new VAR SUFFIX NS: a pin dir under bpffs for an agent running in NS.
pin_new()
{
	local dir=$WP_BPFFS/$WP_TAG$2

	_wp_pins+=("$dir|$3")
	printf -v "$1" '%s' "$dir"
}

# bg VAR CMD...: start CMD in the background, remember its pid in VAR and for cleanup.
bg()
{
	local var=$1

	shift
	"$@" &
	_wp_pids+=($!)
	printf -v "$var" '%s' $!
}

# stop_pid PID [SIG]: signal a process we started and reap it; sets STOP_RC.
stop_pid()
{
	local pid=$1 sig=${2:-TERM}

	STOP_RC=
	# stderr off: no "Killed" job notice from bash for the process we killed
	{
		kill -"$sig" "$pid"
		for _ in $(seq 50); do
			kill -0 "$pid" || break
			sleep 0.1
		done
		kill -0 "$pid" && kill -KILL "$pid"
		wait "$pid"
		# shellcheck disable=SC2034 # read by the tests
		STOP_RC=$?
	} 2>/dev/null
	_wp_forget_pid "$pid"
}

_wp_forget_pid()
{
	local p keep=()

	for p in "${_wp_pids[@]}"; do
		[ "$p" = "$1" ] || keep+=("$p")
	done
	_wp_pids=("${keep[@]}")
}

# --- the agent -------------------------------------------------------------

# agent_start NS PIN LOG ARGS...: run 'warmpath run --pin-path PIN ARGS...' in NS
# (logging to LOG) and wait until it says it is running. Sets AGENT_PID.
# The wait is WP_START_TIMEOUT seconds (default 15; the vmtest guest, an
# emulated CPU where the kernel's BTF and the verifier run 10-50x slower, sets
# 90). Says how long a start took when it took more than 10 s.
agent_start()
{
	local ns=$1 pin=$2 log=$3 t0 limit=${WP_START_TIMEOUT:-15}

	shift 3
	AGENT_PID=
	: >"$log"
	t0=$(date +%s)
	bg AGENT_PID nsenter --net="/run/netns/$ns" "$WARMPATH" run --pin-path "$pin" --metrics-listen off "$@" \
		>>"$log" 2>&1
	if ! wait_for "$limit" _agent_ready "$AGENT_PID" "$log"; then
		echo "# agent did not start in $limit s (WP_START_TIMEOUT); its log:" >&2
		sed 's/^/#   /' "$log" >&2
		return 1
	fi
	[ $(($(date +%s) - t0)) -gt 10 ] && info "the agent took $(($(date +%s) - t0)) s to start"
	grep -q ' running: ' "$log"
}

# check_agent_start NAME NS PIN LOG ARGS...: agent_start, as a check named NAME.
check_agent_start()
{
	local name=$1

	shift
	if agent_start "$@"; then
		ok "$name"
	else
		fail "$name"
	fi
}

_agent_ready()
{
	grep -q ' running: ' "$2" || ! kill -0 "$1" 2>/dev/null
}

# dump_log FILE: show a log in the test output (on failure).
dump_log()
{
	echo "# --- $1"
	sed 's/^/#   /' "$1"
}

# status_json PIN: 'warmpath status --json' (pins are global: no namespace needed).
status_json()
{
	"$WARMPATH" status --pin-path "$1" --json 2>/dev/null
}

# peer_get PIN PEER FIELD: one field of one peer (empty if absent).
peer_get()
{
	status_json "$1" | jq -r --arg p "$2" --arg f "$3" \
		'.peers[] | select(.name == $p) | .[$f] // empty'
}

# wait_peer PIN PEER FIELD WANT [TIMEOUT]: until the field equals WANT; prints it.
wait_peer()
{
	wait_for "${5:-3}" _peer_is "$1" "$2" "$3" "$4"
	peer_get "$1" "$2" "$3"
}

_peer_is()
{
	[ "$(peer_get "$1" "$2" "$3")" == "$4" ]
}

# --- metrics (the one scraper every test and bench uses) ----------------------

# wp_metrics NS ADDR:PORT [PATH]: an agent's /metrics (or PATH) from inside NS.
wp_metrics()
{
	nsx "$1" curl -s --max-time 3 "http://$2${3:-/metrics}"
}

# wp_metric TEXT SERIES: the value of one exact series (name{labels}) of an
# exposition; empty if absent.
wp_metric()
{
	awk -v s="$2" 'index($0, s " ") == 1 { print $2; exit }' <<<"$1"
}

# wp_peer_metric TEXT FAMILY PEER: the value of the first series of FAMILY
# whose peer label is PEER; empty if absent.
wp_peer_metric()
{
	grep -E "^$2\{([^}]*,)?peer=\"$3\"(,[^}]*)?\} " <<<"$1" | awk '{ print $2; exit }'
}

# num_cmp A OP B: a numeric comparison (awk's OP: > >= == < <= !=); false when
# either side is not a number.
num_cmp()
{
	[[ "$1" =~ ^-?[0-9.]+([eE][-+]?[0-9]+)?$ ]] && [[ "$3" =~ ^-?[0-9.]+([eE][-+]?[0-9]+)?$ ]] &&
		awk -v a="$1" -v b="$3" "BEGIN { exit !(a $2 b) }"
}

# check_cmp GOT OP WANT NAME: ok when GOT OP WANT holds numerically.
check_cmp()
{
	if num_cmp "$1" "$2" "$3"; then
		ok "$4"
	else
		fail "$4" "got '$1', want $2 $3"
	fi
}

# --- links -------------------------------------------------------------------

# veth_pair NS_A IF_A ADDR_A/LEN NS_B IF_B ADDR_B/LEN: a veth between two
# namespaces, IPv6 off on both ends, addressed and up.
veth_pair()
{
	ip -n "$1" link add "$2" type veth peer name "$5" netns "$4" || return 1
	iface_disable_ipv6 "$1" "$2"
	iface_disable_ipv6 "$4" "$5"
	ip -n "$1" addr add "$3" dev "$2" &&
		ip -n "$4" addr add "$6" dev "$5" &&
		ip -n "$1" link set "$2" up &&
		ip -n "$4" link set "$5" up
}

# --- traffic (bounded, only to addresses in our namespaces) ----------------

# send_udp NS ADDR PORT N: exactly N datagrams "x\n" (2 bytes of payload).
send_udp()
{
	ip netns exec "$1" bash -c \
		'for i in $(seq '"$4"'); do echo x >/dev/udp/'"$2"'/'"$3"'; done'
}

# send_udp_from NS SPORT ADDR PORT N: N datagrams "x\n" from a fixed source port.
send_udp_from()
{
	for _ in $(seq "$5"); do
		echo x | ip netns exec "$1" ncat -u --send-only -p "$2" "$3" "$4" || return 1
	done
}

# ping_n NS ADDR N: N echo requests, fails unless all N are answered.
ping_n()
{
	ip netns exec "$1" ping -q -n -c "$3" -i 0.02 -W 2 "$2" >/dev/null
}

# udp_sink NS PORT...: drop UDP to these ports on input (so no ICMP port
# unreachable is sent back: it would add packets to the exact counts).
udp_sink()
{
	local ns=$1 ports

	shift
	ports=$(IFS=,; echo "$*")
	ip netns exec "$ns" nft -f - <<EOF
table inet wptsink {
	chain input {
		type filter hook input priority 0; policy accept;
		udp dport { $ports } drop
	}
}
EOF
}

# --- wireguard-go ----------------------------------------------------------

# wg_start VAR NS IFNAME: run wireguard-go in NS (foreground), wait for its UAPI socket.
wg_start()
{
	local var=$1 ns=$2 ifname=$3

	_wp_wgs+=("$ifname")
	bg "$var" ip netns exec "$ns" env WG_PROCESS_FOREGROUND=1 wireguard-go "$ifname" \
		>"$WP_TMP/wireguard-go.$ifname.log" 2>&1
	wait_for 10 test -S "/var/run/wireguard/$ifname.sock"
}

# --- cleanup ---------------------------------------------------------------

_wp_cleanup()
{
	local p entry dir ns wg

	[ "$_wp_cleaned" = 1 ] && return 0
	_wp_cleaned=1
	{
		for p in "${_wp_pids[@]}"; do
			kill -TERM "$p"
		done
		for p in "${_wp_pids[@]}"; do
			for _ in $(seq 30); do
				kill -0 "$p" || break
				sleep 0.1
			done
			kill -KILL "$p"
			wait "$p"
		done
	} 2>/dev/null
	_wp_pids=()
	for entry in "${_wp_pins[@]}"; do
		dir=${entry%%|*}
		ns=${entry#*|}
		[ -e "$dir" ] || continue
		# cleanup acts on the ifindexes recorded in the pins: only in the
		# namespace the agent ran in, never in the host's
		if [ -n "$ns" ] && [ -e "/run/netns/$ns" ]; then
			nsx "$ns" "$WARMPATH" cleanup --pin-path "$dir" >/dev/null 2>&1
		fi
	done
	for ns in "${_wp_netns[@]}"; do
		ip netns del "$ns" 2>/dev/null
	done
	for entry in "${_wp_pins[@]}"; do
		dir=${entry%%|*}
		case "$dir" in
		"$WP_BPFFS/$WP_TAG"*) rm -rf -- "$dir" ;;
		esac
	done
	for wg in "${_wp_wgs[@]}"; do
		[ -S "/var/run/wireguard/$wg.sock" ] && rm -f -- "/var/run/wireguard/$wg.sock"
	done
	case "$WP_TMP" in
	/tmp/"$WP_TAG".*) rm -rf -- "$WP_TMP" ;;
	esac
	return 0
}

# wp_finish: clean up, check that nothing of ours is left, print the summary, exit.
wp_finish()
{
	local left

	_wp_cleanup
	_wp_cleaned=1
	left=$(ip netns list | grep -o "^${WP_TAG}[^ ]*")
	check_eq "$left" "" "cleanup: no namespace of this run left"
	left=$(ls -d "$WP_BPFFS/$WP_TAG"* 2>/dev/null)
	check_eq "$left" "" "cleanup: no pin dir of this run left"
	left=$(ip -o link show | grep -o "${WP_TAG}[^:@ ]*")
	check_eq "$left" "" "cleanup: no link of this run left in the host namespace"
	summary
	exit $?
}

# the set-ups several suites share: a veth pair, a WireGuard pair, a peer's counters
# shellcheck source=selftests/lib_pairs.sh
. "$WP_ROOT/selftests/lib_pairs.sh"
