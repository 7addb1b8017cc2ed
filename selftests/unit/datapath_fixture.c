// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The datapath skeleton for tests and benchmark: see datapath_fixture.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "datapath.skel.h"
#include "datapath_fixture.h"
#include "packet_builder.h"
#include "peer_counters.h"

int dp_unpin_maps(struct bpf_object *obj)
{
	struct bpf_map *m;
	int err;

	bpf_object__for_each_map(m, obj) {
		err = bpf_map__set_pin_path(m, NULL);
		if (err)
			return err;
	}
	return 0;
}

bool dp_force_load_bytes;

int dp_fixture_open(struct dp_fixture *f, const struct dp_options *opts)
{
	int err;

	memset(f, 0, sizeof(*f));
	f->ncpus = libbpf_num_possible_cpus();
	if (f->ncpus <= 0)
		return f->ncpus ?: -EINVAL;

	f->skel = datapath_bpf__open();
	if (!f->skel)
		return -errno;
	err = dp_unpin_maps(f->skel->obj);
	if (err)
		goto fail;

	f->skel->rodata->probe_port =
		opts && opts->probe_port ? opts->probe_port : WP_DEFAULT_PROBE_PORT;
	f->skel->rodata->vxlan_port_a =
		opts && opts->vxlan_port_a ? opts->vxlan_port_a : WP_VXLAN_PORT_IANA;
	f->skel->rodata->vxlan_port_b =
		opts && opts->vxlan_port_b ? opts->vxlan_port_b : WP_VXLAN_PORT_LINUX;
	if (opts && opts->cold_threshold_ns)
		f->skel->rodata->cold_threshold_ns = opts->cold_threshold_ns;
	f->cold_ns = f->skel->rodata->cold_threshold_ns;
	f->skel->rodata->force_load_bytes = dp_force_load_bytes;
	if (!opts || !opts->syn_sampling)
		f->skel->rodata->syn_sample_mask = 0;
	else if (opts->syn_sample_mask)
		f->skel->rodata->syn_sample_mask = opts->syn_sample_mask;

	err = datapath_bpf__load(f->skel);
	if (err)
		goto fail;

	f->ifaces_fd = bpf_map__fd(f->skel->maps.ifaces);
	f->if_flags_fd = bpf_map__fd(f->skel->maps.if_flags);
	f->prefixes_fd = bpf_map__fd(f->skel->maps.prefixes);
	f->peers_fd = bpf_map__fd(f->skel->maps.peers);
	f->unmatched_fd = bpf_map__fd(f->skel->maps.unmatched);
	f->stats_fd = bpf_map__fd(f->skel->maps.stats);
	f->egress_fd = bpf_program__fd(f->skel->progs.wp_tc_egress);
	f->ingress_fd = bpf_program__fd(f->skel->progs.wp_tc_ingress);
	f->counters_fd = bpf_map__fd(f->skel->maps.peer_counters);
	f->peers_mem = wp_peers_mmap(f->peers_fd);
	if (!f->peers_mem) {
		err = -errno;
		goto fail;
	}
	return 0;
fail:
	datapath_bpf__destroy(f->skel);
	f->skel = NULL;
	return err;
}

void dp_fixture_close(struct dp_fixture *f)
{
	wp_peers_munmap(f->peers_mem);
	f->peers_mem = NULL;
	datapath_bpf__destroy(f->skel);
	f->skel = NULL;
}

/* As the loader does: the ifaces record and the datapath's if_flags slot. */
int dp_set_iface(struct dp_fixture *f, __u32 ifindex, __u32 flags)
{
	struct iface_cfg cfg = { .flags = flags, .slot = 0 };

	if (bpf_map_update_elem(f->ifaces_fd, &ifindex, &cfg, BPF_ANY))
		return -errno;
	return bpf_map_update_elem(f->if_flags_fd, &ifindex, &flags, BPF_ANY) ? -errno : 0;
}

int dp_del_iface(struct dp_fixture *f, __u32 ifindex)
{
	__u32 zero = 0;

	if (bpf_map_delete_elem(f->ifaces_fd, &ifindex))
		return -errno;
	return bpf_map_update_elem(f->if_flags_fd, &ifindex, &zero, BPF_ANY) ? -errno : 0;
}

/* As the agent does after every change to `prefixes`: invalidate the per-CPU peer cache. */
void dp_prefixes_changed(struct dp_fixture *f)
{
	__atomic_add_fetch(&f->skel->bss->prefix_gen, 1, __ATOMIC_RELEASE);
}

