/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Peer discovery from the Kubernetes API (`warmpath run --kubernetes`).
 *
 * A thread of its own lists the Nodes (`GET /api/v1/nodes`, paginated), then
 * watches them from the list's resourceVersion (`?watch=1&resourceVersion=RV&
 * allowWatchBookmarks=true&timeoutSeconds=N`), one JSON event a line, and
 * keeps a table of nodes. HTTPS through libcurl with CA verification and a
 * bearer token read again before every request, so rotated (bound) service
 * account tokens keep working. 410 Gone (HTTP or an ERROR event) relists;
 * every other failure keeps the resourceVersion and re-watches after an
 * exponential backoff with jitter. Failures never empty the table: the last
 * known peers stay until the API says otherwise.
 *
 * The agent's loop never waits on the API: it polls kube_notify_fd() (an
 * eventfd, readable when the peer set changed) and takes a copy with
 * kube_take_peers().
 *
 *	struct wp_kube_opts o = { .node_name = cfg->node_name };
 *	struct wp_kube *k = kube_start(&o, err, sizeof(err));
 *	epoll_ctl(epfd, EPOLL_CTL_ADD, kube_notify_fd(k), ...);
 *	... on EPOLLIN: kube_take_peers(k, &set); peer_set_merge(&static_set, &set, ...)
 *	kube_stop(k);
 *
 * Each node becomes a peer named metadata.name. Its probe address is the first
 * of the address annotations that is set (default: Calico's IPIP, VXLAN and
 * WireGuard tunnel addresses), else its first InternalIP. Its prefixes are the
 * probe address, every InternalIP, spec.podCIDRs (or spec.podCIDR) and every
 * address annotation that is set. This node (opts.node_name) is never a peer.
 * A node's WireGuard public key (Calico's projectcalico.org/WireguardPublicKey
 * or Cilium's network.cilium.io/wg-pub-key) names its WireGuard peer.
 */
#ifndef __WARMPATH_KUBE_H
#define __WARMPATH_KUBE_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include <jansson.h>
#include "peers.h"
#include "prom.h"

#define KUBE_SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"
#define KUBE_DEFAULT_TOKEN_FILE KUBE_SA_DIR "/token"
#define KUBE_DEFAULT_CA_FILE KUBE_SA_DIR "/ca.crt"
#define KUBE_DEFAULT_ANNOTATIONS                                                      \
	"projectcalico.org/IPv4IPIPTunnelAddr,projectcalico.org/IPv4VXLANTunnelAddr," \
	"projectcalico.org/IPv4WireguardInterfaceAddr"
#define KUBE_MAX_ANNOTATIONS 8
#define KUBE_MAX_PREFIX_ANNOTATIONS 32

struct wp_kube_opts {
	/* https://HOST:PORT; NULL or "": from KUBERNETES_SERVICE_HOST/_PORT (in-cluster) */
	const char *api_url;
	/* NULL: the service account token; "": send no Authorization (e.g. kubectl proxy) */
	const char *token_file;
	/* NULL: the service account CA; "": the system's CA store */
	const char *ca_file;
	/* this node, never a peer */
	const char *node_name;
	/* comma-separated annotation keys holding the probe address; NULL: the default */
	const char *address_annotations;
	/*
	 * comma-separated annotation keys whose values become prefixes; NULL: every
	 * node-address, tunnel-address and pod-CIDR annotation of Calico, Cilium and
	 * flannel (wp_node_annotations[]); "": none
	 */
	const char *prefix_annotations;
	int connect_timeout_ms; /* TCP + TLS handshake; 0: 5000 */
	int request_timeout_ms; /* one list page, whole transfer; 0: 60000 */
	/* no byte received for this long fails a transfer (CURLOPT_LOW_SPEED_*, whole
	 * seconds); 0: 30 s for lists, the watch timeout + 60 s for watches */
	int stall_timeout_ms;
	int watch_timeout_s; /* timeoutSeconds of a watch (x 1..1.5, jittered); 0: 300 */
	int backoff_min_ms; /* first retry delay; 0: 500 */
	int backoff_max_ms; /* delay cap; 0: 30000 */
	/* a relist (410) waits a random 0..this, then backs off if it repeats; 0: 5000, <0: 0 */
	int relist_spread_ms;
	size_t max_event_bytes; /* longest watch line; 0: 8 MiB */
	/* largest list page without its items (they are parsed one by one, each
	 * bounded by max_event_bytes); 0: 64 MiB */
	size_t max_list_bytes;
	int list_page_size; /* ?limit=; 0: 100 */
	int max_nodes; /* nodes kept (list and watch); more count as too_large; 0: 20000 */
};

/* Why a request failed: the `reason` label of warmpath_discovery_errors_total. */
enum kube_error {
	KUBE_ERR_CONNECT, /* no connection (refused, unreachable, DNS) */
	KUBE_ERR_TLS, /* handshake or certificate verification failed */
	KUBE_ERR_TIMEOUT, /* connect, stall or whole-request timeout */
	KUBE_ERR_DISCONNECT, /* connection lost between watch events */
	KUBE_ERR_TRUNCATED, /* a body or line ended before it was complete */
	KUBE_ERR_HTTP_401, /* token refused */
	KUBE_ERR_HTTP_403, /* RBAC: the ClusterRole lacks nodes list/watch */
	KUBE_ERR_HTTP_OTHER, /* any other non-200 status, or a watch ERROR event */
	KUBE_ERR_GONE, /* 410: resourceVersion too old, relisting */
	KUBE_ERR_BAD_JSON, /* not JSON, or not the shape of a NodeList / watch event */
	KUBE_ERR_TOO_LARGE, /* a list page or watch line above the bound */
	KUBE_ERR_TOKEN, /* the token file cannot be read */
	KUBE_ERR_MAX,
};

const char *kube_error_name(enum kube_error e);

struct wp_kube_stats {
	__u64 errors[KUBE_ERR_MAX];
	__u64 lists; /* completed lists (the first one and every relist) */
	__u64 watches; /* watch requests answered 200 */
	__u64 requests; /* GETs sent (lists pages and watches, whatever the outcome) */
	__u64 bytes_received; /* response body bytes of those */
	__u64 events[5]; /* ADDED, MODIFIED, DELETED, BOOKMARK, ERROR */
	double last_success; /* wall clock (s) of the last good list, watch or event; 0: never */
	int nodes; /* nodes in the table (this one included) */
	int peers; /* nodes that make a peer */
	bool synced; /* a list has completed (the table is the cluster's, not empty) */
	bool up; /* the last request succeeded */
	char resource_version[64];
};

struct wp_kube;

/*
 * Check the options, start the discovery thread. NULL with a message in @err
 * when the configuration is unusable (no API URL, bad annotation list, no
 * thread). An unreachable API or a missing token is not an error here: the
 * thread retries and counts it.
 */
struct wp_kube *kube_start(const struct wp_kube_opts *o, char *err, size_t errlen);
/* Stop the thread (within ~0.1 s, even mid-transfer), free everything. NULL is fine. */
void kube_stop(struct wp_kube *k);
/* An eventfd, readable when the peer set changed since the last kube_take_peers(). */
int kube_notify_fd(struct wp_kube *k);
/*
 * Drain the eventfd and replace @out (freed first) with a copy of the current
 * peers, sorted by name, without this node, no prefix claimed twice (the node
 * first by name keeps it; a node whose probe address is taken is left out).
 * Returns the number of peers or -ENOMEM.
 */
int kube_take_peers(struct wp_kube *k, struct wp_peer_set *out);
void kube_get_stats(struct wp_kube *k, struct wp_kube_stats *st);
/*
 * warmpath_discovery_errors_total{reason}, _last_success_timestamp_seconds,
 * _nodes, _peers, _synced, _up, _lists_total, _watch_events_total{type}.
 * Returns prom_buf_error(b).
 */
int kube_emit_metrics(struct wp_kube *k, struct prom_buf *b);

/*
 * One Node object to a peer, with annotation keys @annotations (NULL-terminated;
 * NULL: the default). Returns 0, or -EINVAL with the reason in @err (no name,
 * name too long for a peer, no usable address).
 */
int kube_node_peer(const json_t *node, const char *const *annotations, struct wp_peer *p, char *err,
		   size_t errlen);
/*
 * The same, with the annotations whose values become prefixes (addresses, or
 * CIDRs for the pod-CIDR ones): @prefix_annotations NULL-terminated, NULL for
 * every one of wp_node_annotations[] (Calico, Cilium, flannel). Each prefix's
 * src says where it came from (enum wp_prefix_src).
 */
int kube_node_peer_ex(const json_t *node, const char *const *annotations,
		      const char *const *prefix_annotations, struct wp_peer *p, char *err,
		      size_t errlen);

#endif /* __WARMPATH_KUBE_H */
