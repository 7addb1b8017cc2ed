// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * warmpath's tc clsact filters without CAP_SYS_ADMIN (see tc_filters.h): an
 * RTM_GETTFILTER dump per hook, and the pinned record of what we attached.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <linux/netlink.h>
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "nl.h"
#include "tc_filters.h"
#include "util.h"
#include "warmpath.h"

#define TC_RECORD_NAME "tc_filters"
#define TC_RECORD_ENTRIES (WP_MAX_IFACES * 4)

static void attr_string(const struct rtattr *a, char *buf, size_t len)
{
	size_t n = RTA_PAYLOAD(a);

	if (n >= len)
		n = len - 1;
	memcpy(buf, RTA_DATA(a), n);
	buf[n] = '\0';
}

static void parse_bpf_options(const struct rtattr *opts, struct tc_filter *f)
{
	int len = RTA_PAYLOAD(opts);
	const struct rtattr *a;

	for (a = RTA_DATA(opts); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		switch (a->rta_type & NLA_TYPE_MASK) {
		case TCA_BPF_NAME:
			attr_string(a, f->name, sizeof(f->name));
			break;
		case TCA_BPF_ID:
			if (RTA_PAYLOAD(a) >= sizeof(__u32))
				memcpy(&f->prog_id, RTA_DATA(a), sizeof(__u32));
			break;
		case TCA_BPF_TAG:
			if (RTA_PAYLOAD(a) >= WP_TC_TAG_LEN) {
				memcpy(f->tag, RTA_DATA(a), WP_TC_TAG_LEN);
				f->has_tag = true;
			}
			break;
		}
	}
}

/* One RTM_NEWTFILTER message: 1 if it is a filter, 0 if not (a chain/proto head). */
static int parse_filter(const struct nlmsghdr *nh, struct tc_filter *f)
{
	const struct tcmsg *t = NLMSG_DATA(nh);
	int len = nh->nlmsg_len - NLMSG_LENGTH(sizeof(*t));
	const struct rtattr *a, *opts = NULL;

	if (len < 0)
		return 0;
	memset(f, 0, sizeof(*f));
	f->handle = t->tcm_handle;
	f->priority = TC_H_MAJ(t->tcm_info) >> 16;
	f->protocol = ntohs(TC_H_MIN(t->tcm_info));
	for (a = (const struct rtattr *)((const char *)t + NLMSG_ALIGN(sizeof(*t))); RTA_OK(a, len);
	     a = RTA_NEXT(a, len)) {
		if (a->rta_type == TCA_KIND)
			attr_string(a, f->kind, sizeof(f->kind));
		else if ((a->rta_type & NLA_TYPE_MASK) == TCA_OPTIONS)
			opts = a;
	}
	/* the dump lists each classifier instance once without a handle: skip those */
	if (!f->handle)
		return 0;
	if (opts && !strcmp(f->kind, "bpf"))
		parse_bpf_options(opts, f);
	return 1;
}

struct filters_acc {
	struct tc_filter *out;
	int n, max;
};

static int filters_add(const struct nlmsghdr *nh, void *arg)
{
	struct filters_acc *acc = arg;

	if (nh->nlmsg_type == RTM_NEWTFILTER && acc->n < acc->max)
		acc->n += parse_filter(nh, &acc->out[acc->n]);
	return 0;
}

int tc_filters_dump(int ifindex, int dir, struct tc_filter *out, int max)
{
	struct {
		struct nlmsghdr nh;
		struct tcmsg t;
	} req = {
		.nh.nlmsg_len = NLMSG_LENGTH(sizeof(struct tcmsg)),
		.nh.nlmsg_type = RTM_GETTFILTER,
		.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
		.nh.nlmsg_seq = 1,
		.t.tcm_family = AF_UNSPEC,
		.t.tcm_ifindex = ifindex,
		.t.tcm_parent =
			TC_H_MAKE(TC_H_CLSACT, dir == 0 ? TC_H_MIN_INGRESS : TC_H_MIN_EGRESS),
	};
	struct filters_acc acc = { .out = out, .max = max };
	int err;

	err = wp_nl_request(NETLINK_ROUTE, &req.nh, 2, filters_add, &acc);
	/* no clsact qdisc (or no such device): no filters */
	if (err == -EINVAL || err == -ENOENT || err == -ENODEV)
		return 0;
	return err ? err : acc.n;
}

