// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <linux/if_ether.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "datapath.skel.h"
#include "kernel_check.h"
#include "loader.h"
#include "log.h"
#include "loader_tc.h"
#include "tc_filters.h"

/* Debian's libbpf 1.1 and UAPI headers predate tcx (kernel 6.6). */
#define WP_BPF_TCX_INGRESS 46
#define WP_BPF_TCX_EGRESS 47
#define WP_BPF_LINK_TYPE_TCX 11
/* mprog attach flag (6.6): with no relative program, the head of the chain */
#define WP_BPF_F_BEFORE (1U << 3)

static const char *const dir_names[2] = { "ingress", "egress" };

const char *wp_attach_mode_name(int mode)
{
	switch (mode) {
	case WP_ATTACH_TCX:
		return "tcx";
	case WP_ATTACH_TC:
		return "tc";
	default:
		return "none";
	}
}

/* The datapath's per-ifindex flags (0: not watched). */
static void set_if_flags(int fd, __u32 ifindex, __u32 flags)
{
	if (ifindex < WP_MAX_IFINDEX)
		bpf_map_update_elem(fd, &ifindex, &flags, BPF_ANY);
}

static int mkdir_p(const char *path)
{
	char buf[256], *p;

	if (strlen(path) >= sizeof(buf))
		return -ENAMETOOLONG;
	strcpy(buf, path);
	for (p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0700) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, 0700) && errno != EEXIST)
		return -errno;
	return 0;
}

/*
 * Pinned tcx links are named by ifindex: bpffs refuses dots in names, and
 * interface names may have them (vxlan.calico).
 */
static void link_pin_path(const struct wp_loader *ld, int ifindex, int dir, char *buf, size_t len)
{
	snprintf(buf, len, "%s/links/if%d_%s", ld->pin_path, ifindex, dir_names[dir]);
}

/* Remember which of our pins exist before this run, so a failed start removes only its own. */
static void note_pin(struct wp_loader *ld, const char *path)
{
	struct wp_new_pin *p;

	if (ld->nnew_pins == WP_MAX_NEW_PINS || !access(path, F_OK))
		return;
	if (strlen(path) >= sizeof(p->path))
		return;
	p = &ld->new_pins[ld->nnew_pins++];
	memcpy(p->path, path, strlen(path) + 1);
}

/*
 * In auto mode: whether the kernel has tcx links, without touching an
 * interface (ifindex 0 fails with ENODEV where tcx exists, EINVAL where the
 * attach type is unknown).
 */
static bool kernel_has_tcx(int prog_fd)
{
	int fd = bpf_link_create(prog_fd, 0, WP_BPF_TCX_INGRESS, NULL);

	if (fd >= 0) {
		close(fd);
		return true;
	}
	return errno != EINVAL && errno != EOPNOTSUPP;
}

