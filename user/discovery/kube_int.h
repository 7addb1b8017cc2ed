/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Kubernetes discovery internals, shared by the files of this room:
 *	kube.c        options, start/stop, statistics and metrics (the public side, kube.h)
 *	kube_http.c   the transport: one GET through libcurl, token, TLS, errors
 *	kube_watch.c  list (paginated), watch (lines, bookmarks, 410 relist), the backoff thread
 *	kube_nodes.c  the node table and Node object -> peer
 *
 * The discovery thread owns the transfers (one libcurl multi handle, so a
 * stop can wake it mid-transfer) and the resourceVersion; the node table and
 * the statistics are shared with the agent under k->lock, held only to copy
 * or to apply one parsed event, never across a request.
 */
#ifndef __WARMPATH_KUBE_INT_H
#define __WARMPATH_KUBE_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>
#include <curl/curl.h>
#include <jansson.h>
#include "kube.h"

#define NODES_PATH "/api/v1/nodes"
#define TOKEN_MAX 16384
#define ERR_BODY_MAX 256
#define NODE_NAME_MAX 253 /* a DNS subdomain */
#define KUBE_MAX_PAGES 10000 /* list pages of one list; more is an error (too_large) */
#define STOPPED (-2) /* kube_get(): the thread is stopping */
#define OK (-1) /* kube_get() and friends: no enum kube_error */

enum { EV_ADDED, EV_MODIFIED, EV_DELETED, EV_BOOKMARK, EV_ERROR, EV_NR };
extern const char *const kube_event_names[EV_NR];

struct kube_node {
	char name[NODE_NAME_MAX + 1];
	bool usable; /* makes a peer (it may still be this node) */
	struct wp_peer peer;
};

/* Nodes sorted by name. */
struct node_table {
	struct kube_node *v;
	int n, cap;
};

struct wp_kube {
	/* configuration, fixed once started */
	char api[512];
	char token_file[512]; /* "" : no token */
	char ca_file[512]; /* "" : the system store */
	char node_name[NODE_NAME_MAX + 1];
	char ann_buf[1024];
	const char *annotations[KUBE_MAX_ANNOTATIONS + 1];
	char pfx_ann_buf[2048];
	const char *pfx_annotations[KUBE_MAX_PREFIX_ANNOTATIONS + 1];
	bool pfx_ann_default; /* every known annotation (wp_node_annotations[]) */
	long connect_timeout_ms, request_timeout_ms, stall_timeout_ms, watch_timeout_s;
	int backoff_min_ms, backoff_max_ms, relist_spread_ms, page_size, max_nodes;
	size_t max_event, max_list;

	/* the discovery thread */
	pthread_t thread;
	bool started;
	CURLM *multi;
	atomic_bool stopping;
	unsigned int seed;
	unsigned int attempt; /* failures since the last success: the backoff exponent */
	unsigned int churn; /* 410s and instant watch ends since a watch last delivered */
	bool have_rv;

	int efd;
	pthread_mutex_t lock; /* guards what follows, and the wait in backoff_sleep() */
	pthread_cond_t cond;
	struct node_table nodes;
	struct wp_kube_stats st;
};

/* One request in flight: a list page (body buffered) or a watch (split into lines). */
struct xfer {
	struct wp_kube *k;
	CURL *easy;
	bool watch;
	long code; /* HTTP status once the headers are in, else 0 */
	char *buf; /* list body, or the watch line being assembled */
	size_t len, cap, max;
	char err_body[ERR_BODY_MAX]; /* the start of a non-200 body, for the log */
	size_t err_len;
	int fail; /* an enum kube_error a callback stopped the transfer for, or OK */
	__u64 events; /* watch events applied */
	/*
	 * A list page, parsed as it arrives (kube_list_feed): buf gets the page
	 * without its items (the "items" array arrives as []), each item is
	 * parsed on its own into @fresh and dropped; memory is one Node object.
	 */
	struct node_table *fresh; /* non-NULL: a list page */
	int depth; /* JSON nesting depth */
	bool in_str, esc; /* inside a string, after a backslash in one */
	int items; /* 0: before the "items" array, 1: inside it, 2: after it */
	char *item; /* the item being received */
	size_t item_len, item_cap, item_max;
	int bad_items; /* items without a usable metadata.name (skipped, logged) */
	size_t received; /* body bytes, whatever the status */
};

/* metadata.name of a Node object, or NULL. */
static inline const char *node_name_of(const json_t *node)
{
	return json_string_value(json_object_get(json_object_get(node, "metadata"), "name"));
}

static inline double kube_wall_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static inline __u64 kube_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ull + ts.tv_nsec / 1000000;
}

/* kube_nodes.c: the node table (the caller holds k->lock for the table) */
bool kube_node_parse(struct wp_kube *k, const json_t *obj, struct kube_node *kn);
int kube_node_cmp(const void *a, const void *b);
int kube_node_table_grow(struct node_table *t);
bool kube_node_upsert(struct wp_kube *k, const struct kube_node *kn);
bool kube_node_remove(struct wp_kube *k, const char *name);
bool kube_tables_same_peers(const struct wp_kube *k, const struct node_table *a,
			    const struct node_table *b);
/* Make kube_notify_fd() readable. */
void kube_notify(struct wp_kube *k);

/* kube_http.c: the transport */
/*
 * GET @url into @x (set up by the caller: watch, max). Returns OK for a
 * complete 200, STOPPED, or an enum kube_error (logged).
 */
int kube_get(struct wp_kube *k, const char *url, struct xfer *x, long timeout_ms, long stall_ms);
/* An HTTP status (or a watch ERROR event's code) as an enum kube_error. */
int kube_status_error(long code);
/* Append to x->buf (kept NUL-terminated); false with x->fail set above x->max. */
bool kube_buf_append(struct xfer *x, const char *data, size_t n);

/* kube_watch.c: list and watch */
/*
 * Split a watch body into lines (a line may arrive in several pieces) and
 * apply each. False with x->fail set when a line ends the watch. @data need
 * not be NUL-terminated (it is libcurl's buffer).
 */
bool kube_watch_feed(struct xfer *x, const char *data, size_t n);
/*
 * Split a NodeList page into its items as it arrives (kube_list_stream.c):
 * each item is parsed into x->fresh, the rest kept in x->buf. False with
 * x->fail set on an item above x->item_max, more than max_nodes, or no JSON.
 */
bool kube_list_feed(struct xfer *x, const char *data, size_t n);
void *kube_thread(void *arg);

#endif /* __WARMPATH_KUBE_INT_H */
