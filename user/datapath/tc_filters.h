/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * warmpath's tc clsact filters, recognised without CAP_SYS_ADMIN: the filters
 * of a hook come from an rtnetlink dump (RTM_GETTFILTER needs no capability),
 * which names each cls_bpf program by id, tag and the label its loader gave
 * it. Opening a program by id (bpf_prog_get_fd_by_id) would need
 * CAP_SYS_ADMIN, which the least-privilege DaemonSet does not grant.
 *
 * What we attached is recorded in a pinned hash `tc_filters` (ifindex ->
 * program ids per direction, whether we created the clsact qdisc), so that a
 * restart after SIGKILL, `warmpath cleanup` and the exit path know what is
 * ours, and delete a clsact qdisc only when we created it and no other
 * filter is left on it.
 */
#ifndef __WARMPATH_TC_FILTERS_H
#define __WARMPATH_TC_FILTERS_H

#include <stdbool.h>
#include <linux/types.h>

#define WP_TC_HANDLE 0x5750 /* "WP" */
/*
 * Priority 1: the first a tc filter can take, so warmpath runs ahead of
 * programs that end the chain (TC_ACT_OK, redirect). Cilium's filters also use
 * priority 1 (handle 1): filters sharing a priority run newest first.
 */
#define WP_TC_PRIORITY 1
/* warmpath before this release: filters at handle 0x5750 priority 0x5750 */
#define WP_TC_PRIORITY_OLD 0x5750
#define WP_TC_TAG_LEN 8
#define WP_TC_MAX_FILTERS 64

/* One filter of a clsact hook, from the dump. */
struct tc_filter {
	__u32 handle;
	__u32 priority;
	__u16 protocol; /* host order */
	char kind[16]; /* "bpf", "u32", ... */
	char name[64]; /* TCA_BPF_NAME: libbpf writes "<prog name>:[<id>]" */
	__u32 prog_id; /* TCA_BPF_ID */
	__u8 tag[WP_TC_TAG_LEN]; /* TCA_BPF_TAG */
	bool has_tag;
};

/* tc_filters map value */
struct wp_tc_record {
	__u32 prog_id[2]; /* ingress, egress: the programs we attached last */
	__u32 flags; /* WP_TC_REC_* */
	__u32 reserved;
};
#define WP_TC_REC_OWN_CLSACT 0x1 /* we created the clsact qdisc */

/*
 * The filters on the clsact hook of ifindex, direction 0 ingress / 1 egress.
 * Returns how many (up to max; an interface without clsact has none) or -errno.
 */
int tc_filters_dump(int ifindex, int dir, struct tc_filter *out, int max);

/*
 * Whether a filter is warmpath's: a bpf filter at our handle whose program is
 * the one we recorded for this hook (rec_id), has our program's tag (tag, may
 * be NULL), or carries the label libbpf gives our programs for its own id.
 */
bool tc_filter_is_ours(const struct tc_filter *f, int dir, __u32 rec_id, const __u8 *tag);

/* Filters on both hooks of ifindex that are not ours (-errno on failure). */
int tc_filters_foreign_count(int ifindex, const struct wp_tc_record *rec);

/*
 * Remove our filters from the hook (any priority, ours by tc_filter_is_ours)
 * except the one at keep_priority (0: remove all). Returns how many it removed.
 */
int tc_filters_remove_ours(int ifindex, int dir, const struct wp_tc_record *rec, const __u8 *tag,
			   __u32 keep_priority);

/*
 * After our filters left ifindex: delete the clsact qdisc if we created it and
 * nothing else is on it. Returns 1 if it was deleted.
 */
int tc_clsact_release(int ifindex, const struct wp_tc_record *rec);

/* The pinned tc_filters map under pin_path: opened, or created and pinned if create. */
int tc_record_open(const char *pin_path, bool create);
/* The record of ifindex (zeroed when there is none); returns whether there was one. */
bool tc_record_get(int fd, __u32 ifindex, struct wp_tc_record *rec);

#endif /* __WARMPATH_TC_FILTERS_H */
