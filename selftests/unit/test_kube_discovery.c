// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Kubernetes discovery (user/discovery/kube*.c) against the fake API server
 * (fake_kube_api.c): list + watch, 410 relist, 401/403 + token rotation; the
 * failure cases are test_kube_errors.c.
 *
 *	test_kube_discovery  list + watch, 410 relist, 401/403 + token rotation, garbage,
 *	                     truncation, slow server, dead server, wrong CA
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/wait.h>
#include "fake_kube_api.h"
#include "kube_int.h"
#include "log.h"
#include "prom.h"

void kube_case_list_watch(void)
{
	struct kube_run r;
	json_t *n;

	if (!kube_run_fake(&r))
		return;
	r.o.list_page_size = 2; /* two pages, the second through ?continue= */
	if (!kube_run_client(&r, "kube_start", false))
		goto out;
	ASSERT_TRUE(notify_ready(r.k, WAIT_MS), "notified_after_list");
	ASSERT_TRUE(WAIT_STATS(r.k, st.synced && st.nodes == 3), "synced");
	ASSERT_EQ(fake_get(r.f, &r.f->lists), 2, "two_pages");
	ASSERT_EQ(kube_take_peers(r.k, &r.set), 2, "peers_without_self");
	ASSERT_FALSE(notify_ready(r.k, 0), "take_drains_eventfd");
	ASSERT_TRUE(find_peer(&r.set, "node-a") == NULL, "self_skipped");
	ASSERT_STREQ(addr_of(&r.set, "node-b"), "10.244.1.1", "calico_annotation_probe");
	ASSERT_STREQ(addr_of(&r.set, "node-c"), "192.168.1.3", "internal_ip_fallback");
	ASSERT_TRUE(has_prefix(find_peer(&r.set, "node-b"), "192.168.1.2"), "b_internal_ip");
	ASSERT_TRUE(has_prefix(find_peer(&r.set, "node-b"), "10.244.1.0/24"), "b_podcidr");
	ASSERT_TRUE(has_prefix(find_peer(&r.set, "node-b"), "fd00:10:244:1::/64"), "b_podcidr6");
	ASSERT_TRUE(has_prefix(find_peer(&r.set, "node-c"), "10.244.2.0/24"), "c_podcidr");
	ASSERT_TRUE(WAIT_FAKE(r.f, r.f->watches == 1), "watching");
	ASSERT_STREQ(r.f->watch_rv, "100", "watch_from_list_rv");
	ASSERT_TRUE(r.f->watch_bookmarks, "watch_bookmarks");

	/* ADDED */
	fake_event(r.f, "ADDED",
		   make_node("node-d", "101", "192.168.1.4", VXLAN, "10.244.3.0", NULL, NULL));
	ASSERT_TRUE(notify_ready(r.k, WAIT_MS), "added_notified");
	ASSERT_EQ(kube_take_peers(r.k, &r.set), 3, "added_peers");
	ASSERT_STREQ(addr_of(&r.set, "node-d"), "10.244.3.0", "added_vxlan_probe");

	/* MODIFIED: node-c gets a WireGuard address, which becomes its probe address */
	fake_event(r.f, "MODIFIED",
		   make_node("node-c", "102", "192.168.1.3", WGADDR, "10.244.2.9", "10.244.2.0/24",
			     NULL));
	ASSERT_TRUE(notify_ready(r.k, WAIT_MS), "modified_notified");
	kube_take_peers(r.k, &r.set);
	ASSERT_STREQ(addr_of(&r.set, "node-c"), "10.244.2.9", "modified_probe");
	ASSERT_TRUE(has_prefix(find_peer(&r.set, "node-c"), "192.168.1.3"), "modified_keeps_ip");

	/* MODIFIED with nothing that matters (a heartbeat): no notification */
	n = make_node("node-b", "103", "192.168.1.2", IPIP, "10.244.1.1", "10.244.1.0/24",
		      "fd00:10:244:1::/64");
	json_object_set_new(json_object_get(n, "status"), "phase", json_string("Running"));
	fake_event(r.f, "MODIFIED", n);
	ASSERT_TRUE(WAIT_STATS(r.k, st.events[1] == 2), "heartbeat_seen");
	ASSERT_FALSE(notify_ready(r.k, 100), "heartbeat_not_notified");

	/* this node changing is not a peer change either */
	fake_event(r.f, "MODIFIED",
		   make_node("node-a", "104", "192.168.1.1", NULL, NULL, NULL, NULL));
	ASSERT_TRUE(WAIT_STATS(r.k, st.events[1] == 3), "self_seen");
	ASSERT_FALSE(notify_ready(r.k, 100), "self_not_notified");

	/* DELETED */
	fake_event(r.f, "DELETED",
		   make_node("node-d", "105", "192.168.1.4", VXLAN, "10.244.3.0", NULL, NULL));
	ASSERT_TRUE(notify_ready(r.k, WAIT_MS), "deleted_notified");
	ASSERT_EQ(kube_take_peers(r.k, &r.set), 2, "deleted_peers");
	ASSERT_TRUE(find_peer(&r.set, "node-d") == NULL, "deleted_gone");

	/* BOOKMARK: the next watch starts from it */
	fake_step(r.f, STEP_LINE,
		  "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"Node\",\"apiVersion\":\"v1\","
		  "\"metadata\":{\"resourceVersion\":\"200\",\"annotations\":"
		  "{\"k8s.io/initial-events-end\":\"true\"}}}}");
	ASSERT_TRUE(WAIT_STATS(r.k, st.events[3] == 1), "bookmark_seen");
	ASSERT_FALSE(notify_ready(r.k, 0), "bookmark_not_notified");
	fake_step(r.f, STEP_END, NULL);
	ASSERT_TRUE(WAIT_FAKE(r.f, r.f->watches == 2), "rewatch_after_end");
	ASSERT_STREQ(r.f->watch_rv, "200", "rewatch_from_bookmark");
	ASSERT_EQ(fake_get(r.f, &r.f->lists), 2, "no_relist");
	{
		struct wp_kube_stats st;

		kube_get_stats(r.k, &st);
		for (int r = 0; r < KUBE_ERR_MAX; r++)
			ASSERT_EQ(st.errors[r], 0, kube_error_name(r));
		ASSERT_EQ(st.peers, 2, "stats_peers");
		ASSERT_TRUE(st.last_success > 1.6e9, "last_success");
	}
out:
	kube_run_end(&r);
}

