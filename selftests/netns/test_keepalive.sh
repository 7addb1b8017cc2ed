#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# The keep-alive agent end to end: three agents on a real wireguard-go mesh.
#
#       netns wpt<pid>xa             netns wpt<pid>xb             netns wpt<pid>xc
#  +------------------------+   +------------------------+   +------------------------+
#  | warmpath run           |   | warmpath run           |   | warmpath run           |
#  |  peers: b c d (then    |   |  peers: a c            |   |  peers: a b            |
#  |  b d e after SIGHUP)   |   |                        |   |                        |
#  |  metrics 127.0.0.1:9051|   |  metrics 127.0.0.1:9051|   |  metrics 127.0.0.1:9051|
#  |  probe udp/tcp 9050    |   |  probe udp/tcp 9050    |   |  probe udp/tcp 9050    |
#  |                        |   |                        |   |                        |
#  | wpt<pid>xwa            |   | wpt<pid>xwb            |   | wpt<pid>xwc            |
#  |  10.203.0.1/24 <~~~~~~~~~~~~~~> 10.203.0.2/24 <~~~~~~~~~~~~~> 10.203.0.3/24       |
#  |        ^~~~~~~~~~~~~~~~~~~~~~ wireguard-go full mesh ~~~~~~~~~~~~~~~~~~~^          |
#  | ua 192.168.203.1/24    |   | ub 192.168.203.2/24    |   | uc 192.168.203.3/24    |
#  +-----||-----------------+   +-----||-----------------+   +-----||-----------------+
#        ||  veth                     ||  veth                     ||  veth
#  +-----||---------------------------||---------------------------||-----------------+
#  |     sa ------------------------- sb ------------------------- sc    bridge br0   |
#  |                                 netns wpt<pid>xs (switch)                        |
#  +----------------------------------------------------------------------------------+
#
#  d = 10.203.0.4, e = 10.203.0.5: inside wga's /24 but in no WireGuard peer's
#  allowed-ips, so wireguard-go drops what a sends them (black-holed peers).
#
# Agents: --mode idle --keepalive-interval 2 --probe-timeout 500 (unless a check
# says otherwise). Traffic is bounded: pings every 0.3 s for the busy pairs,
# a handful of crafted datagrams, a burst of 60 requests.
#
# Checks: idle pair cadence (one exchange per interval cluster-wide), busy pair
# suppression, --mode constant, black-holed peer, garbage / non-peer datagrams
# and rate limit at the probe port, RTT of the udp, http and icmp probes,
# promtool on /metrics, /peers JSON, health endpoints and malformed HTTP
# requests, SIGHUP reload (kept counters, removed map entry).

# shellcheck source=selftests/lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=selftests/lib_nodes.sh
. "$(dirname "$0")/../lib_nodes.sh"
wp_require_root
wp_require_cmds wireguard-go wg curl promtool

KA=2 # --keepalive-interval
WINDOW=10 # seconds of each measured window
PROBE=9050
MPORT=9051

NS_S=${WP_TAG}s
# shellcheck disable=SC2034 # WGPID is set by wg_start (printf -v)
declare -A NS ADDR UADDR WGIF PIN LOG APID WGPID
for n in a b c; do
	NS[$n]=${WP_TAG}$n
	WGIF[$n]=${WP_TAG}w$n
done
ADDR[a]=10.203.0.1 ADDR[b]=10.203.0.2 ADDR[c]=10.203.0.3
ADDR[d]=10.203.0.4 ADDR[e]=10.203.0.5
UADDR[a]=192.168.203.1 UADDR[b]=192.168.203.2 UADDR[c]=192.168.203.3
COMMON=(--mode idle --keepalive-interval "$KA" --probe-timeout 500
	--metrics-listen "127.0.0.1:$MPORT")

