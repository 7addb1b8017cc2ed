// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * List and watch the Nodes (see kube.h): a paginated list replaces the node
 * table; a watch from its resourceVersion applies one JSON event a line
 * (bookmarks move the resourceVersion only); 410 Gone relists; every other
 * failure backs off (exponentially, with jitter) and re-watches. The loop
 * is the discovery thread's (kube_thread).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kube_int.h"
#include "log.h"

static void set_rv(struct wp_kube *k, const char *rv)
{
	snprintf(k->st.resource_version, sizeof(k->st.resource_version), "%s", rv);
}

/* Apply one watch event. Returns OK or the error that ends this watch. */
static int watch_event(struct wp_kube *k, const json_t *ev)
{
	const char *type = json_string_value(json_object_get(ev, "type"));
	const json_t *obj = json_object_get(ev, "object");
	const char *rv = json_string_value(
		json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));
	struct kube_node kn;
	bool changed = false;
	int t;

	if (!type || !json_is_object(obj))
		return KUBE_ERR_BAD_JSON;
	for (t = 0; t < EV_NR && strcmp(type, kube_event_names[t]); t++)
		;
	if (t == EV_ERROR) {
		long code = json_integer_value(json_object_get(obj, "code"));
		const char *msg = json_string_value(json_object_get(obj, "message"));

		pthread_mutex_lock(&k->lock);
		k->st.events[EV_ERROR]++;
		pthread_mutex_unlock(&k->lock);
		log_info("kubernetes: watch ERROR %ld: %s", code, msg ? msg : "(no message)");
		return kube_status_error(code);
	}
	if (t == EV_NR || !rv || strlen(rv) >= sizeof(k->st.resource_version))
		return KUBE_ERR_BAD_JSON;
	if (t != EV_BOOKMARK && !kube_node_parse(k, obj, &kn))
		return KUBE_ERR_BAD_JSON;

	pthread_mutex_lock(&k->lock);
	if (t == EV_ADDED || t == EV_MODIFIED)
		changed = kube_node_upsert(k, &kn);
	else if (t == EV_DELETED)
		changed = kube_node_remove(k, kn.name);
	k->st.events[t]++;
	k->st.last_success = kube_wall_now();
	k->st.up = true;
	set_rv(k, rv);
	pthread_mutex_unlock(&k->lock);
	k->attempt = 0;
	if (changed) {
		log_debug("kubernetes: %s %s: peers changed", type, kn.name);
		kube_notify(k);
	}
	return OK;
}

/* One line of a watch stream. Returns OK or the error that ends this watch. */
static int watch_line(struct xfer *x, const char *line, size_t len)
{
	json_error_t jerr;
	json_t *ev;
	int ret;

	while (len && strchr(" \t\r", line[len - 1]))
		len--;
	if (!len)
		return OK;
	ev = json_loadb(line, len, 0, &jerr);
	if (!ev) {
		/* @line is libcurl's buffer, not NUL-terminated: bounded by its length */
		log_warn("kubernetes: watch: not JSON (%s): %.*s", jerr.text,
			 (int)(len < 80 ? len : 80), line);
		return KUBE_ERR_BAD_JSON;
	}
	ret = watch_event(x->k, ev);
	if (ret == KUBE_ERR_BAD_JSON)
		log_warn("kubernetes: watch: not a watch event: %.*s", (int)(len < 120 ? len : 120),
			 line);
	json_decref(ev);
	x->events += ret == OK;
	return ret;
}

/* See kube_int.h. */
bool kube_watch_feed(struct xfer *x, const char *data, size_t n)
{
	while (n) {
		const char *nl = memchr(data, '\n', n);
		size_t take = nl ? (size_t)(nl - data) : n;
		int ret;

		if (!nl)
			return kube_buf_append(x, data, take);
		if (x->len) { /* the end of a line begun earlier */
			if (!kube_buf_append(x, data, take))
				return false;
			ret = watch_line(x, x->buf, x->len);
			x->len = 0;
		} else if (take > x->max) {
			x->fail = KUBE_ERR_TOO_LARGE;
			return false;
		} else {
			ret = watch_line(x, data, take);
		}
		if (ret != OK) {
			x->fail = ret;
			return false;
		}
		data += take + 1;
		n -= take + 1;
	}
	return true;
}

/*
 * The rest of one NodeList page (its items already parsed into x->fresh by
 * kube_list_feed): @cont gets metadata.continue, @rv its resourceVersion.
 */
