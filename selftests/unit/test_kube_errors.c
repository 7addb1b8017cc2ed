// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Kubernetes discovery against a misbehaving fake API server: garbage,
 * truncation, a slow or dead server, a wrong CA, bad options; and the
 * metrics. Subtests of test_kube_discovery (test_kube_discovery.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/wait.h>
#include "fake_kube_api.h"
#include "log.h"
#include "prom.h"

void kube_case_bad_json(void)
{
	struct fake_api *f = fake_start();
	struct wp_peer_set set = {};
	struct wp_kube_opts o;
	struct wp_kube *k = NULL;
	char big[12000];
	int n;

	if (!ASSERT_OK_PTR(f, "fake_start"))
		return;
	fake_three_nodes(f);
	f->list_mode = LIST_GARBAGE; /* a proxy's HTML error page with status 200 */
	f->list_mode_n = 1;
	o = test_opts(f);
	o.max_event_bytes = 4096;
	k = client_start(&o);
	if (!ASSERT_OK_PTR(k, "kube_start"))
		goto out;
	ASSERT_TRUE(WAIT_STATS(k, st.synced && st.errors[KUBE_ERR_BAD_JSON] == 1), "list_garbage");
	ASSERT_TRUE(WAIT_FAKE(f, f->watches == 1), "watch");

	fake_step(f, STEP_LINE, "this is not json");
	ASSERT_TRUE(WAIT_STATS(k, st.errors[KUBE_ERR_BAD_JSON] == 2), "watch_garbage");
	ASSERT_TRUE(WAIT_FAKE(f, f->watches == 2), "rewatch_after_garbage");
	ASSERT_STREQ(f->watch_rv, "100", "rewatch_same_rv");
	fake_step(f, STEP_LINE, "{\"type\":\"ADDED\"}");
	ASSERT_TRUE(WAIT_STATS(k, st.errors[KUBE_ERR_BAD_JSON] == 3), "event_without_object");
	ASSERT_TRUE(WAIT_FAKE(f, f->watches == 3), "rewatch_after_shape");

	/* a line above the bound */
	n = snprintf(big, sizeof(big), "{\"type\":\"ADDED\",\"object\":{\"x\":\"");
	memset(big + n, 'x', 10000);
	strcpy(big + n + 10000, "\"}}");
	fake_step(f, STEP_LINE, big);
	ASSERT_TRUE(WAIT_STATS(k, st.errors[KUBE_ERR_TOO_LARGE] == 1), "too_large");
	ASSERT_TRUE(WAIT_FAKE(f, f->watches == 4), "rewatch_after_too_large");
	ASSERT_EQ(kube_take_peers(k, &set), 2, "peers_kept");

	/* the stream still works */
	fake_event(f, "ADDED", make_node("node-d", "101", "192.168.1.4", NULL, NULL, NULL, NULL));
	ASSERT_TRUE(WAIT_STATS(k, st.peers == 3), "recovered");
	ASSERT_EQ(fake_get(f, &f->lists), 2, "no_relist_for_garbage");
out:
	kube_stop(k);
	peer_set_free(&set);
	fake_free(f);
}

void kube_case_truncated(void)
{
	struct fake_api *f = fake_start();
	struct wp_peer_set set = {};
	struct wp_kube_opts o;
	struct wp_kube *k = NULL;
	const char *half = "{\"type\":\"ADDED\",\"object\":{\"kind\":\"Node\",\"metadata\":{\"na";

	if (!ASSERT_OK_PTR(f, "fake_start"))
		return;
	fake_three_nodes(f);
	f->list_mode = LIST_TRUNCATED; /* the connection drops halfway through the list */
	f->list_mode_n = 1;
	o = test_opts(f);
	k = client_start(&o);
	if (!ASSERT_OK_PTR(k, "kube_start"))
		goto out;
	ASSERT_TRUE(WAIT_STATS(k, st.synced && st.errors[KUBE_ERR_TRUNCATED] == 1),
		    "list_truncated");
	ASSERT_TRUE(WAIT_FAKE(f, f->watches == 1), "watch");

	/* half an event, then the connection drops */
	fake_step(f, STEP_PARTIAL, half);
	fake_step(f, STEP_CUT, NULL);
	ASSERT_TRUE(WAIT_STATS(k, st.errors[KUBE_ERR_TRUNCATED] == 2), "line_cut");
	ASSERT_TRUE(WAIT_FAKE(f, f->watches == 2), "rewatch_after_cut");
	/* half an event, then a clean end of the stream */
	fake_step(f, STEP_PARTIAL, half);
	fake_step(f, STEP_END, NULL);
	ASSERT_TRUE(WAIT_STATS(k, st.errors[KUBE_ERR_TRUNCATED] == 3), "line_unfinished");
	/* dropped between events: a disconnect, not a truncation */
	ASSERT_TRUE(WAIT_FAKE(f, f->watches == 3), "rewatch_after_end");
	fake_step(f, STEP_CUT, NULL);
	ASSERT_TRUE(WAIT_STATS(k, st.errors[KUBE_ERR_DISCONNECT] == 1), "disconnect");
	ASSERT_EQ(kube_take_peers(k, &set), 2, "peers_kept");
	ASSERT_EQ(fake_get(f, &f->lists), 2, "no_relist_for_truncation");
out:
	kube_stop(k);
	peer_set_free(&set);
	fake_free(f);
}

void kube_case_slow(void)
{
	struct fake_api *f = fake_start();
	struct wp_peer_set set = {};
	struct wp_kube_opts o;
	struct wp_kube *k = NULL;
	__u64 t0;

	if (!ASSERT_OK_PTR(f, "fake_start"))
		return;
	fake_three_nodes(f);
	f->list_mode = LIST_STALL; /* headers and 10 bytes, then nothing */
	f->list_mode_n = 1;
	o = test_opts(f);
	o.stall_timeout_ms = 1000;
	k = client_start(&o);
	if (!ASSERT_OK_PTR(k, "kube_start") || !ASSERT_TRUE(WAIT_FAKE(f, f->lists == 1), "list"))
		goto out;
	/* the agent's side never waits on the stalled transfer */
	t0 = now_ms();
	ASSERT_EQ(kube_take_peers(k, &set), 0, "nothing_yet");
	ASSERT_LT(now_ms() - t0, 50, "take_does_not_block");
	ASSERT_TRUE(WAIT_STATS(k, st.errors[KUBE_ERR_TIMEOUT] == 1), "stall_timeout");
	ASSERT_TRUE(WAIT_STATS(k, st.synced && st.peers == 2), "synced_after_retry");
	kube_stop(k);

	/* a stop in the middle of a stalled transfer is prompt */
	pthread_mutex_lock(&f->lock);
	f->list_mode_n = 1;
	f->lists = 0;
	pthread_mutex_unlock(&f->lock);
	o.stall_timeout_ms = 30000;
	k = client_start(&o);
	if (!ASSERT_OK_PTR(k, "kube_start_2") ||
	    !ASSERT_TRUE(WAIT_FAKE(f, f->lists == 1), "list_2"))
		goto out;
	usleep(100000);
	t0 = now_ms();
	kube_stop(k);
	k = NULL;
	ASSERT_LT(now_ms() - t0, 500, "stop_is_prompt");
out:
	kube_stop(k);
	peer_set_free(&set);
	fake_free(f);
}

void kube_case_server_dies(void)
{
	struct fake_api *f = fake_start();
	struct wp_peer_set set = {};
	struct wp_kube_opts o;
	struct wp_kube *k = NULL;

	if (!ASSERT_OK_PTR(f, "fake_start"))
		return;
	fake_three_nodes(f);
	o = test_opts(f);
	k = client_start(&o);
	if (!ASSERT_OK_PTR(k, "kube_start") || !ASSERT_TRUE(WAIT_FAKE(f, f->watches == 1), "watch"))
		goto out;
	kube_take_peers(k, &set);

	fake_halt(f);
	ASSERT_TRUE(WAIT_STATS(k, st.errors[KUBE_ERR_CONNECT] >= 2 && !st.up), "connect_errors");
	ASSERT_FALSE(notify_ready(k, 0), "no_change_announced");
	ASSERT_EQ(kube_take_peers(k, &set), 2, "last_known_peers_kept");
	ASSERT_STREQ(addr_of(&set, "node-b"), "10.244.1.1", "kept_peer_intact");

	/* it comes back, having forgotten our resourceVersion, with another cluster */
	pthread_mutex_lock(&f->lock);
	json_array_remove(f->nodes, 1);
	strcpy(f->rv, "500");
	f->watch_status = 410;
	f->watch_status_n = 1;
	pthread_mutex_unlock(&f->lock);
	if (!ASSERT_OK(fake_listen(f), "restart"))
		goto out;
	ASSERT_TRUE(WAIT_STATS(k, st.lists == 2 && st.up), "relisted_after_restart");
	ASSERT_TRUE(notify_ready(k, WAIT_MS), "change_announced");
	ASSERT_EQ(kube_take_peers(k, &set), 1, "new_peers");
	ASSERT_STREQ(addr_of(&set, "node-c"), "192.168.1.3", "new_peer_set");
out:
	kube_stop(k);
	peer_set_free(&set);
	fake_free(f);
}

void kube_case_wrong_ca(void)
{
	struct fake_api *f = fake_start();
	struct wp_kube_opts o;
	struct wp_kube *k = NULL;

	if (!ASSERT_OK_PTR(f, "fake_start"))
		return;
	fake_three_nodes(f);
	o = test_opts(f);
	o.ca_file = other_ca_path;
	k = client_start(&o);
	if (!ASSERT_OK_PTR(k, "kube_start"))
		goto out;
	ASSERT_TRUE(WAIT_STATS(k, st.errors[KUBE_ERR_TLS] >= 2 && !st.synced), "tls_errors");
	ASSERT_EQ(fake_get(f, &f->lists), 0, "no_request_reached_the_server");
out:
	kube_stop(k);
	fake_free(f);
}

void kube_case_metrics(void)
{
	struct fake_api *f = fake_start();
	struct wp_kube_opts o;
	struct wp_kube *k = NULL;
	struct prom_buf b;

	prom_buf_init(&b);
	if (!ASSERT_OK_PTR(f, "fake_start"))
		return;
	fake_three_nodes(f);
	f->list_mode = LIST_STATUS;
	f->list_status = 500;
	f->list_mode_n = 1;
	o = test_opts(f);
	k = client_start(&o);
	if (!ASSERT_OK_PTR(k, "kube_start") || !ASSERT_TRUE(WAIT_STATS(k, st.synced), "synced"))
		goto out;
	ASSERT_OK(kube_emit_metrics(k, &b), "emit");
	ASSERT_TRUE(b.data && strstr(b.data,
				     "warmpath_discovery_errors_total{reason=\"http_other\"} 1\n"),
		    "http_other_counted");
	ASSERT_TRUE(b.data &&
			    strstr(b.data, "warmpath_discovery_errors_total{reason=\"gone\"} 0\n"),
		    "zeros_present");
	ASSERT_TRUE(b.data && strstr(b.data, "warmpath_discovery_nodes 3\n"), "nodes");
	ASSERT_TRUE(b.data && strstr(b.data, "warmpath_discovery_peers 2\n"), "peers");
	ASSERT_TRUE(b.data && strstr(b.data, "warmpath_discovery_synced 1\n"), "synced_gauge");
	ASSERT_TRUE(b.data && strstr(b.data, "warmpath_discovery_last_success_timestamp_seconds 1"),
		    "last_success");
	if (b.data && !access(PROMTOOL, X_OK))
		ASSERT_EQ(promtool_check(b.data, true), 0, "promtool_check_metrics");
out:
	prom_buf_free(&b);
	kube_stop(k);
	fake_free(f);
}

void kube_case_start_errors(void)
{
	struct wp_kube_opts o = { .api_url = "ftp://x",
				  .token_file = token_path,
				  .ca_file = ca_path };
	struct wp_kube *k;
	char err[256];

	ASSERT_TRUE(kube_start(&o, err, sizeof(err)) == NULL, "bad_scheme");
	o.api_url = "https://127.0.0.1:1";
	o.ca_file = "/nonexistent/ca.crt";
	ASSERT_TRUE(kube_start(&o, err, sizeof(err)) == NULL, "missing_ca");
	ASSERT_TRUE(strstr(err, "/nonexistent/ca.crt") != NULL, "missing_ca_named");
	o.ca_file = ca_path;
	o.address_annotations = "a,b,c,d,e,f,g,h,i";
	ASSERT_TRUE(kube_start(&o, err, sizeof(err)) == NULL, "too_many_annotations");
	o.address_annotations = NULL;
	/* a bearer token is never sent in clear (issue 13) ... */
	o.api_url = "http://127.0.0.1:1";
	ASSERT_TRUE(kube_start(&o, err, sizeof(err)) == NULL, "http_with_token");
	ASSERT_TRUE(strstr(err, "https://") != NULL, "http_with_token_says_https");
	/* ... but plain http without one (kubectl proxy) still starts */
	o.token_file = "";
	k = kube_start(&o, err, sizeof(err));
	ASSERT_OK_PTR(k, "http_without_token");
	kube_stop(k);
	o.token_file = token_path;
	o.api_url = NULL;
	unsetenv("KUBERNETES_SERVICE_HOST");
	ASSERT_TRUE(kube_start(&o, err, sizeof(err)) == NULL, "not_in_cluster");
}