int wp_loader_load(struct wp_loader *ld, const struct wp_load_opts *o, char *err, size_t errlen)
{
	char links_dir[300], path[600];
	struct bpf_prog_info info;
	struct bpf_map *m;
	__u32 len;
	bool had_dir;
	int ret, mounted;

	memset(ld, 0, sizeof(*ld));
	ld->tc_rec_fd = -1;
	snprintf(ld->pin_path, sizeof(ld->pin_path), "%s", o->pin_path);
	ld->attach_pref = o->attach_pref;

	ret = wp_check_kernel(err, errlen);
	if (ret)
		return ret;
	ret = wp_check_bpffs(o->pin_path, &mounted, err, errlen);
	if (ret)
		return ret;
	had_dir = access(o->pin_path, F_OK) == 0;
	ld->created_pin_dir = !had_dir;
	ret = mkdir_p(o->pin_path);
	snprintf(links_dir, sizeof(links_dir), "%s/links", o->pin_path);
	ld->created_links_dir = access(links_dir, F_OK) != 0;
	if (!ret)
		ret = mkdir_p(links_dir);
	if (ret) {
		snprintf(err, errlen, "cannot create pin directory '%s': %s", o->pin_path,
			 strerror(-ret));
		return ret;
	}

	{
		/* maps declared LIBBPF_PIN_BY_NAME are reused from (or pinned to) the pin path */
		LIBBPF_OPTS(bpf_object_open_opts, oo, .pin_root_path = o->pin_path);

		ld->skel = datapath_bpf__open_opts(&oo);
	}
	if (!ld->skel) {
		ret = -errno;
		snprintf(err, errlen, "cannot open the BPF object: %s", strerror(errno));
		goto fail_dirs;
	}
	ld->skel->rodata->probe_port = o->probe_port;
	ld->skel->rodata->vxlan_port_a = o->vxlan_ports[0];
	ld->skel->rodata->vxlan_port_b = o->vxlan_ports[1];
	ld->skel->rodata->wireguard_port = o->wireguard_port;
	ld->skel->rodata->cold_threshold_ns = o->cold_threshold_ns;
	{
		/*
		 * Tests only: the warm-SYN sample (syn_sample_mask, default 15: 1 in 16).
		 * 0 tracks every SYN, so a test can count warm retransmits exactly.
		 */
		const char *m = getenv("WARMPATH_SYN_SAMPLE_MASK");

		if (m && *m)
			ld->skel->rodata->syn_sample_mask = (__u32)strtoul(m, NULL, 0);
	}
	/* the pins this run may create (the drop tracer pins `drops` later) */
	bpf_object__for_each_map(m, ld->skel->obj) {
		if (bpf_map__pin_path(m))
			note_pin(ld, bpf_map__pin_path(m));
	}
	snprintf(path, sizeof(path), "%s/drops", o->pin_path);
	note_pin(ld, path);
	snprintf(path, sizeof(path), "%s/tc_filters", o->pin_path);
	note_pin(ld, path);
	ret = datapath_bpf__load(ld->skel);
	if (ret) {
		if (ret == -EPERM || ret == -EACCES)
			snprintf(err, errlen,
				 "loading the BPF programs was refused (%s): run as root, or with "
				 "CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON",
				 strerror(-ret));
		else if (ret == -EINVAL)
			snprintf(
				err, errlen,
				"loading the BPF object failed (%s); if this follows an upgrade, the "
				"maps pinned under %s may have an older layout: run 'warmpath cleanup "
				"--pin-path %s' (counters are lost) and start again",
				strerror(-ret), o->pin_path, o->pin_path);
		else
			snprintf(err, errlen,
				 "loading the BPF object failed: %s (run with -vv "
				 "for the verifier log)",
				 strerror(-ret));
		datapath_bpf__destroy(ld->skel);
		ld->skel = NULL;
		goto fail_dirs;
	}
	/* our programs' tags: how a tc filter dump shows a program of this build */
	for (int dir = 0; dir < 2; dir++) {
		int fd = bpf_program__fd(dir == 0 ? ld->skel->progs.wp_tc_ingress :
						    ld->skel->progs.wp_tc_egress);

		memset(&info, 0, sizeof(info));
		len = sizeof(info);
		if (!bpf_obj_get_info_by_fd(fd, &info, &len))
			memcpy(ld->tc_tag[dir], info.tag, sizeof(ld->tc_tag[dir]));
	}
	ld->tc_rec_fd = tc_record_open(o->pin_path, true);
	if (ld->tc_rec_fd < 0) {
		ret = ld->tc_rec_fd;
		snprintf(err, errlen, "creating the pinned map %s/tc_filters: %s", o->pin_path,
			 strerror(-ret));
		wp_loader_abandon(ld);
		datapath_bpf__destroy(ld->skel);
		ld->skel = NULL;
		goto fail_dirs;
	}
	if (ld->attach_pref == WP_ATTACH_PREF_AUTO &&
	    !kernel_has_tcx(bpf_program__fd(ld->skel->progs.wp_tc_ingress))) {
		log_info("kernel has no tcx links (Linux 6.6+): attaching with tc clsact filters");
		ld->attach_pref = WP_ATTACH_PREF_TC;
	}
	return 0;
fail_dirs:
	/* a start that failed leaves no empty directory behind (rmdir spares pins) */
	if (ld->created_links_dir)
		rmdir(links_dir);
	if (!had_dir)
		rmdir(o->pin_path);
	return ret;
}