# --- setup ---------------------------------------------------------------------
setup()
{
	local n p peers

	ns_add "$NS_S" || return 1
	ip -n "$NS_S" link add br0 type bridge || return 1
	iface_disable_ipv6 "$NS_S" br0
	ip -n "$NS_S" link set br0 up
	for n in a b c; do
		ns_add "${NS[$n]}" || return 1
		ip -n "${NS[$n]}" link add u$n type veth peer name s$n netns "$NS_S" || return 1
		iface_disable_ipv6 "${NS[$n]}" u$n
		iface_disable_ipv6 "$NS_S" s$n
		ip -n "$NS_S" link set s$n master br0 up
		ip -n "${NS[$n]}" addr add "${UADDR[$n]}/24" dev u$n
		ip -n "${NS[$n]}" link set u$n up
		(umask 077 && wg genkey >"$WP_TMP/$n.key") || return 1
		wg pubkey <"$WP_TMP/$n.key" >"$WP_TMP/$n.pub"
	done
	for n in a b c; do
		wg_start "WGPID[$n]" "${NS[$n]}" "${WGIF[$n]}" || return 1
		peers=()
		for p in a b c; do
			[ $p = "$n" ] && continue
			peers+=(peer "$(cat "$WP_TMP/$p.pub")" allowed-ips "${ADDR[$p]}/32"
				endpoint "${UADDR[$p]}:51820")
		done
		in_ns "${NS[$n]}" wg set "${WGIF[$n]}" private-key "$WP_TMP/$n.key" \
			listen-port 51820 "${peers[@]}" || return 1
		iface_disable_ipv6 "${NS[$n]}" "${WGIF[$n]}"
		ip -n "${NS[$n]}" addr add "${ADDR[$n]}/24" dev "${WGIF[$n]}"
		ip -n "${NS[$n]}" link set "${WGIF[$n]}" up
	done
	# handshakes now, so no measured probe waits for one
	wait_for 10 ping_n "${NS[a]}" "${ADDR[b]}" 1 &&
		wait_for 10 ping_n "${NS[a]}" "${ADDR[c]}" 1 &&
		wait_for 10 ping_n "${NS[b]}" "${ADDR[c]}" 1
}

if setup; then
	ok "setup: three namespaces on a wireguard-go mesh"
else
	fail "setup: three namespaces on a wireguard-go mesh"
	wp_finish
fi

printf 'b %s\nc %s\nd %s\n' "${ADDR[b]}" "${ADDR[c]}" "${ADDR[d]}" >"$WP_TMP/peers.a"
printf '# peers of b\na %s\nc %s\n' "${ADDR[a]}" "${ADDR[c]}" >"$WP_TMP/peers.b"
printf 'a %s\nb %s\n' "${ADDR[a]}" "${ADDR[b]}" >"$WP_TMP/peers.c"

# --- helpers -------------------------------------------------------------------

# start N ARGS...: (re)start node N's agent with the common options plus ARGS.
start()
{
	node_start "$1" "${WGIF[$1]}" "${COMMON[@]}" "${@:2}"
}

stop()
{
	node_stop "$1"
}

# get N PATH [CURL ARGS...]: an HTTP GET on node N's metrics server.
get()
{
	local n=$1 path=$2

	shift 2
	nsx "${NS[$n]}" curl -s --max-time 5 "$@" "http://127.0.0.1:$MPORT$path"
}

# scrape N FILE: /metrics of node N into FILE.
scrape()
{
	get "$1" /metrics -o "$2" -f
}

# m FILE NAME [LABEL=\"V\"]: the value of a sample (summed over the samples
# whose labels contain the selector), "NA" if there is none.
m()
{
	awk -v n="$2" -v sel="${3:-}" '
		/^#/ { next }
		{
			name = $1; lab = ""; i = index($1, "{")
			if (i) { name = substr($1, 1, i - 1); lab = substr($1, i) }
			if (name != n || (sel != "" && !index(lab, sel))) next
			s += $2; found = 1
		}
		END { if (found) printf "%.12g\n", s; else print "NA" }' "$1"
}

