// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * `warmpath cleanup`: detach our programs and remove our pins, nothing else,
 * with no more than the DaemonSet's capabilities (no CAP_SYS_ADMIN).
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "datapath.skel.h"
#include "loader.h"
#include "loader_tc.h"
#include "tc_filters.h"

/* Keys of a hash map, appended to keys[] without duplicates. */
static int collect_keys(int fd, __u32 *keys, int n, int max)
{
	__u32 key, next;

	for (int more = !bpf_map_get_next_key(fd, NULL, &next); more && n < max;
	     more = !bpf_map_get_next_key(fd, &key, &next)) {
		bool seen = false;

		key = next;
		for (int i = 0; i < n; i++)
			seen |= keys[i] == key;
		if (!seen)
			keys[n++] = key;
	}
	return n;
}

int wp_cleanup(const char *pin_path, bool verbose)
{
	char path[600], dir_path[300];
	struct datapath_bpf *skel;
	struct bpf_map *m;
	struct dirent *de;
	__u32 keys[WP_MAX_IFACES * 5];
	int fd, rec_fd, nkeys = 0, removed = 0;
	DIR *d;

	/*
	 * 1. tc filters of ours (recognised from the filter dump: no CAP_SYS_ADMIN
	 * needed) on the interfaces the pinned ifaces and tc_filters maps name,
	 * and the clsact qdiscs we created that are empty then
	 */
	snprintf(path, sizeof(path), "%s/ifaces", pin_path);
	fd = bpf_obj_get(path);
	if (fd >= 0) {
		nkeys = collect_keys(fd, keys, nkeys, WP_MAX_IFACES * 5);
		close(fd);
	}
	rec_fd = tc_record_open(pin_path, false);
	if (rec_fd >= 0)
		nkeys = collect_keys(rec_fd, keys, nkeys, WP_MAX_IFACES * 5);
	for (int i = 0; i < nkeys; i++)
		wp_tc_detach_ours(rec_fd, NULL, keys[i]);
	if (rec_fd >= 0)
		close(rec_fd);

	/* 2. our pinned tcx links */
	snprintf(dir_path, sizeof(dir_path), "%s/links", pin_path);
	d = opendir(dir_path);
	if (d) {
		while ((de = readdir(d))) {
			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", dir_path, de->d_name);
			fd = bpf_obj_get(path);
			if (fd >= 0) {
				bpf_link_detach(fd);
				close(fd);
			}
			if (!unlink(path)) {
				removed++;
				if (verbose)
					printf("removed link %s\n", path);
			}
		}
		closedir(d);
		rmdir(dir_path);
	}

	/* 3. our map pins, by the names the object defines; foreign pins stay */
	skel = datapath_bpf__open();
	if (!skel) {
		fprintf(stderr, "cannot open the BPF object: %s\n", strerror(errno));
		return -errno;
	}
	bpf_object__for_each_map(m, skel->obj) {
		if (bpf_map__is_internal(m))
			continue;
		snprintf(path, sizeof(path), "%s/%s", pin_path, bpf_map__name(m));
		if (!unlink(path)) {
			removed++;
			if (verbose)
				printf("removed map %s\n", path);
		}
	}
	datapath_bpf__destroy(skel);
	/*
	 * the drop tracer's own map (bpf/drops.bpf.c; the rest it shares with the
	 * datapath), the record of our tc filters and the prefix sources (user only)
	 */
	for (int i = 0; i < 3; i++) {
		static const char *const own[] = { "drops", "tc_filters", "prefix_sources" };

		snprintf(path, sizeof(path), "%s/%s", pin_path, own[i]);
		if (!unlink(path)) {
			removed++;
			if (verbose)
				printf("removed map %s\n", path);
		}
	}
	if (rmdir(pin_path) && errno != ENOENT && verbose)
		printf("kept %s: %s\n", pin_path, strerror(errno));
	return removed;
}
