// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The agent's rooms without sockets or attachment: one peer schema behind the
 * two JSON views (/peers and `warmpath status --json`), the "idle since"
 * helper, the peer table's carry-over on reload, its metrics rows, and the
 * map key iterator.
 */
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <jansson.h>
#include "peer_json.h"
#include "peer_schema.h"
#include "peer_table.h"
#include "prober.h"
#include "status.h"
#include "test_progs.h"
#include "util.h"

#define S(x) ((__u64)(x)*1000000000ull)

/* Every map-derived key, listed by hand: a key dropped from the schema fails here. */
static const char *const map_keys[] = {
	"tx_packets",
	"rx_packets",
	"tx_bytes",
	"rx_bytes",
	"tx_probe_packets",
	"rx_probe_packets",
	"tx_probe_bytes",
	"rx_probe_bytes",
	"probes_bypassed",
	"last_tx_seconds_ago",
	"last_rx_seconds_ago",
	"idle_seconds",
	"cold_starts",
	"first_packet_drops",
	"syn_retransmits",
	"cold",
	"kernel_drops",
	"passive_lower_seconds",
	"passive_upper_seconds",
	"lifetime_lower_seconds",
	"lifetime_upper_seconds",
	"keepalive_interval_seconds",
	"interval_source",
	"lifetime_trials",
	"lifetime_converged",
};
static const char *const agent_only_keys[] = {
	"address",
	"probes_sent",
	"probes_failed",
	"probes_answered",
	"keepalives_suppressed",
	"last_probe_rtt_seconds",
	"cold_starts_unanswered",
};

static void fill_state(struct peer_state *ps, const char *name, __u64 base)
{
	memset(ps, 0, sizeof(*ps));
	snprintf(ps->name, sizeof(ps->name), "%s", name);
	ps->tx_packets = base + 1;
	ps->rx_packets = base + 2;
	ps->tx_bytes = base + 3;
	ps->rx_bytes = base + 4;
	ps->tx_probe_packets = base + 5;
	ps->rx_probe_packets = base + 6;
	ps->tx_probe_bytes = base + 7;
	ps->rx_probe_bytes = base + 8;
	ps->last_tx_ns = S(90);
	ps->last_rx_ns = S(95);
	ps->cold_starts = base + 9;
	ps->first_packet_drops = base + 10;
	ps->syn_retransmits = base + 11;
	ps->cold_since_ns = S(94);
	ps->kernel_drops = base + 12;
	ps->lifetime_lower_ns = S(40);
	ps->lifetime_upper_ns = S(70);
	ps->probes_bypassed = base + 13;
	ps->learned_lower_ns = S(30);
	ps->learned_upper_ns = S(35);
	ps->keepalive_interval_ns = S(21);
	ps->interval_source = WP_IVS_TRIAL;
	ps->lifetime_trials = base + 14;
	ps->lifetime_converged = 1;
}

static bool in_list(const char *key, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(key, list[i]))
			return true;
	return false;
}

#define NKEYS(l) (sizeof(l) / sizeof(l[0]))