int dp_add_prefix(struct dp_fixture *f, const char *cidr, __u32 peer_id)
{
	struct prefix_val val = { .peer_id = peer_id };
	struct prefix_key key = {};
	char addr[64], *slash, *end;
	bool v4;
	long len;

	if (strlen(cidr) >= sizeof(addr))
		return -EINVAL;
	strcpy(addr, cidr);
	slash = strchr(addr, '/');
	if (slash)
		*slash = '\0';
	if (addr_to_key(addr, key.addr))
		return -EINVAL;
	v4 = !strchr(addr, ':');
	len = v4 ? 32 : 128;
	if (slash) {
		errno = 0;
		len = strtol(slash + 1, &end, 10);
		if (errno || *end || len < 0 || len > (v4 ? 32 : 128))
			return -EINVAL;
	}
	key.prefixlen = v4 ? len + 96 : len;
	if (bpf_map_update_elem(f->prefixes_fd, &key, &val, BPF_ANY))
		return -errno;
	dp_prefixes_changed(f);
	return 0;
}

int dp_set_peer(struct dp_fixture *f, __u32 peer_id, const char *name)
{
	struct peer_state ps = {};

	int i;

	strncpy(ps.name, name, sizeof(ps.name) - 1);
	if (bpf_map_update_elem(f->peers_fd, &peer_id, &ps, BPF_ANY))
		return -errno;
	for (i = 0; i < f->nfold && f->fold_ids[i] != peer_id; i++)
		;
	if (i == f->nfold && f->nfold < DP_MAX_FOLD)
		f->fold_ids[f->nfold++] = peer_id;
	return wp_peer_counters_zero(f->counters_fd, peer_id);
}

int dp_fold_stamp(struct dp_fixture *f)
{
	return wp_peers_fold(f->peers_mem, f->counters_fd, f->fold_ids, f->nfold, f->fold_buf,
			     dp_now_ns(), ~0ull);
}

int dp_fold(struct dp_fixture *f)
{
	return wp_peers_fold(f->peers_mem, f->counters_fd, f->fold_ids, f->nfold, f->fold_buf,
			     dp_now_ns(), f->cold_ns);
}

int dp_read_peer(struct dp_fixture *f, __u32 peer_id, struct peer_state *ps)
{
	return bpf_map_lookup_elem(f->peers_fd, &peer_id, ps) ? -errno : 0;
}

int dp_read_stats(struct dp_fixture *f, __u64 stats[WP_STAT_MAX])
{
	__u64 *percpu;
	__u32 i;
	int c, err = 0;

	percpu = calloc(f->ncpus, sizeof(*percpu));
	if (!percpu)
		return -ENOMEM;
	for (i = 0; i < WP_STAT_MAX; i++) {
		if (bpf_map_lookup_elem(f->stats_fd, &i, percpu)) {
			err = -errno;
			break;
		}
		stats[i] = 0;
		for (c = 0; c < f->ncpus; c++)
			stats[i] += percpu[c];
	}
	free(percpu);
	return err;
}

int dp_read_unmatched(struct dp_fixture *f, const char *addr, struct unmatched_state *u)
{
	struct addr_key key;

	if (addr_to_key(addr, key.addr))
		return -EINVAL;
	return bpf_map_lookup_elem(f->unmatched_fd, &key, u) ? -errno : 0;
}

size_t dp_test_run_min_len(const void *pkt, size_t len)
{
	const __u8 *b = pkt;
	__u16 proto;

	if (len < ETH_HLEN)
		return ETH_HLEN;
	proto = b[12] << 8 | b[13];
	if (proto == ETH_P_IP)
		return ETH_HLEN + sizeof(struct iphdr);
	if (proto == ETH_P_IPV6)
		return ETH_HLEN + sizeof(struct ipv6hdr);
	return ETH_HLEN;
}

void dp_run(int prog_fd, const void *pkt, size_t len, __u32 ifindex, int repeat,
	    struct dp_run_result *r)
{
	struct __sk_buff ctx = { .ifindex = ifindex };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = pkt, .data_size_in = len,
		    .data_out = r->data_out, .data_size_out = sizeof(r->data_out), .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx), .repeat = repeat);

	memset(r, 0, sizeof(*r));
	r->err = bpf_prog_test_run_opts(prog_fd, &opts);
	r->retval = opts.retval;
	r->duration = opts.duration;
	r->data_size_out = opts.data_size_out;
}

__u64 dp_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}
