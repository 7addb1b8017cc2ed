#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# The warmpath lab: four nodes on two sites joined by real WireGuard
# (wireguard-go) through a real NAT, a VXLAN "pod" overlay on top, one warmpath
# agent per node and a Prometheus server scraping them all.
#
#  site A (behind the NAT)                                  site B ("public")
#  netns LAB-a1                netns LAB-r (router)                netns LAB-b1
#  +---------------+          +------------------------+          +---------------+
#  | vx-a1 pod     |          | br-lan 192.168.10.254  |          | vx-b1 pod     |
#  |  10.244.1.1   |   lan    |   nft masquerade  ---> |  public  |  10.244.3.1   |
#  | LAB-wg-a1     |==========| br-pub 198.51.100.1    |==========| LAB-wg-b1     |
#  |  10.250.0.1   |  .10.1   | udp conntrack timeout  |  .100.2  |  10.250.0.3   |
#  |  :51820       |          |  5 s (LAB_NAT_TIMEOUT) |          |  :51820       |
#  +---------------+          | unsolicited in: drop   |          +---------------+
#  netns LAB-a2 (same,        +------------------------+          netns LAB-b2 (same,
#   .10.2, wg .2:51821,                                            .100.3, wg .4,
#   pod 10.244.2.1)                                                pod 10.244.4.1)
#
#  - WireGuard between every pair, no PersistentKeepalive. a1-a2 talk directly
#    on the LAN, b1-b2 on the public segment, a*-b* through the NAT: a* know
#    b*'s endpoints, b* learn a*'s (NATed) endpoint from a*'s packets only. Once
#    the router's conntrack entry expires, b* -> a* is dropped at the router
#    until a* sends again: the cold path.
#  - VXLAN (id 4242, port 4789) over the wg addresses, as Calico's or flannel's
#    overlay: static FDB entry and permanent neighbour per remote node (no
#    learning, no ARP), pod address 10.244.N.1/16 on vx-NODE.
#  - nftables counters in every node (table inet lab): SYNs to tcp/8080 that
#    left for / arrived from each other node's pod (syn_out_PEER, syn_in_PEER),
#    warmpath probe requests / replies put on the wire to each peer
#    (probe_req_PEER, probe_rep_PEER), lifetime trial messages (probe_trial_PEER),
#    lab_send's datagrams that arrived (disc_in_PEER). A TCP listener (ncat) on POD:8080.
#  - Every node has a small veth to the host (LAB-h-NODE, 192.168.251.x/30):
#    the agent serves /metrics on the node's side, Prometheus (on
#    127.0.0.1:19090+LAB_INDEX) scrapes it every second.
#
# Everything is named after $LAB (default wplab) and recorded, before or right
# after it is made, in /run/warmpath-lab/$LAB.state: namespaces, the host
# veths, bpffs pin dirs, wireguard-go UAPI sockets, the work dir, and every
# process as "pid PID STARTTIME ROLE". Teardown (lab_down) removes exactly what
# the state file names, processes by pid and only if their start time still
# matches; 'lab_up' runs it first when a previous lab was left behind (crash).
#
# Site C (LAB_NAT2_TIMEOUT set, nodes c1/c2 in LAB_NODE_LIST): a second NAT
# router (netns LAB-r2, public side 198.51.100.254 on br-pub, LAN
# 192.168.20.0/24) with its own UDP conntrack timeout, so that two NATed
# sites forget their mappings at different times. Sites A and C do not peer
# (two NATs and no hole punching): lab_pairs leaves a*-c* out.
#
# As a command:
#   scripts/lab.sh up [MODE]   build the lab, start agents (--mode MODE, default idle)
#   scripts/lab.sh agents MODE restart the agents in another mode
#   scripts/lab.sh status      what runs, where to look
#   scripts/lab.sh down        tear everything down
# As a library: LAB=name LAB_INDEX=n . scripts/lab.sh; lab_up; ...; lab_down
# Environment: LAB, LAB_INDEX (0-3: host veth subnet and Prometheus port),
# LAB_NODE_LIST (the nodes, NATed sites first: "a1 a2 b1 b2"),
# LAB_NAT_TIMEOUT (5), LAB_NAT2_TIMEOUT (site C's router; none), LAB_KEEPALIVE (2),
# LAB_COLD (= LAB_NAT_TIMEOUT),
# LAB_AGENT_IFACES (which devices the agents watch: wg,vx (default), wg or vx),
# WARMPATH (binary, default ./warmpath).

