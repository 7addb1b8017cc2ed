// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The client side of the discovery tests: options pointing at the fake API
 * server (fake_kube_api.c), the client under test, waits and peer lookups,
 * and struct kube_run, the set-up and tear-down every such test shares.
 */
#include <poll.h>
#include <stdlib.h>
#include "fake_kube_api.h"

char token_path[128], ca_path[128], other_ca_path[128];
static char api_url[64];

struct wp_kube_opts test_opts(struct fake_api *f)
{
	struct wp_kube_opts o = {
		.api_url = api_url,
		.token_file = token_path,
		.ca_file = ca_path,
		.node_name = "node-a",
		.connect_timeout_ms = 1000,
		.request_timeout_ms = 3000,
		.watch_timeout_s = 30,
		.backoff_min_ms = 20,
		.relist_spread_ms = 50,
		.backoff_max_ms = 200,
	};

	snprintf(api_url, sizeof(api_url), "https://127.0.0.1:%d", f->port);
	return o;
}

struct wp_kube *client_start(const struct wp_kube_opts *o)
{
	char err[256] = "";
	struct wp_kube *k = kube_start(o, err, sizeof(err));

	if (!k)
		test__printf("kube_start: %s\n", err);
	return k;
}

__u64 now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ull + ts.tv_nsec / 1000000;
}

struct wp_peer *find_peer(struct wp_peer_set *s, const char *name)
{
	return peer_set_find(s, name);
}

bool has_prefix(const struct wp_peer *p, const char *text)
{
	struct wp_prefix want;

	if (!p || prefix_parse(text, &want))
		return false;
	for (int i = 0; i < p->nprefixes; i++)
		if (p->prefixes[i].len == want.len && !memcmp(p->prefixes[i].addr, want.addr, 16))
			return true;
	return false;
}

const char *addr_of(struct wp_peer_set *s, const char *name)
{
	struct wp_peer *p = find_peer(s, name);

	return p ? p->addr_str : "(none)";
}

bool notify_ready(struct wp_kube *k, int ms)
{
	struct pollfd pfd = { .fd = kube_notify_fd(k), .events = POLLIN };

	return poll(&pfd, 1, ms) == 1;
}

bool kube_run_fake(struct kube_run *r)
{
	memset(r, 0, sizeof(*r));
	r->f = fake_start();
	if (!ASSERT_OK_PTR(r->f, "fake_start"))
		return false;
	fake_three_nodes(r->f);
	r->o = test_opts(r->f);
	return true;
}

bool kube_run_client(struct kube_run *r, const char *name, bool watch)
{
	r->k = client_start(&r->o);
	if (!ASSERT_OK_PTR(r->k, name))
		return false;
	return !watch || ASSERT_TRUE(WAIT_FAKE(r->f, r->f->watches == 1), "watch");
}

void kube_run_end(struct kube_run *r)
{
	kube_stop(r->k);
	peer_set_free(&r->set);
	fake_free(r->f);
}

void fake_watch_status(struct fake_api *f, int status, int n)
{
	pthread_mutex_lock(&f->lock);
	f->watch_status = status;
	f->watch_status_n = n;
	pthread_mutex_unlock(&f->lock);
}

void fake_list_mode(struct fake_api *f, enum list_mode mode, int n)
{
	pthread_mutex_lock(&f->lock);
	f->list_mode = mode;
	f->list_mode_n = n;
	pthread_mutex_unlock(&f->lock);
}
