/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A forked helper process in a network namespace of its own, driven over two
 * pipes: the parent writes commands on cmd_fd, the child answers on ack_fd.
 * The drop-tracer test and its benchmark use it to make kernel drops in a
 * namespace the tracer can tell apart from the test's own.
 */
#ifndef __WARMPATH_NETNS_WORKER_H
#define __WARMPATH_NETNS_WORKER_H

#include <sys/types.h>
#include <linux/types.h>

struct netns_worker {
	pid_t pid;
	int cmd_fd; /* parent -> child */
	int ack_fd; /* child -> parent */
	__u32 netns_ino; /* the child's network namespace */
};

#define NETNS_WORKER_INIT                             \
	{                                             \
		.pid = -1, .cmd_fd = -1, .ack_fd = -1 \
	}

/*
 * Forks a child that moves to a new network namespace with lo up, then runs
 * main(cmd_fd, ack_fd, setup_err) — setup_err is 0 or the errno of that setup,
 * for main to report in its first answer — and must not return. The parent
 * gets its pipe ends in w; once the child has answered, netns_worker_note_netns()
 * records which namespace it is in.
 */
int netns_worker_fork(struct netns_worker *w, void (*main)(int cmd_fd, int ack_fd, int setup_err));
int netns_worker_note_netns(struct netns_worker *w);
/* Sends 'q' (not EOF: a worker forked later holds a copy of this pipe's write
 * end), closes the pipes and reaps the child. */
void netns_worker_stop(struct netns_worker *w);

#endif /* __WARMPATH_NETNS_WORKER_H */