# d FILE0 FILE1 NAME [SEL]: the increase of a sample between two scrapes.
d()
{
	local x y

	x=$(m "$1" "$3" "${4:-}") y=$(m "$2" "$3" "${4:-}")
	if [ "$x" = NA ] || [ "$y" = NA ]; then
		echo NA
	else
		awk -v x="$x" -v y="$y" 'BEGIN { printf "%.12g\n", y - x }'
	fi
}

# check_range VALUE LO HI NAME
check_range()
{
	if [ "$1" != NA ] && awk -v v="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(v >= lo && v <= hi) }'; then
		ok "$4 ($1)"
	else
		fail "$4" "got $1, want $2..$3"
	fi
}

# check_gt VALUE MIN NAME: VALUE > MIN (numbers, may be fractional)
check_gt()
{
	check_cmp "$1" '>' "$2" "$3 ($1)"
}

# bg_ping VAR NS ADDR: a ping every 0.3 s (bounded: at most 3 minutes).
bg_ping()
{
	bg "$1" ip netns exec "$2" ping -q -n -i 0.3 -w 180 "$3" >/dev/null 2>&1
}

# --- wire format of a UDP probe (user/probe.h) ----------------------------------
# magic "WPKA", version, type, flags(2), seq(4), cookie(4), ts(8), sender[32]: 56 bytes
SENDER='\x78\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00'
HDR_TAIL='\x00\x00\x00\x07\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01' # seq 7, cookie 0, ts 1
G=$WP_TMP/dgram
mkdir -p "$G"
# dgram MAGIC VERSION TYPE: the 56 bytes (VERSION and TYPE as two hex digits)
dgram()
{
	printf '%s' "$1"
	printf '%b' "\\x$2\\x$3\\x00\\x00$HDR_TAIL$SENDER"
}
dgram WPKA 01 01 >"$G/request" # valid request
dgram WPKA 01 02 >"$G/reply" # a reply nobody asked for
dgram WPKB 01 01 >"$G/bad_magic"
dgram WPKA 09 01 >"$G/bad_version"
dgram WPKA 01 07 >"$G/bad_type"
head -c 20 "$G/request" >"$G/short"
{ cat "$G/request"; printf 'X'; } >"$G/long"
head -c 300 /dev/urandom >"$G/random"
check_eq "$(stat -c %s "$G/request")" 56 "wire: crafted v1 request is 56 bytes"
MALFORMED=(bad_magic bad_version bad_type short long random)
PD=$(dirname "$0")/probe_dgram.py
"$PD" build v2 1 >"$G/request2" # v2, no key: what this version's agents send
check_eq "$(stat -c %s "$G/request2")" 96 "wire: crafted v2 request is 96 bytes"

# pd_ask NS SRC DST FILE OUT [OPTS]: FILE from SRC *at the probe port* (where the
# responder answers), what comes back to OUT.
pd_ask()
{
	local ns=$1 src=$2 dst=$3 f=$4 out=$5

	shift 5
	timeout -k 1 30 nsenter --net="/run/netns/$ns" "$PD" ask "$src" $PROBE "$dst" $PROBE \
		"$f" "$out" "$@" 2>/dev/null
	return 0
}

# udp_ask NS SRC_ADDR DST FILE OUT: one datagram from SRC_ADDR (ncat, fresh port);
# what comes back goes to OUT. ncat stops reading the socket at EOF on stdin,
# so stdin stays open (a sleep that ends by itself) and ncat ends once idle
# for 1.5 s after the send: no race with a slow start under load.
udp_ask()
{
	timeout -k 1 8 nsenter --net="/run/netns/$1" ncat -u -i 1.5 -s "$2" "$3" $PROBE >"$5" 2>/dev/null \
		< <(cat "$4"; exec sleep 6)
	return 0
}

# --- start ----------------------------------------------------------------------
bg_ping PING_AB "${NS[a]}" "${ADDR[b]}" # a<->b is the busy pair from the start
for n in a b c; do
	if start $n; then
		ok "start: agent $n"
	else
		fail "start: agent $n"
		wp_finish
	fi
done