/* The two views of one peer: the same map-derived keys, with equal values. */
static void check_views(const struct peer_state *ps, __u64 now, const char *label)
{
	struct peer_entry e = { .map_id = 7, .probes_sent = 3, .probes_answered = 2 };
	struct peer_state copy = *ps;
	json_t *st, *pe, *v;
	const char *key;
	char name[96];

	snprintf(e.name, sizeof(e.name), "%s", ps->name);
	snprintf(e.addr_str, sizeof(e.addr_str), "10.0.0.7");
	e.bpf = *ps;
	st = status_peer_json(&copy, 7, now);
	pe = peer_entry_json(&e, now);
	for (size_t i = 0; i < NKEYS(map_keys); i++) {
		snprintf(name, sizeof(name), "%s: %s in status --json", label, map_keys[i]);
		ASSERT_TRUE(json_object_get(st, map_keys[i]), name);
		snprintf(name, sizeof(name), "%s: %s in /peers", label, map_keys[i]);
		ASSERT_TRUE(json_object_get(pe, map_keys[i]), name);
		snprintf(name, sizeof(name), "%s: %s equal in both", label, map_keys[i]);
		ASSERT_TRUE(json_equal(json_object_get(st, map_keys[i]),
				       json_object_get(pe, map_keys[i])),
			    name);
	}
	/* identity in both; status adds nothing else, /peers only the agent's own */
	ASSERT_TRUE(json_equal(json_object_get(st, "name"), json_object_get(pe, "name")),
		    "name equal");
	ASSERT_TRUE(json_equal(json_object_get(st, "id"), json_object_get(pe, "id")), "id equal");
	json_object_foreach(st, key, v) {
		snprintf(name, sizeof(name), "%s: status key %s is a schema key", label, key);
		ASSERT_TRUE(in_list(key, map_keys, NKEYS(map_keys)) || !strcmp(key, "name") ||
				    !strcmp(key, "id"),
			    name);
	}
	json_object_foreach(pe, key, v) {
		snprintf(name, sizeof(name), "%s: /peers key %s known", label, key);
		ASSERT_TRUE(in_list(key, map_keys, NKEYS(map_keys)) ||
				    in_list(key, agent_only_keys, NKEYS(agent_only_keys)) ||
				    !strcmp(key, "name") || !strcmp(key, "id"),
			    name);
	}
	ASSERT_EQ(json_object_size(pe), NKEYS(map_keys) + NKEYS(agent_only_keys) + 2,
		  "/peers key count");
	ASSERT_EQ(json_object_size(st), NKEYS(map_keys) + 2, "status key count");
	json_decref(st);
	json_decref(pe);
}

void test_peer_views(void)
{
	struct peer_state ps;
	json_t *o;

	if (test__start_subtest("same_map_keys")) {
		fill_state(&ps, "node-b", 100);
		check_views(&ps, S(100), "seen");
	}
	if (test__start_subtest("values")) {
		fill_state(&ps, "node-b", 100);
		o = json_object();
		wp_peer_state_json(o, &ps, S(100));
		ASSERT_EQ(json_integer_value(json_object_get(o, "tx_probe_bytes")), 107,
			  "tx_probe_bytes");
		ASSERT_EQ(json_integer_value(json_object_get(o, "kernel_drops")), 112,
			  "kernel_drops");
		ASSERT_TRUE(json_is_true(json_object_get(o, "cold")), "cold");
		ASSERT_TRUE(fabs(json_real_value(json_object_get(o, "idle_seconds")) - 5.0) < 1e-9,
			    "idle_seconds: from the later of last_tx and last_rx");
		ASSERT_TRUE(fabs(json_real_value(json_object_get(o, "last_tx_seconds_ago")) -
				 10.0) < 1e-9,
			    "last_tx_seconds_ago");
		json_decref(o);
	}
	if (test__start_subtest("never_seen_is_null")) {
		memset(&ps, 0, sizeof(ps));
		snprintf(ps.name, sizeof(ps.name), "quiet");
		check_views(&ps, S(100), "never");
		o = json_object();
		wp_peer_state_json(o, &ps, S(100));
		ASSERT_TRUE(json_is_null(json_object_get(o, "idle_seconds")), "idle null");
		ASSERT_TRUE(json_is_null(json_object_get(o, "last_rx_seconds_ago")),
			    "last_rx null");
		ASSERT_TRUE(json_is_false(json_object_get(o, "cold")), "not cold");
		json_decref(o);
	}
	if (test__start_subtest("idle_since")) {
		ASSERT_EQ(wp_idle_since_ns(5, 7), 7, "rx later");
		ASSERT_EQ(wp_idle_since_ns(9, 7), 9, "tx later");
		ASSERT_EQ(wp_idle_since_ns(0, 0), 0, "never");
		memset(&ps, 0, sizeof(ps));
		ASSERT_TRUE(isinf(wp_peer_idle_s(&ps, S(10))), "never: +Inf");
		ps.last_rx_ns = S(11);
		ASSERT_TRUE(wp_peer_idle_s(&ps, S(10)) == 0, "stamp ahead of now: 0");
	}
}