static const char *const our_prog_names[2] = { "wp_tc_ingress", "wp_tc_egress" };

bool tc_filter_is_ours(const struct tc_filter *f, int dir, __u32 rec_id, const __u8 *tag)
{
	char label[64];

	if (strcmp(f->kind, "bpf") || f->handle != WP_TC_HANDLE || !f->prog_id)
		return false;
	if (rec_id && f->prog_id == rec_id)
		return true;
	if (tag && f->has_tag && !memcmp(f->tag, tag, WP_TC_TAG_LEN))
		return true;
	/* libbpf's bpf_tc_attach labels the filter with the program's name and id */
	snprintf(label, sizeof(label), "%s:[%u]", our_prog_names[dir], f->prog_id);
	return !strcmp(f->name, label);
}

int tc_filters_foreign_count(int ifindex, const struct wp_tc_record *rec)
{
	struct tc_filter f[WP_TC_MAX_FILTERS];
	int n, foreign = 0;

	for (int dir = 0; dir < 2; dir++) {
		n = tc_filters_dump(ifindex, dir, f, WP_TC_MAX_FILTERS);
		if (n < 0)
			return n;
		for (int i = 0; i < n; i++)
			if (!tc_filter_is_ours(&f[i], dir, rec ? rec->prog_id[dir] : 0, NULL))
				foreign++;
	}
	return foreign;
}

int tc_filters_remove_ours(int ifindex, int dir, const struct wp_tc_record *rec, const __u8 *tag,
			   __u32 keep_priority)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
		    .attach_point = dir == 0 ? BPF_TC_INGRESS : BPF_TC_EGRESS);
	struct tc_filter f[WP_TC_MAX_FILTERS];
	int n, removed = 0;

	n = tc_filters_dump(ifindex, dir, f, WP_TC_MAX_FILTERS);
	for (int i = 0; i < n; i++) {
		LIBBPF_OPTS(bpf_tc_opts, d, .handle = f[i].handle, .priority = f[i].priority);

		if (f[i].priority == keep_priority ||
		    !tc_filter_is_ours(&f[i], dir, rec ? rec->prog_id[dir] : 0, tag))
			continue;
		if (!bpf_tc_detach(&hook, &d))
			removed++;
	}
	return removed;
}

int tc_clsact_release(int ifindex, const struct wp_tc_record *rec)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
		    .attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS);
	int n;

	if (!rec || !(rec->flags & WP_TC_REC_OWN_CLSACT))
		return 0;
	/* every filter left counts, whoever's: ours are gone by now */
	for (int dir = 0; dir < 2; dir++) {
		struct tc_filter f[WP_TC_MAX_FILTERS];

		n = tc_filters_dump(ifindex, dir, f, WP_TC_MAX_FILTERS);
		if (n != 0)
			return 0;
	}
	return bpf_tc_hook_destroy(&hook) == 0;
}

int tc_record_open(const char *pin_path, bool create)
{
	return wp_pinned_hash_open(pin_path, TC_RECORD_NAME, sizeof(__u32),
				   sizeof(struct wp_tc_record), TC_RECORD_ENTRIES, create);
}

bool tc_record_get(int fd, __u32 ifindex, struct wp_tc_record *rec)
{
	memset(rec, 0, sizeof(*rec));
	return fd >= 0 && !bpf_map_lookup_elem(fd, &ifindex, rec);
}