# --- HTTP views on every agent --------------------------------------------------
for n in a b c; do
	scrape $n "$WP_TMP/m.$n" || fail "http $n: /metrics" "scrape failed"
	out=$(promtool check metrics <"$WP_TMP/m.$n" 2>&1)
	check_eq "$?:$out" "0:" "http $n: promtool check metrics accepts /metrics"
	check_eq "$(get $n /healthz -o /dev/null -w '%{http_code}')" 200 "http $n: /healthz 200"
	check_eq "$(get $n /readyz -o /dev/null -w '%{http_code}')" 200 "http $n: /readyz 200"
done
declare -A WANT=([a]='["b","c","d"]' [b]='["a","c"]' [c]='["a","b"]')
for n in a b c; do
	J=$(get $n /peers -f)
	check_eq "$(jq -c '[.peers[].name] | sort' <<<"$J" 2>&1)" "${WANT[$n]}" \
		"http $n: /peers is JSON listing exactly the expected peers"
	check_eq "$(jq '[.peers[] | [.tx_packets, .rx_packets, .tx_bytes, .rx_bytes,
		.probes_sent, .probes_failed, .probes_answered, .keepalives_suppressed][]
		| type == "number"] | all' <<<"$J" 2>&1)" true "http $n: /peers counters are numbers"
done
check_eq "$(jq -r '.node + " " + .mode' <<<"$(get a /peers)")" "a idle" "http a: /peers node and mode"
check_eq "$(get a /metrics -o /dev/null -w '%{http_code}' -X POST -d x=1)" 405 \
	"http: POST /metrics is 405"
check_eq "$(get a /nosuch -o /dev/null -w '%{http_code}')" 404 "http: unknown path is 404"
R=$(printf 'GARBAGE\x01\x02 \r\n\r\n' | nsx "${NS[a]}" timeout 5 ncat -i 2 127.0.0.1 $MPORT 2>/dev/null | head -1)
check_match "$R" '^HTTP/1\.[01] 4[0-9][0-9]' "http: a garbage request line gets a 4xx"
R=$(printf 'GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: zz\r\n\r\n' |
	nsx "${NS[a]}" timeout 5 ncat -i 2 127.0.0.1 $MPORT 2>/dev/null | head -1)
check_match "$R" '^HTTP/1\.[01] 4[0-9][0-9]' "http: a bad Content-Length gets a 4xx"
# concurrent scrapes while the server is being abused
cpids=()
for i in 1 2 3 4 5 6 7 8; do
	get a /metrics -f -o "$WP_TMP/conc.$i" &
	cpids+=($!)
done
wait_ok=0
wait "${cpids[@]}"
for i in 1 2 3 4 5 6 7 8; do
	[ "$(m "$WP_TMP/conc.$i" warmpath_build_info)" = 1 ] && wait_ok=$((wait_ok + 1))
done
check_eq "$wait_ok" 8 "http: 8 concurrent scrapes all complete"
check_eq "$(get a /healthz -o /dev/null -w '%{http_code}')" 200 "http: still serving after bad requests"

# --- 1. idle pair, busy pair, black-holed peer, one window ----------------------
sleep 3 # past the start-up probes of every pair
for n in a b c; do scrape $n "$WP_TMP/w0.$n"; done
sleep $WINDOW
for n in a b c; do scrape $n "$WP_TMP/w1.$n"; done
W0=$WP_TMP/w0 W1=$WP_TMP/w1
info "window ${WINDOW}s: a->c $(d "$W0.a" "$W1.a" warmpath_probes_sent_total 'peer="c"')," \
	"c->a $(d "$W0.c" "$W1.c" warmpath_probes_sent_total 'peer="a"')," \
	"a->b $(d "$W0.a" "$W1.a" warmpath_probes_sent_total 'peer="b"')," \
	"b->a $(d "$W0.b" "$W1.b" warmpath_probes_sent_total 'peer="a"')," \
	"a->d $(d "$W0.a" "$W1.a" warmpath_probes_sent_total 'peer="d"')"