static void set_add(struct wp_peer_set *set, const char *spec, __u32 id)
{
	struct wp_peer p;
	char err[256];

	if (!ASSERT_OK(peer_parse_spec(spec, &p, err, sizeof(err)), spec))
		return;
	p.id = id;
	ASSERT_OK(peer_set_add(set, &p, err, sizeof(err)), "peer_set_add");
}

void test_peer_table(void)
{
	struct wp_peer_set set = {};
	struct peer_table t;
	int old_of[4];

	if (!ASSERT_OK(peer_table_init(&t, -1, -1), "init"))
		return;
	if (test__start_subtest("rebuild_carries_by_name")) {
		set_add(&set, "a=10.0.0.1", 3);
		set_add(&set, "b=10.0.0.2", 5);
		ASSERT_OK(peer_table_rebuild(&t, &set, old_of), "first");
		ASSERT_EQ(old_of[0], -1, "a new");
		ASSERT_EQ(peer_table_index_of_id(&t, 5), 1, "slot 5 -> b");
		t.e[1].probes_sent = 42;
		t.e[1].ka.inflight = true;
		peer_set_free(&set);
		set_add(&set, "b=10.0.0.2", 5);
		set_add(&set, "c=10.0.0.3", 9);
		ASSERT_OK(peer_table_rebuild(&t, &set, old_of), "second");
		ASSERT_EQ(t.n, 2, "two entries");
		ASSERT_EQ(old_of[0], 1, "b was entry 1");
		ASSERT_EQ(old_of[1], -1, "c new");
		ASSERT_EQ(t.e[0].probes_sent, 42, "b keeps its counters");
		ASSERT_TRUE(t.e[0].ka.inflight, "b keeps its probe in flight");
		ASSERT_EQ(peer_table_index_of_id(&t, 3), -1, "a's slot unmapped");
		ASSERT_EQ(peer_table_index_of_id(&t, 9), 1, "slot 9 -> c");
		ASSERT_EQ(peer_table_index_of_id(&t, WP_MAX_PEERS), -1, "out of range");
		ASSERT_EQ(strcmp(t.e[1].addr_str, "10.0.0.3"), 0, "address kept as given");
		peer_set_free(&set);
	}
	if (test__start_subtest("metrics_rows_cap")) {
		struct prom_buf b;
		struct peer_rows *rows;

		set_add(&set, "a=10.0.0.1", 1);
		set_add(&set, "b=10.0.0.2", 2);
		set_add(&set, "c=10.0.0.3", 3);
		ASSERT_OK(peer_table_rebuild(&t, &set, old_of), "rebuild");
		for (int i = 0; i < 3; i++) {
			t.e[i].bpf.cold_starts = 10 + i;
			t.e[i].bpf.kernel_drops = 1;
		}
		struct peer_metrics_opts po = { .mode = WP_PEER_METRICS_ALL, .max_series = 1 };

		rows = peer_rows_snapshot(&t, &po, 1000000000ull);
		if (ASSERT_TRUE(rows, "snapshot")) {
			prom_buf_init(&b);
			peer_rows_emit_metrics(rows, &b);
			ASSERT_OK(prom_buf_error(&b), "emit");
			ASSERT_TRUE(b.data && strstr(b.data,
						     "warmpath_cold_starts_total{peer=\"a\"} 10\n"),
				    "a's own row");
			ASSERT_TRUE(
				b.data &&
					strstr(b.data,
					       "warmpath_cold_starts_total{peer=\"_other\"} 23\n"),
				"b and c summed into _other");
			ASSERT_TRUE(
				b.data &&
					strstr(b.data,
					       "warmpath_peer_kernel_drops_total{peer=\"_other\"} 2\n"),
				"schema metric kernel_drops");
			ASSERT_TRUE(b.data &&
					    strstr(b.data,
						   "# TYPE warmpath_syn_retransmits_total counter"),
				    "schema metric syn_retransmits declared");
			prom_buf_free(&b);
			peer_rows_free(rows);
		}
		peer_set_free(&set);
	}
	peer_table_free(&t);
}

