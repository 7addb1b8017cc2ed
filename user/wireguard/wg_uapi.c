// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The wireguard-go UAPI client: see wg_uapi.h. The reply parser is
 * wg_uapi_parse.c.
 *
 * The UAPI protocol (https://www.wireguard.com/xplatform/): the client sends
 * "get=1\n\n"; the daemon answers key=value lines, "errno=N" and an empty
 * line, and keeps the connection open for more requests.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include "util.h"
#include "wg_uapi.h"

#define WG_UAPI_REQUEST "get=1\n\n"
#define WG_REPLY_CHUNK 4096

/* ---- the UAPI client ---- */

/* Milliseconds left until deadline (monotonic ns), at least 0. */
static int ms_left(__u64 deadline)
{
	__u64 now = wp_now_ns();

	return now >= deadline ? 0 : (int)((deadline - now + 999999) / 1000000);
}

/* Wait for events on fd until deadline: 1 ready, 0 timed out, -errno. */
static int wait_fd(int fd, short events, __u64 deadline)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	int n;

	for (;;) {
		n = poll(&pfd, 1, ms_left(deadline));
		if (n >= 0 || errno != EINTR)
			break;
	}
	if (n < 0)
		return -errno;
	return n;
}

static int uapi_connect(const char *path, __u64 deadline, char *err, size_t errlen)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd, ret, soerr = 0;
	socklen_t sl = sizeof(soerr);

	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "UAPI socket path too long: %s", path);
		return -ENAMETOOLONG;
	}
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return ret;
	}
	if (!connect(fd, (struct sockaddr *)&sun, sizeof(sun)))
		return fd;
	ret = -errno;
	if (ret == -EINPROGRESS) {
		ret = wait_fd(fd, POLLOUT, deadline);
		if (ret > 0) {
			if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl))
				soerr = errno;
			if (!soerr)
				return fd;
			ret = -soerr;
		} else if (!ret) {
			ret = -ETIMEDOUT;
		}
	}
	snprintf(err, errlen, "connect %s: %s%s", path, strerror(-ret),
		 ret == -ECONNREFUSED ? " (stale socket: is wireguard-go running?)" :
		 ret == -EAGAIN	      ? " (wireguard-go busy)" :
					"");
	close(fd);
	return ret;
}

static int uapi_send(int fd, const char *msg, size_t len, __u64 deadline, char *err, size_t errlen)
{
	size_t off = 0;

	while (off < len) {
		ssize_t n = send(fd, msg + off, len - off, MSG_NOSIGNAL);
		int w;

		if (n >= 0) {
			off += n;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN) {
			int e = errno;

			snprintf(err, errlen, "UAPI send: %s", strerror(e));
			return -e;
		}
		w = wait_fd(fd, POLLOUT, deadline);
		if (w < 0 || !w) {
			snprintf(err, errlen, "UAPI send: %s", w ? strerror(-w) : "timed out");
			return w ? w : -ETIMEDOUT;
		}
	}
	return 0;
}

/*
 * Read until the empty line that closes a reply. *out (malloc'd, wiped and
 * freed by the caller) holds *outlen bytes up to and including it.
 */
