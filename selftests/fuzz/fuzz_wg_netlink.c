// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A kernel WireGuard WG_CMD_GET_DEVICE dump (user/wireguard/wg_netlink_parse.c),
 * as the kernel sends it over generic netlink: the input is cut into two
 * receive buffers at a point its first byte chooses (a peer continued in the
 * second, as the kernel does when a message is full).
 */
#include <stdio.h>
#include "fuzz.h"
#include "wg_netlink.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wg_nl_dump d;
	struct wg_device dev;
	char err[256];
	size_t cut;
	int ret;

	if (!size)
		return 0;
	cut = data[0] % (size);
	data++;
	size--;
	if (cut > size)
		cut = size;
	wg_nl_dump_init(&d, &dev, 0);
	ret = wg_nl_dump_feed(&d, data, cut, err, sizeof(err));
	if (ret == 0)
		ret = wg_nl_dump_feed(&d, data + cut, size - cut, err, sizeof(err));
	if (ret > 1)
		abort(); /* 1 (done), 0 (more) or -errno only */
	for (int i = 0; i < dev.npeers; i++)
		if (dev.peers[i].nallowed_ips < 0 ||
		    dev.peers[i].nallowed_ips > WG_UAPI_MAX_ALLOWED_IPS)
			abort();
	wg_nl_dump_finish(&d);
	wg_device_free(&dev);
	return 0;
}