void kube_case_relist_gone(void)
{
	struct kube_run r;
	int lists;

	if (!kube_run_fake(&r) || !kube_run_client(&r, "kube_start", true))
		goto out;

	/* the cluster changes while the watch falls behind: node-c goes, node-e comes */
	pthread_mutex_lock(&r.f->lock);
	json_array_remove(r.f->nodes, 2);
	json_array_append_new(r.f->nodes, make_node("node-e", "150", "192.168.1.5", NULL, NULL,
						    "10.244.5.0/24", NULL));
	strcpy(r.f->rv, "300");
	pthread_mutex_unlock(&r.f->lock);
	fake_step(r.f, STEP_LINE,
		  "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\","
		  "\"metadata\":{},\"status\":\"Failure\",\"message\":\"too old resource "
		  "version: 100 (250)\",\"reason\":\"Expired\",\"code\":410}}");
	ASSERT_TRUE(WAIT_STATS(r.k, st.lists == 2 && st.errors[KUBE_ERR_GONE] == 1), "relisted");
	kube_take_peers(r.k, &r.set);
	ASSERT_TRUE(find_peer(&r.set, "node-c") == NULL, "relist_removes");
	ASSERT_STREQ(addr_of(&r.set, "node-e"), "192.168.1.5", "relist_adds");
	ASSERT_TRUE(WAIT_FAKE(r.f, r.f->watches == 2), "watch_after_relist");
	ASSERT_STREQ(r.f->watch_rv, "300", "watch_from_new_rv");

	/* 410 as the HTTP status of the watch request */
	fake_watch_status(r.f, 410, 1);
	fake_step(r.f, STEP_END, NULL);
	ASSERT_TRUE(WAIT_STATS(r.k, st.lists == 3 && st.errors[KUBE_ERR_GONE] == 2),
		    "relisted_http_410");
	ASSERT_TRUE(WAIT_STATS(r.k, st.up), "up_again");

	/* a server that answers every watch with 410: relists, but backed off */
	ASSERT_TRUE(WAIT_FAKE(r.f, r.f->watches == 4), "watching_again");
	lists = fake_get(r.f, &r.f->lists);
	fake_watch_status(r.f, 410, 1000000);
	fake_step(r.f, STEP_END, NULL);
	usleep(1000000);
	ASSERT_LT(fake_get(r.f, &r.f->lists) - lists, 20, "relists_backed_off");
	ASSERT_GT(fake_get(r.f, &r.f->lists) - lists, 2, "relists_go_on");
	fake_watch_status(r.f, 410, 0);
out:
	kube_run_end(&r);
}

