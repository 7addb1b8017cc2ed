// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The kernel drop tracer from user space (see drops.h). The tracer is an
 * optional part of the agent: whatever keeps it from loading (no BTF, no
 * kfree_skb tracepoint, a verifier refusal) leaves a "down" handle whose views
 * still show the pinned counts and the interfaces' own counters. The reason
 * names and the kfree_skb variant probe are drop_reasons.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "drops.h"
#include "drops.skel.h"
#include "links.h"
#include "log.h"
#include "warmpath.h"

#define REASON_NAME_LEN 64
#define IFNAME_LABEL_LEN 64

struct wp_drops {
	struct drops_bpf *skel; /* NULL unless the tracer is up */
	enum wp_drops_variant variant;
	struct wp_drop_reasons *reasons;
	int pinned_drops_fd; /* down or read-only: the pins, when there are any */
	int pinned_ifaces_fd;
	char error[256]; /* why the tracer is down */
};

/* --- open / close ------------------------------------------------------------- */

static struct wp_drops *drops_alloc(void)
{
	struct wp_drops *d = calloc(1, sizeof(*d));

	if (d)
		d->pinned_drops_fd = d->pinned_ifaces_fd = -1;
	return d;
}

static void open_pins(struct wp_drops *d, const char *pin_path)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/drops", pin_path);
	d->pinned_drops_fd = bpf_obj_get(path);
	snprintf(path, sizeof(path), "%s/ifaces", pin_path);
	d->pinned_ifaces_fd = bpf_obj_get(path);
}

static __u32 own_netns_ino(void)
{
	struct stat st;

	if (stat("/proc/self/ns/net", &st)) {
		log_debug("drop tracer: /proc/self/ns/net: %s; counting drops of every namespace",
			  strerror(errno));
		return 0;
	}
	return st.st_ino;
}

static void load_error(int ret, const char *pin_path, char *err, size_t errlen)
{
	if (ret == -EPERM || ret == -EACCES)
		snprintf(err, errlen,
			 "loading the kfree_skb program was refused (%s): it needs root, or "
			 "CAP_BPF with CAP_PERFMON",
			 strerror(-ret));
	else if (ret == -EINVAL && pin_path)
		snprintf(err, errlen,
			 "loading the drop tracer failed (%s); a `drops` map pinned under %s by "
			 "another version may have an older layout: 'warmpath cleanup --pin-path "
			 "%s' removes it",
			 strerror(-ret), pin_path, pin_path);
	else
		snprintf(err, errlen,
			 "loading the drop tracer failed: %s (run with -vv for the verifier log)",
			 strerror(-ret));
}

int wp_drops_open_opts(struct wp_drops **out, const struct wp_drops_opts *o, char *err,
		       size_t errlen)
{
	struct btf *btf = NULL;
	struct wp_drops *d;
	struct bpf_map *m;
	int ret;

	*out = d = drops_alloc();
	if (!d) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}

	/* 1. names and the program variant, from the running kernel's BTF */
	btf = btf__load_vmlinux_btf();
	if (!btf) {
		ret = -errno;
		snprintf(err, errlen,
			 "cannot read the kernel's BTF (%s): drop reasons need "
			 "CONFIG_DEBUG_INFO_BTF",
			 strerror(errno));
		goto down;
	}
	d->reasons = wp_drop_reasons_new(btf);
	d->variant = o->variant ? o->variant : wp_drops_probe_variant(btf);
	btf__free(btf);
	if (d->variant == WP_DROPS_NONE) {
		ret = -EOPNOTSUPP;
		snprintf(err, errlen,
			 "the kernel's BTF has no kfree_skb tracepoint (btf_trace_kfree_skb)");
		goto down;
	}
	log_debug("drop tracer: kfree_skb %s the drop reason",
		  d->variant == WP_DROPS_REASON ? "reports" : "does not report");

	/* 2. open next to the datapath's pins, or with private maps */
	if (o->pin_path) {
		LIBBPF_OPTS(bpf_object_open_opts, oo, .pin_root_path = o->pin_path);

		d->skel = drops_bpf__open_opts(&oo);
	} else {
		d->skel = drops_bpf__open();
	}
	if (!d->skel) {
		ret = -errno;
		snprintf(err, errlen, "cannot open the drop tracer object: %s", strerror(errno));
		goto down;
	}
	if (!o->pin_path) {
		bpf_object__for_each_map(m, d->skel->obj)
			bpf_map__set_pin_path(m, NULL);
	}
	d->skel->rodata->netns_ino = o->netns_ino ? o->netns_ino : own_netns_ino();
	bpf_program__set_autoload(d->skel->progs.wp_drop_reason, d->variant == WP_DROPS_REASON);
	bpf_program__set_autoload(d->skel->progs.wp_drop_plain, d->variant == WP_DROPS_PLAIN);

	/* 3. load (reusing or creating the pins) and attach */
	ret = drops_bpf__load(d->skel);
	if (ret) {
		load_error(ret, o->pin_path, err, errlen);
		goto down;
	}
	ret = drops_bpf__attach(d->skel);
	if (ret) {
		snprintf(err, errlen, "attaching to the kfree_skb tracepoint failed: %s",
			 strerror(-ret));
		goto down;
	}
	return 0;
