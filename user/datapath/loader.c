// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "datapath.skel.h"
#include "loader.h"
#include "log.h"

/* Debian's libbpf 1.1 and UAPI headers predate tcx (kernel 6.6). */
#define WP_BPF_TCX_INGRESS 46
#define WP_BPF_TCX_EGRESS 47
#define WP_BPF_LINK_TYPE_TCX 11

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

static bool is_our_prog_name(const char *name)
{
	return !strcmp(name, "wp_tc_ingress") || !strcmp(name, "wp_tc_egress");
}

static bool prog_id_is_ours(__u32 id)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	bool ours = false;
	int fd;

	fd = bpf_prog_get_fd_by_id(id);
	if (fd < 0)
		return false;
	if (!bpf_obj_get_info_by_fd(fd, &info, &len))
		ours = is_our_prog_name(info.name);
	close(fd);
	return ours;
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

/* The pin path must be on a bpffs: check its nearest existing ancestor. */
static int check_bpffs(const char *pin_path, char *err, size_t errlen)
{
	char buf[256], *slash;
	struct statfs st;

	snprintf(buf, sizeof(buf), "%s", pin_path);
	while (statfs(buf, &st)) {
		slash = strrchr(buf, '/');
		if (!slash || slash == buf) {
			snprintf(err, errlen, "pin path '%s': %s", pin_path, strerror(errno));
			return -ENOENT;
		}
		*slash = '\0';
	}
	if (st.f_type != BPF_FS_MAGIC) {
		snprintf(err, errlen,
			 "pin path '%s' is not on a BPF filesystem (%s is not bpffs): mount it "
			 "with 'mount -t bpf bpf /sys/fs/bpf' or pass --pin-path DIR on a bpffs "
			 "('ip netns exec' mounts a fresh /sys: 'nsenter --net=/run/netns/NAME' "
			 "keeps the host's bpffs)",
			 pin_path, buf);
		return -ENOTSUP;
	}
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

int wp_loader_load(struct wp_loader *ld, const struct wp_load_opts *o, char *err, size_t errlen)
{
	char links_dir[300];
	bool had_dir;
	int ret;

	memset(ld, 0, sizeof(*ld));
	snprintf(ld->pin_path, sizeof(ld->pin_path), "%s", o->pin_path);
	ld->attach_pref = o->attach_pref;

	if (access("/sys/kernel/btf/vmlinux", R_OK)) {
		snprintf(err, errlen,
			 "this kernel exposes no BTF (/sys/kernel/btf/vmlinux missing): warmpath "
			 "needs a kernel built with CONFIG_DEBUG_INFO_BTF=y");
		return -ENOTSUP;
	}
	ret = check_bpffs(o->pin_path, err, errlen);
	if (ret)
		return ret;
	had_dir = access(o->pin_path, F_OK) == 0;
	ret = mkdir_p(o->pin_path);
	snprintf(links_dir, sizeof(links_dir), "%s/links", o->pin_path);
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
		 * Tests only: the warm-SYN sample (syn_sample_mask, default 7: 1 in 8).
		 * 0 tracks every SYN, so a test can count warm retransmits exactly.
		 */
		const char *m = getenv("WARMPATH_SYN_SAMPLE_MASK");

		if (m && *m)
			ld->skel->rodata->syn_sample_mask = (__u32)strtoul(m, NULL, 0);
	}
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
	return 0;
fail_dirs:
	/* a start that failed leaves no empty directory behind (rmdir spares pins) */
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
	fd = bpf_link_create(prog_fd, a->ifindex, dir == 0 ? WP_BPF_TCX_INGRESS : WP_BPF_TCX_EGRESS,
			     NULL);
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

static int attach_tc(struct wp_loader *ld, struct wp_attachment *a, int dir, int prog_fd, char *err,
		     size_t errlen)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = a->ifindex,
		    .attach_point = dir == 0 ? BPF_TC_INGRESS : BPF_TC_EGRESS);
	LIBBPF_OPTS(bpf_tc_opts, q, .handle = WP_TC_HANDLE, .priority = WP_TC_PRIORITY);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = WP_TC_HANDLE, .priority = WP_TC_PRIORITY,
		    .prog_fd = prog_fd, .flags = BPF_TC_F_REPLACE);
	int ret;

	ret = bpf_tc_hook_create(&hook);
	if (!ret)
		a->created_hook = true;
	else if (ret != -EEXIST) {
		snprintf(err, errlen, "creating clsact on %s: %s", a->ifname, strerror(-ret));
		return ret;
	}
	/* Our handle/priority taken by somebody else's program: refuse to replace it. */
	if (!bpf_tc_query(&hook, &q) && !prog_id_is_ours(q.prog_id)) {
		snprintf(err, errlen,
			 "tc %s filter handle 0x%x priority 0x%x on %s belongs to another program "
			 "(id %u); not replacing it",
			 dir_names[dir], WP_TC_HANDLE, WP_TC_PRIORITY, a->ifname, q.prog_id);
		return -EBUSY;
	}
	ret = bpf_tc_attach(&hook, &opts);
	if (ret) {
		snprintf(err, errlen, "tc attach to %s %s: %s", a->ifname, dir_names[dir],
			 strerror(-ret));
		return ret;
	}
	return 0;
}

/* Remove our tc filter at (ifindex, dir) if the program there is ours. */
static void detach_tc_if_ours(int ifindex, int dir)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
		    .attach_point = dir == 0 ? BPF_TC_INGRESS : BPF_TC_EGRESS);
	LIBBPF_OPTS(bpf_tc_opts, q, .handle = WP_TC_HANDLE, .priority = WP_TC_PRIORITY);
	LIBBPF_OPTS(bpf_tc_opts, d, .handle = WP_TC_HANDLE, .priority = WP_TC_PRIORITY);

	if (!bpf_tc_query(&hook, &q) && prog_id_is_ours(q.prog_id))
		bpf_tc_detach(&hook, &d);
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

