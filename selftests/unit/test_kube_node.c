// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Kubernetes Node objects to peers (user/discovery/kube_nodes.c) and the
 * merge of peer sets (user/discovery/peerset.c).
 *
 *	test_kube_node       Node object -> peer; merging with static peers
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/wait.h>
#include "fake_kube_api.h"
#include "log.h"
#include "prom.h"

static void node_peer_cases(void)
{
	const char *custom[] = { "example.com/probe", NULL };
	struct wp_peer p;
	char err[256];
	json_t *n;

	/* the Calico annotation wins; every address and CIDR becomes a prefix */
	n = make_node("node-b", "1", "192.168.1.2", IPIP, "10.244.1.1", "10.244.1.0/24",
		      "fd00:10:244:1::/64");
	if (ASSERT_OK(kube_node_peer(n, NULL, &p, err, sizeof(err)), "calico")) {
		ASSERT_STREQ(p.name, "node-b", "calico_name");
		ASSERT_STREQ(p.addr_str, "10.244.1.1", "calico_addr");
		ASSERT_EQ(p.nprefixes, 4, "calico_nprefixes");
		ASSERT_TRUE(has_prefix(&p, "10.244.1.1"), "calico_pfx_tunnel");
		ASSERT_TRUE(has_prefix(&p, "192.168.1.2"), "calico_pfx_internal");
		ASSERT_TRUE(has_prefix(&p, "10.244.1.0/24"), "calico_pfx_podcidr");
		ASSERT_TRUE(has_prefix(&p, "fd00:10:244:1::/64"), "calico_pfx_podcidr6");
	}
	/* ... but not with other annotation keys configured */
	if (ASSERT_OK(kube_node_peer(n, custom, &p, err, sizeof(err)), "custom"))
		ASSERT_STREQ(p.addr_str, "192.168.1.2", "custom_falls_back_to_internal");
	json_decref(n);

	/* InternalIP fallback, podCIDR without podCIDRs, the address once only */
	n = make_node("node-c", "1", "192.168.1.3", "example.com/probe", "192.168.1.3/24", NULL,
		      NULL);
	json_object_set_new(json_object_get(n, "spec"), "podCIDR", json_string("10.9.0.0/16"));
	if (ASSERT_OK(kube_node_peer(n, NULL, &p, err, sizeof(err)), "internal")) {
		ASSERT_STREQ(p.addr_str, "192.168.1.3", "internal_addr");
		ASSERT_EQ(p.nprefixes, 2, "internal_nprefixes");
		ASSERT_TRUE(has_prefix(&p, "10.9.0.0/16"), "internal_podcidr");
	}
	/* an annotation with /len (Calico's IPv4Address style) probes the address */
	if (ASSERT_OK(kube_node_peer(n, custom, &p, err, sizeof(err)), "slash")) {
		ASSERT_STREQ(p.addr_str, "192.168.1.3", "slash_addr");
		ASSERT_FALSE(has_prefix(&p, "192.168.1.0/24"), "slash_not_a_subnet");
	}
	json_decref(n);

	/* IPv6 InternalIP, the VXLAN annotation */
	n = make_node("node-d", "1", "fd00::4", VXLAN, "10.244.3.0", NULL, NULL);
	if (ASSERT_OK(kube_node_peer(n, NULL, &p, err, sizeof(err)), "vxlan")) {
		ASSERT_STREQ(p.addr_str, "10.244.3.0", "vxlan_addr");
		ASSERT_TRUE(has_prefix(&p, "fd00::4"), "vxlan_pfx_v6");
	}
	json_decref(n);

	/* a WireGuard public key: Calico's annotation, Cilium's, or garbage (no key) */
	n = make_node("node-k", "1", "192.168.1.7", "projectcalico.org/WireguardPublicKey",
		      "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", NULL, NULL);
	if (ASSERT_OK(kube_node_peer(n, NULL, &p, err, sizeof(err)), "wg_key_calico")) {
		__u8 want[32];

		for (int i = 0; i < 32; i++)
			want[i] = i;
		ASSERT_TRUE(p.has_wg_key, "wg_key_calico_set");
		ASSERT_MEMEQ(p.wg_key, want, 32, "wg_key_calico_bytes");
	}
	json_decref(n);
	n = make_node("node-k", "1", "192.168.1.7", "network.cilium.io/wg-pub-key",
		      "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", NULL, NULL);
	if (ASSERT_OK(kube_node_peer(n, NULL, &p, err, sizeof(err)), "wg_key_cilium"))
		ASSERT_TRUE(p.has_wg_key && p.wg_key[31] == 31, "wg_key_cilium_set");
	json_decref(n);
	n = make_node("node-k", "1", "192.168.1.7", "projectcalico.org/WireguardPublicKey",
		      "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh!=", NULL, NULL);
	if (ASSERT_OK(kube_node_peer(n, NULL, &p, err, sizeof(err)), "wg_key_garbage_still_peer"))
		ASSERT_FALSE(p.has_wg_key, "wg_key_garbage_ignored");
	json_decref(n);

	/* nothing to probe: a garbage annotation and no InternalIP */
	n = make_node("node-e", "1", "not-an-ip", IPIP, "garbage", NULL, NULL);
	ASSERT_EQ(kube_node_peer(n, NULL, &p, err, sizeof(err)), -EINVAL, "no_address");
	json_decref(n);

	/* a name longer than a peer name may be */
	n = make_node("node-with-a-very-long-name-0123456789012345678901234567890123456789", "1",
		      "192.168.1.9", NULL, NULL, NULL, NULL);
	ASSERT_EQ(kube_node_peer(n, NULL, &p, err, sizeof(err)), -EINVAL, "long_name");
	json_decref(n);
	n = json_pack("{s:{}}", "metadata");
	ASSERT_EQ(kube_node_peer(n, NULL, &p, err, sizeof(err)), -EINVAL, "no_name");
	json_decref(n);
}

