// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Peer discovery from the Kubernetes API: see kube.h. This is the API
 * client; what a Node makes as a peer, and the merge of peer sets, is
 * kube_peers.c.
 *
 * The discovery thread owns the transfers (one libcurl multi handle, so a
 * stop can wake it mid-transfer) and the resourceVersion; the node table and
 * the statistics are shared with the agent under k->lock, held only to copy
 * or to apply one parsed event, never across a request.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <curl/curl.h>
#include "kube.h"
#include "kube_int.h"
#include "log.h"

#ifndef WARMPATH_VERSION
#define WARMPATH_VERSION "dev"
#endif

#define NODES_PATH "/api/v1/nodes"
#define TOKEN_MAX 16384
#define ERR_BODY_MAX 256
#define NODE_NAME_MAX 253 /* a DNS subdomain */
#define STOPPED (-2) /* kube_get(): the thread is stopping */
#define OK (-1) /* kube_get() and friends: no enum kube_error */

static const char *const error_names[KUBE_ERR_MAX] = {
	[KUBE_ERR_CONNECT] = "connect",	    [KUBE_ERR_TLS] = "tls",
	[KUBE_ERR_TIMEOUT] = "timeout",	    [KUBE_ERR_DISCONNECT] = "disconnect",
	[KUBE_ERR_TRUNCATED] = "truncated", [KUBE_ERR_HTTP_401] = "http_401",
	[KUBE_ERR_HTTP_403] = "http_403",   [KUBE_ERR_HTTP_OTHER] = "http_other",
	[KUBE_ERR_GONE] = "gone",	    [KUBE_ERR_BAD_JSON] = "bad_json",
	[KUBE_ERR_TOO_LARGE] = "too_large", [KUBE_ERR_TOKEN] = "token",
};

enum { EV_ADDED, EV_MODIFIED, EV_DELETED, EV_BOOKMARK, EV_ERROR, EV_NR };
static const char *const event_names[EV_NR] = { "ADDED", "MODIFIED", "DELETED", "BOOKMARK",
						"ERROR" };

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
	long connect_timeout_ms, request_timeout_ms, stall_timeout_ms, watch_timeout_s;
	int backoff_min_ms, backoff_max_ms, page_size;
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
};

const char *kube_error_name(enum kube_error e)
{
	return e < KUBE_ERR_MAX ? error_names[e] : "unknown";
}

static double wall_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static __u64 mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ull + ts.tv_nsec / 1000000;
}

/* --- the node table ------------------------------------------------------ */

/* metadata.name and the peer it makes; false when the object has no usable name. */
static bool node_parse(struct wp_kube *k, const json_t *obj, struct kube_node *kn)
{
	const char *name = node_name_of(obj);
	char err[256];

	memset(kn, 0, sizeof(*kn));
	if (!name || !*name || strlen(name) > NODE_NAME_MAX)
		return false;
	strcpy(kn->name, name);
	kn->usable = !kube_node_peer(obj, k->annotations, &kn->peer, err, sizeof(err));
	if (!kn->usable && strcmp(name, k->node_name))
		log_debug("kubernetes: %s: not a peer", err);
	return true;
}

static int node_cmp(const void *a, const void *b)
{
	return strcmp(((const struct kube_node *)a)->name, ((const struct kube_node *)b)->name);
}

