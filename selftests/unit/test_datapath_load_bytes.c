// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Headers outside the linear data (GSO packets, tun frags) are parsed from
 * copies (bpf_skb_load_bytes), never pulled. BPF_PROG_TEST_RUN builds linear
 * skbs only, so this runs the parsing and detection suites again with the
 * rodata knob force_load_bytes, which sends every packet down that path: the
 * same packets must give exactly the same classification, counters, stats,
 * flows and events.
 */
#include "datapath_fixture.h"
#include "prog_tests_decl.h"
#include "test_progs.h"

void test_datapath_load_bytes(void)
{
	dp_force_load_bytes = true;
	test_datapath_encap();
	test_datapath_l3_options();
	test_datapath_outer_vlan();
	test_datapath_probe();
	test_datapath_non_ip();
	test_datapath_truncated();
	test_datapath_garbage();
	test_detect_syn();
	test_detect_cold_syn();
	test_detect_truncated();
	dp_force_load_bytes = false;
}