/* Reuse our pinned tcx link for this hook (atomic program replace) or create one. */
static int attach_tcx(struct wp_loader *ld, struct wp_attachment *a, int dir, int prog_fd,
		      char *err, size_t errlen)
{
	struct bpf_link_info info = {};
	__u32 len = sizeof(info);
	char path[300];
	int fd, ret;

	link_pin_path(ld, a->ifindex, dir, path, sizeof(path));
	fd = bpf_obj_get(path);
	if (fd >= 0) {
		/* tcx link info shares the xdp layout: the ifindex comes first. */
		if (!bpf_obj_get_info_by_fd(fd, &info, &len) && info.type == WP_BPF_LINK_TYPE_TCX &&
		    info.xdp.ifindex == (__u32)a->ifindex && !bpf_link_update(fd, prog_fd, NULL)) {
			log_debug("%s %s: replaced the program of our pinned tcx link", a->ifname,
				  dir_names[dir]);
			a->link_fd[dir] = fd;
			return 0;
		}
		/* defunct (interface gone) or foreign to this ifindex: drop our pin */
		bpf_link_detach(fd);
		close(fd);
		unlink(path);
	}
	{
		/* first in the chain: BPF_F_BEFORE with no relative program is the head */
		LIBBPF_OPTS(bpf_link_create_opts, lo, .flags = WP_BPF_F_BEFORE);

		fd = bpf_link_create(prog_fd, a->ifindex,
				     dir == 0 ? WP_BPF_TCX_INGRESS : WP_BPF_TCX_EGRESS, &lo);
	}
	if (fd < 0) {
		snprintf(err, errlen, "tcx attach to %s %s: %s", a->ifname, dir_names[dir],
			 strerror(errno));
		return -errno;
	}
	ret = bpf_obj_pin(fd, path);
	if (ret) {
		ret = -errno;
		snprintf(err, errlen, "pinning tcx link %s: %s", path, strerror(errno));
		close(fd);
		return ret;
	}
	a->link_fd[dir] = fd;
	return 0;
}

static void drop_pinned_link(struct wp_loader *ld, int ifindex, int dir)
{
	char path[300];
	int fd;

	link_pin_path(ld, ifindex, dir, path, sizeof(path));
	fd = bpf_obj_get(path);
	if (fd < 0)
		return;
	bpf_link_detach(fd);
	close(fd);
	unlink(path);
}

/* The lowest iface_counters slot no attachment holds. */
static __u32 free_slot(const struct wp_loader *ld)
{
	for (__u32 slot = 0;; slot++) {
		int i;

		for (i = 0; i < ld->nattach && ld->attach[i].slot != slot; i++)
			;
		if (i == ld->nattach)
			return slot;
	}
}

static void write_if_flags(struct wp_loader *ld, const struct wp_attachment *a)
{
	set_if_flags(bpf_map__fd(ld->skel->maps.if_flags), a->ifindex,
		     (a->flags & WP_IF_FLAGS_MASK) | (a->slot << WP_IF_SLOT_SHIFT));
}

/*
 * One count per packet: with a WireGuard device watched, IPIP / VXLAN tunnel
 * devices are taken to be stacked on it (IPIP or VXLAN over WireGuard: each
 * packet is seen on the tunnel device, then encrypted on the WireGuard one,
 * both attributed to the same peer). Their packets then count in their
 * per-interface counters only; per peer they count on the WireGuard device,
 * whose outer (node) addresses always match a peer. Re-evaluated at every
 * attach and detach.
 */