down:
	drops_bpf__destroy(d->skel);
	d->skel = NULL;
	if (o->pin_path)
		open_pins(d, o->pin_path);
	snprintf(d->error, sizeof(d->error), "%s", err);
	return ret ? ret : -EINVAL;
}

int wp_drops_open(struct wp_drops **out, const char *pin_path, char *err, size_t errlen)
{
	struct wp_drops_opts o = { .pin_path = pin_path };

	return wp_drops_open_opts(out, &o, err, errlen);
}

int wp_drops_open_pinned(struct wp_drops **out, const char *pin_path, char *err, size_t errlen)
{
	struct wp_drops *d;

	*out = d = drops_alloc();
	if (!d) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	d->reasons = wp_drop_reasons_new(NULL);
	d->variant = wp_drops_probe_variant(NULL);
	snprintf(d->error, sizeof(d->error), "read-only view of %s", pin_path);
	open_pins(d, pin_path);
	if (d->pinned_drops_fd < 0 && d->pinned_ifaces_fd < 0) {
		snprintf(err, errlen, "no drops or ifaces map pinned under %s", pin_path);
		return -ENOENT;
	}
	return 0;
}

void wp_drops_close(struct wp_drops *d)
{
	if (!d)
		return;
	drops_bpf__destroy(d->skel);
	if (d->pinned_drops_fd >= 0)
		close(d->pinned_drops_fd);
	if (d->pinned_ifaces_fd >= 0)
		close(d->pinned_ifaces_fd);
	wp_drop_reasons_free(d->reasons);
	free(d);
}

bool wp_drops_up(const struct wp_drops *d)
{
	return d && d->skel;
}

enum wp_drops_variant wp_drops_variant(const struct wp_drops *d)
{
	return d ? d->variant : WP_DROPS_NONE;
}

const struct wp_drop_reasons *wp_drops_reasons(const struct wp_drops *d)
{
	return d ? d->reasons : NULL;
}

int wp_drops_map_fd(const struct wp_drops *d, const char *name)
{
	struct bpf_map *m;

	if (!d)
		return -1;
	if (d->skel) {
		m = bpf_object__find_map_by_name(d->skel->obj, name);
		return m ? bpf_map__fd(m) : -1;
	}
	if (!strcmp(name, "drops"))
		return d->pinned_drops_fd;
	if (!strcmp(name, "ifaces"))
		return d->pinned_ifaces_fd;
	return -1;
}

/* The label of a drop_key's reason: its name, or "unreported" for the plain variant. */
static const char *key_reason(const struct wp_drops *d, __u32 reason, char *buf, size_t len)
{
	if (d->variant == WP_DROPS_PLAIN)
		return WP_DROP_REASON_UNREPORTED;
	return wp_drop_reason_name(d->reasons, reason, buf, len);
}

__u64 wp_drops_count(const struct wp_drops *d, __u32 ifindex, const char *reason)
{
	int fd = wp_drops_map_fd(d, "drops");
	struct drop_key key = { .ifindex = ifindex };
	__u64 count = 0;

	if (fd < 0)
		return 0;
	if (d->variant == WP_DROPS_PLAIN) {
		if (strcmp(reason, WP_DROP_REASON_UNREPORTED))
			return 0;
		key.reason = 0;
	} else if (wp_drop_reason_value(d->reasons, reason, &key.reason)) {
		return 0;
	}
	if (bpf_map_lookup_elem(fd, &key, &count))
		return 0;
	return count;
}

