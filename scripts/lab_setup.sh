#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# The lab's network: namespaces, NAT router, WireGuard mesh, VXLAN overlay,
# nftables, servers, Prometheus. Sourced by scripts/lab.sh, not run alone.

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

# _lab_router NS: a namespace that forwards, with a LAN bridge (its bridged
# frames must not pass the IP hooks, where the router's NAT and filter would
# see them: br_netfilter may be built in)
_lab_router()
{
	_lab_ns_add "$1" || return 1
	ip netns exec "$1" sysctl -qw net.ipv4.ip_forward=1 >/dev/null
	if [ -e /proc/sys/net/bridge/bridge-nf-call-iptables ]; then
		ip netns exec "$1" sysctl -qw net.bridge.bridge-nf-call-iptables=0 \
			net.bridge.bridge-nf-call-ip6tables=0 net.bridge.bridge-nf-call-arptables=0 \
			>/dev/null
	fi
	ip -n "$1" link add br-lan type bridge || return 1
	ip -n "$1" link set br-lan up
}

# _lab_nat NS LAN PUBIF TIMEOUT: masquerade LAN out of PUBIF; from the public
# side only replies get in, anything unsolicited is dropped silently (and
# counted); UDP mappings expire after TIMEOUT s (conntrack, per namespace).
_lab_nat()
{
	ip netns exec "$1" nft -f - <<EOF || return 1
table ip lab_nat {
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		ip saddr $2 oifname "$3" masquerade
	}
}
table inet lab_fw {
	counter unsolicited_udp { }
	counter unsolicited_fwd { }
	chain input {
		type filter hook input priority 0; policy accept;
		iifname "$3" meta l4proto udp counter name "unsolicited_udp" drop
	}
	chain forward {
		type filter hook forward priority 0; policy accept;
		iifname "$3" ct state new counter name "unsolicited_fwd" drop
	}
}
EOF
	ip netns exec "$1" sysctl -qw "net.netfilter.nf_conntrack_udp_timeout=$4" \
		"net.netfilter.nf_conntrack_udp_timeout_stream=$4" >/dev/null
}

# _lab_lan_attach NODE ROUTER_NS LAN_PREFIX: NODE's lan0 on the router's br-lan
_lab_lan_attach()
{
	local ns

	ns=$(lab_ns "$1")
	ip -n "$2" link add "lan-$1" type veth peer name lan0 netns "$ns" || return 1
	ip -n "$2" link set "lan-$1" master br-lan up
	ip -n "$ns" addr add "$(lab_underlay "$1")/24" dev lan0
	ip -n "$ns" link set lan0 up
	ip -n "$ns" route add default via "$3.254"
}

_lab_setup_net()
{
	local r r2='' n ns hl

	r=$(lab_router_ns)
	_lab_router "$r" || return 1
	ip -n "$r" link add br-pub type bridge || return 1
	ip -n "$r" addr add 192.168.10.254/24 dev br-lan
	ip -n "$r" addr add 198.51.100.1/24 dev br-pub
	ip -n "$r" link set br-pub up
	if [ -n "$LAB_NAT2_TIMEOUT" ]; then
		# site C's router: its WAN on the public segment
		r2=$(lab_router_ns c)
		_lab_router "$r2" || return 1
		ip -n "$r2" addr add 192.168.20.254/24 dev br-lan
		ip -n "$r" link add pub-r2 type veth peer name wan0 netns "$r2" || return 1
		ip -n "$r" link set pub-r2 master br-pub up
		ip -n "$r2" addr add 198.51.100.254/24 dev wan0
		ip -n "$r2" link set wan0 up
	fi
	for n in "${LAB_NODES[@]}"; do
		ns=$(lab_ns "$n")
		_lab_ns_add "$ns" || return 1
		case "$(lab_site "$n")" in
		a) _lab_lan_attach "$n" "$r" 192.168.10 || return 1 ;;
		c)
			[ -n "$r2" ] || { lab_log "node $n: site C needs LAB_NAT2_TIMEOUT"; return 1; }
			_lab_lan_attach "$n" "$r2" 192.168.20 || return 1
			;;
		*)
			ip -n "$r" link add "pub-$n" type veth peer name pub0 netns "$ns" || return 1
			ip -n "$r" link set "pub-$n" master br-pub up
			ip -n "$ns" addr add "$(lab_underlay "$n")/24" dev pub0
			ip -n "$ns" link set pub0 up
			;;
		esac
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
	_lab_nat "$r" 192.168.10.0/24 br-pub "$LAB_NAT_TIMEOUT" || return 1
	[ -z "$r2" ] || _lab_nat "$r2" 192.168.20.0/24 wan0 "$LAB_NAT2_TIMEOUT"
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
		for m in $(lab_peers_of "$n"); do
			args+=(peer "$(cat "$LAB_DIR/$m.pub")" allowed-ips "$(lab_wgaddr "$m")/32")
			# b* cannot know a NATed endpoint: it learns it from a*'s (c*'s) packets
			if [ "$(lab_site "$m")" = b ] || [ "$(lab_site "$n")" = "$(lab_site "$m")" ]; then
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
		for m in $(lab_peers_of "$n"); do
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
		for m in $(lab_peers_of "$n"); do
			counters+="counter syn_out_$m { }; counter syn_in_$m { }; counter disc_in_$m { }; counter probe_trial_$m { }; "
			counters+="counter probe_req_$m { }; counter probe_rep_$m { }; "
			rules_out+="oifname \"$vx\" ip daddr $(lab_pod "$m") tcp dport $LAB_TCP_PORT tcp flags & (syn | ack) == syn counter name \"syn_out_$m\"; "
			# warmpath's UDP probe: byte 5 of the payload is 1 (request) or 2 (reply)
			rules_out+="oifname \"$wg\" ip daddr $(lab_wgaddr "$m") udp dport $LAB_PROBE_PORT @th,104,8 1 counter name \"probe_req_$m\"; "
			rules_out+="oifname \"$wg\" ip daddr $(lab_wgaddr "$m") udp sport $LAB_PROBE_PORT @th,104,8 2 counter name \"probe_rep_$m\"; "
			# 3: a lifetime trial message (--keepalive-interval auto), either port
			rules_out+="oifname \"$wg\" ip daddr $(lab_wgaddr "$m") udp dport $LAB_PROBE_PORT @th,104,8 3 counter name \"probe_trial_$m\"; "
			rules_out+="oifname \"$wg\" ip daddr $(lab_wgaddr "$m") udp sport $LAB_PROBE_PORT udp dport != $LAB_PROBE_PORT @th,104,8 3 counter name \"probe_trial_$m\"; "
			rules_in+="iifname \"$vx\" ip saddr $(lab_pod "$m") tcp dport $LAB_TCP_PORT tcp flags & (syn | ack) == syn counter name \"syn_in_$m\"; "
			# lab_send's datagrams: the ground truth of a path (did one get through?)
			rules_in+="iifname \"$wg\" ip saddr $(lab_wgaddr "$m") udp dport $LAB_DISCARD_PORT counter name \"disc_in_$m\"; "
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

# a peers file per node: itself and the nodes it peers with
_lab_write_peers()
{
	local n m

	for n in "${LAB_NODES[@]}"; do
		{
			echo "# warmpath lab $LAB: NAME PROBE-ADDRESS (wg) PREFIXES (pod CIDR)"
			for m in "$n" $(lab_peers_of "$n"); do
				echo "$m $(lab_wgaddr "$m") $(lab_podnet "$m")"
			done
		} >"$LAB_DIR/peers-$n"
	done
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
