// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <string.h>
#include <bpf/bpf.h>
#include "drops_fixture.h"
#include "warmpath.h"

int drops_add_loopback_peer(struct wp_drops *d, __u32 peer_id)
{
	struct prefix_key key = { .prefixlen = 128 };
	struct prefix_val val = { .peer_id = peer_id };
	struct peer_state ps = {};

	key.addr[10] = key.addr[11] = 0xff;
	key.addr[12] = 127;
	key.addr[15] = 1;
	strcpy(ps.name, "loopback");
	if (bpf_map_update_elem(wp_drops_map_fd(d, "peers"), &peer_id, &ps, BPF_ANY))
		return -errno;
	if (bpf_map_update_elem(wp_drops_map_fd(d, "prefixes"), &key, &val, BPF_ANY))
		return -errno;
	return 0;
}
