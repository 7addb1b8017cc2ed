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
	struct kube_run r;
	char big[12000];
	int n;

	if (!kube_run_fake(&r))
		return;
	fake_list_mode(r.f, LIST_GARBAGE, 1); /* a proxy's HTML error page with status 200 */
	r.o.max_event_bytes = 4096;
	if (!kube_run_client(&r, "kube_start", false))
		goto out;
	ASSERT_TRUE(WAIT_STATS(r.k, st.synced && st.errors[KUBE_ERR_BAD_JSON] == 1),
		    "list_garbage");
	ASSERT_TRUE(WAIT_FAKE(r.f, r.f->watches == 1), "watch");

	fake_step(r.f, STEP_LINE, "this is not json");
	ASSERT_TRUE(WAIT_STATS(r.k, st.errors[KUBE_ERR_BAD_JSON] == 2), "watch_garbage");
	ASSERT_TRUE(WAIT_FAKE(r.f, r.f->watches == 2), "rewatch_after_garbage");
	ASSERT_STREQ(r.f->watch_rv, "100", "rewatch_same_rv");
	fake_step(r.f, STEP_LINE, "{\"type\":\"ADDED\"}");
	ASSERT_TRUE(WAIT_STATS(r.k, st.errors[KUBE_ERR_BAD_JSON] == 3), "event_without_object");
	ASSERT_TRUE(WAIT_FAKE(r.f, r.f->watches == 3), "rewatch_after_shape");

	/* a line above the bound */
	n = snprintf(big, sizeof(big), "{\"type\":\"ADDED\",\"object\":{\"x\":\"");
	memset(big + n, 'x', 10000);
	strcpy(big + n + 10000, "\"}}");
	fake_step(r.f, STEP_LINE, big);
	ASSERT_TRUE(WAIT_STATS(r.k, st.errors[KUBE_ERR_TOO_LARGE] == 1), "too_large");
	ASSERT_TRUE(WAIT_FAKE(r.f, r.f->watches == 4), "rewatch_after_too_large");
	ASSERT_EQ(kube_take_peers(r.k, &r.set), 2, "peers_kept");

	/* the stream still works */
	fake_event(r.f, "ADDED", make_node("node-d", "101", "192.168.1.4", NULL, NULL, NULL, NULL));
	ASSERT_TRUE(WAIT_STATS(r.k, st.peers == 3), "recovered");
	ASSERT_EQ(fake_get(r.f, &r.f->lists), 2, "no_relist_for_garbage");
out:
	kube_run_end(&r);
}

void kube_case_truncated(void)
{
	struct kube_run r;
	const char *half = "{\"type\":\"ADDED\",\"object\":{\"kind\":\"Node\",\"metadata\":{\"na";

	if (!kube_run_fake(&r))
		return;
	fake_list_mode(r.f, LIST_TRUNCATED, 1); /* the connection drops halfway through the list */
	if (!kube_run_client(&r, "kube_start", false))
		goto out;
	ASSERT_TRUE(WAIT_STATS(r.k, st.synced && st.errors[KUBE_ERR_TRUNCATED] == 1),
		    "list_truncated");
	ASSERT_TRUE(WAIT_FAKE(r.f, r.f->watches == 1), "watch");

	/* half an event, then the connection drops */
	fake_step(r.f, STEP_PARTIAL, half);
	fake_step(r.f, STEP_CUT, NULL);
	ASSERT_TRUE(WAIT_STATS(r.k, st.errors[KUBE_ERR_TRUNCATED] == 2), "line_cut");
	ASSERT_TRUE(WAIT_FAKE(r.f, r.f->watches == 2), "rewatch_after_cut");
	/* half an event, then a clean end of the stream */
	fake_step(r.f, STEP_PARTIAL, half);
	fake_step(r.f, STEP_END, NULL);
	ASSERT_TRUE(WAIT_STATS(r.k, st.errors[KUBE_ERR_TRUNCATED] == 3), "line_unfinished");
	/* dropped between events: a disconnect, not a truncation */
	ASSERT_TRUE(WAIT_FAKE(r.f, r.f->watches == 3), "rewatch_after_end");
	fake_step(r.f, STEP_CUT, NULL);
	ASSERT_TRUE(WAIT_STATS(r.k, st.errors[KUBE_ERR_DISCONNECT] == 1), "disconnect");
	ASSERT_EQ(kube_take_peers(r.k, &r.set), 2, "peers_kept");
	ASSERT_EQ(fake_get(r.f, &r.f->lists), 2, "no_relist_for_truncation");
out:
	kube_run_end(&r);
}