void test_map_iter(void)
{
	struct big {
		char b[WP_MAP_ITER_KEY_MAX + 1];
	} big;
	__u32 key, sum = 0, val = 0;
	int fd, n = 0;

	fd = bpf_map_create(BPF_MAP_TYPE_HASH, "wpt_iter", sizeof(key), sizeof(val), 16, NULL);
	if (!ASSERT_GE(fd, 0, "bpf_map_create"))
		return;
	WP_MAP_FOR_EACH_KEY(fd, &key)
	n++;
	ASSERT_EQ(n, 0, "empty map: no key");
	for (key = 1; key <= 3; key++)
		bpf_map_update_elem(fd, &key, &val, BPF_ANY);
	WP_MAP_FOR_EACH_KEY(fd, &key)
	{
		n++;
		sum += key;
	}
	ASSERT_EQ(n, 3, "three keys");
	ASSERT_EQ(sum, 6, "each once");
	n = 0;
	WP_MAP_FOR_EACH_KEY(fd, &big)
	n++;
	ASSERT_EQ(n, 0, "a key larger than the iterator takes: refused, not overrun");
	close(fd);
}

/* A peer reload moves each kept peer's probe in flight; an HTTP one is cut and fails. */
void test_prober_reload(void)
{
	struct wp_peer_set set = {};
	struct prober p = { .epfd = -1, .udp_fd = -1, .icmp_fd = { -1, -1 } };
	struct peer_table t;
	struct prom_buf b;
	int old_of[3], pfd[2];

	if (!ASSERT_OK(peer_table_init(&t, -1, -1), "init"))
		return;
	set_add(&set, "a=10.0.0.1", 1);
	set_add(&set, "b=10.0.0.2", 2);
	set_add(&set, "c=10.0.0.3", 3);
	ASSERT_OK(peer_table_rebuild(&t, &set, old_of), "first");
	p.peers = &t;
	p.slots = prober_slots_new(t.n);
	if (!ASSERT_TRUE(p.slots, "slots") || !ASSERT_OK(pipe(pfd), "pipe"))
		goto cleanup;
	close(pfd[1]);
	/* a: UDP probe in flight; b: HTTP exchange open; c: idle */
	t.e[0].ka.inflight = true;
	p.slots[0].counter = 77;
	t.e[1].ka.inflight = true;
	p.slots[1].http_fd = pfd[0];
	/* reload: c, a, b (a different order), d new */
	peer_set_free(&set);
	set_add(&set, "c=10.0.0.3", 3);
	set_add(&set, "a=10.0.0.1", 1);
	set_add(&set, "b=10.0.0.2", 2);
	{
		struct probe_slot *slots = prober_slots_new(set.n);
		int old_n = t.n;

		ASSERT_OK(peer_table_rebuild(&t, &set, old_of), "second");
		prober_peers_changed(&p, slots, old_of, old_n);
	}
	ASSERT_EQ(p.generation, 1, "generation bumped: stale cookies found by address");
	ASSERT_TRUE(t.e[1].ka.inflight, "a's UDP probe still in flight");
	ASSERT_EQ(p.slots[1].counter, 77, "under a's new index");
	ASSERT_FALSE(t.e[2].ka.inflight, "b's HTTP exchange cut");
	ASSERT_EQ(t.e[2].probes_failed, 1, "and counted failed");
	ASSERT_EQ(p.slots[2].http_fd, -1, "its socket closed");
	ASSERT_TRUE(fcntl(pfd[0], F_GETFD) < 0, "the fd is closed");
	ASSERT_EQ(p.earliest_deadline_ns, 1, "the loop rescans the carried probe");
	p.resp_dropped[RESP_RATE_LIMITED] = 4;
	prom_buf_init(&b);
	prober_emit_metrics(&p, &b);
	ASSERT_TRUE(b.data && strstr(b.data, "warmpath_probe_responder_dropped_total{reason="
					     "\"rate_limited\"} 4\n"),
		    "responder drops by reason");
	prom_buf_free(&b);
	prober_close(&p);
cleanup:
	free(p.slots);
	peer_set_free(&set);
	peer_table_free(&t);
}