static int list_page(struct xfer *x, char *cont, size_t contlen, char *rv, size_t rvlen)
{
	const json_t *items, *meta;
	const char *r, *c;
	json_error_t jerr;
	json_t *root;
	int ret = OK;

	root = json_loadb(x->buf ? x->buf : "", x->len, 0, &jerr);
	if (!root) {
		log_warn("kubernetes: node list: %s", jerr.text);
		return json_error_code(&jerr) == json_error_premature_end_of_input ?
			       KUBE_ERR_TRUNCATED :
			       KUBE_ERR_BAD_JSON;
	}
	items = json_object_get(root, "items");
	meta = json_object_get(root, "metadata");
	r = json_string_value(json_object_get(meta, "resourceVersion"));
	c = json_string_value(json_object_get(meta, "continue"));
	/* items is [] here: its elements went to the node table one by one */
	if (!json_is_array(items) || x->items != 2 || !r || !*r || strlen(r) >= rvlen ||
	    (c && strlen(c) >= contlen)) {
		log_warn("kubernetes: node list: not a NodeList");
		ret = KUBE_ERR_BAD_JSON;
		goto out;
	}
	strcpy(rv, r);
	strcpy(cont, c ? c : "");
out:
	json_decref(root);
	return ret;
}

/* List every node (paginated) and replace the table. Returns OK, STOPPED or an error. */
static int kube_list(struct wp_kube *k)
{
	struct node_table fresh = {}, old;
	char url[4096], cont[1024] = "", rv[64] = "";
	bool changed;
	int ret, n = 0, len;

	do {
		/* max: the page without its items; item_max: one Node object */
		struct xfer x = { .max = k->max_list, .fresh = &fresh, .item_max = k->max_event };
		char *esc = NULL;

		if (n == KUBE_MAX_PAGES) {
			log_warn("kubernetes: node list: more than %d pages", KUBE_MAX_PAGES);
			ret = KUBE_ERR_TOO_LARGE;
			goto out;
		}
		if (cont[0]) {
			esc = curl_easy_escape(NULL, cont, 0);
			if (!esc) {
				ret = KUBE_ERR_TOO_LARGE; /* out of memory: retried like one */
				goto out;
			}
		}
		/*
		 * The first page with resourceVersion=0: served from the API server's
		 * watch cache, not a quorum read of etcd (the cache may ignore limit
		 * and send every node at once: the items are parsed one by one, see
		 * list_feed()). Later pages carry only continue (the API server refuses
		 * a resourceVersion next to it).
		 */
		len = snprintf(url, sizeof(url), "%s" NODES_PATH "?limit=%d%s%s", k->api,
			       k->page_size, esc ? "&continue=" : "&resourceVersion=0",
			       esc ? esc : "");
		curl_free(esc);
		if (len < 0 || (size_t)len >= sizeof(url)) {
			/* never a cut continue token: that would list from the start again */
			log_warn("kubernetes: node list: continue token too long for a URL");
			ret = KUBE_ERR_TOO_LARGE;
			goto out;
		}
		ret = kube_get(k, url, &x, k->request_timeout_ms,
			       k->stall_timeout_ms ? k->stall_timeout_ms : 30000);
		if (ret == OK)
			ret = list_page(&x, cont, sizeof(cont), rv, sizeof(rv));
		free(x.buf);
		free(x.item);
		if (ret != OK)
			goto out;
		n++;
	} while (cont[0]);

	qsort(fresh.v, fresh.n, sizeof(*fresh.v), kube_node_cmp);
	pthread_mutex_lock(&k->lock);
	changed = !k->st.synced || !kube_tables_same_peers(k, &k->nodes, &fresh);
	old = k->nodes;
	k->nodes = fresh;
	fresh = old;
	k->st.lists++;
	k->st.synced = true;
	k->st.up = true;
	k->st.last_success = kube_wall_now();
	set_rv(k, rv);
	pthread_mutex_unlock(&k->lock);
	k->have_rv = true;
	k->attempt = 0;
	log_info("kubernetes: listed %d node(s) at resourceVersion %s", k->nodes.n, rv);
	if (changed)
		kube_notify(k);
out:
	free(fresh.v);
	return ret;
}