static void merge_cases(void)
{
	struct wp_peer_set dst = {}, kube = {};
	struct wp_peer p;
	char err[256];
	int ret;

	peer_parse_spec("static-b=10.0.0.2,192.168.2.0/24", &p, err, sizeof(err));
	peer_set_add(&dst, &p, err, sizeof(err));
	/* same name as a static peer: the static one wins */
	peer_parse_spec("static-b=10.9.9.9", &p, err, sizeof(err));
	peer_set_add(&kube, &p, err, sizeof(err));
	/* probe address claimed by a static peer: skipped */
	peer_parse_spec("node-x=10.0.0.2", &p, err, sizeof(err));
	kube.peers = realloc(kube.peers, 8 * sizeof(p));
	kube.cap = 8;
	kube.peers[kube.n++] = p;
	/* a prefix claimed by a static peer: dropped, the rest kept */
	peer_parse_spec("node-y=10.0.0.3,192.168.2.0/24,10.244.5.0/24", &p, err, sizeof(err));
	kube.peers[kube.n++] = p;
	/* two kube peers sharing a podCIDR: the first keeps it */
	peer_parse_spec("node-z=10.0.0.4,10.244.5.0/24", &p, err, sizeof(err));
	kube.peers[kube.n++] = p;

	ret = peer_set_merge(&dst, &kube, err, sizeof(err));
	ASSERT_EQ(ret, 2, "merge_skipped");
	ASSERT_EQ(dst.n, 3, "merge_n");
	ASSERT_STREQ(addr_of(&dst, "static-b"), "10.0.0.2", "merge_static_wins");
	ASSERT_TRUE(find_peer(&dst, "node-x") == NULL, "merge_probe_conflict_skipped");
	ASSERT_EQ(find_peer(&dst, "node-y") ? find_peer(&dst, "node-y")->nprefixes : -1, 2,
		  "merge_prefix_dropped");
	ASSERT_TRUE(has_prefix(find_peer(&dst, "node-y"), "10.244.5.0/24"), "merge_first_keeps");
	ASSERT_EQ(find_peer(&dst, "node-z") ? find_peer(&dst, "node-z")->nprefixes : -1, 1,
		  "merge_second_loses");
	peer_set_free(&dst);
	peer_set_free(&kube);
}

void test_kube_node(void)
{
	if (test__start_subtest("node_peer"))
		node_peer_cases();
	if (test__start_subtest("merge"))
		merge_cases();
}