LAB=${LAB:-wplab}
LAB_INDEX=${LAB_INDEX:-0}
LAB_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WARMPATH=${WARMPATH:-$LAB_ROOT/warmpath}
LAB_RUN=/run/warmpath-lab
LAB_STATE=$LAB_RUN/$LAB.state
LAB_DIR=$LAB_RUN/$LAB
LAB_BPFFS=/sys/fs/bpf
# shellcheck disable=SC2206 # a list of names, split on purpose
LAB_NODES=(${LAB_NODE_LIST:-a1 a2 b1 b2})
LAB_NAT_TIMEOUT=${LAB_NAT_TIMEOUT:-5}
LAB_NAT2_TIMEOUT=${LAB_NAT2_TIMEOUT:-}
LAB_KEEPALIVE=${LAB_KEEPALIVE:-2}
LAB_COLD=${LAB_COLD:-$LAB_NAT_TIMEOUT}
LAB_AGENT_IFACES=${LAB_AGENT_IFACES:-wg,vx}
LAB_PROM_PORT=$((19090 + LAB_INDEX))
LAB_METRICS_PORT=9051
LAB_TCP_PORT=8080
LAB_PROBE_PORT=9050
LAB_DISCARD_PORT=9
LAB_VNI=4242

# lab_prelude NAME: what a lab tool (make NAME) does before anything else: it
# must be root, installs missing packages, builds ./warmpath if it is missing.
lab_prelude()
{
	if [ "$(id -u)" != 0 ]; then
		echo "$1: needs root (network namespaces, BPF, WireGuard): sudo make $1" >&2
		exit 2
	fi
	"$LAB_ROOT/scripts/install-deps.sh"
	[ -x "$WARMPATH" ] || make -s -C "$LAB_ROOT" warmpath
}

# shellcheck source=scripts/lab_setup.sh
. "$LAB_ROOT/scripts/lab_setup.sh"
# shellcheck source=scripts/lab_measure.sh
. "$LAB_ROOT/scripts/lab_measure.sh"

# --- names and addresses ----------------------------------------------------

lab_idx()
{
	case "$1" in
	a1) echo 1 ;;
	a2) echo 2 ;;
	b1) echo 3 ;;
	b2) echo 4 ;;
	c1) echo 5 ;;
	c2) echo 6 ;;
	*) return 1 ;;
	esac
}