/* Index of @name, or -(insertion point) - 1. */
static int node_find(const struct node_table *t, const char *name)
{
	int lo = 0, hi = t->n - 1;

	while (lo <= hi) {
		int mid = (lo + hi) / 2, c = strcmp(t->v[mid].name, name);

		if (!c)
			return mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return -lo - 1;
}

static int node_table_grow(struct node_table *t)
{
	struct kube_node *v;
	int cap;

	if (t->n < t->cap)
		return 0;
	cap = t->cap ? t->cap * 2 : 64;
	v = realloc(t->v, cap * sizeof(*v));
	if (!v)
		return -ENOMEM;
	t->v = v;
	t->cap = cap;
	return 0;
}

/* Would @a and @b make different peers (this node never makes one)? */
static bool node_peer_differs(const struct wp_kube *k, const struct kube_node *a,
			      const struct kube_node *b)
{
	bool pa = a && a->usable && strcmp(a->name, k->node_name);
	bool pb = b && b->usable && strcmp(b->name, k->node_name);

	if (pa != pb)
		return true;
	return pa && memcmp(&a->peer, &b->peer, sizeof(a->peer));
}

static void notify(struct wp_kube *k)
{
	__u64 one = 1;

	if (write(k->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_warn("kubernetes: eventfd: %s", strerror(errno));
}

/* Insert or replace (caller holds the lock). Returns true when the peers changed. */
static bool node_upsert(struct wp_kube *k, const struct kube_node *kn)
{
	struct node_table *t = &k->nodes;
	int i = node_find(t, kn->name);
	bool changed;

	if (i >= 0) {
		changed = node_peer_differs(k, &t->v[i], kn);
		t->v[i] = *kn;
		return changed;
	}
	if (node_table_grow(t)) {
		log_warn("kubernetes: out of memory: node %s ignored", kn->name);
		return false;
	}
	i = -i - 1;
	memmove(&t->v[i + 1], &t->v[i], (t->n - i) * sizeof(*t->v));
	t->v[i] = *kn;
	t->n++;
	return node_peer_differs(k, NULL, kn);
}

static bool node_remove(struct wp_kube *k, const char *name)
{
	struct node_table *t = &k->nodes;
	int i = node_find(t, name);
	bool changed;

	if (i < 0)
		return false;
	changed = node_peer_differs(k, &t->v[i], NULL);
	memmove(&t->v[i], &t->v[i + 1], (t->n - i - 1) * sizeof(*t->v));
	t->n--;
	return changed;
}

/* Do two sorted tables make the same peers? */
static bool tables_same_peers(const struct wp_kube *k, const struct node_table *a,
			      const struct node_table *b)
{
	int i = 0, j = 0;

	while (i < a->n || j < b->n) {
		int c = i == a->n ? 1 : j == b->n ? -1 : strcmp(a->v[i].name, b->v[j].name);

		if (c < 0 && node_peer_differs(k, &a->v[i], NULL))
			return false;
		if (c > 0 && node_peer_differs(k, NULL, &b->v[j]))
			return false;
		if (!c && node_peer_differs(k, &a->v[i], &b->v[j]))
			return false;
		i += c <= 0;
		j += c >= 0;
	}
	return true;
}

int kube_take_peers(struct wp_kube *k, struct wp_peer_set *out)
{
	struct wp_peer_set all = {}, fresh = {};
	char err[64];
	__u64 v;
	int ret;

	/* drain first: a change after this point makes the fd readable again */
	if (read(k->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_debug("kubernetes: eventfd: %s", strerror(errno));
	pthread_mutex_lock(&k->lock);
	all.peers = malloc((k->nodes.n ? k->nodes.n : 1) * sizeof(*all.peers));
	if (all.peers) {
		for (int i = 0; i < k->nodes.n; i++)
			if (k->nodes.v[i].usable && strcmp(k->nodes.v[i].name, k->node_name))
				all.peers[all.n++] = k->nodes.v[i].peer;
		all.cap = all.n;
	}
	pthread_mutex_unlock(&k->lock);
	if (!all.peers)
		return -ENOMEM;
	ret = kube_merge_peers(&fresh, &all, err, sizeof(err));
	peer_set_free(&all);
	if (ret < 0) {
		peer_set_free(&fresh);
		return ret;
	}
	peer_set_free(out);
	*out = fresh;
	return out->n;
}

/* --- HTTP ---------------------------------------------------------------- */

/* The token, trailing whitespace removed; NULL when it cannot be read. */
static char *token_read(const char *path)
{
	char *buf = malloc(TOKEN_MAX);
	ssize_t n = -1;
	int fd;

	if (!buf)
		return NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, buf, TOKEN_MAX - 1);
		close(fd);
	}
	if (n <= 0 || n == TOKEN_MAX - 1) {
		free(buf);
		return NULL;
	}
	while (n && strchr(" \t\r\n", buf[n - 1]))
		n--;
	buf[n] = '\0';
	if (!n || strpbrk(buf, "\r\n")) {
		free(buf);
		return NULL;
	}
	return buf;
}

static bool buf_append(struct xfer *x, const char *data, size_t n)
{
	if (x->len + n > x->max) {
		x->fail = KUBE_ERR_TOO_LARGE;
		return false;
	}
	if (x->len + n + 1 > x->cap) {
		size_t cap = x->cap ? x->cap : 16384;
		char *b;

		while (cap < x->len + n + 1)
			cap *= 2;
		b = realloc(x->buf, cap);
		if (!b) {
			x->fail = KUBE_ERR_TOO_LARGE;
			return false;
		}
		x->buf = b;
		x->cap = cap;
	}
	memcpy(x->buf + x->len, data, n);
	x->len += n;
	x->buf[x->len] = '\0';
	return true;
}

static void set_rv(struct wp_kube *k, const char *rv)
{
	snprintf(k->st.resource_version, sizeof(k->st.resource_version), "%s", rv);
}

static int status_error(long code)
{
	switch (code) {
	case 401:
		return KUBE_ERR_HTTP_401;
	case 403:
		return KUBE_ERR_HTTP_403;
	case 410:
		return KUBE_ERR_GONE;
	default:
		return KUBE_ERR_HTTP_OTHER;
	}
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
	for (t = 0; t < EV_NR && strcmp(type, event_names[t]); t++)
		;
	if (t == EV_ERROR) {
		long code = json_integer_value(json_object_get(obj, "code"));
		const char *msg = json_string_value(json_object_get(obj, "message"));

		pthread_mutex_lock(&k->lock);
		k->st.events[EV_ERROR]++;
		pthread_mutex_unlock(&k->lock);
		log_info("kubernetes: watch ERROR %ld: %s", code, msg ? msg : "(no message)");
		return status_error(code);
	}
	if (t == EV_NR || !rv || strlen(rv) >= sizeof(k->st.resource_version))
		return KUBE_ERR_BAD_JSON;
	if (t != EV_BOOKMARK && !node_parse(k, obj, &kn))
		return KUBE_ERR_BAD_JSON;

	pthread_mutex_lock(&k->lock);
	if (t == EV_ADDED || t == EV_MODIFIED)
		changed = node_upsert(k, &kn);
	else if (t == EV_DELETED)
		changed = node_remove(k, kn.name);
	k->st.events[t]++;
	k->st.last_success = wall_now();
	k->st.up = true;
	set_rv(k, rv);
	pthread_mutex_unlock(&k->lock);
	k->attempt = 0;
	if (changed) {
		log_debug("kubernetes: %s %s: peers changed", type, kn.name);
		notify(k);
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
		log_warn("kubernetes: watch: not JSON (%s): %.80s", jerr.text, line);
		return KUBE_ERR_BAD_JSON;
	}
	ret = watch_event(x->k, ev);
	if (ret == KUBE_ERR_BAD_JSON)
		log_warn("kubernetes: watch: not a watch event: %.120s", line);
	json_decref(ev);
	x->events += ret == OK;
	return ret;
}

/* Split a watch body into lines; a line may arrive in several pieces. */
static bool watch_feed(struct xfer *x, const char *data, size_t n)
{
	while (n) {
		const char *nl = memchr(data, '\n', n);
		size_t take = nl ? (size_t)(nl - data) : n;
		int ret;

		if (!nl)
			return buf_append(x, data, take);
		if (x->len) { /* the end of a line begun earlier */
			if (!buf_append(x, data, take))
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

static size_t on_header(char *data, size_t size, size_t nmemb, void *ud)
{
	struct xfer *x = ud;
	size_t n = size * nmemb;

	if (n > 2 || (n && data[0] != '\r' && data[0] != '\n'))
		return n;
	/* the blank line after the headers: the status is known */
	curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &x->code);
	if (x->code == 200 && x->watch) {
		pthread_mutex_lock(&x->k->lock);
		x->k->st.watches++;
		x->k->st.up = true;
		x->k->st.last_success = wall_now();
		pthread_mutex_unlock(&x->k->lock);
	}
	return n;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
	struct xfer *x = ud;
	size_t n = size * nmemb;

	if (!x->code)
		curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &x->code);
	if (x->code != 200) {
		size_t keep = sizeof(x->err_body) - 1 - x->err_len;

		keep = n < keep ? n : keep;
		memcpy(x->err_body + x->err_len, data, keep);
		x->err_len += keep;
		x->err_body[x->err_len] = '\0';
		return n;
	}
	if (x->watch ? watch_feed(x, data, n) : buf_append(x, data, n))
		return n;
	return 0; /* CURLE_WRITE_ERROR: x->fail says why */
}

static int curl_error(const struct xfer *x, CURLcode res)
{
	switch (res) {
	case CURLE_OPERATION_TIMEDOUT:
		return KUBE_ERR_TIMEOUT;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_CONNECT:
		return KUBE_ERR_CONNECT;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
		return KUBE_ERR_TLS;
	default:
		/* lost after the 200: mid-body (or mid-line) is a truncation */
		if (x->code == 200 && (!x->watch || x->len))
			return KUBE_ERR_TRUNCATED;
		return KUBE_ERR_DISCONNECT;
	}
}

/* Run one transfer to its end, or until the thread is asked to stop. */
static CURLcode run_transfer(struct wp_kube *k, CURL *easy)
{
	CURLcode res = CURLE_ABORTED_BY_CALLBACK;
	int running = 1, queued;
	CURLMsg *m;

	if (curl_multi_add_handle(k->multi, easy) != CURLM_OK)
		return CURLE_OUT_OF_MEMORY;
	while (running && !atomic_load(&k->stopping)) {
		if (curl_multi_perform(k->multi, &running) != CURLM_OK)
			break;
		if (running && curl_multi_poll(k->multi, NULL, 0, 1000, NULL) != CURLM_OK)
			break;
	}
	while ((m = curl_multi_info_read(k->multi, &queued)))
		if (m->msg == CURLMSG_DONE && m->easy_handle == easy)
			res = m->data.result;
	curl_multi_remove_handle(k->multi, easy);
	return res;
}

/*
 * GET @url into @x (set up by the caller: watch, max). Returns OK for a
 * complete 200, STOPPED, or an enum kube_error (logged).
 */
static int kube_get(struct wp_kube *k, const char *url, struct xfer *x, long timeout_ms,
		    long stall_ms)
{
	char curl_err[CURL_ERROR_SIZE] = "", *token = NULL, *auth = NULL;
	struct curl_slist *hdrs = NULL, *tmp;
	int ret = KUBE_ERR_CONNECT; /* out of memory before a connection: retried like one */
	CURLcode res;

	x->k = k;
	x->fail = OK;
	if (k->token_file[0]) {
		/* read again for every request: bound tokens are rotated on disk */
		token = token_read(k->token_file);
		if (!token) {
			log_warn("kubernetes: cannot read a token from %s", k->token_file);
			return KUBE_ERR_TOKEN;
		}
		if (asprintf(&auth, "Authorization: Bearer %s", token) < 0)
			auth = NULL;
		explicit_bzero(token, strlen(token));
		free(token);
		if (!auth)
			return KUBE_ERR_TOKEN;
	}
	x->easy = curl_easy_init();
	if (!x->easy)
		goto cleanup;
	hdrs = curl_slist_append(NULL, "Accept: application/json");
	if (!hdrs)
		goto cleanup;
	if (auth) {
		tmp = curl_slist_append(hdrs, auth);
		if (!tmp)
			goto cleanup;
		hdrs = tmp;
	}
	curl_easy_setopt(x->easy, CURLOPT_URL, url);
	curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(x->easy, CURLOPT_USERAGENT, "warmpath/" WARMPATH_VERSION);
	curl_easy_setopt(x->easy, CURLOPT_PROTOCOLS_STR, "https,http");
	curl_easy_setopt(x->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(x->easy, CURLOPT_ERRORBUFFER, curl_err);
	curl_easy_setopt(x->easy, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(x->easy, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(x->easy, CURLOPT_SSL_VERIFYHOST, 2L);
	if (k->ca_file[0])
		curl_easy_setopt(x->easy, CURLOPT_CAINFO, k->ca_file);
	curl_easy_setopt(x->easy, CURLOPT_CONNECTTIMEOUT_MS, k->connect_timeout_ms);
	curl_easy_setopt(x->easy, CURLOPT_TIMEOUT_MS, timeout_ms);
	/* a dead or stalled server: less than 1 byte/s for that long ends the transfer */
	curl_easy_setopt(x->easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(x->easy, CURLOPT_LOW_SPEED_TIME, (stall_ms + 999) / 1000);
	curl_easy_setopt(x->easy, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(x->easy, CURLOPT_TCP_KEEPIDLE, 30L);
	curl_easy_setopt(x->easy, CURLOPT_TCP_KEEPINTVL, 10L);
	curl_easy_setopt(x->easy, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(x->easy, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(x->easy, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(x->easy, CURLOPT_WRITEDATA, x);

	res = run_transfer(k, x->easy);
	if (atomic_load(&k->stopping)) {
		ret = STOPPED;
	} else if (x->fail != OK) {
		ret = x->fail;
	} else if (res != CURLE_OK) {
		ret = curl_error(x, res);
		log_warn("kubernetes: GET %s: %s", url,
			 curl_err[0] ? curl_err : curl_easy_strerror(res));
	} else if (x->code != 200) {
		ret = status_error(x->code);
		log_warn("kubernetes: GET %s: HTTP %ld: %.200s", url, x->code, x->err_body);
	} else {
		ret = OK;
	}
	if (ret == KUBE_ERR_TOO_LARGE)
		log_warn("kubernetes: GET %s: more than %zu bytes in one %s", url, x->max,
			 x->watch ? "event" : "page");
cleanup:
	curl_easy_cleanup(x->easy);
	x->easy = NULL;
	curl_slist_free_all(hdrs);
	if (auth) {
		explicit_bzero(auth, strlen(auth));
		free(auth);
	}
	return ret;
}

/* --- list and watch ------------------------------------------------------ */

/* One page of a NodeList into @fresh; @cont gets metadata.continue, @rv its resourceVersion. */
static int list_page(struct wp_kube *k, struct xfer *x, struct node_table *fresh, char *cont,
		     size_t contlen, char *rv, size_t rvlen)
{
	const json_t *items, *meta, *item;
	const char *r, *c;
	json_error_t jerr;
	json_t *root;
	size_t i;
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
	if (!json_is_array(items) || !r || !*r || strlen(r) >= rvlen ||
	    (c && strlen(c) >= contlen)) {
		log_warn("kubernetes: node list: not a NodeList");
		ret = KUBE_ERR_BAD_JSON;
		goto out;
	}
	strcpy(rv, r);
	strcpy(cont, c ? c : "");
	json_array_foreach(items, i, item) {
		if (node_table_grow(fresh)) {
			ret = KUBE_ERR_TOO_LARGE;
			goto out;
		}
		if (node_parse(k, item, &fresh->v[fresh->n]))
			fresh->n++;
		else
			log_warn("kubernetes: node list: an item without a usable metadata.name");
	}
out:
	json_decref(root);
	return ret;
}

/* List every node (paginated) and replace the table. Returns OK, STOPPED or an error. */
static int kube_list(struct wp_kube *k)
{
	struct node_table fresh = {}, old;
	char url[2048], cont[1024] = "", rv[64] = "";
	bool changed;
	int ret, n = 0;

	do {
		struct xfer x = { .max = k->max_list };
		char *esc = NULL;

		if (cont[0])
			esc = curl_easy_escape(NULL, cont, 0);
		snprintf(url, sizeof(url), "%s" NODES_PATH "?limit=%d%s%s", k->api, k->page_size,
			 esc ? "&continue=" : "", esc ? esc : "");
		curl_free(esc);
		ret = kube_get(k, url, &x, k->request_timeout_ms,
			       k->stall_timeout_ms ? k->stall_timeout_ms : 30000);
		if (ret == OK)
			ret = list_page(k, &x, &fresh, cont, sizeof(cont), rv, sizeof(rv));
		free(x.buf);
		if (ret != OK)
			goto out;
	} while (cont[0] && ++n < 100000);

	qsort(fresh.v, fresh.n, sizeof(*fresh.v), node_cmp);
	pthread_mutex_lock(&k->lock);
	changed = !k->st.synced || !tables_same_peers(k, &k->nodes, &fresh);
	old = k->nodes;
	k->nodes = fresh;
	fresh = old;
	k->st.lists++;
	k->st.synced = true;
	k->st.up = true;
	k->st.last_success = wall_now();
	set_rv(k, rv);
	pthread_mutex_unlock(&k->lock);
	k->have_rv = true;
	k->attempt = 0;
	log_info("kubernetes: listed %d node(s) at resourceVersion %s", k->nodes.n, rv);
	if (changed)
		notify(k);
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
	int ret;

	pthread_mutex_lock(&k->lock);
	strcpy(rv, k->st.resource_version);
	pthread_mutex_unlock(&k->lock);
	esc = curl_easy_escape(NULL, rv, 0);
	snprintf(url, sizeof(url),
		 "%s" NODES_PATH "?watch=1&resourceVersion=%s&allowWatchBookmarks=true"
		 "&timeoutSeconds=%ld",
		 k->api, esc ? esc : "", timeout_s);
	curl_free(esc);
	/* the server ends the watch after timeoutSeconds: allow it a minute more */
	ret = kube_get(k, url, &x, (timeout_s + 60) * 1000,
		       k->stall_timeout_ms ? k->stall_timeout_ms : (timeout_s + 60) * 1000);
	if (ret == OK && x.len) {
		/* the stream ended inside a line: a whole event without its newline is fine */
		json_t *ev = json_loadb(x.buf, x.len, 0, NULL);

		json_decref(ev);
		ret = ev ? watch_line(&x, x.buf, x.len) : KUBE_ERR_TRUNCATED;
		if (ret == KUBE_ERR_TRUNCATED)
			log_warn("kubernetes: watch ended inside an event: %.80s", x.buf);
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
	pthread_mutex_lock(&k->lock);
	k->st.errors[reason]++;
	k->st.up = false;
	pthread_mutex_unlock(&k->lock);
	if (reason == KUBE_ERR_GONE) {
		k->have_rv = false;
		log_info("kubernetes: resourceVersion expired: relisting");
		/*
		 * The first relist is at once; a server that answers every watch with
		 * 410 (the list succeeding in between) is backed off all the same.
		 */
		if (k->churn++)
			backoff_sleep(k, backoff_ms(k, k->churn - 2));
		return;
	}
	backoff_sleep(k, backoff_ms(k, k->attempt));
	k->attempt++;
}

static void *kube_thread(void *arg)
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
		t0 = mono_ms();
		ret = kube_watch(k, &events);
		if (ret == STOPPED)
			break;
		productive = events || mono_ms() - t0 >= 1000;
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

/* --- start, stop, stats -------------------------------------------------- */

static int parse_annotations(struct wp_kube *k, const char *list, char *err, size_t errlen)
{
	char *tok, *save = NULL;
	int n = 0;

	if (strlen(list) >= sizeof(k->ann_buf)) {
		snprintf(err, errlen, "annotation list too long");
		return -EINVAL;
	}
	strcpy(k->ann_buf, list);
	for (tok = strtok_r(k->ann_buf, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
		if (n == KUBE_MAX_ANNOTATIONS) {
			snprintf(err, errlen, "more than %d address annotations",
				 KUBE_MAX_ANNOTATIONS);
			return -EINVAL;
		}
		k->annotations[n++] = tok;
	}
	k->annotations[n] = NULL;
	return 0;
}

static int resolve_api(struct wp_kube *k, const char *url, char *err, size_t errlen)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");
	size_t len;

	if (url && *url) {
		if (strncmp(url, "https://", 8) && strncmp(url, "http://", 7)) {
			snprintf(err, errlen, "API URL '%s': want https://HOST[:PORT]", url);
			return -EINVAL;
		}
		len = snprintf(k->api, sizeof(k->api), "%s", url);
	} else if (host && *host) {
		len = snprintf(k->api, sizeof(k->api),
			       strchr(host, ':') ? "https://[%s]:%s" : "https://%s:%s", host,
			       port && *port ? port : "443");
	} else {
		snprintf(err, errlen,
			 "not in a pod (KUBERNETES_SERVICE_HOST is unset): give the API URL");
		return -EINVAL;
	}
	if (len >= sizeof(k->api)) {
		snprintf(err, errlen, "API URL too long");
		return -EINVAL;
	}
	while (len > 8 && k->api[len - 1] == '/')
		k->api[--len] = '\0';
	return 0;
}

static int copy_path(char *dst, size_t len, const char *val, const char *def, const char *what,
		     char *err, size_t errlen)
{
	const char *p = val ? val : def;

	if (strlen(p) >= len) {
		snprintf(err, errlen, "%s path too long", what);
		return -EINVAL;
	}
	strcpy(dst, p);
	if (*p && access(p, R_OK)) {
		snprintf(err, errlen, "%s '%s': %s", what, p, strerror(errno));
		return -errno;
	}
	return 0;
}

struct wp_kube *kube_start(const struct wp_kube_opts *o, char *err, size_t errlen)
{
	struct wp_kube *k = calloc(1, sizeof(*k));
	sigset_t all, old;
	pthread_condattr_t ca;
	bool curl_up = false;

	if (!k) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	k->efd = -1;
	if (resolve_api(k, o->api_url, err, errlen) ||
	    copy_path(k->token_file, sizeof(k->token_file), o->token_file, KUBE_DEFAULT_TOKEN_FILE,
		      "token file", err, errlen) ||
	    copy_path(k->ca_file, sizeof(k->ca_file), o->ca_file, KUBE_DEFAULT_CA_FILE, "CA file",
		      err, errlen) ||
	    parse_annotations(
		    k, o->address_annotations ? o->address_annotations : KUBE_DEFAULT_ANNOTATIONS,
		    err, errlen))
		goto fail;
	snprintf(k->node_name, sizeof(k->node_name), "%s", o->node_name ? o->node_name : "");
	k->connect_timeout_ms = o->connect_timeout_ms > 0 ? o->connect_timeout_ms : 5000;
	k->request_timeout_ms = o->request_timeout_ms > 0 ? o->request_timeout_ms : 60000;
	k->stall_timeout_ms = o->stall_timeout_ms > 0 ? o->stall_timeout_ms : 0;
	k->watch_timeout_s = o->watch_timeout_s > 0 ? o->watch_timeout_s : 300;
	k->backoff_min_ms = o->backoff_min_ms > 0 ? o->backoff_min_ms : 500;
	k->backoff_max_ms = o->backoff_max_ms > 0 ? o->backoff_max_ms : 30000;
	if (k->backoff_max_ms < k->backoff_min_ms)
		k->backoff_max_ms = k->backoff_min_ms;
	k->max_event = o->max_event_bytes ? o->max_event_bytes : 8 << 20;
	k->max_list = o->max_list_bytes ? o->max_list_bytes : 64 << 20;
	k->page_size = o->list_page_size > 0 ? o->list_page_size : 500;
	k->seed = getpid() ^ (unsigned int)mono_ms();

	if (curl_global_init(CURL_GLOBAL_DEFAULT)) {
		snprintf(err, errlen, "libcurl initialisation failed");
		goto fail;
	}
	curl_up = true;
	k->multi = curl_multi_init();
	k->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (!k->multi || k->efd < 0) {
		snprintf(err, errlen, "libcurl multi handle or eventfd: %s", strerror(errno));
		goto fail;
	}
	pthread_mutex_init(&k->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&k->cond, &ca);
	pthread_condattr_destroy(&ca);

	/* signals stay with the agent's thread (its epoll_wait must see EINTR) */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	errno = pthread_create(&k->thread, NULL, kube_thread, k);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (errno) {
		snprintf(err, errlen, "discovery thread: %s", strerror(errno));
		pthread_cond_destroy(&k->cond);
		pthread_mutex_destroy(&k->lock);
		goto fail;
	}
	k->started = true;
	log_info("kubernetes: watching nodes at %s (token %s, CA %s)", k->api,
		 k->token_file[0] ? k->token_file : "none",
		 k->ca_file[0] ? k->ca_file : "system store");
	return k;
fail:
	if (k->multi)
		curl_multi_cleanup(k->multi);
	if (curl_up)
		curl_global_cleanup();
	if (k->efd >= 0)
		close(k->efd);
	free(k);
	return NULL;
}

void kube_stop(struct wp_kube *k)
{
	if (!k)
		return;
	atomic_store(&k->stopping, true);
	curl_multi_wakeup(k->multi);
	pthread_mutex_lock(&k->lock);
	pthread_cond_broadcast(&k->cond);
	pthread_mutex_unlock(&k->lock);
	pthread_join(k->thread, NULL);
	curl_multi_cleanup(k->multi);
	curl_global_cleanup();
	close(k->efd);
	pthread_cond_destroy(&k->cond);
	pthread_mutex_destroy(&k->lock);
	free(k->nodes.v);
	free(k);
}

int kube_notify_fd(struct wp_kube *k)
{
	return k->efd;
}

void kube_get_stats(struct wp_kube *k, struct wp_kube_stats *st)
{
	pthread_mutex_lock(&k->lock);
	*st = k->st;
	st->nodes = k->nodes.n;
	st->peers = 0;
	for (int i = 0; i < k->nodes.n; i++)
		st->peers += k->nodes.v[i].usable && strcmp(k->nodes.v[i].name, k->node_name);
	pthread_mutex_unlock(&k->lock);
}

int kube_emit_metrics(struct wp_kube *k, struct prom_buf *b)
{
	struct wp_kube_stats st;

	kube_get_stats(k, &st);
	prom_family(b, "warmpath_discovery_errors_total", PROM_COUNTER,
		    "Kubernetes API requests that failed, by reason");
	for (int r = 0; r < KUBE_ERR_MAX; r++) {
		const char *l[] = { "reason", error_names[r], NULL };

		prom_sample_u64(b, "warmpath_discovery_errors_total", l, st.errors[r]);
	}
	prom_family(b, "warmpath_discovery_last_success_timestamp_seconds", PROM_GAUGE,
		    "Unix time of the last good node list, watch or watch event (0: never)");
	prom_sample(b, "warmpath_discovery_last_success_timestamp_seconds", NULL, st.last_success);
	prom_family(b, "warmpath_discovery_nodes", PROM_GAUGE,
		    "Nodes known from the Kubernetes API, this one included");
	prom_sample(b, "warmpath_discovery_nodes", NULL, st.nodes);
	prom_family(b, "warmpath_discovery_peers", PROM_GAUGE,
		    "Nodes that make a peer (an address found, not this node)");
	prom_sample(b, "warmpath_discovery_peers", NULL, st.peers);
	prom_family(b, "warmpath_discovery_synced", PROM_GAUGE, "1 once a node list has completed");
	prom_sample(b, "warmpath_discovery_synced", NULL, st.synced);
	prom_family(b, "warmpath_discovery_up", PROM_GAUGE,
		    "1 when the last Kubernetes API request succeeded");
	prom_sample(b, "warmpath_discovery_up", NULL, st.up);
	prom_family(b, "warmpath_discovery_lists_total", PROM_COUNTER,
		    "Complete node lists: the first one and every relist");
	prom_sample_u64(b, "warmpath_discovery_lists_total", NULL, st.lists);
	prom_family(b, "warmpath_discovery_watch_events_total", PROM_COUNTER,
		    "Node watch events received, by type");
	for (int t = 0; t < EV_NR; t++) {
		const char *l[] = { "type", event_names[t], NULL };

		prom_sample_u64(b, "warmpath_discovery_watch_events_total", l, st.events[t]);
	}
	return prom_buf_error(b);
}