static void update_stacked(struct wp_loader *ld)
{
	int ifaces_fd = bpf_map__fd(ld->skel->maps.ifaces);
	bool wg = false;

	for (int i = 0; i < ld->nattach; i++)
		wg |= ld->attach[i].wg && (ld->attach[i].flags & WP_IF_TUNNEL);
	for (int i = 0; i < ld->nattach; i++) {
		struct wp_attachment *a = &ld->attach[i];
		__u32 want = a->encap && wg && (a->flags & WP_IF_TUNNEL) ? WP_IF_STACKED : 0;
		struct iface_cfg cfg;
		__u32 key = a->ifindex;

		if ((a->flags & WP_IF_STACKED) == want)
			continue;
		a->flags = (a->flags & ~WP_IF_STACKED) | want;
		write_if_flags(ld, a);
		if (!bpf_map_lookup_elem(ifaces_fd, &key, &cfg)) {
			cfg.flags = a->flags;
			bpf_map_update_elem(ifaces_fd, &key, &cfg, BPF_ANY);
		}
		log_info("%s: %s", a->ifname,
			 want ? "stacked on a watched WireGuard device: counted per peer there" :
				"no longer stacked: counted per peer here");
	}
}

int wp_loader_attach(struct wp_loader *ld, const struct link_desc *l, __u32 flags, char *err,
		     size_t errlen)
{
	int progs[2] = { bpf_program__fd(ld->skel->progs.wp_tc_ingress),
			 bpf_program__fd(ld->skel->progs.wp_tc_egress) };
	int ifaces_fd = bpf_map__fd(ld->skel->maps.ifaces);
	int if_flags_fd = bpf_map__fd(ld->skel->maps.if_flags);
	struct iface_cfg cfg = {}, old_cfg = {};
	__u32 key = l->ifindex, old_flags = 0;
	struct wp_attachment *a;
	bool had_cfg;
	int ret = 0;

	if (ld->nattach == WP_MAX_IFACES) {
		snprintf(err, errlen, "more than %d interfaces", WP_MAX_IFACES);
		return -E2BIG;
	}
	if (l->ifindex >= WP_MAX_IFINDEX) {
		snprintf(err, errlen, "%s: ifindex %d is beyond the datapath's table (%d)", l->name,
			 l->ifindex, WP_MAX_IFINDEX);
		return -E2BIG;
	}
	a = &ld->attach[ld->nattach];
	memset(a, 0, sizeof(*a));
	a->ifindex = l->ifindex;
	snprintf(a->ifname, sizeof(a->ifname), "%s", l->name);
	a->flags = flags;
	a->link_fd[0] = a->link_fd[1] = -1;
	a->mode = ld->attach_pref == WP_ATTACH_PREF_TC ? WP_ATTACH_TC : WP_ATTACH_TCX;

	/* A filter we must not replace: refuse before changing anything. */
	if (a->mode == WP_ATTACH_TC) {
		ret = wp_loader_preflight(ld, l, err, errlen);
		if (ret)
			return ret;
	}
	/* what an earlier run recorded, restored if this attach fails untouched */
	had_cfg = !bpf_map_lookup_elem(ifaces_fd, &key, &old_cfg);
	bpf_map_lookup_elem(if_flags_fd, &key, &old_flags);

	/* Configure before attaching, so the first packet already knows its layout. */
	a->slot = free_slot(ld);
	a->wg = l->wireguard_go || !strcmp(l->kind, "wireguard");
	a->encap = !strcmp(l->kind, "ipip") || !strcmp(l->kind, "vxlan");
	cfg.flags = flags;
	cfg.slot = a->slot;
	snprintf(cfg.name, sizeof(cfg.name), "%s", l->name);
	cfg.attach_mode = a->mode;
	ret = bpf_map_update_elem(ifaces_fd, &key, &cfg, BPF_ANY);
	if (ret) {
		snprintf(err, errlen, "writing ifaces map: %s", strerror(errno));
		return -errno;
	}
	/* the slot in bits 16..: the datapath's per-interface counters (iface_counters) */
	write_if_flags(ld, a);
	{
		int ncpu = libbpf_num_possible_cpus();
		void *zero = ncpu > 0 ? calloc(ncpu, sizeof(struct iface_counters)) : NULL;

		/* a slot freed and taken again starts from zero */
		if (zero)
			bpf_map_update_elem(bpf_map__fd(ld->skel->maps.iface_counters), &cfg.slot,
					    zero, BPF_ANY);
		free(zero);
	}

	for (int dir = 0; dir < 2; dir++) {
		if (a->mode == WP_ATTACH_TCX) {
			ret = attach_tcx(ld, a, dir, progs[dir], err, errlen);
			if (ret && dir == 0 && ld->attach_pref == WP_ATTACH_PREF_AUTO &&
			    (ret == -EINVAL || ret == -EOPNOTSUPP)) {
				log_info(
					"%s: kernel has no tcx links (%s), falling back to tc clsact",
					a->ifname, strerror(-ret));
				a->mode = WP_ATTACH_TC;
				ld->attach_pref = WP_ATTACH_PREF_TC;
			}
		}
		/* what an earlier run left in the other mode must not run twice */
		if (a->mode == WP_ATTACH_TC) {
			drop_pinned_link(ld, a->ifindex, dir);
			ret = wp_loader_attach_tc(ld, a, dir, progs[dir], err, errlen);
		}
		if (ret)
			goto fail;
	}
	if (a->mode == WP_ATTACH_TCX)
		wp_tc_detach_ours(ld->tc_rec_fd, ld->tc_tag, a->ifindex);
	if (cfg.attach_mode != (__u32)a->mode) {
		cfg.attach_mode = a->mode;
		bpf_map_update_elem(ifaces_fd, &key, &cfg, BPF_ANY);
	}
	ld->nattach++;
	update_stacked(ld);
	return 0;
fail:
	if (a->link_fd[0] < 0 && a->link_fd[1] < 0 && !a->tc_attached[0] && !a->tc_attached[1]) {
		/* nothing attached or replaced: what an earlier run left stays as it was */
		if (had_cfg)
			bpf_map_update_elem(ifaces_fd, &key, &old_cfg, BPF_ANY);
		else
			bpf_map_delete_elem(ifaces_fd, &key);
		set_if_flags(if_flags_fd, key, old_flags);
		return ret;
	}
	/* leave nothing half-attached: our links/filters on this interface go */
	for (int dir = 0; dir < 2; dir++) {
		char path[300];

		if (a->link_fd[dir] >= 0) {
			bpf_link_detach(a->link_fd[dir]);
			close(a->link_fd[dir]);
			link_pin_path(ld, a->ifindex, dir, path, sizeof(path));
			unlink(path);
		}
	}
	if (a->mode == WP_ATTACH_TC)
		wp_tc_detach_ours(ld->tc_rec_fd, ld->tc_tag, a->ifindex);
	bpf_map_delete_elem(ifaces_fd, &key);
	set_if_flags(if_flags_fd, key, 0);
	return ret;
}

