// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The peers file and --peer (user/discovery/peers.c): the first byte picks
 * peer_parse_spec(), prefix_parse() or peers_file_load() (the file is a memfd,
 * so the real loader reads it). Whatever parses must hold: names valid,
 * prefixes within their family's bounds with host bits clear, no more
 * prefixes than WP_MAX_PEER_PREFIXES.
 */
#include <stdio.h>
#include <unistd.h>
#include <sys/mman.h>
#include "fuzz.h"
#include "peers.h"

static void check_prefix(const struct wp_prefix *p)
{
	FUZZ_CHECK(p->len <= 128);
	for (unsigned int bit = p->len; bit < 128; bit++)
		FUZZ_CHECK(!(p->addr[bit / 8] & (0x80 >> (bit % 8))));
}

static void check_peer(const struct wp_peer *p)
{
	FUZZ_CHECK(p->name[0] && strlen(p->name) < sizeof(p->name));
	FUZZ_CHECK(p->nprefixes >= 1 && p->nprefixes <= WP_MAX_PEER_PREFIXES);
	for (int i = 0; i < p->nprefixes; i++) {
		check_prefix(&p->prefixes[i]);
		/* no peer claims more than a /8 (IPv4, 96 + 8 mapped) or /16 */
		FUZZ_CHECK(p->prefixes[i].len >= 16);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int memfd = -1;
	struct wp_peer_set set = {};
	struct wp_prefix pfx;
	struct wp_peer p;
	char err[256], path[64], *s;

	if (!size)
		return 0;
	switch (data[0] % 3) {
	case 0:
		s = fuzz_strndup(data + 1, size - 1);
		if (!peer_parse_spec(s, &p, err, sizeof(err)))
			check_peer(&p);
		free(s);
		break;
	case 1:
		s = fuzz_strndup(data + 1, size - 1);
		if (!prefix_parse(s, &pfx))
			check_prefix(&pfx);
		free(s);
		break;
	default:
		if (memfd < 0)
			memfd = memfd_create("fuzz-peers", MFD_CLOEXEC);
		FUZZ_CHECK(memfd >= 0);
		FUZZ_CHECK(!ftruncate(memfd, 0));
		FUZZ_CHECK(pwrite(memfd, data + 1, size - 1, 0) == (ssize_t)(size - 1));
		snprintf(path, sizeof(path), "/proc/self/fd/%d", memfd);
		if (!peers_file_load(path, &set, err, sizeof(err)))
			for (int i = 0; i < set.n; i++)
				check_peer(&set.peers[i]);
		peer_set_free(&set);
		break;
	}
	return 0;
}
