// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Peer discovery from the Kubernetes API: see kube.h. This file holds the
 * options, the start and stop of the discovery thread, and its statistics
 * and metrics; the room's other files are listed in kube_int.h.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include "kube_int.h"
#include "log.h"

static const char *const error_names[KUBE_ERR_MAX] = {
	[KUBE_ERR_CONNECT] = "connect",	    [KUBE_ERR_TLS] = "tls",
	[KUBE_ERR_TIMEOUT] = "timeout",	    [KUBE_ERR_DISCONNECT] = "disconnect",
	[KUBE_ERR_TRUNCATED] = "truncated", [KUBE_ERR_HTTP_401] = "http_401",
	[KUBE_ERR_HTTP_403] = "http_403",   [KUBE_ERR_HTTP_OTHER] = "http_other",
	[KUBE_ERR_GONE] = "gone",	    [KUBE_ERR_BAD_JSON] = "bad_json",
	[KUBE_ERR_TOO_LARGE] = "too_large", [KUBE_ERR_TOKEN] = "token",
};

const char *const kube_event_names[EV_NR] = { "ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR" };

const char *kube_error_name(enum kube_error e)
{
	return e < KUBE_ERR_MAX ? error_names[e] : "unknown";
}

/* --- options ------------------------------------------------------------- */

/* A comma-separated list into @buf (@buflen) and @out (at most @max keys, NULL-terminated). */
static int parse_annotations(char *buf, size_t buflen, const char **out, int max, const char *list,
			     const char *what, char *err, size_t errlen)
{
	char *tok, *save = NULL;
	int n = 0;

	if (strlen(list) >= buflen) {
		snprintf(err, errlen, "%s annotation list too long", what);
		return -EINVAL;
	}
	strcpy(buf, list);
	for (tok = strtok_r(buf, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
		if (n == max) {
			snprintf(err, errlen, "more than %d %s annotations", max, what);
			return -EINVAL;
		}
		out[n++] = tok;
	}
	out[n] = NULL;
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
	    parse_annotations(k->ann_buf, sizeof(k->ann_buf), k->annotations, KUBE_MAX_ANNOTATIONS,
			      o->address_annotations ? o->address_annotations :
						       KUBE_DEFAULT_ANNOTATIONS,
			      "address", err, errlen) ||
	    parse_annotations(k->pfx_ann_buf, sizeof(k->pfx_ann_buf), k->pfx_annotations,
			      KUBE_MAX_PREFIX_ANNOTATIONS,
			      o->prefix_annotations ? o->prefix_annotations : "", "prefix", err,
			      errlen))
		goto fail;
	k->pfx_ann_default = !o->prefix_annotations;
	if (k->token_file[0] && !strncmp(k->api, "http://", 7)) {
		snprintf(err, errlen,
			 "API URL '%s': a bearer token (%s) is sent only over https:// "
			 "(no token: --kube-token-file none)",
			 k->api, k->token_file);
		goto fail;
	}
	snprintf(k->node_name, sizeof(k->node_name), "%s", o->node_name ? o->node_name : "");
	k->connect_timeout_ms = o->connect_timeout_ms > 0 ? o->connect_timeout_ms : 5000;
	k->request_timeout_ms = o->request_timeout_ms > 0 ? o->request_timeout_ms : 60000;
	k->stall_timeout_ms = o->stall_timeout_ms > 0 ? o->stall_timeout_ms : 0;
	k->watch_timeout_s = o->watch_timeout_s > 0 ? o->watch_timeout_s : 300;
	k->backoff_min_ms = o->backoff_min_ms > 0 ? o->backoff_min_ms : 500;
	k->backoff_max_ms = o->backoff_max_ms > 0 ? o->backoff_max_ms : 30000;
	k->relist_spread_ms = o->relist_spread_ms > 0 ? o->relist_spread_ms :
			      o->relist_spread_ms < 0 ? 0 :
							5000;
	if (k->backoff_max_ms < k->backoff_min_ms)
		k->backoff_max_ms = k->backoff_min_ms;
	k->max_event = o->max_event_bytes ? o->max_event_bytes : 8 << 20;
	k->max_list = o->max_list_bytes ? o->max_list_bytes : 64 << 20;
	k->page_size = o->list_page_size > 0 ? o->list_page_size : 100;
	k->max_nodes = o->max_nodes > 0 ? o->max_nodes : 20000;
	k->seed = getpid() ^ (unsigned int)kube_mono_ms();

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
	prom_metric(b, "warmpath_discovery_last_success_timestamp_seconds", PROM_GAUGE,
		    "Unix time of the last good node list, watch or watch event (0: never)",
		    st.last_success);
	prom_metric(b, "warmpath_discovery_nodes", PROM_GAUGE,
		    "Nodes known from the Kubernetes API, this one included", st.nodes);
	prom_metric(b, "warmpath_discovery_peers", PROM_GAUGE,
		    "Nodes that make a peer (an address found, not this node)", st.peers);
	prom_metric(b, "warmpath_discovery_synced", PROM_GAUGE, "1 once a node list has completed",
		    st.synced);
	prom_metric(b, "warmpath_discovery_up", PROM_GAUGE,
		    "1 when the last Kubernetes API request succeeded", st.up);
	prom_metric_u64(b, "warmpath_discovery_lists_total", PROM_COUNTER,
			"Complete node lists: the first one and every relist", st.lists);
	prom_family(b, "warmpath_discovery_watch_events_total", PROM_COUNTER,
		    "Node watch events received, by type");
	for (int t = 0; t < EV_NR; t++) {
		const char *l[] = { "type", kube_event_names[t], NULL };

		prom_sample_u64(b, "warmpath_discovery_watch_events_total", l, st.events[t]);
	}
	return prom_buf_error(b);
}
