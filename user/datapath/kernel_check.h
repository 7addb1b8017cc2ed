/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What warmpath needs of the running kernel, checked at start with an error
 * that names what is missing, and the bpffs its maps are pinned on.
 */
#ifndef __WARMPATH_KERNEL_CHECK_H
#define __WARMPATH_KERNEL_CHECK_H

#include <stddef.h>

/* The oldest kernel whose BPF features the datapath uses (see kernel_check.c). */
#define WP_KERNEL_FLOOR "5.12"
#define WP_BPFFS_ROOT "/sys/fs/bpf"

/*
 * Probe the kernel for the BPF features the datapath uses (BTF, ring buffer
 * maps, bpf_ktime_get_coarse_ns, atomic fetch instructions). 0 when all are
 * there (or could not be probed: the load reports then), -ENOTSUP with err set
 * naming the first missing one.
 */
int wp_check_kernel(char *err, size_t errlen);

/*
 * The pin path must be on a bpffs. When it lies under /sys/fs/bpf and that is
 * not a bpffs, mount one there if we may (CAP_SYS_ADMIN), as Cilium does;
 * otherwise fail with an error saying how to mount it. *mounted tells whether
 * this call mounted it.
 */
int wp_check_bpffs(const char *pin_path, int *mounted, char *err, size_t errlen);

#endif /* __WARMPATH_KERNEL_CHECK_H */