SENT_AC=$(( $(d "$W0.a" "$W1.a" warmpath_probes_sent_total 'peer="c"') + \
	$(d "$W0.c" "$W1.c" warmpath_probes_sent_total 'peer="a"') ))
check_range $SENT_AC 3 7 "idle a-c: probes a->c + c->a in ${WINDOW}s ~ $WINDOW/$KA (not 2x)"
check_eq "$(d "$W0.a" "$W1.a" warmpath_probes_failed_total 'peer="c"')" 0 "idle a-c: none of a's failed"
check_eq "$(d "$W0.c" "$W1.c" warmpath_probes_failed_total 'peer="a"')" 0 "idle a-c: none of c's failed"
RTT_AC=$(( $(d "$W0.a" "$W1.a" warmpath_probe_rtt_seconds_count 'peer="c"') + \
	$(d "$W0.c" "$W1.c" warmpath_probe_rtt_seconds_count 'peer="a"') ))
check_range $RTT_AC $((SENT_AC - 1)) $((SENT_AC + 1)) \
	"idle a-c: every probe answered (rtt count ~ sent) while d is black-holed"
# a keep-alive that falls due just after the other side's exchange is suppressed:
# on each side, sent + suppressed is about one per interval
for p in "a c" "c a"; do
	read -r x y <<<"$p"
	check_range "$(( $(d "$W0.$x" "$W1.$x" warmpath_probes_sent_total "peer=\"$y\"") + \
		$(d "$W0.$x" "$W1.$x" warmpath_keepalives_suppressed_total "peer=\"$y\"") ))" 3 7 \
		"idle a-c: on $x, sent + suppressed ~ one per interval"
done

check_eq "$(d "$W0.a" "$W1.a" warmpath_probes_sent_total 'peer="b"')" 0 "busy a-b: a sends b no probe"
check_eq "$(d "$W0.b" "$W1.b" warmpath_probes_sent_total 'peer="a"')" 0 "busy a-b: b sends a no probe"
check_range "$(d "$W0.a" "$W1.a" warmpath_keepalives_suppressed_total 'peer="b"')" 3 7 \
	"busy a-b: a's suppressed keep-alives rise (~1 per interval)"
check_range "$(d "$W0.b" "$W1.b" warmpath_keepalives_suppressed_total 'peer="a"')" 3 7 \
	"busy a-b: b's suppressed keep-alives rise"
check_gt "$(d "$W0.a" "$W1.a" warmpath_peer_packets_total 'peer="b",direction="tx",kind="workload"')" 25 \
	"busy a-b: the datapath counts the pings"

check_range "$(d "$W0.a" "$W1.a" warmpath_probes_failed_total 'peer="d"')" 3 7 \
	"black hole d: a's probes to d fail and are counted"
check_eq "$(d "$W0.a" "$W1.a" warmpath_probe_rtt_seconds_count 'peer="d"')" 0 \
	"black hole d: no RTT for d"
check_eq "$(jq -r '.peers[] | select(.name == "d") | .last_probe_rtt_seconds' <<<"$(get a /peers)")" \
	null "black hole d: /peers has no RTT for d"

# --- 2. garbage and strangers at a's probe port ----------------------------------
# a<->c busy too now: no peer has a reason to probe a, so a's responder
# counters move only by what this section sends
bg_ping PING_AC "${NS[a]}" "${ADDR[c]}"
sleep 2.5
scrape a "$WP_TMP/g0.a"
A=${ADDR[a]}
upids=()
for f in "${MALFORMED[@]}" reply; do # from a known peer's address
	udp_ask "${NS[b]}" "${ADDR[b]}" "$A" "$G/$f" "$G/out.$f" &
	upids+=($!)