/* --- reading the maps ------------------------------------------------------------ */

struct drop_row {
	char iface[IFNAME_LABEL_LEN];
	char reason[REASON_NAME_LEN];
	__u32 ifindex;
	__u64 count;
};

struct iface_row {
	char iface[IFNAME_LABEL_LEN];
	__u32 ifindex;
	struct rtnl_link_stats64 st;
};

typedef const char *(*ifname_fn)(void *ctx, __u32 ifindex);

/* The label of an ifindex: the caller's name, the ifaces map's, or "if<N>". */
static void iface_label(struct wp_drops *d, __u32 ifindex, ifname_fn ifname, void *ctx, char *buf,
			size_t len)
{
	const char *name = ifname ? ifname(ctx, ifindex) : NULL;
	int fd = wp_drops_map_fd(d, "ifaces");
	struct iface_cfg cfg = {};

	if (name && *name) {
		snprintf(buf, len, "%s", name);
		return;
	}
	if (fd >= 0 && !bpf_map_lookup_elem(fd, &ifindex, &cfg) && cfg.name[0]) {
		snprintf(buf, len, "%.*s", (int)sizeof(cfg.name), cfg.name);
		return;
	}
	snprintf(buf, len, "if%u", ifindex);
}

static int drop_row_cmp(const void *a, const void *b)
{
	const struct drop_row *x = a, *y = b;
	int c = strcmp(x->iface, y->iface);

	return c ? c : strcmp(x->reason, y->reason);
}

/*
 * Every (interface, reason) of the drops map, sorted, with the rows of two
 * ifindexes under one name (an interface re-created) summed: Prometheus must
 * not see one series twice. Returns the count (rows in *out) or -errno.
 */
static int read_drop_rows(struct wp_drops *d, ifname_fn ifname, void *ctx, struct drop_row **out)
{
	int fd = wp_drops_map_fd(d, "drops"), n = 0, cap = 0, merged = 0;
	struct drop_row *rows = NULL, *tmp;
	struct drop_key key, next;
	char buf[32];
	__u64 count;

	*out = NULL;
	if (fd < 0)
		return 0;
	for (int more = !bpf_map_get_next_key(fd, NULL, &next); more;
	     more = !bpf_map_get_next_key(fd, &key, &next)) {
		key = next;
		if (bpf_map_lookup_elem(fd, &key, &count))
			continue; /* deleted meanwhile */
		if (n == cap) {
			cap = cap ? cap * 2 : 32;
			tmp = realloc(rows, cap * sizeof(*rows));
			if (!tmp) {
				free(rows);
				return -ENOMEM;
			}
			rows = tmp;
		}
		iface_label(d, key.ifindex, ifname, ctx, rows[n].iface, sizeof(rows[n].iface));
		snprintf(rows[n].reason, sizeof(rows[n].reason), "%s",
			 key_reason(d, key.reason, buf, sizeof(buf)));
		rows[n].ifindex = key.ifindex;
		rows[n].count = count;
		n++;
	}
	if (n)
		qsort(rows, n, sizeof(*rows), drop_row_cmp);
	for (int i = 0; i < n; i++) {
		if (merged && !drop_row_cmp(&rows[merged - 1], &rows[i])) {
			rows[merged - 1].count += rows[i].count;
			continue;
		}
		rows[merged++] = rows[i];
	}
	*out = rows;
	return merged;
}

static int iface_row_cmp(const void *a, const void *b)
{
	const struct iface_row *x = a, *y = b;

	return strcmp(x->iface, y->iface);
}

/*
 * The kernel's counters of every interface in the ifaces map, sorted by name.
 * An ifindex whose name in this namespace differs from the recorded one is
 * skipped: the pins are global, the ifindexes are not (`warmpath status` may
 * run in another namespace than the agent).
 */
