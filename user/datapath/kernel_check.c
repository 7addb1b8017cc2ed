// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The kernel floor, by feature probes rather than version numbers (distribution
 * kernels backport): what bpf/datapath.bpf.c needs, with the mainline release
 * that brought it.
 *
 *   BTF in /sys/kernel/btf/vmlinux (CO-RE)           5.4 (CONFIG_DEBUG_INFO_BTF)
 *   mmap-able global data (.bss written by the agent) 5.5
 *   BPF_MAP_TYPE_RINGBUF (events)                    5.8
 *   bpf_ktime_get_coarse_ns (tc programs)            5.11
 *   atomic fetch-add / cmpxchg (BPF_ATOMIC | FETCH)  5.12   <- the floor
 *   -mcpu=v3 (jmp32, alu32)                          5.1
 * Optional, probed where used: tcx links 6.6 (else tc clsact), tp_btf kfree_skb
 * for the drop tracer 5.5 (its drop reason 5.17). The floor is below Ubuntu
 * 22.04's 5.15 and RHEL 9's 5.14.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/vfs.h>
#include <linux/bpf.h>
#include <linux/magic.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "kernel_check.h"
#include "log.h"

/* r0 = 0; *(u64 *)(r10 - 8) = 0; r1 = 1; r1 = atomic_fetch_add(r10 - 8, r1); exit */
static int probe_atomic_fetch(void)
{
	const struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_ST | BPF_MEM | BPF_DW, .dst_reg = BPF_REG_10, .off = -8, .imm = 0 },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_1, .imm = 1 },
		{ .code = BPF_STX | BPF_ATOMIC | BPF_DW,
		  .dst_reg = BPF_REG_10,
		  .src_reg = BPF_REG_1,
		  .off = -8,
		  .imm = BPF_ADD | BPF_FETCH },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	int fd;

	fd = bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, "wp_probe_atomic", "GPL", insns,
			   sizeof(insns) / sizeof(insns[0]), NULL);
	if (fd >= 0) {
		close(fd);
		return 1;
	}
	return errno == EINVAL ? 0 : -errno;
}

static void missing(char *err, size_t errlen, const char *what, const char *since)
{
	struct utsname u = {};

	uname(&u);
	snprintf(err, errlen,
		 "this kernel (%s) lacks %s (Linux %s): warmpath needs Linux " WP_KERNEL_FLOOR
		 " or later (or a distribution kernel with these BPF features backported)",
		 u.release, what, since);
}

int wp_check_kernel(char *err, size_t errlen)
{
	int ret;

	if (access("/sys/kernel/btf/vmlinux", R_OK)) {
		snprintf(err, errlen,
			 "this kernel exposes no BTF (/sys/kernel/btf/vmlinux missing): warmpath "
			 "needs a kernel built with CONFIG_DEBUG_INFO_BTF=y");
		return -ENOTSUP;
	}
	/*
	 * A probe answers 0 when the kernel refuses, whatever the reason: without
	 * the privilege to load anything, every feature looks missing. Only when
	 * the oldest map and program types load do the answers mean something;
	 * otherwise the load itself reports (e.g. "run as root, or with CAP_BPF").
	 */
	if (libbpf_probe_bpf_map_type(BPF_MAP_TYPE_ARRAY, NULL) != 1 ||
	    libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_SCHED_CLS, NULL) != 1) {
		log_debug("kernel feature probes not possible here: skipped");
		return 0;
	}
	ret = libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, NULL);
	if (ret == 0) {
		missing(err, errlen, "BPF ring buffer maps", "5.8");
		return -ENOTSUP;
	}
	ret = libbpf_probe_bpf_helper(BPF_PROG_TYPE_SCHED_CLS, BPF_FUNC_ktime_get_coarse_ns, NULL);
	if (ret == 0) {
		missing(err, errlen, "the BPF helper bpf_ktime_get_coarse_ns", "5.11");
		return -ENOTSUP;
	}
	ret = probe_atomic_fetch();
	if (ret == 0) {
		missing(err, errlen, "BPF atomic fetch instructions (atomic_fetch_add, cmpxchg)",
			"5.12");
		return -ENOTSUP;
	}
	if (ret < 0)
		log_debug("kernel feature probe inconclusive: %s", strerror(-ret));
	return 0;
}

static bool is_bpffs(const char *path)
{
	struct statfs st;

	return !statfs(path, &st) && st.f_type == BPF_FS_MAGIC;
}

/* /sys/fs/bpf itself or a path below it */
static bool under_bpffs_root(const char *pin_path)
{
	size_t n = strlen(WP_BPFFS_ROOT);

	return !strncmp(pin_path, WP_BPFFS_ROOT, n) && (pin_path[n] == '/' || !pin_path[n]);
}

int wp_check_bpffs(const char *pin_path, int *mounted, char *err, size_t errlen)
{
	const char *why = "";
	char buf[256], *slash;
	struct statfs st;

	*mounted = 0;
	if (under_bpffs_root(pin_path) && !is_bpffs(WP_BPFFS_ROOT)) {
		/* like Cilium: a host daemon mounts the bpffs it pins on */
		if (!mount("bpf", WP_BPFFS_ROOT, "bpf", 0, "mode=0700")) {
			log_info(
				"mounted a BPF filesystem at " WP_BPFFS_ROOT
				" (none was mounted in this mount namespace; under 'ip netns exec', "
				"which mounts a fresh /sys, pins made there are not the host's: "
				"'nsenter --net=/run/netns/NAME' keeps the host's bpffs)");
			*mounted = 1;
		} else {
			why = errno == EPERM ? " (mounting it needs CAP_SYS_ADMIN)" : "";
			log_debug("mount -t bpf bpf " WP_BPFFS_ROOT ": %s", strerror(errno));
		}
	}
	/* the nearest existing ancestor of the pin path decides */
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
			 "pin path '%s' is not on a BPF filesystem (%s is not bpffs)%s: mount it "
			 "with 'mount -t bpf bpf /sys/fs/bpf' or pass --pin-path DIR on a bpffs "
			 "('ip netns exec' mounts a fresh /sys: 'nsenter --net=/run/netns/NAME' "
			 "keeps the host's bpffs)",
			 pin_path, buf, why);
		return -ENOTSUP;
	}
	return 0;
}
