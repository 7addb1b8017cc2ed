// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Baseline for `test_progs --bench`: a tc program that does nothing, so the
 * benchmark can subtract the cost of BPF_PROG_TEST_RUN itself.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

SEC("tc")
int bench_empty(struct __sk_buff *skb)
{
	return -1; /* TC_ACT_UNSPEC, like the datapath */
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