done
udp_ask "${NS[c]}" "${UADDR[c]}" "${UADDR[a]}" "$G/request" "$G/out.stranger_underlay" &
upids+=($!)
udp_ask "${NS[a]}" 127.0.0.1 127.0.0.1 "$G/request" "$G/out.stranger_lo" &
upids+=($!)
# a peer's address but not from the probe port: a reflector's victim would be there
udp_ask "${NS[b]}" "${ADDR[b]}" "$A" "$G/request2" "$G/out.bad_port" &
upids+=($!)
pd_ask "${NS[b]}" "${ADDR[b]}" "$A" "$G/request2" "$G/out.control" & # a real peer
upids+=($!)
wait "${upids[@]}"
scrape a "$WP_TMP/g1.a"
for f in "${MALFORMED[@]}" reply stranger_underlay stranger_lo bad_port; do
	check_eq "$(stat -c %s "$G/out.$f")" 0 "garbage: no answer to $f"
done
check_eq "$(stat -c %s "$G/out.control")" 96 "garbage: a real peer's request is answered (96 bytes)"
check_eq "$(head -c 6 "$G/out.control" | od -An -tx1 | tr -d ' \n')" 57504b410202 \
	"garbage: the answer is a WPKA reply" # magic W P K A, version 2, type 2
G0=$WP_TMP/g0.a G1=$WP_TMP/g1.a
check_eq "$(d "$G0" "$G1" warmpath_probe_responder_dropped_total 'reason="bad_port"')" 1 \
	"garbage: a request from a peer's address but another port counted as bad_port"
