// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * warmpath drop tracer: a tp_btf program on the kfree_skb tracepoint counts
 * the packets the kernel dropped on a watched interface, by (ifindex, drop
 * reason) in the pinned `drops` hash, and by peer node (peer_state.kernel_drops)
 * when the packet's IP source or destination belongs to a peer.
 *
 * Two variants of the program, user space loads exactly one of them (feature
 * probing on the vmlinux BTF, user/drops.c):
 *   wp_drop_reason  kernels >= 5.17: kfree_skb(skb, location, reason, ...)
 *   wp_drop_plain   older kernels:   kfree_skb(skb, location); the reason
 *                   recorded is 0 and user space names it "unreported".
 *
 * Reason numbers are the running kernel's enum skb_drop_reason: they differ
 * between kernels, so the program never compares against a literal number
 * (CO-RE enum relocations) and user space names them from the kernel's BTF.
 *
 * The maps of maps.bpf.h are pinned by name and shared with the datapath: this
 * object is opened with the same pin_root_path and reuses the datapath's pins.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "parsing.bpf.h"
#include "maps.bpf.h"
#include "warmpath.h"

/*
 * Count only drops on devices of this network namespace (inode number of its
 * nsfs file; 0: every namespace). Interface indexes are per namespace: without
 * this a pod's eth0 would count as the node's wg0 whenever their ifindexes
 * coincide. Set by user space before load.
 */
const volatile __u32 netns_ino = 0;

/* (ifindex, reason) -> drops. */
WP_PINNED_MAP(drops, BPF_MAP_TYPE_HASH, WP_MAX_DROP_KEYS, struct drop_key, __u64);

/*
 * Self-accounting, read by user space through the skeleton's .bss (not
 * pinned: they restart with the agent, like every process counter).
 */
__u64 drops_counted = 0; /* drops on a watched interface */
__u64 drops_attributed = 0; /* of those, attributed to a peer */
__u64 drops_unattributed = 0; /* IP packets whose addresses matched no peer */
__u64 drops_non_ip = 0; /* not IPv4/IPv6 (ARP, ...): no attribution tried */
__u64 decode_errors = 0; /* IP header not readable, unset or inconsistent */
__u64 map_full = 0; /* a new (ifindex, reason) found the drops map full */
__u64 drops_echo_replies = 0; /* echo replies freed after raw sockets had their copy */

/*
 * The enumerators of enum skb_drop_reason this program compares against,
 * declared here rather than taken from vmlinux.h: the vmlinux.h of another
 * kernel may lack them (6.1's has no SKB_CONSUMED). CO-RE matches type and
 * enumerator names without their ___ suffix, so at load time these relocate
 * to the running kernel's values; the numbers below are placeholders only.
 */
enum skb_drop_reason___wp {
	SKB_NOT_DROPPED_YET___wp = 0,
	SKB_CONSUMED___wp = 1,
	SKB_DROP_REASON_NO_SOCKET___wp = 2,
};

/* skb->network_header before anything set it (skb_network_header_was_set()). */
#define WP_NH_UNSET ((__u16)~0U)

/*
 * Read the packet's IP addresses (IPv4-mapped for IPv4) from the network
 * header. Returns 0, 1 for a packet that is not IP, -1 when the header cannot
 * be decoded. The skb may be anywhere in the stack: read, never trust.
 */
static __always_inline int drop_addrs(struct sk_buff *skb, __u8 *saddr, __u8 *daddr)
{
	/* tp_btf: skb is a BTF pointer, fields are read directly (CO-RE relocated) */
	__be16 proto = skb->protocol;
	unsigned char *head = skb->head;
	__u16 nh = skb->network_header;
	struct ipv6hdr ip6h;
	struct iphdr iph;

	if (proto != bpf_htons(ETH_P_IP) && proto != bpf_htons(ETH_P_IPV6))
		return 1;
	if (!head || nh == WP_NH_UNSET)
		return -1;
	if (proto == bpf_htons(ETH_P_IP)) {
		if (bpf_probe_read_kernel(&iph, sizeof(iph), head + nh) || iph.version != 4 ||
		    iph.ihl < 5)
			return -1;
		addr_from_v4(saddr, iph.saddr);
		addr_from_v4(daddr, iph.daddr);
		return 0;
	}
	if (bpf_probe_read_kernel(&ip6h, sizeof(ip6h), head + nh) || ip6h.version != 6)
		return -1;
	__builtin_memcpy(saddr, &ip6h.saddr, 16);
	__builtin_memcpy(daddr, &ip6h.daddr, 16);
	return 0;
}

/*
 * Whether the skb is an ICMP / ICMPv6 echo reply. A ping on a raw socket (as
 * root, iputils' ping) gets a clone of each reply; the kernel then frees the
 * original because no ping socket wants it (NO_SOCKET on 5.17+, a plain
 * kfree_skb before): every healthy ping would count as a drop. Bounds: the
 * ICMP type byte must lie before skb->tail; reads go through
 * bpf_probe_read_kernel and a failed one answers "no".
 */