static int uapi_recv(int fd, __u64 deadline, int timeout_ms, char **out, size_t *outlen, char *err,
		     size_t errlen)
{
	size_t len = 0, cap = 0, scan = 0;
	char *buf = NULL;
	int ret;

	for (;;) {
		ssize_t n;

		if (len == cap) {
			size_t ncap = cap ? cap * 2 : WG_REPLY_CHUNK;
			char *nbuf;

			if (cap >= WG_UAPI_MAX_REPLY) {
				snprintf(err, errlen, "UAPI reply longer than %u bytes",
					 WG_UAPI_MAX_REPLY);
				ret = -EMSGSIZE;
				goto fail;
			}
			if (ncap > WG_UAPI_MAX_REPLY)
				ncap = WG_UAPI_MAX_REPLY;
			/* grow by hand: realloc would leave the old copy (a private key) unwiped */
			nbuf = malloc(ncap);
			if (!nbuf) {
				snprintf(err, errlen, "out of memory reading the UAPI reply");
				ret = -ENOMEM;
				goto fail;
			}
			if (buf) {
				memcpy(nbuf, buf, len);
				explicit_bzero(buf, cap);
				free(buf);
			}
			buf = nbuf;
			cap = ncap;
		}
		n = recv(fd, buf + len, cap - len, 0);
		if (n > 0) {
			len += n;
			for (; scan < len; scan++) {
				if (buf[scan] == '\n' && (scan == 0 || buf[scan - 1] == '\n')) {
					*out = buf;
					*outlen = scan + 1;
					return 0;
				}
			}
			continue;
		}
		if (!n) {
			snprintf(
				err, errlen,
				"UAPI connection closed after %zu bytes, before the end of the reply",
				len);
			ret = -EPROTO;
			goto fail;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN) {
			ret = -errno;
			snprintf(err, errlen, "UAPI recv: %s", strerror(errno));
			goto fail;
		}
		ret = wait_fd(fd, POLLIN, deadline);
		if (ret <= 0) {
			if (!ret)
				snprintf(err, errlen,
					 "no complete UAPI reply within %d ms (%zu bytes)",
					 timeout_ms, len);
			else
				snprintf(err, errlen, "UAPI poll: %s", strerror(-ret));
			ret = ret ? ret : -ETIMEDOUT;
			goto fail;
		}
	}
fail:
	if (buf) {
		explicit_bzero(buf, cap);
		free(buf);
	}
	return ret;
}

int wg_uapi_query(const char *sock_path, int timeout_ms, struct wg_device *dev, char *err,
		  size_t errlen)
{
	__u64 deadline = wp_now_ns() + (__u64)(timeout_ms > 0 ? timeout_ms : 0) * 1000000ull;
	char *reply = NULL;
	size_t len = 0;
	int fd, ret;

	memset(dev, 0, sizeof(*dev));
	if (errlen)
		err[0] = '\0';
	fd = uapi_connect(sock_path, deadline, err, errlen);
	if (fd < 0)
		return fd;
	ret = uapi_send(fd, WG_UAPI_REQUEST, strlen(WG_UAPI_REQUEST), deadline, err, errlen);
	if (!ret)
		ret = uapi_recv(fd, deadline, timeout_ms, &reply, &len, err, errlen);
	close(fd);
	if (ret)
		return ret;
	ret = wg_uapi_parse(reply, len, dev, err, errlen);
	explicit_bzero(reply, len);
	free(reply);
	return ret;
}

static bool valid_ifname(const char *ifname)
{
	size_t n = strlen(ifname);

	return n && n < WP_IFNAME_LEN && !strchr(ifname, '/') && strcmp(ifname, ".") &&
	       strcmp(ifname, "..");
}

bool wg_uapi_has_socket(const char *ifname)
{
	char path[sizeof(WG_UAPI_DIR) + WP_IFNAME_LEN + 8];
	struct stat st;

	if (!valid_ifname(ifname))
		return false;
	snprintf(path, sizeof(path), "%s/%s.sock", WG_UAPI_DIR, ifname);
	return !stat(path, &st) && S_ISSOCK(st.st_mode);
}

int wg_uapi_get(const char *ifname, struct wg_device *dev, char *err, size_t errlen)
{
	char path[sizeof(WG_UAPI_DIR) + WP_IFNAME_LEN + 8];
	int ret;

	if (!valid_ifname(ifname)) {
		memset(dev, 0, sizeof(*dev));
		snprintf(err, errlen, "bad interface name '%.*s'", WP_IFNAME_LEN, ifname);
		ret = -EINVAL;
	} else {
		snprintf(path, sizeof(path), "%s/%s.sock", WG_UAPI_DIR, ifname);
		ret = wg_uapi_query(path, WG_UAPI_TIMEOUT_MS, dev, err, errlen);
		snprintf(dev->ifname, sizeof(dev->ifname), "%s", ifname);
	}
	dev->err = ret;
	if (ret)
		snprintf(dev->error, sizeof(dev->error), "%s", err);
	return ret;
}
