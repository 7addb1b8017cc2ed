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
#    (probe_req_PEER, probe_rep_PEER). A TCP listener (ncat) on POD:8080.
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
# As a command:
#   scripts/lab.sh up [MODE]   build the lab, start agents (--mode MODE, default idle)
#   scripts/lab.sh agents MODE restart the agents in another mode
#   scripts/lab.sh status      what runs, where to look
#   scripts/lab.sh down        tear everything down
# As a library: LAB=name LAB_INDEX=n . scripts/lab.sh; lab_up; ...; lab_down
# Environment: LAB, LAB_INDEX (0-3: host veth subnet and Prometheus port),
# LAB_NAT_TIMEOUT (5), LAB_KEEPALIVE (2), LAB_COLD (= LAB_NAT_TIMEOUT),
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
LAB_NODES=(a1 a2 b1 b2)
LAB_NAT_TIMEOUT=${LAB_NAT_TIMEOUT:-5}
LAB_KEEPALIVE=${LAB_KEEPALIVE:-2}
LAB_COLD=${LAB_COLD:-$LAB_NAT_TIMEOUT}
LAB_AGENT_IFACES=${LAB_AGENT_IFACES:-wg,vx}
LAB_PROM_PORT=$((19090 + LAB_INDEX))
LAB_METRICS_PORT=9051
LAB_TCP_PORT=8080
LAB_PROBE_PORT=9050
LAB_DISCARD_PORT=9
LAB_VNI=4242

# --- names and addresses ----------------------------------------------------

lab_idx()
{
	case "$1" in
	a1) echo 1 ;;
	a2) echo 2 ;;
	b1) echo 3 ;;
	b2) echo 4 ;;
	*) return 1 ;;
	esac
}