void kube_case_auth_token(void)
{
	struct kube_run r;
	int watches;

	if (!kube_run_fake(&r) || !kube_run_client(&r, "kube_start", true))
		goto out;

	/* the server now wants a rotated token the file does not hold yet: 401 */
	pthread_mutex_lock(&r.f->lock);
	strcpy(r.f->token, "tok-2");
	pthread_mutex_unlock(&r.f->lock);
	fake_step(r.f, STEP_END, NULL);
	ASSERT_TRUE(WAIT_STATS(r.k, st.errors[KUBE_ERR_HTTP_401] >= 2 && !st.up), "http_401");
	ASSERT_EQ(kube_take_peers(r.k, &r.set), 2, "peers_kept_on_401");

	/* the kubelet rotates the file: the next attempt reads and sends it */
	write_file("token", "tok-2\n");
	ASSERT_TRUE(WAIT_FAKE(r.f, r.f->watches == 2), "watch_with_new_token");
	ASSERT_STREQ(r.f->last_token, "tok-2", "new_token_sent");
	ASSERT_TRUE(WAIT_STATS(r.k, st.up), "up_after_rotation");

	/* RBAC says no */
	watches = fake_get(r.f, &r.f->watches);
	fake_watch_status(r.f, 403, 2);
	fake_step(r.f, STEP_END, NULL);
	ASSERT_TRUE(WAIT_STATS(r.k, st.errors[KUBE_ERR_HTTP_403] == 2), "http_403");
	ASSERT_TRUE(WAIT_FAKE(r.f, r.f->watches == watches + 3), "watch_after_403");
	ASSERT_EQ(kube_take_peers(r.k, &r.set), 2, "peers_kept_on_403");

	/* a token file that vanished */
	kube_stop(r.k);
	write_file("token", "");
	r.k = client_start(&r.o);
	ASSERT_TRUE(WAIT_STATS(r.k, st.errors[KUBE_ERR_TOKEN] >= 1 && !st.synced),
		    "token_unreadable");
out:
	kube_run_end(&r);
}

/*
 * A non-JSON watch line delivered whole in one 2-byte chunk ("s\n"): the
 * line points into libcurl's buffer, which is not NUL-terminated there, so
 * it must be logged by its length (under ASan the old %.80s read past the
 * chunk). Directly through the line splitter with a chunk of exactly two
 * bytes on the heap, then through the fake API server end to end.
 */
void kube_case_watch_line_chunk(void)
{
	struct xfer x = { .watch = true, .max = 4096 };
	struct kube_run r;
	char *chunk = malloc(2);

	if (!ASSERT_OK_PTR(chunk, "malloc"))
		return;
	memcpy(chunk, "s\n", 2);
	ASSERT_FALSE(kube_watch_feed(&x, chunk, 2), "feed_stops");
	ASSERT_EQ(x.fail, KUBE_ERR_BAD_JSON, "feed_bad_json");
	ASSERT_EQ(x.events, 0, "feed_no_event");
	/* the same line in two chunks of one byte: assembled, then refused alike */
	x.fail = OK;
	ASSERT_TRUE(kube_watch_feed(&x, chunk, 1), "first_byte_buffered");
	ASSERT_EQ(x.len, 1, "first_byte_kept");
	ASSERT_FALSE(kube_watch_feed(&x, chunk + 1, 1), "second_byte_ends_line");
	ASSERT_EQ(x.fail, KUBE_ERR_BAD_JSON, "assembled_bad_json");
	free(x.buf);
	free(chunk);

	if (!kube_run_fake(&r) || !kube_run_client(&r, "kube_start", true))
		goto out;
	fake_step(r.f, STEP_LINE, "s");
	ASSERT_TRUE(WAIT_STATS(r.k, st.errors[KUBE_ERR_BAD_JSON] == 1), "api_bad_json");
	ASSERT_TRUE(WAIT_FAKE(r.f, r.f->watches == 2), "api_rewatch");
out:
	kube_run_end(&r);
}