void kube_case_slow(void)
{
	struct kube_run r;
	__u64 t0;

	if (!kube_run_fake(&r))
		return;
	fake_list_mode(r.f, LIST_STALL, 1); /* headers and 10 bytes, then nothing */
	r.o.stall_timeout_ms = 1000;
	if (!kube_run_client(&r, "kube_start", false) ||
	    !ASSERT_TRUE(WAIT_FAKE(r.f, r.f->lists == 1), "list"))
		goto out;
	/* the agent's side never waits on the stalled transfer */
	t0 = now_ms();
	ASSERT_EQ(kube_take_peers(r.k, &r.set), 0, "nothing_yet");
	ASSERT_LT(now_ms() - t0, 50, "take_does_not_block");
	ASSERT_TRUE(WAIT_STATS(r.k, st.errors[KUBE_ERR_TIMEOUT] == 1), "stall_timeout");
	ASSERT_TRUE(WAIT_STATS(r.k, st.synced && st.peers == 2), "synced_after_retry");
	kube_stop(r.k);

	/* a stop in the middle of a stalled transfer is prompt */
	fake_list_mode(r.f, LIST_STALL, 1);
	pthread_mutex_lock(&r.f->lock);
	r.f->lists = 0;
	pthread_mutex_unlock(&r.f->lock);
	r.o.stall_timeout_ms = 30000;
	if (!kube_run_client(&r, "kube_start_2", false) ||
	    !ASSERT_TRUE(WAIT_FAKE(r.f, r.f->lists == 1), "list_2"))
		goto out;
	usleep(100000);
	t0 = now_ms();
	kube_stop(r.k);
	r.k = NULL;
	ASSERT_LT(now_ms() - t0, 500, "stop_is_prompt");
out:
	kube_run_end(&r);
}

void kube_case_server_dies(void)
{
	struct kube_run r;

	if (!kube_run_fake(&r) || !kube_run_client(&r, "kube_start", true))
		goto out;
	kube_take_peers(r.k, &r.set);

	fake_halt(r.f);
	ASSERT_TRUE(WAIT_STATS(r.k, st.errors[KUBE_ERR_CONNECT] >= 2 && !st.up), "connect_errors");
	ASSERT_FALSE(notify_ready(r.k, 0), "no_change_announced");
	ASSERT_EQ(kube_take_peers(r.k, &r.set), 2, "last_known_peers_kept");
	ASSERT_STREQ(addr_of(&r.set, "node-b"), "10.244.1.1", "kept_peer_intact");

	/* it comes back, having forgotten our resourceVersion, with another cluster */
	pthread_mutex_lock(&r.f->lock);
	json_array_remove(r.f->nodes, 1);
	strcpy(r.f->rv, "500");
	pthread_mutex_unlock(&r.f->lock);
	fake_watch_status(r.f, 410, 1);
	if (!ASSERT_OK(fake_listen(r.f), "restart"))
		goto out;
	ASSERT_TRUE(WAIT_STATS(r.k, st.lists == 2 && st.up), "relisted_after_restart");
	ASSERT_TRUE(notify_ready(r.k, WAIT_MS), "change_announced");
	ASSERT_EQ(kube_take_peers(r.k, &r.set), 1, "new_peers");
	ASSERT_STREQ(addr_of(&r.set, "node-c"), "192.168.1.3", "new_peer_set");
out:
	kube_run_end(&r);
}

void kube_case_wrong_ca(void)
{
	struct kube_run r;

	if (!kube_run_fake(&r))
		return;
	r.o.ca_file = other_ca_path;
	if (!kube_run_client(&r, "kube_start", false))
		goto out;
	ASSERT_TRUE(WAIT_STATS(r.k, st.errors[KUBE_ERR_TLS] >= 2 && !st.synced), "tls_errors");
	ASSERT_EQ(fake_get(r.f, &r.f->lists), 0, "no_request_reached_the_server");
out:
	kube_run_end(&r);
}

void kube_case_metrics(void)
{
	struct kube_run r;
	struct prom_buf b;

	prom_buf_init(&b);
	if (!kube_run_fake(&r))
		return;
	r.f->list_status = 500;
	fake_list_mode(r.f, LIST_STATUS, 1);
	if (!kube_run_client(&r, "kube_start", false) ||
	    !ASSERT_TRUE(WAIT_STATS(r.k, st.synced), "synced"))
		goto out;
	ASSERT_OK(kube_emit_metrics(r.k, &b), "emit");
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
	kube_run_end(&r);
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
