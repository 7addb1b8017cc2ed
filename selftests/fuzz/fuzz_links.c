// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * An rtnetlink RTM_GETLINK dump (user/datapath/links.c), as recv() could
 * return it: the messages are walked as links_dump() walks them and each
 * RTM_NEWLINK goes through the static parse_link() (the file is included, the
 * target links without links.o). Names and kinds must come out terminated.
 */
#include "../../user/datapath/links.c"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* netlink messages start 4-byte aligned, as in links_dump()'s buffer */
	static __u32 buf[32768 / 4];
	struct link_desc l;
	struct nlmsghdr *nh;
	ssize_t len;

	if (size > sizeof(buf))
		size = sizeof(buf);
	memcpy(buf, data, size);
	len = size;
	for (nh = (struct nlmsghdr *)buf; NLMSG_OK(nh, len); nh = NLMSG_NEXT(nh, len)) {
		if (nh->nlmsg_type == NLMSG_DONE)
			break;
		if (nh->nlmsg_type != RTM_NEWLINK)
			continue;
		if (parse_link(nh, &l) == 0) {
			FUZZ_CHECK(memchr(l.name, '\0', sizeof(l.name)));
			FUZZ_CHECK(memchr(l.kind, '\0', sizeof(l.kind)));
			link_is_tunnel(&l);
		}
	}
	return 0;
}
