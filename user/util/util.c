// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "util.h"

__u64 wp_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

double wp_age_s(__u64 now, __u64 stamp)
{
	if (!stamp)
		return -1;
	return stamp > now ? 0 : (now - stamp) / 1e9;
}

void wp_format_age(double s, char *buf, size_t len)
{
	if (s < 0)
		snprintf(buf, len, "never");
	else if (s < 1)
		snprintf(buf, len, "%.1fms", s * 1e3);
	else if (s < 100)
		snprintf(buf, len, "%.1fs", s);
	else if (s < 6000)
		snprintf(buf, len, "%.0fm", s / 60);
	else
		snprintf(buf, len, "%.0fh", s / 3600);
}

void wp_addr16_format(const __u8 *a, char *buf, size_t len)
{
	static const __u8 mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	if (!memcmp(a, mapped, 12))
		inet_ntop(AF_INET, a + 12, buf, len);
	else
		inet_ntop(AF_INET6, a, buf, len);
}

int wp_open_pin(const char *pin_path, const char *name, char *err, size_t errlen)
{
	char path[512];
	int fd, e;

	snprintf(path, sizeof(path), "%s/%s", pin_path, name);
	fd = bpf_obj_get(path);
	if (fd < 0) {
		e = errno;
		if (err)
			snprintf(err, errlen, "cannot open pinned map %s: %s%s", path, strerror(e),
				 e == ENOENT ?
					 " (has 'warmpath run' ever run with this --pin-path?)" :
				 e == EPERM ? " (run as root)" :
					      "");
		errno = e;
		return -1;
	}
	return fd;
}

int wp_pinned_hash_open(const char *pin_path, const char *name, __u32 key_size, __u32 value_size,
			__u32 max_entries, bool create)
{
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", pin_path, name);
	fd = bpf_obj_get(path);
	if (fd >= 0 || !create)
		return fd >= 0 ? fd : -errno;
	fd = bpf_map_create(BPF_MAP_TYPE_HASH, name, key_size, value_size, max_entries, NULL);
	if (fd < 0)
		return -errno;
	if (bpf_obj_pin(fd, path)) {
		int ret = -errno;

		close(fd);
		return ret;
	}
	return fd;
}

void wp_set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

bool wp_map_iter_next(struct wp_map_iter *it, void *key)
{
	__u8 next[WP_MAP_ITER_KEY_MAX];

	if (it->key_size > sizeof(next) ||
	    bpf_map_get_next_key(it->fd, it->started ? key : NULL, next))
		return false;
	memcpy(key, next, it->key_size);
	it->started = true;
	return true;
}
