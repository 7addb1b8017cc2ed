// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Prefixes from where the cluster keeps them: Node objects shaped like those
 * Calico, Cilium and flannel clusters show (annotations as those projects
 * write them), each prefix with its source; and routes through a tunnel
 * (user/discovery/routes.c) matched to the peer that owns their gateway.
 *
 *	test_kube_cni     calico / cilium / flannel Nodes, route matching, coverage
 *	test_kube_discovery/cni_fixtures  the same Nodes through the fake API server
 */
#include <string.h>
#include "fake_kube_api.h"
#include "coverage.h"
#include "kube_int.h"
#include "routes.h"

/* The source of prefix @text in @p, or NULL when @p does not have it. */
static const char *src_of(const struct wp_peer *p, const char *text)
{
	struct wp_prefix want;

	if (!p || prefix_parse(text, &want))
		return NULL;
	for (int i = 0; i < p->nprefixes; i++)
		if (p->prefixes[i].len == want.len && !memcmp(p->prefixes[i].addr, want.addr, 16))
			return prefix_src_name(p->prefixes[i].src);
	return NULL;
}

/* A Calico node with IPIP through WireGuard: IPv4Address (wg0's) != InternalIP. */
static const char calico_node[] =
	"{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":{\"name\":\"worker-2\","
	"\"resourceVersion\":\"81231\",\"labels\":{\"kubernetes.io/hostname\":\"worker-2\","
	"\"kubernetes.io/os\":\"linux\"},\"annotations\":{"
	"\"node.alpha.kubernetes.io/ttl\":\"0\","
	"\"projectcalico.org/IPv4Address\":\"10.99.0.2/24\","
	"\"projectcalico.org/IPv4IPIPTunnelAddr\":\"10.244.5.0\","
	"\"projectcalico.org/IPv4WireguardInterfaceAddr\":\"10.244.5.1\","
	"\"projectcalico.org/WireguardPublicKey\":\"u2fNYmHHTDJ8zf8SXbV2kn4HKSdwK3hFPrDMi3zx9GM=\","
	"\"volumes.kubernetes.io/controller-managed-attach-detach\":\"true\"}},"
	"\"spec\":{\"podCIDR\":\"10.244.2.0/24\",\"podCIDRs\":[\"10.244.2.0/24\"]},"
	"\"status\":{\"addresses\":[{\"type\":\"InternalIP\",\"address\":\"192.168.1.5\"},"
	"{\"type\":\"Hostname\",\"address\":\"worker-2\"}]}}";

/* A Cilium node (cluster-pool IPAM: no spec.podCIDR; dual stack). */
static const char cilium_node[] =
	"{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":{\"name\":\"pool-x1z32\","
	"\"resourceVersion\":\"5\",\"annotations\":{"
	"\"alpha.kubernetes.io/provided-node-ip\":\"10.104.0.4\","
	"\"network.cilium.io/ipv4-cilium-host\":\"10.0.3.28\","
	"\"network.cilium.io/ipv4-health-ip\":\"10.0.3.9\","
	"\"network.cilium.io/ipv4-pod-cidr\":\"10.0.3.0/25\","
	"\"network.cilium.io/ipv6-pod-cidr\":\"fd00:10:0:3::/64\","
	"\"network.cilium.io/ipv6-cilium-host\":\"fd00:10:0:3::1c\","
	"\"network.cilium.io/wg-pub-key\":\"u2fNYmHHTDJ8zf8SXbV2kn4HKSdwK3hFPrDMi3zx9GM=\"}},"
	"\"spec\":{},"
	"\"status\":{\"addresses\":[{\"type\":\"InternalIP\",\"address\":\"10.104.0.4\"},"
	"{\"type\":\"ExternalIP\",\"address\":\"203.0.113.4\"}]}}";

/* A flannel (VXLAN) node: public-ip-overwrite set, VtepMAC in backend-data. */
static const char flannel_node[] =
	"{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":{\"name\":\"k3s-agent-1\","
	"\"resourceVersion\":\"9\",\"annotations\":{"
	"\"flannel.alpha.coreos.com/backend-data\":\"{\\\"VNI\\\":1,\\\"VtepMAC\\\":"
	"\\\"6e:2f:1b:aa:01:02\\\"}\","
	"\"flannel.alpha.coreos.com/backend-type\":\"vxlan\","
	"\"flannel.alpha.coreos.com/kube-subnet-manager\":\"true\","
	"\"flannel.alpha.coreos.com/public-ip\":\"192.168.50.11\","
	"\"flannel.alpha.coreos.com/public-ip-overwrite\":\"100.64.0.11\"}},"
	"\"spec\":{\"podCIDR\":\"10.42.1.0/24\",\"podCIDRs\":[\"10.42.1.0/24\"]},"
	"\"status\":{\"addresses\":[{\"type\":\"InternalIP\",\"address\":\"192.168.50.11\"}]}}";

static json_t *load(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);

	ASSERT_OK_PTR(j, "fixture_json");
	return j;
}

static void cni_cases(void)
{
	const char *only_podcidr[] = { NULL };
	struct wp_peer p;
	char err[256];
	json_t *n;

	n = load(calico_node);
	if (n && ASSERT_OK(kube_node_peer(n, NULL, &p, err, sizeof(err)), "calico")) {
		ASSERT_STREQ(p.addr_str, "10.244.5.0", "calico_probe_ipip");
		ASSERT_STREQ(src_of(&p, "10.99.0.2"), "projectcalico.org/IPv4Address",
			     "calico_ipv4address_host");
		ASSERT_TRUE(src_of(&p, "10.99.0.0/24") == NULL, "calico_ipv4address_not_subnet");
		ASSERT_STREQ(src_of(&p, "10.244.5.1"),
			     "projectcalico.org/IPv4WireguardInterfaceAddr", "calico_wg_addr");
		ASSERT_STREQ(src_of(&p, "192.168.1.5"), "kubernetes", "calico_internal");
		ASSERT_STREQ(src_of(&p, "10.244.2.0/24"), "kubernetes", "calico_podcidr");
		ASSERT_TRUE(p.has_wg_key, "calico_wg_key");
	}
	/* annotations switched off: InternalIP and podCIDR only */
	if (n && ASSERT_OK(kube_node_peer_ex(n, NULL, only_podcidr, &p, err, sizeof(err)),
			   "calico_no_prefix_annotations"))
		ASSERT_TRUE(src_of(&p, "10.99.0.2") == NULL, "calico_ipv4address_off");
	json_decref(n);

	n = load(cilium_node);
	if (n && ASSERT_OK(kube_node_peer(n, NULL, &p, err, sizeof(err)), "cilium")) {
		ASSERT_STREQ(p.addr_str, "10.104.0.4", "cilium_probe_internal");
		ASSERT_STREQ(src_of(&p, "10.0.3.0/25"), "network.cilium.io/ipv4-pod-cidr",
			     "cilium_pod_cidr");
		ASSERT_STREQ(src_of(&p, "fd00:10:0:3::/64"), "network.cilium.io/ipv6-pod-cidr",
			     "cilium_pod_cidr6");
		ASSERT_STREQ(src_of(&p, "10.0.3.28"), "network.cilium.io/ipv4-cilium-host",
			     "cilium_host");
		ASSERT_STREQ(src_of(&p, "10.0.3.9"), "network.cilium.io/ipv4-health-ip",
			     "cilium_health");
		ASSERT_TRUE(src_of(&p, "203.0.113.4") == NULL, "cilium_no_external_ip");
		ASSERT_TRUE(p.has_wg_key, "cilium_wg_key");
	}
	/* a pod CIDR broader than /8: that prefix is dropped, the node stays a peer */
	json_object_set_new(json_object_get(json_object_get(n, "metadata"), "annotations"),
			    "network.cilium.io/ipv4-pod-cidr", json_string("10.0.0.0/7"));
	if (n && ASSERT_OK(kube_node_peer(n, NULL, &p, err, sizeof(err)), "cilium_broad")) {
		ASSERT_TRUE(src_of(&p, "10.0.0.0/7") == NULL, "cilium_broad_dropped");
		ASSERT_STREQ(src_of(&p, "10.0.3.28"), "network.cilium.io/ipv4-cilium-host",
			     "cilium_broad_rest_kept");
	}
	json_decref(n);

	n = load(flannel_node);
	if (n && ASSERT_OK(kube_node_peer(n, NULL, &p, err, sizeof(err)), "flannel")) {
		ASSERT_STREQ(src_of(&p, "10.42.1.0/24"), "kubernetes", "flannel_podcidr");
		ASSERT_STREQ(src_of(&p, "100.64.0.11"),
			     "flannel.alpha.coreos.com/public-ip-overwrite", "flannel_overwrite");
		/* the public-ip equals the InternalIP: one prefix, the first source */
		ASSERT_STREQ(src_of(&p, "192.168.50.11"), "kubernetes", "flannel_public_ip_once");
	}
	json_decref(n);
}

static struct wp_route route(const char *dst, const char *gw, const char *underlay)
{
	struct wp_route r = { .ifindex = 7 };
	struct wp_prefix g;

	prefix_parse(dst, &r.dst);
	prefix_parse(gw, &g);
	memcpy(r.gw, g.addr, 16);
	if (underlay) {
		prefix_parse(underlay, &g);
		memcpy(r.underlay, g.addr, 16);
		r.has_underlay = true;
	}
	return r;
}

static void route_cases(void)
{
	struct wp_peer_set set = {};
	struct wp_route rt[7];
	struct wp_peer p;
	char err[128];
	int dropped, n;

	/* b: node address only (--peer); c: with its pod CIDR (flannel via Kubernetes) */
	peer_parse_spec("b=192.168.1.5", &p, err, sizeof(err));
	peer_set_add(&set, &p, err, sizeof(err));
	peer_parse_spec("c=192.168.1.6,10.244.1.0/24", &p, err, sizeof(err));
	peer_set_add(&set, &p, err, sizeof(err));
	/* Calico BIRD: a /26 via the peer's address */
	rt[0] = route("10.244.5.0/26", "192.168.1.5", NULL);
	/* flannel: via the VTEP address, inside c's pod CIDR */
	rt[1] = route("10.244.1.0/24", "10.244.1.0", NULL);
	/* flannel, address-only peer: VTEP resolved through neighbour + FDB to b */
	rt[2] = route("10.244.7.0/24", "10.244.7.0", "192.168.1.5");
	/* nobody's gateway */
	rt[3] = route("10.244.9.0/24", "10.244.9.0", "192.168.1.99");
	/* too broad */
	rt[4] = route("10.0.0.0/7", "192.168.1.5", NULL);
	/* a second Calico block of b, and the same block twice */
	rt[5] = route("10.244.5.64/26", "192.168.1.5", NULL);
	rt[6] = route("10.244.5.64/26", "192.168.1.5", NULL);
	n = routes_add_prefixes(&set, rt, 7, &dropped);
	ASSERT_EQ(n, 3, "routes_added");
	ASSERT_EQ(dropped, 0, "routes_dropped");
	ASSERT_STREQ(src_of(find_peer(&set, "b"), "10.244.5.0/26"), "route", "bird_block");
	ASSERT_STREQ(src_of(find_peer(&set, "b"), "10.244.5.64/26"), "route", "bird_block2");
	ASSERT_STREQ(src_of(find_peer(&set, "b"), "10.244.7.0/24"), "route", "vtep_via_fdb");
	ASSERT_STREQ(src_of(find_peer(&set, "c"), "10.244.1.0/24"), "static", "podcidr_kept");
	ASSERT_EQ(find_peer(&set, "c") ? find_peer(&set, "c")->nprefixes : -1, 2, "c_unchanged");
	ASSERT_TRUE(src_of(find_peer(&set, "b"), "10.244.9.0/24") == NULL, "stranger_not_b");
	ASSERT_TRUE(src_of(find_peer(&set, "b"), "10.0.0.0/7") == NULL, "too_broad");
	/* IPv6: a Calico IPv6 VXLAN block via the peer's IPv6VXLANTunnelAddr */
	peer_parse_spec("d=fd00:99::4", &p, err, sizeof(err));
	peer_set_add(&set, &p, err, sizeof(err));
	rt[0] = route("fd00:10:244:4::/122", "fd00:99::4", NULL);
	rt[1] = route("fd00::/8", "fd00:99::4", NULL); /* broader than /16 */
	rt[2] = route("fd00:10:245:4::/64", "fd00:99::4", NULL);
	rt[3] = route("::/32", "fd00:99::4", NULL); /* holds ::ffff:0:0/96: all of IPv4 */
	ASSERT_EQ(routes_add_prefixes(&set, rt, 4, &dropped), 2, "v6_added");
	ASSERT_STREQ(src_of(find_peer(&set, "d"), "fd00:10:245:4::/64"), "route", "v6_64");
	ASSERT_TRUE(src_of(find_peer(&set, "d"), "::/32") == NULL, "v6_holding_ipv4");
	ASSERT_STREQ(src_of(find_peer(&set, "d"), "fd00:10:244:4::/122"), "route", "v6_block");
	/* a full peer: counted, not added */
	for (int i = find_peer(&set, "b")->nprefixes; i < WP_MAX_PEER_PREFIXES; i++)
		find_peer(&set, "b")->prefixes[find_peer(&set, "b")->nprefixes++] =
			find_peer(&set, "b")->prefixes[0];
	rt[0] = route("10.244.6.0/26", "192.168.1.5", NULL);
	ASSERT_EQ(routes_add_prefixes(&set, rt, 1, &dropped), 0, "full_none_added");
	ASSERT_EQ(dropped, 1, "full_dropped");
	peer_set_free(&set);
}

static void coverage_cases(void)
{
	const __u64 s = 1000000000ull;
	__u64 m = 0, u = 0;
	char why[128] = "";
	bool became = false;

	coverage_reset();
	ASSERT_TRUE(coverage_ratio() < 0, "no_ratio_before_samples");
	/* 0.5 % unmatched: fine */
	for (int t = 0; t <= 70; t++, m += 995, u += 5)
		became |= coverage_sample(m, u, t * s);
	ASSERT_FALSE(became, "half_percent_fine");
	ASSERT_TRUE(coverage_ratio() > 0.004 && coverage_ratio() < 0.006, "ratio_half_percent");
	/* 2 %: degraded only once a whole minute above the threshold */
	for (int t = 71; t <= 100; t++, m += 980, u += 20)
		became |= coverage_sample(m, u, t * s);
	ASSERT_FALSE(coverage_degraded(why, sizeof(why)), "not_before_a_minute");
	for (int t = 101; t <= 200 && !became; t++, m += 980, u += 20)
		became = coverage_sample(m, u, t * s);
	ASSERT_TRUE(became, "degraded_after_a_minute");
	ASSERT_TRUE(coverage_degraded(why, sizeof(why)) && strstr(why, "matched no peer"),
		    "degraded_reason");
	/* the prefix found: the window clears within a minute */
	for (int t = 201; t <= 300; t++, m += 1000)
		coverage_sample(m, u, t * s);
	ASSERT_FALSE(coverage_degraded(why, sizeof(why)), "recovered");
	ASSERT_TRUE(coverage_ratio() == 0, "ratio_zero");
	coverage_reset();
}

/*
 * The three fixtures through the fake API server, one node a page: the list
 * asks resourceVersion=0 (first page only), items are parsed as they stream
 * (one with brackets and escaped quotes in its strings), sources survive.
 */
void kube_case_cni_fixtures(void)
{
	struct fake_api *f = fake_start();
	struct wp_peer_set set = {};
	struct wp_kube_opts o;
	struct wp_kube *k = NULL;
	json_t *tricky;

	if (!ASSERT_OK_PTR(f, "fake_start"))
		return;
	json_array_append_new(f->nodes, load(calico_node));
	json_array_append_new(f->nodes, load(cilium_node));
	json_array_append_new(f->nodes, load(flannel_node));
	tricky = make_node("node-q", "3", "192.168.9.9", NULL, NULL, "10.77.0.0/24", NULL);
	json_object_set_new(json_object_get(tricky, "metadata"), "labels",
			    json_pack("{s:s}", "x", "a ] } \" [ { \\"));
	json_array_append_new(f->nodes, tricky);
	o = test_opts(f);
	o.list_page_size = 1;
	k = client_start(&o);
	if (!ASSERT_OK_PTR(k, "kube_start"))
		goto out;
	ASSERT_TRUE(WAIT_STATS(k, st.synced && st.nodes == 4), "listed_four_pages");
	ASSERT_EQ(fake_get(f, &f->lists), 4, "four_list_requests");
	pthread_mutex_lock(&f->lock);
	ASSERT_STREQ(f->list_rv, "0", "list_from_watch_cache");
	ASSERT_FALSE(f->list_rv_with_continue, "continue_without_rv");
	pthread_mutex_unlock(&f->lock);
	ASSERT_EQ(kube_take_peers(k, &set), 4, "four_peers");
	ASSERT_STREQ(src_of(find_peer(&set, "worker-2"), "10.99.0.2"),
		     "projectcalico.org/IPv4Address", "fake_calico_ipv4address");
	ASSERT_STREQ(src_of(find_peer(&set, "pool-x1z32"), "10.0.3.0/25"),
		     "network.cilium.io/ipv4-pod-cidr", "fake_cilium_pod_cidr");
	ASSERT_STREQ(src_of(find_peer(&set, "k3s-agent-1"), "10.42.1.0/24"), "kubernetes",
		     "fake_flannel_podcidr");
	ASSERT_STREQ(src_of(find_peer(&set, "node-q"), "10.77.0.0/24"), "kubernetes",
		     "fake_tricky_strings");
out:
	peer_set_free(&set);
	kube_stop(k);
	fake_free(f);
}

/* Feed @body to the list scanner in @chunk-byte pieces; the table gets the items. */
static int feed(struct wp_kube *k, struct node_table *t, const char *body, size_t chunk,
		struct xfer *x)
{
	size_t len = strlen(body);

	memset(x, 0, sizeof(*x));
	x->k = k;
	x->fresh = t;
	x->max = 1 << 20;
	x->item_max = 4096;
	x->fail = OK;
	for (size_t off = 0; off < len; off += chunk)
		if (!kube_list_feed(x, body + off, off + chunk > len ? len - off : chunk))
			break;
	return x->fail;
}

static void list_stream_cases(void)
{
	struct wp_kube k = { .max_nodes = 10, .pfx_ann_default = true };
	struct node_table t = {};
	struct xfer x;
	/* metadata after the items, a nested "items", brackets and escapes in strings */
	const char *body =
		"{\"kind\":\"NodeList\",\"xitems\":[1],\"items\" : [ {\"metadata\":{\"name\":"
		"\"n1\",\"labels\":{\"a\":\"]}\\\"[{\"}},\"spec\":{\"items\":[{}]},"
		"\"status\":{\"addresses\":[{\"type\":\"InternalIP\",\"address\":"
		"\"192.168.3.1\"}]}} ,\n{\"metadata\":{\"name\":\"n2\"},\"status\":{\"addresses\":"
		"[{\"type\":\"InternalIP\",\"address\":\"192.168.3.2\"}]}}],"
		"\"metadata\":{\"resourceVersion\":\"42\"}}";
	json_t *rest;

	k.annotations[0] = NULL;
	ASSERT_EQ(feed(&k, &t, body, 1, &x), OK, "bytewise_ok");
	ASSERT_EQ(t.n, 2, "bytewise_two_items");
	ASSERT_EQ(x.items, 2, "items_closed");
	ASSERT_TRUE(t.n == 2 && !strcmp(t.v[0].name, "n1") && t.v[0].usable, "first_item");
	ASSERT_TRUE(t.n == 2 && !strcmp(t.v[1].name, "n2"), "second_item");
	rest = json_loadb(x.buf, x.len, 0, NULL);
	ASSERT_TRUE(rest && json_array_size(json_object_get(rest, "items")) == 0 &&
			    json_array_size(json_object_get(rest, "xitems")) == 1,
		    "rest_without_items");
	ASSERT_STREQ(json_string_value(
			     json_object_get(json_object_get(rest, "metadata"), "resourceVersion")),
		     "42", "rest_metadata_after_items");
	json_decref(rest);
	free(x.buf);
	free(x.item);
	t.n = 0;
	/* whole, at once: the same */
	ASSERT_EQ(feed(&k, &t, body, strlen(body), &x), OK, "whole_ok");
	ASSERT_EQ(t.n, 2, "whole_two_items");
	free(x.buf);
	free(x.item);
	t.n = 0;
	/* an item that is no object, an item above the bound, more than max_nodes */
	ASSERT_EQ(feed(&k, &t, "{\"items\":[{\"metadata\":{\"name\":\"a\"}}, 7]}", 3, &x),
		  KUBE_ERR_BAD_JSON, "scalar_item");
	free(x.buf);
	free(x.item);
	t.n = 0;
	{
		char big[6000];
		int n = snprintf(big, sizeof(big), "{\"items\":[{\"x\":\"");

		memset(big + n, 'x', 5000);
		strcpy(big + n + 5000, "\"}]}");
		ASSERT_EQ(feed(&k, &t, big, 512, &x), KUBE_ERR_TOO_LARGE, "item_above_bound");
		free(x.buf);
		free(x.item);
	}
	t.n = 0;
	k.max_nodes = 1;
	ASSERT_EQ(feed(&k, &t, body, 64, &x), KUBE_ERR_TOO_LARGE, "max_nodes");
	free(x.buf);
	free(x.item);
	free(t.v);
}

void test_kube_cni(void)
{
	if (test__start_subtest("list_stream"))
		list_stream_cases();
	if (test__start_subtest("coverage"))
		coverage_cases();
	if (test__start_subtest("cni_nodes"))
		cni_cases();
	if (test__start_subtest("routes"))
		route_cases();
}