static int read_iface_rows(struct wp_drops *d, ifname_fn ifname, void *ctx, struct iface_row **out)
{
	int fd = wp_drops_map_fd(d, "ifaces"), n = 0, nlinks;
	struct link_desc *links = NULL;
	struct iface_row *rows = NULL;
	const struct link_desc *l;
	__u32 key, next;

	*out = NULL;
	if (fd < 0)
		return 0;
	rows = calloc(WP_MAX_IFACES, sizeof(*rows));
	if (!rows)
		return -ENOMEM;
	nlinks = links_dump(&links);
	if (nlinks < 0) {
		free(rows);
		return nlinks;
	}
	for (int more = !bpf_map_get_next_key(fd, NULL, &next); more && n < WP_MAX_IFACES;
	     more = !bpf_map_get_next_key(fd, &key, &next)) {
		struct iface_cfg cfg = {};

		key = next;
		if (bpf_map_lookup_elem(fd, &key, &cfg))
			continue;
		l = links_find_index(links, nlinks, key);
		if (!l || !l->have_stats)
			continue;
		if (strncmp(l->name, cfg.name, sizeof(cfg.name))) {
			log_debug("ifindex %u is %s here, not %.*s: its counters are not shown",
				  key, l->name, (int)sizeof(cfg.name), cfg.name);
			continue;
		}
		rows[n].st = l->stats;
		iface_label(d, key, ifname, ctx, rows[n].iface, sizeof(rows[n].iface));
		rows[n].ifindex = key;
		n++;
	}
	if (n)
		qsort(rows, n, sizeof(*rows), iface_row_cmp);
	free(links);
	*out = rows;
	return n;
}

/* --- views ------------------------------------------------------------------------ */

static __u64 bss_read(const __u64 *v)
{
	return __atomic_load_n(v, __ATOMIC_RELAXED);
}

static void emit_iface_counter(struct prom_buf *b, const char *name, const char *help,
			       const struct iface_row *rows, int n, size_t off)
{
	prom_family(b, name, PROM_COUNTER, help);
	for (int i = 0; i < n; i++) {
		const char *l[] = { "interface", rows[i].iface, NULL };

		prom_sample_u64(b, name, l, *(const __u64 *)((const char *)&rows[i].st + off));
	}
}

/* The watched interfaces' own counters (IFLA_STATS64) exported beside the drops. */
static const struct {
	const char *name, *help;
	size_t off;
} iface_counters[] = {
	{ "warmpath_interface_rx_dropped_total",
	  "The watched interface's own rx_dropped counter (IFLA_STATS64)",
	  offsetof(struct rtnl_link_stats64, rx_dropped) },
	{ "warmpath_interface_tx_dropped_total",
	  "The watched interface's own tx_dropped counter (IFLA_STATS64)",
	  offsetof(struct rtnl_link_stats64, tx_dropped) },
	{ "warmpath_interface_rx_errors_total",
	  "The watched interface's own rx_errors counter (IFLA_STATS64)",
	  offsetof(struct rtnl_link_stats64, rx_errors) },
	{ "warmpath_interface_tx_errors_total",
	  "The watched interface's own tx_errors counter (IFLA_STATS64)",
	  offsetof(struct rtnl_link_stats64, tx_errors) },
};