static bool attached_now(const struct wp_loader *ld, int ifindex)
{
	for (int i = 0; i < ld->nattach; i++)
		if (ld->attach[i].ifindex == ifindex)
			return true;
	return false;
}

void wp_loader_prune_stale(struct wp_loader *ld)
{
	int fd = bpf_map__fd(ld->skel->maps.ifaces);
	__u32 key, next, stale[WP_MAX_IFACES];
	char dir_path[300], path[600];
	int nstale = 0;
	struct dirent *de;
	DIR *d;

	/* ifaces entries (and tc filters) of interfaces this run does not watch */
	for (int more = !bpf_map_get_next_key(fd, NULL, &next); more;
	     more = !bpf_map_get_next_key(fd, &key, &next)) {
		key = next;
		if (!attached_now(ld, key) && nstale < WP_MAX_IFACES)
			stale[nstale++] = key;
	}
	for (int i = 0; i < nstale; i++) {
		wp_tc_detach_ours(ld->tc_rec_fd, ld->tc_tag, stale[i]);
		bpf_map_delete_elem(fd, &stale[i]);
		set_if_flags(bpf_map__fd(ld->skel->maps.if_flags), stale[i], 0);
		log_info("ifindex %u: removed what an earlier run attached there", stale[i]);
	}

	/* pinned tcx links of interfaces this run does not watch */
	snprintf(dir_path, sizeof(dir_path), "%s/links", ld->pin_path);
	d = opendir(dir_path);
	if (!d)
		return;
	while ((de = readdir(d))) {
		int lfd, ifindex;

		if (de->d_name[0] == '.')
			continue;
		if (sscanf(de->d_name, "if%d_", &ifindex) == 1 && attached_now(ld, ifindex))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir_path, de->d_name);
		lfd = bpf_obj_get(path);
		if (lfd >= 0) {
			bpf_link_detach(lfd);
			close(lfd);
		}
		unlink(path);
		log_info("%s: removed the tcx link an earlier run left", de->d_name);
	}
	closedir(d);
}

