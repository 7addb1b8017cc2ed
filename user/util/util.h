/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Small helpers every room uses: the monotonic clock the datapath stamps with,
 * ages and addresses as text, and opening a pinned object. No dependency on
 * any other room of user/.
 */
#ifndef __WARMPATH_UTIL_H
#define __WARMPATH_UTIL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

/* CLOCK_MONOTONIC in ns, the clock of bpf_ktime_get_ns(). */
__u64 wp_now_ns(void);
/* Seconds since a monotonic stamp, or -1 for never (stamp 0). */
double wp_age_s(__u64 now, __u64 stamp);
/* Seconds as a short age for tables: "never" (s < 0), 12.3ms, 4.5s, 7m, 3h. */
void wp_format_age(double s, char *buf, size_t len);
/* An address in the datapath's 16-byte form (IPv4-mapped for IPv4) as text. */
void wp_addr16_format(const __u8 *addr, char *buf, size_t len);
/*
 * Opens pin_path/name (a pinned map, program or link). On failure returns -1
 * with errno set and, when err is not NULL, a message naming the path and the
 * likely cause.
 */
int wp_open_pin(const char *pin_path, const char *name, char *err, size_t errlen);
/*
 * Opens the hash map pinned at pin_path/name or, when it is absent and create
 * is set, creates it (key_size, value_size, max_entries) and pins it there.
 * Returns the fd or a negative errno.
 */
int wp_pinned_hash_open(const char *pin_path, const char *name, __u32 key_size, __u32 value_size,
			__u32 max_entries, bool create);

/* A message (printf format) into the caller's err buffer, when it gave one. */
void wp_set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The value of var, read while holding lock (a pthread_mutex_t *): a getter's body. */
#define WP_LOCKED_READ(lock, var)           \
	({                                  \
		__typeof__(var) __val;      \
		pthread_mutex_lock(lock);   \
		__val = (var);              \
		pthread_mutex_unlock(lock); \
		__val;                      \
	})

/*
 * Walking the keys of a BPF map (the bpf_map_get_next_key loop, written once):
 *
 *	struct addr_key key;
 *
 *	WP_MAP_FOR_EACH_KEY(fd, &key)
 *		use(key);
 *
 * Keys up to WP_MAP_ITER_KEY_MAX bytes. Deleting the current key inside the
 * walk restarts it from the first key (the kernel's get_next_key rule).
 */
#define WP_MAP_ITER_KEY_MAX 64

struct wp_map_iter {
	int fd;
	size_t key_size;
	bool started;
};

/* The next key into *key; false at the end (or on error, or a key too large). */
bool wp_map_iter_next(struct wp_map_iter *it, void *key);

#define WP_MAP_FOR_EACH_KEY(fd, keyp)                                    \
	for (struct wp_map_iter __it = { (fd), sizeof(*(keyp)), false }; \
	     wp_map_iter_next(&__it, (keyp));)

#endif /* __WARMPATH_UTIL_H */
