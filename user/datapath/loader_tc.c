// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The loader's tc clsact path (see loader_tc.h): our filter at handle 0x5750
 * priority 1, recognised and replaced without CAP_SYS_ADMIN, its record in the
 * pinned tc_filters map, and the clsact qdisc deleted only when it is ours
 * and empty.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <linux/if_ether.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "loader.h"
#include "loader_tc.h"
#include "log.h"
#include "tc_filters.h"

static const char *const dir_names[2] = { "ingress", "egress" };

static void tc_record_put(struct wp_loader *ld, int ifindex, const struct wp_tc_record *rec)
{
	__u32 key = ifindex;

	if (ld->tc_rec_fd >= 0)
		bpf_map_update_elem(ld->tc_rec_fd, &key, rec, BPF_ANY);
}

/*
 * Would our filter fit on (ifindex, dir)? Our handle at our priority held by a
 * program that is not ours, or our priority held by another classifier kind or
 * protocol (the kernel would refuse to add ours): say so, change nothing.
 */
static int tc_conflict(struct wp_loader *ld, int ifindex, const char *ifname, int dir, char *err,
		       size_t errlen)
{
	struct tc_filter f[WP_TC_MAX_FILTERS];
	struct wp_tc_record rec;
	int n;

	tc_record_get(ld->tc_rec_fd, ifindex, &rec);
	n = tc_filters_dump(ifindex, dir, f, WP_TC_MAX_FILTERS);
	if (n < 0) {
		snprintf(err, errlen, "listing the tc %s filters of %s: %s", dir_names[dir], ifname,
			 strerror(-n));
		return n;
	}
	for (int i = 0; i < n; i++) {
		if (f[i].priority != WP_TC_PRIORITY)
			continue;
		if (strcmp(f[i].kind, "bpf") || f[i].protocol != ETH_P_ALL) {
			snprintf(err, errlen,
				 "tc %s priority %u on %s holds a %s filter (protocol 0x%04x); "
				 "warmpath's bpf filter (all protocols) cannot share that priority",
				 dir_names[dir], WP_TC_PRIORITY, ifname, f[i].kind, f[i].protocol);
			return -EBUSY;
		}
		if (f[i].handle == WP_TC_HANDLE &&
		    !tc_filter_is_ours(&f[i], dir, rec.prog_id[dir], ld->tc_tag[dir])) {
			snprintf(err, errlen,
				 "tc %s filter handle 0x%x priority %u on %s belongs to another "
				 "program (id %u%s%s); not replacing it",
				 dir_names[dir], WP_TC_HANDLE, WP_TC_PRIORITY, ifname, f[i].prog_id,
				 f[i].name[0] ? ", " : "", f[i].name);
			return -EBUSY;
		}
	}
	return 0;
}

int wp_loader_preflight(struct wp_loader *ld, const struct link_desc *l, char *err, size_t errlen)
{
	int ret = 0;

	if (ld->attach_pref != WP_ATTACH_PREF_TC)
		return 0;
	for (int dir = 0; dir < 2 && !ret; dir++)
		ret = tc_conflict(ld, l->ifindex, l->name, dir, err, errlen);
	return ret;
}

/* Our filter at our handle and priority, replaced in place when it is there. */
int wp_loader_attach_tc(struct wp_loader *ld, struct wp_attachment *a, int dir, int prog_fd,
			char *err, size_t errlen)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = a->ifindex,
		    .attach_point = dir == 0 ? BPF_TC_INGRESS : BPF_TC_EGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = WP_TC_HANDLE, .priority = WP_TC_PRIORITY,
		    .prog_fd = prog_fd, .flags = BPF_TC_F_REPLACE);
	struct wp_tc_record rec;
	int ret;

	ret = tc_conflict(ld, a->ifindex, a->ifname, dir, err, errlen);
	if (ret)
		return ret;
	tc_record_get(ld->tc_rec_fd, a->ifindex, &rec);
	ret = bpf_tc_hook_create(&hook);
	if (!ret) {
		/* recorded at once: a SIGKILL must not make it look foreign */
		a->created_hook = true;
		rec.flags |= WP_TC_REC_OWN_CLSACT;
		tc_record_put(ld, a->ifindex, &rec);
	} else if (ret != -EEXIST) {
		snprintf(err, errlen, "creating clsact on %s: %s", a->ifname, strerror(-ret));
		return ret;
	}
	ret = bpf_tc_attach(&hook, &opts);
	if (ret) {
		snprintf(err, errlen, "tc attach to %s %s: %s", a->ifname, dir_names[dir],
			 strerror(-ret));
		return ret;
	}
	a->tc_attached[dir] = true;
	rec.prog_id[dir] = opts.prog_id;
	tc_record_put(ld, a->ifindex, &rec);
	/* an older warmpath's filter at its old priority must not count twice */
	tc_filters_remove_ours(a->ifindex, dir, &rec, ld->tc_tag[dir], WP_TC_PRIORITY);
	return 0;
}

/*
 * Remove our tc filters from both hooks of ifindex (what this or an earlier run
 * attached), then the clsact qdisc if we created it and nothing else is on it.
 */
void wp_tc_detach_ours(int rec_fd, const __u8 (*tags)[WP_TC_TAG_LEN], int ifindex)
{
	struct wp_tc_record rec;
	__u32 key = ifindex;
	bool had;

	had = tc_record_get(rec_fd, ifindex, &rec);
	for (int dir = 0; dir < 2; dir++)
		tc_filters_remove_ours(ifindex, dir, &rec, tags ? tags[dir] : NULL, 0);
	if (tc_clsact_release(ifindex, &rec))
		log_debug("ifindex %d: removed the clsact qdisc warmpath created", ifindex);
	if (had)
		bpf_map_delete_elem(rec_fd, &key);
}
