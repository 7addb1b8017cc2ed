/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The kernel drop tracer (bpf/drops.bpf.c) from user space: feature probing,
 * loading next to the datapath's pinned maps, drop reason names from the
 * running kernel's BTF, and the metrics and JSON views of the `drops` map and
 * of the watched interfaces' own drop and error counters (rtnetlink).
 *
 *	struct wp_drops *d;
 *
 *	if (wp_drops_open(&d, pin_path, err, sizeof(err)))
 *		log_warn("kernel drop tracer not loaded: %s", err);	(not fatal)
 *	...
 *	wp_drops_emit_metrics(d, b, NULL, NULL);	(any thread, any time)
 *	wp_drops_close(d);
 *
 * Every function accepts a NULL or "down" handle (tracer not loaded): the
 * views then say warmpath_kernel_drop_tracer_up 0 and show what the pinned
 * maps still hold.
 */
#ifndef __WARMPATH_DROPS_H
#define __WARMPATH_DROPS_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>
#include <linux/types.h>
#include "prom.h"

struct btf;
struct wp_drops;
struct wp_drop_reasons;

/* Which kfree_skb program the running kernel can take. */
enum wp_drops_variant {
	WP_DROPS_NONE = 0, /* no kfree_skb tracepoint in the kernel's BTF */
	WP_DROPS_REASON, /* kfree_skb(skb, location, reason, ...): kernels >= 5.17 */
	WP_DROPS_PLAIN, /* kfree_skb(skb, location): the reason is not reported */
};

/* The reason label of drops counted by the plain variant. */
#define WP_DROP_REASON_UNREPORTED "unreported"

struct wp_drops_opts {
	/*
	 * bpffs directory of the agent's pinned maps: the tracer shares ifaces,
	 * if_flags, prefixes, peers with the datapath and pins `drops` there.
	 * NULL: every map private and unpinned (tests).
	 */
	const char *pin_path;
	/* count drops in this network namespace (nsfs inode); 0: the caller's */
	__u32 netns_ino;
	/* WP_DROPS_NONE: the variant the kernel's BTF calls for; else this one (tests) */
	enum wp_drops_variant variant;
};

/*
 * Load and attach the tracer sharing the maps pinned under @pin_path. Returns
 * 0 when the tracer runs. On failure (no BTF, no tracepoint, verifier, ...)
 * returns a negative errno with a one-line reason in @err; *out is then still
 * a usable "down" handle (or NULL when out of memory), and the caller goes on
 * without drop counting: the failure is a warning, not fatal.
 */
int wp_drops_open(struct wp_drops **out, const char *pin_path, char *err, size_t errlen);
int wp_drops_open_opts(struct wp_drops **out, const struct wp_drops_opts *o, char *err,
		       size_t errlen);
/*
 * A read-only handle on the pinned maps, loading nothing (`warmpath status`
 * after the agent exited). Returns 0, or a negative errno with @err set when
 * neither `drops` nor `ifaces` is pinned there (*out is still usable).
 */
int wp_drops_open_pinned(struct wp_drops **out, const char *pin_path, char *err, size_t errlen);
void wp_drops_close(struct wp_drops *d);

/* Whether the tracer is attached, and which program variant runs. */
bool wp_drops_up(const struct wp_drops *d);
enum wp_drops_variant wp_drops_variant(const struct wp_drops *d);
/* fd of one of the tracer's maps ("drops", "if_flags", "ifaces", "prefixes", "peers"), or -1. */
int wp_drops_map_fd(const struct wp_drops *d, const char *name);
/* The reason names of the running kernel (NULL if its BTF could not be read). */
const struct wp_drop_reasons *wp_drops_reasons(const struct wp_drops *d);
/* Drops counted for (ifindex, reason name); 0 when none. */
__u64 wp_drops_count(const struct wp_drops *d, __u32 ifindex, const char *reason);

/*
 * Prometheus families:
 *   warmpath_kernel_drop_tracer_up                        gauge 0/1
 *   warmpath_kernel_drops_total{interface,reason}         counter, from `drops`
 *   warmpath_kernel_drop_tracer_total{result}             counter, tracer self-accounting
 *   warmpath_interface_{rx,tx}_{dropped,errors}_total{interface}
 *                                                         counters, IFLA_STATS64 of
 *                                                         every interface in `ifaces`
 * @ifname names an ifindex (NULL, or returning NULL: the name recorded in the
 * `ifaces` map, else "if<N>"). Reads maps and rtnetlink at call time; safe
 * from any thread (the handle is read-only after open). Returns
 * prom_buf_error(b).
 */
int wp_drops_emit_metrics(struct wp_drops *d, struct prom_buf *b,
			  const char *(*ifname)(void *ctx, __u32 ifindex), void *ctx);
/*
 * {"tracer":{"up":bool,"variant":"reason|plain|none","error":str|null},
 *  "drops":[{"interface","ifindex","reason","count"}...],
 *  "interfaces":[{"interface","ifindex","rx_dropped","tx_dropped","rx_errors",
 *                 "tx_errors"}...],
 *  "counters":{"counted","attributed","unattributed","non_ip","decode_errors",
 *              "map_full","echo_replies_ignored"} (only while the tracer runs)}
 * New reference, or NULL when out of memory.
 */
json_t *wp_drops_json(struct wp_drops *d);

/*
 * Drop reason names from a BTF (NULL: the running kernel's): enum
 * skb_drop_reason, SKB_DROP_REASON_ stripped, lower case (SKB_CONSUMED ->
 * "consumed"). NULL with errno set on failure; a BTF without the enum gives an
 * empty table.
 */
struct wp_drop_reasons *wp_drop_reasons_new(const struct btf *btf);
void wp_drop_reasons_free(struct wp_drop_reasons *t);
/* The name of @reason, or "unknown_<n>" written to @buf. Never NULL. */
const char *wp_drop_reason_name(const struct wp_drop_reasons *t, __u32 reason, char *buf,
				size_t len);
/* The number of a reason name: 0 and *value, or -ENOENT. */
int wp_drop_reason_value(const struct wp_drop_reasons *t, const char *name, __u32 *value);
int wp_drop_reasons_count(const struct wp_drop_reasons *t);

/*
 * Which kfree_skb variant a kernel takes, from its BTF (NULL: the running
 * kernel's): the parameter count of the btf_trace_kfree_skb typedef's
 * function prototype (ctx, skb, location[, reason, ...]).
 */
enum wp_drops_variant wp_drops_probe_variant(const struct btf *btf);
const char *wp_drops_variant_name(enum wp_drops_variant v);

#endif /* __WARMPATH_DROPS_H */