check_eq "$(d "$G0" "$G1" warmpath_probe_responder_dropped_total 'reason="malformed"')" ${#MALFORMED[@]} \
	"garbage: each malformed datagram counted as malformed"
check_eq "$(d "$G0" "$G1" warmpath_probe_responder_dropped_total 'reason="unknown_source"')" 2 \
	"garbage: requests from non-peer sources counted as unknown_source"
check_eq "$(d "$G0" "$G1" warmpath_probe_responder_answered_total)" 1 \
	"garbage: answered rose by the real peer's request only"
check_true "garbage: agent a alive" kill -0 "${APID[a]}"

# a burst from a peer: answered up to the bucket, the rest rate_limited
scrape a "$WP_TMP/r0.a"
pd_ask "${NS[b]}" "${ADDR[b]}" "$A" "$G/request2" "$G/out.burst" --count 60 --wait 0.3
scrape a "$WP_TMP/r1.a"
ANS=$(d "$WP_TMP/r0.a" "$WP_TMP/r1.a" warmpath_probe_responder_answered_total)
LIM=$(d "$WP_TMP/r0.a" "$WP_TMP/r1.a" warmpath_probe_responder_dropped_total 'reason="rate_limited"')
info "burst of 60: answered $ANS, rate_limited $LIM"
check_eq $((ANS + LIM)) 60 "rate limit: answered + rate_limited = 60 requests"
check_gt "$LIM" 0 "rate limit: some of a burst of 60 are rate-limited"
stop_pid "$PING_AC"
sleep 2.5 # the bucket refills
pd_ask "${NS[c]}" "${ADDR[c]}" "$A" "$G/request2" "$G/out.after"
check_eq "$(stat -c %s "$G/out.after")" 96 "garbage: a still answers real peers afterwards"
# a v1 agent (rolling update, no key): answered with a v1 reply of the same size
pd_ask "${NS[c]}" "${ADDR[c]}" "$A" "$G/request" "$G/out.v1"
check_eq "$(head -c 6 "$G/out.v1" | od -An -tx1 | tr -d ' \n'):$(stat -c %s "$G/out.v1")" \
	57504b410102:56 "rolling update: a v1 request gets a 56-byte v1 reply (no key set)"
# a starving flood from one source (b, 3 s at 1000/s) does not stop c being answered
scrape a "$WP_TMP/f0.a"
pd_ask "${NS[b]}" "${ADDR[b]}" "$A" "$G/request2" "$G/out.flood" --count 3000 --rate 1000 \
	--wait 0 &
FLOOD=$!
sleep 1
pd_ask "${NS[c]}" "${ADDR[c]}" "$A" "$G/request2" "$G/out.during"
wait $FLOOD
scrape a "$WP_TMP/f1.a"
check_gt "$(d "$WP_TMP/f0.a" "$WP_TMP/f1.a" warmpath_probe_responder_dropped_total \
	'reason="rate_limited"')" 1000 "flood: b's flood is rate-limited"
check_eq "$(stat -c %s "$G/out.during")" 96 "flood: c's request during b's flood is answered"
check_eq "$(get a /healthz -o /dev/null -w '%{http_code}')" 200 "garbage: a still serves /healthz"

# --- 3. --mode constant probes the busy pair anyway -----------------------------
stop a
if start a --mode constant; then ok "constant: agent a restarted"; else fail "constant: agent a restarted"; fi
scrape a "$WP_TMP/c0.a"
sleep $WINDOW
scrape a "$WP_TMP/c1.a"
check_range "$(d "$WP_TMP/c0.a" "$WP_TMP/c1.a" warmpath_probes_sent_total 'peer="b"')" 3 7 \
	"constant: a probes the busy b anyway (~1 per interval)"
check_eq "$(m "$WP_TMP/c1.a" warmpath_keepalives_suppressed_total 'peer="b"')" 0 \
	"constant: nothing suppressed"
check_eq "$(jq -r .mode <<<"$(get a /peers)")" constant "constant: /peers says so"

# --- 4. RTT of every probe kind ---------------------------------------------------
# udp: the constant window above (a->b)
check_gt "$(m "$WP_TMP/c1.a" warmpath_probe_rtt_seconds_count 'peer="b"')" 0 "rtt udp: count > 0"
check_gt "$(m "$WP_TMP/c1.a" warmpath_probe_rtt_seconds_sum 'peer="b"')" 0 "rtt udp: sum > 0"
# from a baseline taken once both agents run (the first probe of the first one
# started may meet the other one stopped)
# shellcheck disable=SC2317 # run through wait_for
rtt_seen()
{
	scrape a "$WP_TMP/k.a" && scrape c "$WP_TMP/k.c" &&
		[ "$(d "$WP_TMP/k0.a" "$WP_TMP/k.a" warmpath_probe_rtt_seconds_count 'peer="c"')" -gt 0 ] &&
		[ "$(d "$WP_TMP/k0.c" "$WP_TMP/k.c" warmpath_probe_rtt_seconds_count 'peer="a"')" -gt 0 ]
}
for kind in http icmp; do
	stop a
	stop c
	if ! start a --mode constant --probe $kind || ! start c --mode constant --probe $kind; then
		fail "rtt $kind: agents restart"
	fi
	scrape a "$WP_TMP/k0.a"
	scrape c "$WP_TMP/k0.c"
	wait_for 8 rtt_seen
	for p in "a c" "c a"; do
		read -r x y <<<"$p"
		check_gt "$(d "$WP_TMP/k0.$x" "$WP_TMP/k.$x" warmpath_probe_rtt_seconds_count "peer=\"$y\"")" 0 \
			"rtt $kind: $x->$y count > 0"
		check_gt "$(d "$WP_TMP/k0.$x" "$WP_TMP/k.$x" warmpath_probe_rtt_seconds_sum "peer=\"$y\"")" 0 \
			"rtt $kind: $x->$y sum > 0"
		check_eq "$(d "$WP_TMP/k0.$x" "$WP_TMP/k.$x" warmpath_probes_failed_total "peer=\"$y\"")" 0 \
			"rtt $kind: $x->$y none failed"
	done
	check_gt "$(m "$WP_TMP/k.a" warmpath_probes_failed_total 'peer="d"')" 0 \
		"rtt $kind: probes to black-holed d fail"
	check_eq "$(promtool check metrics <"$WP_TMP/k.a" 2>&1)" "" "rtt $kind: promtool accepts /metrics"
done

