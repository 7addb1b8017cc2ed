// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include "netns_worker.h"

static int lo_up(void)
{
	struct ifreq ifr = {};
	int fd, ret = -1;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	strcpy(ifr.ifr_name, "lo");
	if (!ioctl(fd, SIOCGIFFLAGS, &ifr)) {
		ifr.ifr_flags |= IFF_UP;
		ret = ioctl(fd, SIOCSIFFLAGS, &ifr);
	}
	close(fd);
	return ret;
}

int netns_worker_fork(struct netns_worker *w, void (*main)(int cmd_fd, int ack_fd, int setup_err))
{
	int cmd[2], ack[2], err;

	if (pipe2(cmd, O_CLOEXEC))
		return -errno;
	if (pipe2(ack, O_CLOEXEC)) {
		err = -errno;
		close(cmd[0]);
		close(cmd[1]);
		return err;
	}
	fflush(stdout);
	fflush(stderr);
	w->pid = fork();
	if (w->pid == 0) {
		close(cmd[1]);
		close(ack[0]);
		err = unshare(CLONE_NEWNET) || lo_up() ? (errno ?: EIO) : 0;
		main(cmd[0], ack[1], err);
		_exit(1);
	}
	err = w->pid < 0 ? -errno : 0;
	close(cmd[0]);
	close(ack[1]);
	w->cmd_fd = cmd[1];
	w->ack_fd = ack[0];
	return err;
}

int netns_worker_note_netns(struct netns_worker *w)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%d/ns/net", w->pid);
	if (stat(path, &st))
		return -errno;
	w->netns_ino = st.st_ino;
	return 0;
}

void netns_worker_stop(struct netns_worker *w)
{
	if (w->cmd_fd >= 0) {
		(void)!write(w->cmd_fd, "q", 1);
		close(w->cmd_fd);
	}
	if (w->ack_fd >= 0)
		close(w->ack_fd);
	if (w->pid > 0)
		waitpid(w->pid, NULL, 0);
	w->pid = -1;
	w->cmd_fd = w->ack_fd = -1;
}