/* Undo one attachment: our links or filters, its ifaces record and if_flags slot. */
static void detach_one(struct wp_loader *ld, struct wp_attachment *a)
{
	__u32 key = a->ifindex;
	char path[300];

	for (int dir = 0; dir < 2; dir++) {
		if (a->mode == WP_ATTACH_TCX && a->link_fd[dir] >= 0) {
			bpf_link_detach(a->link_fd[dir]);
			close(a->link_fd[dir]);
			a->link_fd[dir] = -1;
			link_pin_path(ld, a->ifindex, dir, path, sizeof(path));
			unlink(path);
		}
	}
	/* our filters go; the clsact qdisc only if we created it and it is empty now */
	if (a->mode == WP_ATTACH_TC)
		wp_tc_detach_ours(ld->tc_rec_fd, ld->tc_tag, a->ifindex);
	bpf_map_delete_elem(bpf_map__fd(ld->skel->maps.ifaces), &key);
	set_if_flags(bpf_map__fd(ld->skel->maps.if_flags), key, 0);
}

void wp_loader_detach_index(struct wp_loader *ld, int i)
{
	if (i < 0 || i >= ld->nattach)
		return;
	detach_one(ld, &ld->attach[i]);
	memmove(&ld->attach[i], &ld->attach[i + 1], (ld->nattach - i - 1) * sizeof(ld->attach[0]));
	ld->nattach--;
	update_stacked(ld);
}

void wp_loader_detach_all(struct wp_loader *ld)
{
	for (int i = 0; i < ld->nattach; i++)
		detach_one(ld, &ld->attach[i]);
	ld->nattach = 0;
}

void wp_loader_prefixes_changed(struct wp_loader *ld)
{
	__atomic_add_fetch(&ld->skel->bss->prefix_gen, 1, __ATOMIC_RELEASE);
}

void wp_loader_abandon(struct wp_loader *ld)
{
	char path[300];

	for (int i = 0; i < ld->nnew_pins; i++)
		if (!unlink(ld->new_pins[i].path))
			log_debug("failed start: removed %s", ld->new_pins[i].path);
	ld->nnew_pins = 0;
	snprintf(path, sizeof(path), "%s/links", ld->pin_path);
	if (ld->created_links_dir)
		rmdir(path);
	if (ld->created_pin_dir)
		rmdir(ld->pin_path);
}

void wp_loader_destroy(struct wp_loader *ld)
{
	datapath_bpf__destroy(ld->skel);
	ld->skel = NULL;
	if (ld->tc_rec_fd >= 0)
		close(ld->tc_rec_fd);
	ld->tc_rec_fd = -1;
}