lab_ns() { echo "$LAB-$1"; }
lab_router_ns() { echo "$LAB-r"; }
lab_wg() { echo "$LAB-wg-$1"; }
lab_vx() { echo "vx-$1"; }
lab_hostlink() { echo "$LAB-h-$1"; }
lab_pin() { echo "$LAB_BPFFS/$LAB-$1"; }
lab_site() { echo "${1:0:1}"; }
lab_wgaddr() { echo "10.250.0.$(lab_idx "$1")"; }
lab_pod() { echo "10.244.$(lab_idx "$1").1"; }
lab_podnet() { echo "10.244.$(lab_idx "$1").0/24"; }
lab_mac() { echo "02:00:0a:f4:0$(lab_idx "$1"):01"; }
# underlay: site A on the LAN behind the router, site B on the public segment
lab_underlay()
{
	case "$1" in
	a*) echo "192.168.10.$(lab_idx "$1")" ;;
	b*) echo "198.51.100.$(($(lab_idx "$1") - 1))" ;;
	esac
}
# distinct listen ports on site A, so that the masquerade keeps them
lab_wgport()
{
	case "$1" in
	a*) echo $((51819 + $(lab_idx "$1"))) ;;
	*) echo 51820 ;;
	esac
}
# host side .1, node side .2 of a /30 per node
lab_hostaddr() { echo "192.168.251.$((LAB_INDEX * 64 + 4 * ($(lab_idx "$1") - 1) + 1))"; }
lab_nodeaddr() { echo "192.168.251.$((LAB_INDEX * 64 + 4 * ($(lab_idx "$1") - 1) + 2))"; }
lab_metrics_url() { echo "http://$(lab_nodeaddr "$1"):$LAB_METRICS_PORT"; }
lab_prom_url() { echo "http://127.0.0.1:$LAB_PROM_PORT"; }
# every pair once, "x-y"
lab_pairs()
{
	local i j

	for ((i = 0; i < ${#LAB_NODES[@]}; i++)); do
		for ((j = i + 1; j < ${#LAB_NODES[@]}; j++)); do
			echo "${LAB_NODES[i]}-${LAB_NODES[j]}"
		done
	done
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

_lab_ns_add()
{
	local ns=$1

	if [ -e "/run/netns/$ns" ]; then
		lab_log "namespace $ns exists and is not in $LAB_STATE: not ours, not touching it"
		return 1
	fi
	ip netns add "$ns" || return 1
	_lab_state "ns $ns"
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
		net.ipv6.conf.default.disable_ipv6=1 >/dev/null
	ip -n "$ns" link set lo up
}

_lab_setup_net()
{
	local r n ns hl

	r=$(lab_router_ns)
	_lab_ns_add "$r" || return 1
	ip netns exec "$r" sysctl -qw net.ipv4.ip_forward=1 >/dev/null
	# bridged frames (a1<->a2, b1<->b2) must not pass the IP hooks, where the
	# router's NAT and filter would see them (br_netfilter may be built in)
	if [ -e /proc/sys/net/bridge/bridge-nf-call-iptables ]; then
		ip netns exec "$r" sysctl -qw net.bridge.bridge-nf-call-iptables=0 \
			net.bridge.bridge-nf-call-ip6tables=0 net.bridge.bridge-nf-call-arptables=0 \
			>/dev/null
	fi
	ip -n "$r" link add br-lan type bridge || return 1
	ip -n "$r" link add br-pub type bridge || return 1
	ip -n "$r" addr add 192.168.10.254/24 dev br-lan
	ip -n "$r" addr add 198.51.100.1/24 dev br-pub
	ip -n "$r" link set br-lan up
	ip -n "$r" link set br-pub up
	for n in "${LAB_NODES[@]}"; do
		ns=$(lab_ns "$n")
		_lab_ns_add "$ns" || return 1
		if [ "$(lab_site "$n")" = a ]; then
			ip -n "$r" link add "lan-$n" type veth peer name lan0 netns "$ns" || return 1
			ip -n "$r" link set "lan-$n" master br-lan up
			ip -n "$ns" addr add "$(lab_underlay "$n")/24" dev lan0
			ip -n "$ns" link set lan0 up
			ip -n "$ns" route add default via 192.168.10.254
		else
			ip -n "$r" link add "pub-$n" type veth peer name pub0 netns "$ns" || return 1
			ip -n "$r" link set "pub-$n" master br-pub up
			ip -n "$ns" addr add "$(lab_underlay "$n")/24" dev pub0
			ip -n "$ns" link set pub0 up
		fi
		# the node's window to the host, for /metrics only
		hl=$(lab_hostlink "$n")
		if ip link show "$hl" >/dev/null 2>&1; then
			lab_log "host link $hl exists and is not in $LAB_STATE: not ours"
			return 1
		fi
		ip link add "$hl" type veth peer name host0 netns "$ns" || return 1
		_lab_state "link $hl"
		echo 1 >"/proc/sys/net/ipv6/conf/$hl/disable_ipv6"
		ip addr add "$(lab_hostaddr "$n")/30" dev "$hl"
		ip link set "$hl" up
		ip -n "$ns" addr add "$(lab_nodeaddr "$n")/30" dev host0
		ip -n "$ns" link set host0 up
	done
	# The NAT: masquerade site A; from the public side only replies get in,
	# anything unsolicited is dropped silently (and counted).
	ip netns exec "$r" nft -f - <<EOF || return 1
table ip lab_nat {
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		ip saddr 192.168.10.0/24 oifname "br-pub" masquerade
	}
}
table inet lab_fw {
	counter unsolicited_udp { }
	counter unsolicited_fwd { }
	chain input {
		type filter hook input priority 0; policy accept;
		iifname "br-pub" meta l4proto udp counter name "unsolicited_udp" drop
	}
	chain forward {
		type filter hook forward priority 0; policy accept;
		iifname "br-pub" ct state new counter name "unsolicited_fwd" drop
	}
}
EOF
	ip netns exec "$r" sysctl -qw \
		"net.netfilter.nf_conntrack_udp_timeout=$LAB_NAT_TIMEOUT" \
		"net.netfilter.nf_conntrack_udp_timeout_stream=$LAB_NAT_TIMEOUT" >/dev/null
}

_lab_setup_wg()
{
	local n m ns wg pid args

	for n in "${LAB_NODES[@]}"; do
		(umask 077 && wg genkey >"$LAB_DIR/$n.key") || return 1
		wg pubkey <"$LAB_DIR/$n.key" >"$LAB_DIR/$n.pub"
	done
	for n in "${LAB_NODES[@]}"; do
		ns=$(lab_ns "$n")
		wg=$(lab_wg "$n")
		if [ -e "/var/run/wireguard/$wg.sock" ]; then
			lab_log "/var/run/wireguard/$wg.sock exists and is not in $LAB_STATE: not ours"
			return 1
		fi
		_lab_state "wg $wg"
		lab_spawn pid "wg-$n" "$LAB_DIR/wireguard-go-$n.log" \
			ip netns exec "$ns" env WG_PROCESS_FOREGROUND=1 wireguard-go "$wg" || return 1
		for _ in $(seq 100); do
			[ -S "/var/run/wireguard/$wg.sock" ] && break
			sleep 0.05
		done
		args=(private-key "$LAB_DIR/$n.key" listen-port "$(lab_wgport "$n")")
		for m in "${LAB_NODES[@]}"; do
			[ "$m" = "$n" ] && continue
			args+=(peer "$(cat "$LAB_DIR/$m.pub")" allowed-ips "$(lab_wgaddr "$m")/32")
			# b* cannot know a*'s NATed endpoint: it learns it from a*'s packets
			if [ "$(lab_site "$m")" = b ] || [ "$(lab_site "$n")" = a ]; then
				args+=(endpoint "$(lab_underlay "$m"):$(lab_wgport "$m")")
			fi
		done
		ip netns exec "$ns" wg set "$wg" "${args[@]}" || return 1
		ip -n "$ns" addr add "$(lab_wgaddr "$n")/24" dev "$wg"
		ip -n "$ns" link set "$wg" up || return 1
	done
}

_lab_setup_overlay()
{
	local n m ns vx

	for n in "${LAB_NODES[@]}"; do
		ns=$(lab_ns "$n")
		vx=$(lab_vx "$n")
		ip -n "$ns" link add "$vx" address "$(lab_mac "$n")" type vxlan id $LAB_VNI \
			dstport 4789 local "$(lab_wgaddr "$n")" nolearning || return 1
		# wireguard-go's MTU 1420 less VXLAN's 50
		ip -n "$ns" link set "$vx" mtu 1370 up
		ip -n "$ns" addr add "$(lab_pod "$n")/16" dev "$vx"
		for m in "${LAB_NODES[@]}"; do
			[ "$m" = "$n" ] && continue
			bridge -n "$ns" fdb append "$(lab_mac "$m")" dev "$vx" dst "$(lab_wgaddr "$m")" ||
				return 1
			ip -n "$ns" neigh replace "$(lab_pod "$m")" lladdr "$(lab_mac "$m")" dev "$vx" \
				nud permanent
		done
	done
}

_lab_setup_nft()
{
	local n m ns wg vx rules counters rules_out rules_in

	for n in "${LAB_NODES[@]}"; do
		ns=$(lab_ns "$n")
		wg=$(lab_wg "$n")
		vx=$(lab_vx "$n")
		counters='' rules_out='' rules_in=''
		for m in "${LAB_NODES[@]}"; do
			[ "$m" = "$n" ] && continue
			counters+="counter syn_out_$m { }; counter syn_in_$m { }; "
			counters+="counter probe_req_$m { }; counter probe_rep_$m { }; "
			rules_out+="oifname \"$vx\" ip daddr $(lab_pod "$m") tcp dport $LAB_TCP_PORT tcp flags & (syn | ack) == syn counter name \"syn_out_$m\"; "
			# warmpath's UDP probe: byte 5 of the payload is 1 (request) or 2 (reply)
			rules_out+="oifname \"$wg\" ip daddr $(lab_wgaddr "$m") udp dport $LAB_PROBE_PORT @th,104,8 1 counter name \"probe_req_$m\"; "
			rules_out+="oifname \"$wg\" ip daddr $(lab_wgaddr "$m") udp sport $LAB_PROBE_PORT @th,104,8 2 counter name \"probe_rep_$m\"; "
			rules_in+="iifname \"$vx\" ip saddr $(lab_pod "$m") tcp dport $LAB_TCP_PORT tcp flags & (syn | ack) == syn counter name \"syn_in_$m\"; "
		done
		rules=$(
			cat <<EOF
table inet lab {
	$counters
	chain output {
		type filter hook output priority 0; policy accept;
		$rules_out
	}
	chain input {
		type filter hook input priority 0; policy accept;
		$rules_in
		udp dport $LAB_DISCARD_PORT drop
	}
}
EOF
		)
		ip netns exec "$ns" nft -f - <<<"$rules" || return 1
	done
}

_lab_setup_servers()
{
	local n pid

	for n in "${LAB_NODES[@]}"; do
		lab_spawn pid "srv-$n" /dev/null ip netns exec "$(lab_ns "$n")" \
			ncat -lk --recv-only "$(lab_pod "$n")" $LAB_TCP_PORT || return 1
	done
}

# every pair shakes hands, the NATed side first (b* learn a*'s endpoint)
lab_handshakes()
{
	local p x y

	for p in $(lab_pairs); do
		x=${p%-*} y=${p#*-}
		lab_wait 10 lab_ping "$x" "$(lab_wgaddr "$y")" || {
			lab_log "no WireGuard path $x -> $y"
			return 1
		}
	done
}

_lab_write_peers()
{
	local n

	{
		echo "# warmpath lab $LAB: NAME PROBE-ADDRESS (wg) PREFIXES (pod CIDR)"
		for n in "${LAB_NODES[@]}"; do
			echo "$n $(lab_wgaddr "$n") $(lab_podnet "$n")"
		done
	} >"$LAB_DIR/peers"
}

_lab_prom_start()
{
	local n pid

	{
		echo "# warmpath lab $LAB"
		echo "global:"
		echo "  scrape_interval: 1s"
		echo "  scrape_timeout: 900ms"
		echo "  evaluation_interval: 1s"
		echo "scrape_configs:"
		echo "  - job_name: warmpath"
		echo "    static_configs:"
		for n in "${LAB_NODES[@]}"; do
			echo "      - targets: ['$(lab_nodeaddr "$n"):$LAB_METRICS_PORT']"
			echo "        labels: {node: '$n', lab: '$LAB'}"
		done
	} >"$LAB_DIR/prometheus.yml"
	lab_spawn pid prometheus "$LAB_DIR/prometheus.log" prometheus \
		--config.file="$LAB_DIR/prometheus.yml" \
		--storage.tsdb.path="$LAB_DIR/prometheus-data" \
		--storage.tsdb.retention.time=1d \
		--web.listen-address="127.0.0.1:$LAB_PROM_PORT" \
		--log.level=warn || return 1
	lab_wait 30 lab_http "$(lab_prom_url)/-/ready" || {
		lab_log "prometheus not ready; log: $(tail -5 "$LAB_DIR/prometheus.log")"
		return 1
	}
}

# lab_up: build the whole lab (no agents yet); tears a stale lab down first.
lab_up()
{
	lab_require || return $?
	if [ -e "$LAB_STATE" ]; then
		lab_log "removing what a previous run left ($LAB_STATE)"
		lab_down
	fi
	mkdir -p "$LAB_DIR" && chmod 700 "$LAB_DIR" || return 1
	_lab_state "dir $LAB_DIR"
	if _lab_setup_net && _lab_setup_wg && _lab_setup_overlay && _lab_setup_nft &&
		_lab_setup_servers && lab_handshakes && _lab_write_peers && _lab_prom_start; then
		return 0
	fi
	lab_log "setup failed; tearing down"
	lab_down
	return 1
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
			--peers-file "$LAB_DIR/peers" --node-name "$n" \
			--mode "$mode" --keepalive-interval "$LAB_KEEPALIVE" \
			--cold-threshold "$LAB_COLD" --probe udp --probe-port $LAB_PROBE_PORT \
			--metrics-listen "$(lab_nodeaddr "$n"):$LAB_METRICS_PORT" \
			--pin-path "$pin" --log-format json "$@" || return 1
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

# --- measuring ------------------------------------------------------------------

# lab_wait TIMEOUT_S CMD...: retry every 0.1 s until CMD succeeds
lab_wait()
{
	local deadline

	deadline=$(($(date +%s%N) + ${1%.*} * 1000000000))
	shift
	while :; do
		"$@" >/dev/null 2>&1 && return 0
		[ "$(date +%s%N)" -ge "$deadline" ] && return 1
		sleep 0.1
	done
}

# lab_http URL: GET, the body on stdout; fails unless the answer is 200. curl
# when it is there (LAB_HTTP=ncat forces the fallback), else HTTP/1.0 by hand
# over ncat, which the lab needs anyway.
lab_http()
{
	local hp path resp

	if [ "${LAB_HTTP:-}" != ncat ] && command -v curl >/dev/null; then
		curl -sf --max-time 5 "$1"
		return
	fi
	hp=${1#http://}
	path=/${hp#*/}
	hp=${hp%%/*}
	resp=$(printf 'GET %s HTTP/1.0\r\nHost: %s\r\nConnection: close\r\n\r\n' "$path" "$hp" |
		timeout 5 ncat --no-shutdown "${hp%:*}" "${hp##*:}" 2>/dev/null) || return 1
	[[ "$resp" == "HTTP/1."?" 200 "* ]] || return 1
	sed '1,/^\r\{0,1\}$/d' <<<"$resp"
}

# lab_ping NODE ADDR: one echo, answered within 1 s
lab_ping() { lab_in "$1" ping -q -n -c 1 -W 1 "$2" >/dev/null 2>&1; }

# lab_counter NODE NAME: packets of a named nftables counter in the node
lab_counter()
{
	lab_in "$1" nft -j list counter inet lab "$2" 2>/dev/null |
		jq -r '[.nftables[] | select(.counter) | .counter.packets][0] // 0'
}

# lab_router_counter NAME: packets of the NAT router's drop counter
lab_router_counter()
{
	ip netns exec "$(lab_router_ns)" nft -j list counter inet lab_fw "$1" 2>/dev/null |
		jq -r '[.nftables[] | select(.counter) | .counter.packets][0] // 0'
}

# lab_probe_packets X Y: probe packets (requests + replies) both put on the wire to each other
lab_probe_packets()
{
	echo $(($(lab_counter "$1" "probe_req_$2") + $(lab_counter "$1" "probe_rep_$2") +
		$(lab_counter "$2" "probe_req_$1") + $(lab_counter "$2" "probe_rep_$1")))
}

# lab_probe_requests X Y: probe requests either side sent to the other (= exchanges)
lab_probe_requests()
{
	echo $(($(lab_counter "$1" "probe_req_$2") + $(lab_counter "$2" "probe_req_$1")))
}

lab_status_json() { "$WARMPATH" status --pin-path "$(lab_pin "$1")" --json 2>/dev/null; }

# lab_peer NODE PEER FIELD: one field of one peer in NODE's pinned maps
lab_peer()
{
	lab_status_json "$1" | jq -r --arg p "$2" --arg f "$3" \
		'[.peers[] | select(.name == $p) | .[$f]][0] // 0'
}

# lab_metric NODE NAME PEER: a per-peer metric of NODE's agent (0 when absent)
lab_metric()
{
	lab_http "$(lab_metrics_url "$1")/metrics" |
		awk -v m="$2" -v p="peer=\"$3\"" '$1 ~ "^"m"[{]" && index($1, p) { s += $2 } END { print s + 0 }'
}

# lab_connect FROM TO TIMEOUT_S: one TCP connect FROM's pod -> TO's pod:8080.
# Prints "RC MS": RC 0 connected, 124 timed out; MS how long it took.
lab_connect()
{
	# shellcheck disable=SC2016 # expanded by the inner shell
	lab_in "$1" bash -c '
		t0=$(date +%s%N)
		timeout "$0" bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null
		rc=$?
		echo "$rc $((($(date +%s%N) - t0) / 1000000))"' "$3" "$(lab_pod "$2")" $LAB_TCP_PORT
}

# lab_send NODE TO: one UDP datagram from NODE to TO's wg address (discarded there)
lab_send()
{
	lab_in "$1" bash -c "echo x >/dev/udp/$(lab_wgaddr "$2")/$LAB_DISCARD_PORT" 2>/dev/null
}

# lab_warm [X-Y...]: one ping each way between the pods of these pairs (default:
# all), NATed side first, so that every agent has seen its peers (a cold start
# needs a packet before the gap); fails if a ping is not answered.
lab_warm()
{
	local p x y pairs=("$@")

	[ $# -gt 0 ] || mapfile -t pairs < <(lab_pairs)
	for p in "${pairs[@]}"; do
		x=${p%-*} y=${p#*-}
		lab_wait 5 lab_ping "$x" "$(lab_pod "$y")" || return 1
		lab_wait 5 lab_ping "$y" "$(lab_pod "$x")" || return 1
	done
}

# lab_quiet [X-Y...]: one WireGuard keepalive each way on these pairs (default:
# all), the NATed side first. wireguard-go answers received data with a
# keepalive after 10 s and re-handshakes 15 s after unanswered data; with the
# lab's short NAT timeout either would reopen the path in the middle of an idle
# period (with a real NAT's 30 s or more it happens before the mapping expires).
# A keepalive each way clears both timers, invisibly to warmpath (not a packet
# on the tun device).
lab_quiet()
{
	local p x y pairs=("$@")

	[ $# -gt 0 ] || mapfile -t pairs < <(lab_pairs)
	for p in "${pairs[@]}"; do
		x=${p%-*} y=${p#*-}
		_lab_keepalive "$x" "$y" || return 1
		sleep 0.05
		_lab_keepalive "$y" "$x" || return 1
	done
}

# _lab_keepalive FROM TO: wireguard-go sends a keepalive when one is switched on
_lab_keepalive()
{
	local wg pub

	wg=$(lab_wg "$1")
	pub=$(cat "$LAB_DIR/$2.pub")
	lab_in "$1" wg set "$wg" peer "$pub" persistent-keepalive 1 &&
		lab_in "$1" wg set "$wg" peer "$pub" persistent-keepalive off
}

# lab_busy_start X Y: a steady ping between the pods of X and Y (5/s)
lab_busy_start()
{
	local pid

	lab_spawn pid "busy-$1-$2" /dev/null ip netns exec "$(lab_ns "$1")" \
		ping -q -n -i 0.2 "$(lab_pod "$2")"
}

lab_busy_stop() { lab_kill "busy-$1-$2"; }

# lab_promql QUERY: the Prometheus HTTP API's answer (JSON)
lab_promql()
{
	lab_http "$(lab_prom_url)/api/v1/query?query=$(jq -rn --arg q "$1" '$q | @uri')"
}

# --- command line -----------------------------------------------------------------

lab_where()
{
	local n

	echo "lab $LAB: namespaces $(lab_router_ns) (NAT router) and ${LAB_NODES[*]/#/$LAB-}"
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