int wp_loader_attach(struct wp_loader *ld, const struct link_desc *l, __u32 flags, char *err,
		     size_t errlen)
{
	int progs[2] = { bpf_program__fd(ld->skel->progs.wp_tc_ingress),
			 bpf_program__fd(ld->skel->progs.wp_tc_egress) };
	struct wp_attachment *a;
	struct iface_cfg cfg = {};
	__u32 key = l->ifindex;
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

	/* Configure before attaching, so the first packet already knows its layout. */
	cfg.flags = flags;
	cfg.slot = ld->nattach;
	snprintf(cfg.name, sizeof(cfg.name), "%s", l->name);
	a->mode = ld->attach_pref == WP_ATTACH_PREF_TC ? WP_ATTACH_TC : WP_ATTACH_TCX;
	cfg.attach_mode = a->mode;
	ret = bpf_map_update_elem(bpf_map__fd(ld->skel->maps.ifaces), &key, &cfg, BPF_ANY);
	if (ret) {
		snprintf(err, errlen, "writing ifaces map: %s", strerror(errno));
		return -errno;
	}
	/* the slot in bits 16..: the datapath's per-interface counters (iface_counters) */
	set_if_flags(bpf_map__fd(ld->skel->maps.if_flags), key,
		     (flags & WP_IF_FLAGS_MASK) | (cfg.slot << WP_IF_SLOT_SHIFT));
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
			ret = attach_tc(ld, a, dir, progs[dir], err, errlen);
		} else if (!ret) {
			detach_tc_if_ours(a->ifindex, dir);
		}
		if (ret)
			goto fail;
	}
	if (cfg.attach_mode != (__u32)a->mode) {
		cfg.attach_mode = a->mode;
		bpf_map_update_elem(bpf_map__fd(ld->skel->maps.ifaces), &key, &cfg, BPF_ANY);
	}
	ld->nattach++;
	return 0;
fail:
	/* leave nothing half-attached: our links/filters on this interface go */
	for (int dir = 0; dir < 2; dir++) {
		char path[300];

		if (a->link_fd[dir] >= 0) {
			bpf_link_detach(a->link_fd[dir]);
			close(a->link_fd[dir]);
			link_pin_path(ld, a->ifindex, dir, path, sizeof(path));
			unlink(path);
		}
		if (a->mode == WP_ATTACH_TC)
			detach_tc_if_ours(a->ifindex, dir);
	}
	bpf_map_delete_elem(bpf_map__fd(ld->skel->maps.ifaces), &key);
	set_if_flags(bpf_map__fd(ld->skel->maps.if_flags), key, 0);
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
		detach_tc_if_ours(stale[i], 0);
		detach_tc_if_ours(stale[i], 1);
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
		} else if (a->mode == WP_ATTACH_TC) {
			detach_tc_if_ours(a->ifindex, dir);
		}
	}
	if (a->mode == WP_ATTACH_TC && a->created_hook) {
		LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = a->ifindex,
			    .attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS);
		bpf_tc_hook_destroy(&hook);
	}
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

void wp_loader_destroy(struct wp_loader *ld)
{
	datapath_bpf__destroy(ld->skel);
	ld->skel = NULL;
}

int wp_cleanup(const char *pin_path, bool verbose)
{
	char path[600], dir_path[300];
	struct datapath_bpf *skel;
	struct bpf_map *m;
	struct dirent *de;
	int fd, removed = 0;
	__u32 key, next;
	DIR *d;

	/* 1. tc filters of ours on the interfaces recorded in the pinned ifaces map */
	snprintf(path, sizeof(path), "%s/ifaces", pin_path);
	fd = bpf_obj_get(path);
	if (fd >= 0) {
		for (int more = !bpf_map_get_next_key(fd, NULL, &next); more;
		     more = !bpf_map_get_next_key(fd, &key, &next)) {
			key = next;
			detach_tc_if_ours(key, 0);
			detach_tc_if_ours(key, 1);
		}
		close(fd);
	}

	/* 2. our pinned tcx links */
	snprintf(dir_path, sizeof(dir_path), "%s/links", pin_path);
	d = opendir(dir_path);
	if (d) {
		while ((de = readdir(d))) {
			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", dir_path, de->d_name);
			fd = bpf_obj_get(path);
			if (fd >= 0) {
				bpf_link_detach(fd);
				close(fd);
			}
			if (!unlink(path)) {
				removed++;
				if (verbose)
					printf("removed link %s\n", path);
			}
		}
		closedir(d);
		rmdir(dir_path);
	}

	/* 3. our map pins, by the names the object defines; foreign pins stay */
	skel = datapath_bpf__open();
	if (!skel) {
		fprintf(stderr, "cannot open the BPF object: %s\n", strerror(errno));
		return -errno;
	}
	bpf_object__for_each_map(m, skel->obj) {
		if (bpf_map__is_internal(m))
			continue;
		snprintf(path, sizeof(path), "%s/%s", pin_path, bpf_map__name(m));
		if (!unlink(path)) {
			removed++;
			if (verbose)
				printf("removed map %s\n", path);
		}
	}
	datapath_bpf__destroy(skel);
	/* the drop tracer's own map (bpf/drops.bpf.c); the rest it shares with the datapath */
	snprintf(path, sizeof(path), "%s/drops", pin_path);
	if (!unlink(path)) {
		removed++;
		if (verbose)
			printf("removed map %s\n", path);
	}
	if (rmdir(pin_path) && errno != ENOENT && verbose)
		printf("kept %s: %s\n", pin_path, strerror(errno));
	return removed;
}