# --- 5. SIGHUP: remove c, add e --------------------------------------------------
stop a
stop c
start a || fail "sighup: agent a restarted"
start c || fail "sighup: agent c restarted"
# a few ticks: b's keep-alives suppressed (busy), d probed
# peer_field N PEER FIELD: one field of one peer in node N's /peers
peer_field()
{
	jq -r --arg p "$2" --arg f "$3" '.peers[] | select(.name == $p) | .[$f]' <<<"$(get "$1" /peers)"
}
# shellcheck disable=SC2317 # run through wait_for
b_busy_d_probed()
{
	[ "$(peer_field a b keepalives_suppressed)" -gt 0 ] && [ "$(peer_field a d probes_sent)" -gt 0 ]
}
wait_for 6 b_busy_d_probed
ID_C=$(peer_get "${PIN[a]}" c id)
check_match "$ID_C" '^[0-9]+$' "sighup: c has a map slot before"
TX0=$(peer_get "${PIN[a]}" b tx_packets)
J0=$(get a /peers)
SUP0=$(jq -r '.peers[] | select(.name == "b") | .keepalives_suppressed' <<<"$J0")
SENT_D0=$(jq -r '.peers[] | select(.name == "d") | .probes_sent' <<<"$J0")
printf 'b %s\nd %s\ne %s\n' "${ADDR[b]}" "${ADDR[d]}" "${ADDR[e]}" >"$WP_TMP/peers.a"
kill -HUP "${APID[a]}"
# shellcheck disable=SC2317 # run through wait_for
peers_are()
{
	[ "$(jq -c '[.peers[].name] | sort' <<<"$(get a /peers)")" = "$1" ]
}
wait_for 5 peers_are '["b","d","e"]'
J1=$(get a /peers)
check_eq "$(jq -c '[.peers[].name] | sort' <<<"$J1")" '["b","d","e"]' "sighup: /peers shows b d e"
check_match "$(cat "${LOG[a]}")" 'SIGHUP: peers reloaded: 3 peer' "sighup: logged"
check_true "sighup: agent a alive" kill -0 "${APID[a]}"
TX1=$(peer_get "${PIN[a]}" b tx_packets)
check_true "sighup: b's tx_packets kept ($TX0 -> $TX1)" test "$TX0" -gt 0 -a "$TX1" -ge "$TX0"
SUP1=$(jq -r '.peers[] | select(.name == "b") | .keepalives_suppressed' <<<"$J1")
check_true "sighup: b's suppressed count kept ($SUP0 -> $SUP1)" test "$SUP0" -gt 0 -a "$SUP1" -ge "$SUP0"
SENT_D1=$(jq -r '.peers[] | select(.name == "d") | .probes_sent' <<<"$J1")
check_true "sighup: d's probes_sent kept ($SENT_D0 -> $SENT_D1)" test "$SENT_D0" -gt 0 -a "$SENT_D1" -ge "$SENT_D0"
S=$(status_json "${PIN[a]}")
check_eq "$(jq -c '[.peers[].name] | sort' <<<"$S")" '["b","d","e"]' \
	"sighup: status --json: c's map entry is gone, e is there"
scrape a "$WP_TMP/h.a"
check_eq "$(m "$WP_TMP/h.a" warmpath_probes_sent_total 'peer="c"')" NA "sighup: no series for c"
check_eq "$(m "$WP_TMP/h.a" warmpath_peers)" 3 "sighup: warmpath_peers 3"
# shellcheck disable=SC2317 # run through wait_for
e_failed()
{
	[ "$(peer_field a e probes_failed)" -gt 0 ]
}
wait_for 4 e_failed
check_gt "$(peer_field a e probes_failed)" 0 \
	"sighup: the new peer e is probed (black-holed: fails)"
check_eq "$(promtool check metrics <"$WP_TMP/h.a" 2>&1)" "" "sighup: promtool accepts /metrics"

# --- teardown --------------------------------------------------------------------
stop_pid "$PING_AB"
for n in a b c; do
	pid=${APID[$n]}
	stop $n
	check_eq "$STOP_RC" 0 "exit: agent $n exits 0 on SIGTERM"
done
if [ "$_wp_fail" -gt 0 ]; then
	for n in a b c; do dump_log "${LOG[$n]}"; done
fi
wp_finish
