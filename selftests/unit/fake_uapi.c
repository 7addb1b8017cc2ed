// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* A fake wireguard-go UAPI server: see fake_uapi.h. */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include "fake_uapi.h"
#include "test_progs.h"
#include "wg_uapi.h"

static void fake_uapi_wait_close(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char c[256];

	/* until the client hangs up (at most 5 s) */
	while (poll(&p, 1, 5000) == 1 && recv(fd, c, sizeof(c), 0) > 0)
		;
}

static void *fake_uapi_main(void *arg)
{
	struct fake_uapi *s = arg;
	size_t got = 0, len, off = 0;
	struct pollfd p = { .fd = s->lfd, .events = POLLIN };
	int fd;

	if (poll(&p, 1, 5000) != 1)
		return NULL;
	fd = accept(s->lfd, NULL, NULL);
	if (fd < 0)
		return NULL;
	while (got < sizeof(s->request) - 1 && !strstr(s->request, "\n\n")) {
		ssize_t n = recv(fd, s->request + got, sizeof(s->request) - 1 - got, 0);

		if (n <= 0)
			break;
		got += n;
	}
	len = s->reply ? strlen(s->reply) : 0;
	switch (s->mode) {
	case FAKE_REPLY:
		while (off < len) {
			size_t n = len - off < s->chunk ? len - off : s->chunk;

			if (send(fd, s->reply + off, n, MSG_NOSIGNAL) < 0)
				break;
			off += n;
			usleep(200);
		}
		fake_uapi_wait_close(fd);
		break;
	case FAKE_SILENT:
		fake_uapi_wait_close(fd);
		break;
	case FAKE_CLOSE_EARLY:
		send(fd, s->reply, len / 2, MSG_NOSIGNAL);
		break;
	case FAKE_FLOOD: {
		static const char line[] =
			"future_key=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n";

		for (int i = 0; i < (int)(2 * WG_UAPI_MAX_REPLY / (sizeof(line) - 1)); i++)
			if (send(fd, line, sizeof(line) - 1, MSG_NOSIGNAL) < 0)
				break;
		break;
	}
	}
	close(fd);
	return NULL;
}

bool fake_uapi_start(struct fake_uapi *s, enum fake_mode mode, const char *reply, size_t chunk)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };

	memset(s, 0, sizeof(*s));
	s->lfd = -1;
	s->mode = mode;
	s->reply = reply;
	s->chunk = chunk ?: 1 << 20;
	strcpy(s->dir, "/tmp/wp-wg-uapi.XXXXXX");
	if (!ASSERT_OK_PTR(mkdtemp(s->dir), "mkdtemp"))
		return false;
	snprintf(s->path, sizeof(s->path), "%s/wgfake.sock", s->dir);
	strcpy(sun.sun_path, s->path);
	s->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (!ASSERT_GE(s->lfd, 0, "socket") ||
	    !ASSERT_OK(bind(s->lfd, (struct sockaddr *)&sun, sizeof(sun)), "bind") ||
	    !ASSERT_OK(listen(s->lfd, 4), "listen") ||
	    !ASSERT_OK(pthread_create(&s->thread, NULL, fake_uapi_main, s), "pthread_create")) {
		if (s->lfd >= 0)
			close(s->lfd);
		unlink(s->path);
		rmdir(s->dir);
		return false;
	}
	return true;
}

void fake_uapi_stop(struct fake_uapi *s)
{
	pthread_join(s->thread, NULL);
	close(s->lfd);
	unlink(s->path);
	rmdir(s->dir);
}