int wp_drops_emit_metrics(struct wp_drops *d, struct prom_buf *b, ifname_fn ifname, void *ctx)
{
	const char *dn = "warmpath_kernel_drops_total",
		   *an = "warmpath_kernel_drop_attribution_total";
	struct drop_row *drows = NULL;
	struct iface_row *irows = NULL;
	int nd = 0, ni = 0;

	prom_family(b, "warmpath_kernel_drop_tracer_up", PROM_GAUGE,
		    "1 while the kfree_skb drop tracer is attached (0: no kernel drop counting, "
		    "see the agent's log)");
	prom_sample(b, "warmpath_kernel_drop_tracer_up", NULL, wp_drops_up(d));
	if (!d)
		return prom_buf_error(b);

	nd = read_drop_rows(d, ifname, ctx, &drows);
	prom_family(b, dn, PROM_COUNTER,
		    "Packets the kernel dropped (kfree_skb) on a watched interface, by drop reason "
		    "(names from the running kernel's enum skb_drop_reason)");
	for (int i = 0; i < nd; i++) {
		const char *l[] = { "interface", drows[i].iface, "reason", drows[i].reason, NULL };

		prom_sample_u64(b, dn, l, drows[i].count);
	}
	free(drows);

	if (d->skel) {
		const struct drops_bpf__bss *s = d->skel->bss;
		static const char *const results[] = { "peer", "no_peer", "non_ip",
						       "decode_error" };
		const __u64 *vals[] = { &s->drops_attributed, &s->drops_unattributed,
					&s->drops_non_ip, &s->decode_errors };

		prom_family(b, an, PROM_COUNTER,
			    "Counted kernel drops by attribution to a peer: peer, no_peer (IP "
			    "addresses of no peer), non_ip, decode_error (IP header unreadable)");
		for (size_t i = 0; i < sizeof(results) / sizeof(results[0]); i++) {
			const char *l[] = { "result", results[i], NULL };

			prom_sample_u64(b, an, l, bss_read(vals[i]));
		}
		prom_family(b, "warmpath_kernel_drop_map_full_total", PROM_COUNTER,
			    "Kernel drops not counted by reason because the drops map was full");
		prom_sample_u64(b, "warmpath_kernel_drop_map_full_total", NULL,
				bss_read(&s->map_full));
		prom_family(b, "warmpath_kernel_drop_echo_replies_ignored_total", PROM_COUNTER,
			    "ICMP/ICMPv6 echo replies the kernel freed after raw sockets (ping) "
			    "got their copy (no_socket): not counted as drops");
		prom_sample_u64(b, "warmpath_kernel_drop_echo_replies_ignored_total", NULL,
				bss_read(&s->drops_echo_replies));
	}

	ni = read_iface_rows(d, ifname, ctx, &irows);
	for (size_t i = 0; i < sizeof(iface_counters) / sizeof(iface_counters[0]); i++)
		emit_iface_counter(b, iface_counters[i].name, iface_counters[i].help, irows, ni,
				   iface_counters[i].off);
	free(irows);
	return prom_buf_error(b);
}

json_t *wp_drops_json(struct wp_drops *d)
{
	json_t *root = json_object(), *tracer = json_object(), *arr;
	struct drop_row *drows = NULL;
	struct iface_row *irows = NULL;
	int nd, ni;

	if (!root || !tracer) {
		json_decref(root);
		json_decref(tracer);
		return NULL;
	}
	json_object_set_new(tracer, "up", json_boolean(wp_drops_up(d)));
	json_object_set_new(tracer, "variant",
			    json_string(wp_drops_variant_name(wp_drops_variant(d))));
	json_object_set_new(tracer, "error",
			    d && !d->skel ? json_string(d->error) :
			    d		  ? json_null() :
					    json_string("not started"));
	json_object_set_new(root, "tracer", tracer);
	if (!d)
		return root;

	arr = json_array();
	nd = read_drop_rows(d, NULL, NULL, &drows);
	for (int i = 0; i < nd; i++)
		json_array_append_new(
			arr, json_pack("{s:s, s:I, s:s, s:I}", "interface", drows[i].iface,
				       "ifindex", (json_int_t)drows[i].ifindex, "reason",
				       drows[i].reason, "count", (json_int_t)drows[i].count));
	free(drows);
	json_object_set_new(root, "drops", arr);

	arr = json_array();
	ni = read_iface_rows(d, NULL, NULL, &irows);
	for (int i = 0; i < ni; i++) {
		const struct rtnl_link_stats64 *st = &irows[i].st;

		json_array_append_new(arr, json_pack("{s:s, s:I, s:I, s:I, s:I, s:I}", "interface",
						     irows[i].iface, "ifindex",
						     (json_int_t)irows[i].ifindex, "rx_dropped",
						     (json_int_t)st->rx_dropped, "tx_dropped",
						     (json_int_t)st->tx_dropped, "rx_errors",
						     (json_int_t)st->rx_errors, "tx_errors",
						     (json_int_t)st->tx_errors));
	}
	free(irows);
	json_object_set_new(root, "interfaces", arr);

	if (d->skel) {
		const struct drops_bpf__bss *s = d->skel->bss;

		json_object_set_new(
			root, "counters",
			json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "counted",
				  (json_int_t)bss_read(&s->drops_counted), "attributed",
				  (json_int_t)bss_read(&s->drops_attributed), "unattributed",
				  (json_int_t)bss_read(&s->drops_unattributed), "non_ip",
				  (json_int_t)bss_read(&s->drops_non_ip), "decode_errors",
				  (json_int_t)bss_read(&s->decode_errors), "map_full",
				  (json_int_t)bss_read(&s->map_full), "echo_replies_ignored",
				  (json_int_t)bss_read(&s->drops_echo_replies)));
	}
	return root;
}
