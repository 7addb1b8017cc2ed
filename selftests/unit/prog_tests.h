/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The test table of test_progs, in run order. TEST(x) runs void test_x(void);
 * TEST_WEAK(x) the same, but the runner still links (and prints SKIP) while
 * the file defining it is missing, for tests of code still being written.
 * A new test file adds its lines here.
 */

/* bpf/datapath.bpf.c: test_datapath.c, test_datapath_peers.c, test_datapath_robust.c */
TEST(datapath_encap)
TEST(datapath_l3_options)
TEST(datapath_outer_vlan)
TEST(datapath_probe)
TEST(datapath_direction)
TEST(datapath_prefix_match)
TEST(datapath_unmatched)
TEST(datapath_non_ip)
TEST(datapath_iface_config)
TEST(datapath_rodata)
TEST(datapath_truncated)
TEST(datapath_garbage)
TEST(datapath_load_bytes)

/* bpf/datapath.bpf.c detection (SYN tracking, cold starts, events): test_detect.c */
TEST(detect_syn)
TEST(detect_stacked_devices)
TEST(detect_hotpath)
TEST(detect_cold_syn)
TEST(detect_syn_mismatch)
TEST(detect_rst)
TEST(detect_truncated)
TEST(detect_cold)

/* user/: test_agent_logic.c */
TEST_WEAK(keepalive_decide)
TEST_WEAK(probe_wire)
TEST_WEAK(probe_auth)
TEST_WEAK(peer_parse)
TEST_WEAK(peer_map_sync)

/* user/agent peer table, user/export peer JSON, user/util map iterator: test_peer_views.c */
TEST(peer_views)
/* user/agent lifetime learning on a simulated NAT, its protocol: test_lifetime.c */
TEST(lifetime_learn)
TEST(lifetime_protocol)
TEST(peer_table)
TEST(map_iter)
TEST(prober_reload)

/* user/agent/peer_metrics.c, peer_rank.c: test_peer_metrics.c */
TEST(peer_metrics_budget)
TEST(peer_rank_stable)

/* user/probe/prober.c batched sends: test_prober_batch.c */
TEST(prober_batch)

/* user/prom.c, user/http.c: test_prom.c */
TEST_WEAK(prom_text)
TEST_WEAK(prom_hist)
TEST_WEAK(prom_promtool)
TEST_WEAK(prom_http)
TEST_WEAK(prom_http_concurrent)

/* user/discovery/peers.c input limits: test_peer_limits.c */
TEST(peer_prefix_limits)

/* user/util/log.c: test_log.c */
TEST(log_escape)

/* user/export/http.c under a slowloris: test_http_slowloris.c */
TEST(http_slowloris)

/* bpf/drops.bpf.c, user/drops.c: test_drops.c */
TEST(drops_reason_names)
TEST(drops_variant)
TEST(drops_kfree_skb)
TEST(drops_kfree_skb_plain)

/* bpf/wireguard.bpf.h, user/wireguard/: test_wireguard*.c (fake_uapi.c, wg_packets.c) */
TEST(wireguard_handshakes)
TEST(wireguard_truncated)
TEST(wireguard_uapi)
TEST(wireguard_metrics)
TEST(wireguard_netlink)
TEST(wireguard_attrib)

/* user/discovery/kube*.c, peerset.c: test_kube_*.c (fake_kube_api.c) */
TEST(kube_node)
TEST(kube_discovery)
TEST(kube_cni)