static __always_inline bool is_echo_reply(struct sk_buff *skb)
{
	__be16 proto = skb->protocol;
	unsigned char *head = skb->head;
	__u32 nh = skb->network_header, tail = skb->tail, off;
	struct ipv6hdr ip6h;
	struct iphdr iph;
	__u8 type;

	if (!head || nh == WP_NH_UNSET)
		return false;
	if (proto == bpf_htons(ETH_P_IP)) {
		if (bpf_probe_read_kernel(&iph, sizeof(iph), head + nh) || iph.version != 4 ||
		    iph.ihl < 5 || iph.protocol != IPPROTO_ICMP ||
		    (iph.frag_off & bpf_htons(0x1fff)))
			return false;
		off = nh + iph.ihl * 4;
		if (off >= tail || bpf_probe_read_kernel(&type, 1, head + off))
			return false;
		return type == 0; /* ICMP_ECHOREPLY */
	}
	if (proto == bpf_htons(ETH_P_IPV6)) {
		if (bpf_probe_read_kernel(&ip6h, sizeof(ip6h), head + nh) || ip6h.version != 6 ||
		    ip6h.nexthdr != IPPROTO_ICMPV6)
			return false;
		off = nh + sizeof(ip6h);
		if (off >= tail || bpf_probe_read_kernel(&type, 1, head + off))
			return false;
		return type == 129; /* ICMPV6_ECHO_REPLY */
	}
	return false;
}

/* The peer of the source address, else of the destination: add the drop to it. */
static __always_inline void attribute_drop(struct sk_buff *skb)
{
	struct addr_key saddr, daddr;
	struct peer_state *ps;
	__u32 peer_id;
	int ret;

	ret = drop_addrs(skb, saddr.addr, daddr.addr);
	if (ret) {
		__sync_fetch_and_add(ret > 0 ? &drops_non_ip : &decode_errors, 1);
		return;
	}
	ps = peer_of_addr(saddr.addr, &peer_id);
	if (!ps)
		ps = peer_of_addr(daddr.addr, &peer_id);
	if (!ps) {
		__sync_fetch_and_add(&drops_unattributed, 1);
		return;
	}
	__sync_fetch_and_add(&ps->kernel_drops, 1);
	__sync_fetch_and_add(&drops_attributed, 1);
}

/* Whether the device is one we watch: flagged in if_flags, in our namespace. */
static __always_inline bool watched_dev(struct net_device *dev, __u32 ifindex)
{
	__u32 *flags;

	flags = bpf_map_lookup_elem(&if_flags, &ifindex);
	if (!flags || !*flags)
		return false;
	/* kernels without CONFIG_NET_NS have one namespace and no nd_net.net */
	if (netns_ino && bpf_core_field_exists(dev->nd_net.net) &&
	    dev->nd_net.net->ns.inum != netns_ino)
		return false;
	return true;
}

/* reason_known: the reason variant; no_socket: the reason is NO_SOCKET */
static __always_inline int count_drop(struct sk_buff *skb, __u32 reason, bool no_socket)
{
	struct drop_key key = {};
	struct net_device *dev;
	__u64 *count, zero = 0;

	/* direct BTF loads, not bpf_probe_read: this runs for every freed skb */
	dev = skb->dev;
	if (!dev)
		return 0;
	key.ifindex = dev->ifindex;
	if (!watched_dev(dev, key.ifindex))
		return 0;
	/* a raw socket's echo reply: NO_SOCKET, or any free where no reason is reported */
	if (no_socket && is_echo_reply(skb)) {
		__sync_fetch_and_add(&drops_echo_replies, 1);
		return 0;
	}
	key.reason = reason;

	/* lookup, insert on the first drop of this (ifindex, reason) only, atomic add */
	count = bpf_map_lookup_elem(&drops, &key);
	if (!count) {
		bpf_map_update_elem(&drops, &key, &zero, BPF_NOEXIST);
		count = bpf_map_lookup_elem(&drops, &key);
	}
	if (count)
		__sync_fetch_and_add(count, 1);
	else
		__sync_fetch_and_add(&map_full, 1);
	__sync_fetch_and_add(&drops_counted, 1);
	attribute_drop(skb);
	return 0;
}

SEC("tp_btf/kfree_skb")
int BPF_PROG(wp_drop_reason, struct sk_buff *skb, void *location, enum skb_drop_reason reason)
{
	/*
	 * Not drops: SKB_NOT_DROPPED_YET (0 on kernels that have it) and
	 * SKB_CONSUMED (kernels 6.0-6.2 sent consumed skbs through kfree_skb).
	 * The _exists guards relocate to 0 on kernels without the value, and the
	 * verifier removes the comparison as dead code.
	 */
	if (bpf_core_enum_value_exists(enum skb_drop_reason___wp, SKB_NOT_DROPPED_YET___wp) &&
	    reason == bpf_core_enum_value(enum skb_drop_reason___wp, SKB_NOT_DROPPED_YET___wp))
		return 0;
	if (bpf_core_enum_value_exists(enum skb_drop_reason___wp, SKB_CONSUMED___wp) &&
	    reason == bpf_core_enum_value(enum skb_drop_reason___wp, SKB_CONSUMED___wp))
		return 0;
	return count_drop(skb, reason,
			  bpf_core_enum_value_exists(enum skb_drop_reason___wp,
						     SKB_DROP_REASON_NO_SOCKET___wp) &&
				  reason == bpf_core_enum_value(enum skb_drop_reason___wp,
								SKB_DROP_REASON_NO_SOCKET___wp));
}

SEC("tp_btf/kfree_skb")
int BPF_PROG(wp_drop_plain, struct sk_buff *skb, void *location)
{
	return count_drop(skb, 0, true);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
