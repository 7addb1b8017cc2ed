#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# Sourced by selftests/lib.sh (its functions and variables are used here): the
# set-ups several suites share. Two namespaces on a veth (veth_ab), a
# WireGuard pair over a veth underlay (wg_ab_names, wg_go_ab; its parts
# wg_keys, wg_iface_up), and one peer's counters checked at once
# (check_peer_counts).

# --- a peer's counters at once ---------------------------------------------

# check_peer_counts PIN PEER LABEL [TIMEOUT] FIELD=WANT...: each field of PEER
# in `status` is exactly WANT (check "LABEL: FIELD"); tx_packets and rx_packets
# are waited for, up to TIMEOUT s (3): the last packets may still be on their way.
check_peer_counts()
{
	local pin=$1 peer=$2 label=$3 timeout=3 kv f want got

	shift 3
	case ${1:-} in *=* | "") ;; *) timeout=$1 && shift ;; esac
	for kv; do
		f=${kv%%=*}
		want=${kv#*=}
		case $f in
		tx_packets | rx_packets) got=$(wait_peer "$pin" "$peer" "$f" "$want" "$timeout") ;;
		*) got=$(peer_get "$pin" "$peer" "$f") ;;
		esac
		check_eq "$got" "$want" "$label: $f"
	done
}

# --- two namespaces on a veth ----------------------------------------------

# veth_ab NET: namespaces NS_A=${WP_TAG}a and NS_B=${WP_TAG}b joined by a veth
# vA <-> vB, A_ADDR=NET.1 and B_ADDR=NET.2 (/24); true once A reaches B.
veth_ab()
{
	NS_A=${WP_TAG}a
	NS_B=${WP_TAG}b
	A_ADDR=$1.1
	B_ADDR=$1.2
	ns_add "$NS_A" && ns_add "$NS_B" &&
		veth_pair "$NS_A" vA "$A_ADDR/24" "$NS_B" vB "$B_ADDR/24" &&
		ping_n "$NS_A" "$B_ADDR" 1
}

# ifindex NS IF
ifindex()
{
	ip -n "$1" -j link show "$2" | jq '.[0].ifindex'
}

# --- a WireGuard pair ------------------------------------------------------

# wg_keys NAME...: a private key $WP_TMP/NAME.key and its public key NAME.pub each.
wg_keys()
{
	local n

	for n; do
		(umask 077 && wg genkey >"$WP_TMP/$n.key") &&
			wg pubkey <"$WP_TMP/$n.key" >"$WP_TMP/$n.pub" || return 1
	done
}

# wg_iface_up NS IFNAME KEY PEER ALLOWED ADDR/LEN [PEER-OPTION...]: the interface
# gets key KEY (wg_keys), listen port 51820 and one peer, PEER's public key with
# ALLOWED (and the options: endpoint, persistent-keepalive); IPv6 off, ADDR, up.
wg_iface_up()
{
	local ns=$1 ifname=$2 key=$3 peer=$4 allowed=$5 addr=$6

	shift 6
	in_ns "$ns" wg set "$ifname" private-key "$WP_TMP/$key.key" listen-port 51820 \
		peer "$(cat "$WP_TMP/$peer.pub")" allowed-ips "$allowed" "$@" || return 1
	iface_disable_ipv6 "$ns" "$ifname"
	ip -n "$ns" addr add "$addr" dev "$ifname" && ip -n "$ns" link set "$ifname" up
}

# wg_ab_names NET UNDERLAY: the names of a WireGuard pair: namespaces NS_A,
# NS_B; devices WG_A, WG_B addressed A_ADDR=NET.1, B_ADDR=NET.2; underlay
# addresses A_UL=UNDERLAY.1, B_UL=UNDERLAY.2.
wg_ab_names()
{
	NS_A=${WP_TAG}a
	NS_B=${WP_TAG}b
	WG_A=${WP_TAG}wa
	WG_B=${WP_TAG}wb
	A_ADDR=$1.1
	B_ADDR=$1.2
	A_UL=$2.1
	B_UL=$2.2
}

# wg_go_ab: the pair of wg_ab_names: the namespaces, a veth uA <-> uB on the
# underlay, wireguard-go in both (pids in WGPID_A, WGPID_B), keys a and b, each
# side the other's one peer (its address/32 at its underlay address:51820),
# addressed /24 and up.
wg_go_ab()
{
	ns_add "$NS_A" && ns_add "$NS_B" &&
		veth_pair "$NS_A" uA "$A_UL/24" "$NS_B" uB "$B_UL/24" &&
		wg_keys a b &&
		wg_start WGPID_A "$NS_A" "$WG_A" && wg_start WGPID_B "$NS_B" "$WG_B" &&
		wg_iface_up "$NS_A" "$WG_A" a b "$B_ADDR/32" "$A_ADDR/24" endpoint "$B_UL:51820" &&
		wg_iface_up "$NS_B" "$WG_B" b a "$A_ADDR/32" "$B_ADDR/24" endpoint "$A_UL:51820"
}