/* Watch from the current resourceVersion until the server ends it or it fails. */
static int kube_watch(struct wp_kube *k, __u64 *events)
{
	/* timeoutSeconds spread over [t, 1.5 t]: agents do not all reconnect at once */
	long timeout_s = k->watch_timeout_s + rand_r(&k->seed) % (k->watch_timeout_s / 2 + 1);
	struct xfer x = { .watch = true, .max = k->max_event };
	char url[1024], rv[64], *esc;
	int ret, len;

	pthread_mutex_lock(&k->lock);
	strcpy(rv, k->st.resource_version);
	pthread_mutex_unlock(&k->lock);
	esc = curl_easy_escape(NULL, rv, 0);
	len = snprintf(url, sizeof(url),
		       "%s" NODES_PATH "?watch=1&resourceVersion=%s&allowWatchBookmarks=true"
		       "&timeoutSeconds=%ld",
		       k->api, esc ? esc : "", timeout_s);
	curl_free(esc);
	if (!esc || len < 0 || (size_t)len >= sizeof(url)) {
		log_warn("kubernetes: watch: resourceVersion '%s' makes no URL", rv);
		return KUBE_ERR_TOO_LARGE;
	}
	/* the server ends the watch after timeoutSeconds: allow it a minute more */
	ret = kube_get(k, url, &x, (timeout_s + 60) * 1000,
		       k->stall_timeout_ms ? k->stall_timeout_ms : (timeout_s + 60) * 1000);
	if (ret == OK && x.len) {
		/* the stream ended inside a line: a whole event without its newline is fine */
		json_t *ev = json_loadb(x.buf, x.len, 0, NULL);

		json_decref(ev);
		ret = ev ? watch_line(&x, x.buf, x.len) : KUBE_ERR_TRUNCATED;
		if (ret == KUBE_ERR_TRUNCATED)
			log_warn("kubernetes: watch ended inside an event: %.*s",
				 (int)(x.len < 80 ? x.len : 80), x.buf);
	}
	*events = x.events;
	free(x.buf);
	return ret;
}

/* Failures back off exponentially (with jitter) up to backoff_max_ms. */
static int backoff_ms(struct wp_kube *k, unsigned int attempt)
{
	unsigned int shift = attempt < 16 ? attempt : 16;
	long base = (long)k->backoff_min_ms << shift;

	if (base > k->backoff_max_ms)
		base = k->backoff_max_ms;
	/* half fixed, half random: agents restarted together spread out */
	return base / 2 + rand_r(&k->seed) % (base / 2 + 1);
}

static void backoff_sleep(struct wp_kube *k, int ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&k->lock);
	while (!atomic_load(&k->stopping) && pthread_cond_timedwait(&k->cond, &k->lock, &ts) == 0)
		;
	pthread_mutex_unlock(&k->lock);
}

static void fail(struct wp_kube *k, int reason)
{
	int ms;

	pthread_mutex_lock(&k->lock);
	k->st.errors[reason]++;
	k->st.up = false;
	pthread_mutex_unlock(&k->lock);
	if (reason == KUBE_ERR_GONE) {
		k->have_rv = false;
		/*
		 * Never at once, never in step: after an API server restart every
		 * agent of the cluster sees its 410 within a second. The first relist
		 * waits a random 0..relist_spread (full jitter); a server answering
		 * every watch with 410 (the list succeeding in between) is backed off
		 * exponentially on top.
		 */
		ms = rand_r(&k->seed) % (k->relist_spread_ms + 1);
		if (k->churn++)
			ms += backoff_ms(k, k->churn - 1);
		log_info("kubernetes: resourceVersion expired: relisting in %d ms", ms);
		backoff_sleep(k, ms);
		return;
	}
	backoff_sleep(k, backoff_ms(k, k->attempt));
	k->attempt++;
}

void *kube_thread(void *arg)
{
	struct wp_kube *k = arg;

	while (!atomic_load(&k->stopping)) {
		__u64 t0, events = 0;
		bool productive;
		int ret;

		if (!k->have_rv) {
			ret = kube_list(k);
			if (ret == STOPPED)
				break;
			if (ret != OK) {
				fail(k, ret);
				continue;
			}
		}
		t0 = kube_mono_ms();
		ret = kube_watch(k, &events);
		if (ret == STOPPED)
			break;
		productive = events || kube_mono_ms() - t0 >= 1000;
		if (productive)
			k->churn = 0;
		if (ret != OK) {
			fail(k, ret);
			continue;
		}
		/* a clean end after timeoutSeconds is normal; one at once, repeatedly, is not */
		if (!productive)
			backoff_sleep(k, backoff_ms(k, k->churn++));
	}
	return NULL;
}