lab_ns() { echo "$LAB-$1"; }
# lab_router_ns [SITE]: the NAT router of site A (default) or C
lab_router_ns()
{
	case "${1:-a}" in
	c) echo "$LAB-r2" ;;
	*) echo "$LAB-r" ;;
	esac
}
lab_wg() { echo "$LAB-wg-$1"; }
lab_vx() { echo "vx-$1"; }
lab_hostlink() { echo "$LAB-h-$1"; }
lab_pin() { echo "$LAB_BPFFS/$LAB-$1"; }
lab_site() { echo "${1:0:1}"; }
lab_wgaddr() { echo "10.250.0.$(lab_idx "$1")"; }
lab_pod() { echo "10.244.$(lab_idx "$1").1"; }
lab_podnet() { echo "10.244.$(lab_idx "$1").0/24"; }
lab_mac() { echo "02:00:0a:f4:0$(lab_idx "$1"):01"; }
# underlay: sites A and C on LANs behind their routers, site B on the public segment
lab_underlay()
{
	case "$1" in
	a*) echo "192.168.10.$(lab_idx "$1")" ;;
	b*) echo "198.51.100.$(($(lab_idx "$1") - 1))" ;;
	c*) echo "192.168.20.$(lab_idx "$1")" ;;
	esac
}
# distinct listen ports on the NATed sites, so that the masquerade keeps them
lab_wgport()
{
	case "$1" in
	a* | c*) echo $((51819 + $(lab_idx "$1"))) ;;
	*) echo 51820 ;;
	esac
}
# lab_linked X Y: X and Y peer (not across two NATs: sites A and C do not)
lab_linked()
{
	local s

	s=$(lab_site "$1")$(lab_site "$2")
	[ "$1" != "$2" ] && [ "$s" != ac ] && [ "$s" != ca ]
}
# lab_peers_of X: the nodes X peers with
lab_peers_of()
{
	local m

	for m in "${LAB_NODES[@]}"; do
		if lab_linked "$1" "$m"; then echo "$m"; fi
	done
}
# host side .1, node side .2 of a /30 per node
lab_hostaddr() { echo "192.168.251.$((LAB_INDEX * 64 + 4 * ($(lab_idx "$1") - 1) + 1))"; }
lab_nodeaddr() { echo "192.168.251.$((LAB_INDEX * 64 + 4 * ($(lab_idx "$1") - 1) + 2))"; }
lab_metrics_url() { echo "http://$(lab_nodeaddr "$1"):$LAB_METRICS_PORT"; }
lab_prom_url() { echo "http://127.0.0.1:$LAB_PROM_PORT"; }
# every pair once, "x-y" (the NATed side first: LAB_NODES lists NATed sites first)
lab_pairs()
{
	local i j

	for ((i = 0; i < ${#LAB_NODES[@]}; i++)); do
		for ((j = i + 1; j < ${#LAB_NODES[@]}; j++)); do
			lab_linked "${LAB_NODES[i]}" "${LAB_NODES[j]}" &&
				echo "${LAB_NODES[i]}-${LAB_NODES[j]}"
		done
	done
	return 0
}

# lab_in NODE CMD...: in the node's namespace (ip netns exec: private /sys)
lab_in()
{
	local n=$1

	shift
	ip netns exec "$(lab_ns "$n")" "$@"
}

# lab_nsx NODE CMD...: network namespace only; the host's bpffs stays visible
lab_nsx()
{
	local n=$1

	shift
	nsenter --net="/run/netns/$(lab_ns "$n")" "$@"
}

lab_log() { echo "lab[$LAB]: $*" >&2; }

# --- the state file ------------------------------------------------------------

_lab_state() { mkdir -p "$LAB_RUN" && echo "$*" >>"$LAB_STATE"; }

_lab_state_drop()
{
	[ -f "$LAB_STATE" ] || return 0
	grep -vxF -- "$*" "$LAB_STATE" >"$LAB_STATE.tmp" || true
	mv -f -- "$LAB_STATE.tmp" "$LAB_STATE"
}

# _lab_proc PID: "STATE STARTTIME" of a live process (fields 3 and 22 of stat)
_lab_proc()
{
	local s

	s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	s=${s##*) }
	# shellcheck disable=SC2086 # split the fields on purpose
	set -- $s
	echo "$1 ${20}"
}

# lab_spawn VAR ROLE LOG CMD...: start CMD detached (own session), record its
# pid and start time; VAR gets the pid.
lab_spawn()
{
	local var=$1 role=$2 log=$3 pidf pid info

	shift 3
	pidf=$LAB_DIR/$role.pid
	rm -f -- "$pidf"
	# shellcheck disable=SC2016 # $$ and $@ belong to the inner shell
	setsid bash -c 'echo $$ >"$0"; exec "$@"' "$pidf" "$@" >"$log" 2>&1 </dev/null &
	for _ in $(seq 100); do
		[ -s "$pidf" ] && break
		sleep 0.02
	done
	pid=$(cat "$pidf" 2>/dev/null) || { lab_log "$role did not start"; return 1; }
	rm -f -- "$pidf"
	if ! info=$(_lab_proc "$pid"); then
		lab_log "$role exited at once; its log:"
		tail -12 "$log" >&2
		return 1
	fi
	_lab_state "pid $pid ${info#* } $role"
	printf -v "$var" '%s' "$pid"
}

# _lab_kill PID STARTTIME: TERM, then KILL after 5 s; only if still that process.
_lab_kill()
{
	local pid=$1 st=$2 info

	info=$(_lab_proc "$pid") || return 0
	[ "${info#* }" = "$st" ] || return 0 # the pid was reused: not ours
	kill -TERM "$pid" 2>/dev/null || true
	for _ in $(seq 50); do
		info=$(_lab_proc "$pid") || break
		[ "${info%% *}" = Z ] && break
		sleep 0.1
	done
	if info=$(_lab_proc "$pid") && [ "${info%% *}" != Z ]; then
		kill -KILL "$pid" 2>/dev/null || true
		sleep 0.1
	fi
	wait "$pid" 2>/dev/null || true
	return 0
}

# lab_kill ROLE: stop the recorded process of that role
lab_kill()
{
	local line

	[ -f "$LAB_STATE" ] || return 0
	line=$(grep -E "^pid [0-9]+ [0-9]+ $1\$" "$LAB_STATE" | tail -1) || true
	[ -n "$line" ] || return 0
	# shellcheck disable=SC2086
	set -- $line
	_lab_kill "$2" "$3"
	_lab_state_drop "$line"
}

# lab_pid ROLE: the recorded pid of a role (empty when none)
lab_pid()
{
	[ -f "$LAB_STATE" ] || return 0
	grep -E "^pid [0-9]+ [0-9]+ $1\$" "$LAB_STATE" | tail -1 | cut -d' ' -f2 || true
}

# --- teardown -------------------------------------------------------------------

# lab_down: remove everything the state file names; safe to run twice.
lab_down()
{
	local lines=() line kind a b

	[ -f "$LAB_STATE" ] || return 0
	mapfile -t lines < <(tac "$LAB_STATE")
	# 1. processes, last started first (agents before wireguard-go)
	for line in "${lines[@]}"; do
		read -r kind a b _ <<<"$line"
		[ "$kind" = pid ] && _lab_kill "$a" "$b"
	done
	# 2. our programs and pins: 'warmpath cleanup' in the agent's namespace
	for line in "${lines[@]}"; do
		read -r kind a b _ <<<"$line"
		[ "$kind" = pin ] || continue
		case "$a" in "$LAB_BPFFS/$LAB-"*) ;; *) continue ;; esac
		if [ -d "$a" ] && [ -e "/run/netns/$b" ] && [ -x "$WARMPATH" ]; then
			nsenter --net="/run/netns/$b" "$WARMPATH" cleanup --pin-path "$a" >/dev/null 2>&1
		fi
		rm -rf -- "$a"
	done
	# 3. namespaces (and every link in them), host links, sockets, files
	for line in "${lines[@]}"; do
		read -r kind a b _ <<<"$line"
		case "$kind" in
		ns) [ -e "/run/netns/$a" ] && ip netns del "$a" ;;
		link) ip link show "$a" >/dev/null 2>&1 && ip link del "$a" ;;
		wg) [ -S "/var/run/wireguard/$a.sock" ] && rm -f -- "/var/run/wireguard/$a.sock" ;;
		dir) [ "$a" = "$LAB_DIR" ] && rm -rf -- "$a" ;;
		esac
	done
	rm -f -- "$LAB_STATE" "$LAB_STATE.tmp"
	rmdir "$LAB_RUN" 2>/dev/null || true
	return 0
}

# lab_leftovers: what of this lab still exists (empty when all is gone)
lab_leftovers()
{
	local n

	ip netns list | grep -oE "^$LAB-[a-z0-9]+" | sed 's/^/netns /'
	for n in "${LAB_NODES[@]}"; do
		[ -e "$(lab_pin "$n")" ] && echo "pin $(lab_pin "$n")"
		ip link show "$(lab_hostlink "$n")" >/dev/null 2>&1 && echo "link $(lab_hostlink "$n")"
		[ -e "/var/run/wireguard/$(lab_wg "$n").sock" ] && echo "socket $(lab_wg "$n").sock"
	done
	[ -e "$LAB_STATE" ] && echo "state $LAB_STATE"
	[ -e "$LAB_DIR" ] && echo "dir $LAB_DIR"
	return 0
}

# --- setup ------------------------------------------------------------------------

lab_require()
{
	local c

	if [ "$(id -u)" != 0 ]; then
		lab_log "must run as root (namespaces, BPF, WireGuard)"
		return 2
	fi
	if [ ! -x "$WARMPATH" ]; then
		lab_log "$WARMPATH not built; run 'make' first"
		return 2
	fi
	# a fresh machine or container may have no bpffs: mount it (we are root)
	if [ "$(stat -f -c %T "$LAB_BPFFS" 2>/dev/null)" != bpf_fs ]; then
		mkdir -p "$LAB_BPFFS" && mount -t bpf bpf "$LAB_BPFFS" &&
			lab_log "mounted a bpffs at $LAB_BPFFS"
	fi
	if [ "$(stat -f -c %T "$LAB_BPFFS" 2>/dev/null)" != bpf_fs ]; then
		lab_log "$LAB_BPFFS is not a bpffs and mounting one failed; mount -t bpf bpf $LAB_BPFFS"
		return 2
	fi
	for c in ip bridge nft nsenter setsid wireguard-go wg ncat ping jq prometheus; do
		if ! command -v "$c" >/dev/null; then
			lab_log "'$c' missing; run scripts/install-deps.sh"
			return 2
		fi
	done
}

# --- agents -------------------------------------------------------------------

# lab_agents_start MODE [ARGS...]: one agent per node (stops running ones first)
lab_agents_start()
{
	local mode=$1 n ns pin pid ifs

	shift
	lab_agents_stop
	for n in "${LAB_NODES[@]}"; do
		ns=$(lab_ns "$n")
		pin=$(lab_pin "$n")
		ifs=${LAB_AGENT_IFACES//wg/$(lab_wg "$n")}
		ifs=${ifs//vx/$(lab_vx "$n")}
		grep -qxF "pin $pin $ns" "$LAB_STATE" 2>/dev/null || _lab_state "pin $pin $ns"
		lab_spawn pid "agent-$n" "$LAB_DIR/agent-$n.log" \
			nsenter --net="/run/netns/$ns" "$WARMPATH" run \
			--interface "$ifs" \
			--peers-file "$LAB_DIR/peers-$n" --node-name "$n" \
			--mode "$mode" --keepalive-interval "$LAB_KEEPALIVE" \
			--cold-threshold "$LAB_COLD" --probe udp --probe-port $LAB_PROBE_PORT \
			--metrics-listen "$(lab_nodeaddr "$n"):$LAB_METRICS_PORT" \
			--pin-path "$pin" --log-format json --peer-metrics all "$@" || return 1
	done
	for n in "${LAB_NODES[@]}"; do
		if ! lab_wait 20 lab_http "$(lab_metrics_url "$n")/readyz"; then
			lab_log "agent on $n not ready; its log:"
			tail -20 "$LAB_DIR/agent-$n.log" >&2
			return 1
		fi
	done
}

lab_agents_stop()
{
	local n

	for n in "${LAB_NODES[@]}"; do
		lab_kill "agent-$n"
	done
}

# --- command line -----------------------------------------------------------------

lab_where()
{
	local n

	echo "lab $LAB: namespaces $(lab_router_ns) (NAT router, UDP ${LAB_NAT_TIMEOUT}s)$(
		[ -n "$LAB_NAT2_TIMEOUT" ] && echo ", $(lab_router_ns c) (UDP ${LAB_NAT2_TIMEOUT}s)")" \
		"and ${LAB_NODES[*]/#/$LAB-}"
	for n in "${LAB_NODES[@]}"; do
		printf '  %-3s %-26s pod %-11s wg %-10s pins %s\n' "$n" "$(lab_metrics_url "$n")/metrics" \
			"$(lab_pod "$n")" "$(lab_wgaddr "$n")" "$(lab_pin "$n")"
	done
	echo "  Prometheus:   $(lab_prom_url)   e.g. $(lab_prom_url)/graph"
	echo "  PromQL:       sum by (node, peer) (increase(warmpath_probes_sent_total[1m]))"
	echo "  status:       $WARMPATH status --pin-path $(lab_pin b1)"
	echo "  maps:         bpftool map dump pinned $(lab_pin b1)/peers"
	echo "  a shell:      nsenter --net=/run/netns/$(lab_ns b1) bash"
	echo "  tear down:    sudo $LAB_ROOT/scripts/lab.sh down$([ "$LAB" != wplab ] && echo " (LAB=$LAB)")"
}

_lab_main()
{
	set -euo pipefail
	case "${1:-}" in
	up)
		lab_up
		lab_agents_start "${2:-idle}"
		lab_where
		;;
	agents) lab_agents_start "${2:?mode}" ;;
	down) lab_down ;;
	status)
		if [ -e "$LAB_STATE" ]; then
			lab_where
			grep '^pid' "$LAB_STATE" | sed 's/^/  /'
		else
			echo "lab $LAB: not running"
		fi
		;;
	*)
		sed -n '/^# As a command:/,/^# WARMPATH/p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
		exit 2
		;;
	esac
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	_lab_main "$@"
fi
