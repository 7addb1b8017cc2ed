// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A foreign program for the device tests: the smallest tc program there is,
 * `r0 = 0; exit` (TC_ACT_OK for a tc filter, TCX_PASS for a tcx link), which
 * ends the chain and so hides every packet from a program that runs after it.
 * The tests attach it *before* warmpath starts, the way Cilium's programs are
 * already there on a node, and check warmpath's counts stay exact.
 *
 *   foreign_prog tcx IFINDEX ingress|egress PIN   a tcx link, pinned at PIN
 *                                                 (remove the pin to detach)
 *   foreign_prog tc IFINDEX ingress|egress HANDLE PRIO
 *                                                 a tc filter (clsact created
 *                                                 when missing)
 * Compiled by the test that uses it (cc foreign_prog.c -lbpf); prints the
 * program id.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#define TCX_INGRESS 46 /* BPF_TCX_INGRESS, newer than Debian 12's headers */
#define TCX_EGRESS 47

int main(int argc, char **argv)
{
	const struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	int prog, ifindex, ingress, fd;

	if (argc < 5 || (strcmp(argv[1], "tcx") && strcmp(argv[1], "tc")) ||
	    (!strcmp(argv[1], "tc") && argc < 6)) {
		fprintf(stderr,
			"usage: %s tcx IFINDEX ingress|egress PIN\n"
			"       %s tc IFINDEX ingress|egress HANDLE PRIO\n",
			argv[0], argv[0]);
		return 2;
	}
	libbpf_set_print(NULL); /* "Exclusivity flag on" when clsact exists: expected */
	ifindex = atoi(argv[2]);
	ingress = !strcmp(argv[3], "ingress");
	prog = bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, "foreign_pass", "GPL", insns, 2, NULL);
	if (prog < 0) {
		perror("bpf_prog_load");
		return 1;
	}
	bpf_obj_get_info_by_fd(prog, &info, &len);
	if (!strcmp(argv[1], "tcx")) {
		fd = bpf_link_create(prog, ifindex, ingress ? TCX_INGRESS : TCX_EGRESS, NULL);
		if (fd < 0 || bpf_obj_pin(fd, argv[4])) {
			perror("tcx link");
			return 1;
		}
	} else {
		LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
			    .attach_point = ingress ? BPF_TC_INGRESS : BPF_TC_EGRESS);
		LIBBPF_OPTS(bpf_tc_opts, opts, .prog_fd = prog,
			    .handle = (__u32)strtoul(argv[4], NULL, 0),
			    .priority = (__u32)strtoul(argv[5], NULL, 0));
		int ret = bpf_tc_hook_create(&hook);

		if (ret && ret != -EEXIST) {
			fprintf(stderr, "clsact: %s\n", strerror(-ret));
			return 1;
		}
		ret = bpf_tc_attach(&hook, &opts);
		if (ret) {
			fprintf(stderr, "tc attach: %s\n", strerror(-ret));
			return 1;
		}
	}
	printf("%u\n", info.id);
	return 0;
}