/* More nodes than max_nodes: the list fails (too_large), nothing half-applied. */
void kube_case_node_cap(void)
{
	struct kube_run r;

	if (!kube_run_fake(&r))
		return;
	r.o.max_nodes = 2;
	if (!kube_run_client(&r, "kube_start", false))
		goto out;
	ASSERT_TRUE(WAIT_STATS(r.k, st.errors[KUBE_ERR_TOO_LARGE] >= 1), "too_large_counted");
	ASSERT_TRUE(WAIT_STATS(r.k, !st.synced && st.nodes == 0), "nothing_applied");
	/* room for them: the next list succeeds */
	kube_stop(r.k);
	r.o.max_nodes = 3;
	if (!kube_run_client(&r, "kube_start_3", false))
		goto out;
	ASSERT_TRUE(WAIT_STATS(r.k, st.synced && st.nodes == 3), "three_fit");
	/* a watch ADDED beyond the cap is ignored and counted */
	if (!ASSERT_TRUE(WAIT_FAKE(r.f, r.f->watches >= 1), "watch"))
		goto out;
	fake_event(r.f, "ADDED", make_node("node-d", "101", "192.168.1.4", NULL, NULL, NULL, NULL));
	ASSERT_TRUE(WAIT_STATS(r.k, st.errors[KUBE_ERR_TOO_LARGE] == 1 && st.nodes == 3),
		    "watch_add_capped");
out:
	kube_run_end(&r);
}

void test_kube_discovery(void)
{
	static const struct {
		const char *name;
		void (*run)(void);
	} subtests[] = {
		{ "list_watch", kube_case_list_watch },
		{ "relist_gone", kube_case_relist_gone },
		{ "auth_token", kube_case_auth_token },
		{ "bad_json", kube_case_bad_json },
		{ "truncated", kube_case_truncated },
		{ "slow", kube_case_slow },
		{ "server_dies", kube_case_server_dies },
		{ "wrong_ca", kube_case_wrong_ca },
		{ "metrics", kube_case_metrics },
		{ "watch_line_chunk", kube_case_watch_line_chunk },
		{ "node_cap", kube_case_node_cap },
		{ "start_errors", kube_case_start_errors },
		{ "cni_fixtures", kube_case_cni_fixtures },
	};

	int saved_stderr = -1, devnull;

	/* the client logs every failure it is made to see: shown with -v only */
	if (!env.verbose) {
		fflush(stderr);
		saved_stderr = dup(STDERR_FILENO);
		devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
		if (devnull >= 0) {
			dup2(devnull, STDERR_FILENO);
			close(devnull);
		}
	} else {
		log_setup(false, 1);
	}
	if (!ASSERT_TRUE(certs_make(), "openssl_test_ca"))
		goto out;
	tmp_path(token_path, sizeof(token_path), "token");
	tmp_path(ca_path, sizeof(ca_path), "ca.crt");
	tmp_path(other_ca_path, sizeof(other_ca_path), "other-ca.crt");
	for (size_t i = 0; i < sizeof(subtests) / sizeof(subtests[0]); i++) {
		__u64 t0 = now_ms();

		if (!test__start_subtest(subtests[i].name))
			continue;
		subtests[i].run();
		ASSERT_LT(now_ms() - t0, 10000, "under_10s");
	}
out:
	certs_remove();
	log_setup(false, 0);
	if (saved_stderr >= 0) {
		fflush(stderr);
		dup2(saved_stderr, STDERR_FILENO);
		close(saved_stderr);
	}
}
