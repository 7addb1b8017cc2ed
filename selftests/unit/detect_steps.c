// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The detection scenarios' usual steps (detect_fixture.h): one packet built,
 * its expectation made (expect_det() or expect_new_syn(), then @more: a cold
 * start, the answer, a retransmission ...), and run through run_pkt().
 */
#include <unistd.h>
#include "detect_fixture.h"

void with_det(void (*body)(struct det *d))
{
	struct det d;

	if (!det_open(&d, COLD_NS))
		return;
	body(&d);
	det_close(&d);
}

bool step_other(struct det *d, struct pkt *p, const struct conn *c, int dir, int l4,
		void (*more)(struct det_expect *e), struct det_result *r, const char *name)
{
	struct det_expect e = expect_det(c, dir);

	build_other(p, c, dir, l4);
	if (more)
		more(&e);
	return run_pkt(d, p, &e, r, name);
}

bool step_syn(struct det *d, struct pkt *p, const struct conn *c, __u32 seq,
	      void (*more)(struct det_expect *e), struct det_result *r, const char *name)
{
	struct det_expect e = expect_new_syn(c);

	build_tcp(p, c, WP_DIR_TX, TCP_FLAG_SYN, seq, 0);
	if (more)
		more(&e);
	return run_pkt(d, p, &e, r, name);
}

void first_packet_then_idle(struct det *d, struct pkt *p, const struct conn *c, int dir, int l4,
			    struct det_result *r)
{
	step_other(d, p, c, dir, l4, NULL, r, "first_packet_ever");
	usleep(IDLE_NS / 1000);
}
