/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The detection tests' harness (selftests/unit/detect_fixture.c): the
 * datapath opened with a short cold threshold and two peers, TCP connections
 * plain or encapsulated, and run_detect(), which checks one packet's run
 * exactly (verdict, packet unchanged, every stat, both peers, histograms,
 * flows, events). The scenarios are in test_detect.c and test_detect_edge.c.
 */
#ifndef __WARMPATH_DETECT_FIXTURE_H
#define __WARMPATH_DETECT_FIXTURE_H

#include <stdbool.h>
#include <bpf/libbpf.h>
#include "datapath_check.h"
#include "packet_builder.h"
#include "warmpath.h"

/* Idle gap of a cold start in these tests, and how long a test idles to make one. */
#define COLD_NS (100 * 1000000ull)
#define IDLE_NS (150 * 1000000ull)
/* bpf_ktime_get_coarse_ns() trails CLOCK_MONOTONIC by up to a jiffy. */
#define COARSE_SLACK_NS 20000000ull
/* Upper bound of any duration a single test can produce. */
#define SANE_NS (10 * 1000000000ull)

#define MAX_EVENTS 8
#define SYN_SEQ 0x1000u
#define SYNACK_SEQ 0x7000u
#define LPORT 40000
#define RPORT 443

extern const __u32 det_peers[];
#define NR_DET_PEERS 2

struct det {
	struct dp_fixture f;
	int flows_fd;
	int hists_fd;
	struct ring_buffer *rb;
	int nev;
	int bad_ev_len;
	struct wp_event ev[MAX_EVENTS];
};

/*
 * A TCP connection this node (LOCAL*, inner LOCAL_POD*) opens to node-a
 * (outer NODE_A*, inner POD_B*), plain or encapsulated.
 */
struct conn {
	int encap; /* FLOW_PLAIN, FLOW_IPIP, FLOW_VXLAN */
	int outer; /* 4 or 6 */
	int inner; /* 4 or 6, when encapsulated */
	__u16 lport; /* 0: LPORT */
	const char *name;
};

struct det_snap {
	__u64 stats[WP_STAT_MAX];
	struct peer_state peer[NR_DET_PEERS];
	struct peer_hists hist[NR_DET_PEERS];
	int nflows;
};

enum cold_change {
	COLD_KEEP = 0, /* cold_since_ns unchanged */
	COLD_SET, /* a cold start: set to the time of this packet, its direction in bit 0 */
	COLD_CLEAR, /* the answer: cleared */
};

/* What one run must do, exactly; zero fields: nothing of that kind. */
struct det_expect {
	int dir;
	int peer; /* PEER_A / PEER_B credited, or PEER_NONE */
	int encap; /* ENCAP_NONE, WP_STAT_ENCAP_IPIP, WP_STAT_ENCAP_VXLAN */
	bool malformed;
	__u64 syn; /* WP_STAT_SYN */
	__u64 synack; /* WP_STAT_SYNACK */
	__u64 cold_starts, first_packet_drops, syn_retransmits; /* of the peer */
	__u64 syn_rtt, cold_recovery; /* histogram samples of the peer */
	enum cold_change cold;
	int flows; /* entries added to `flows` */
	__u32 event; /* the one event expected (enum wp_event_type), or 0 */
};

struct det_result {
	__u64 t0, t1; /* CLOCK_MONOTONIC around the run */
	struct det_snap before, after;
	struct wp_event ev; /* the event, when one was expected and came */
};

int on_event(void *ctx, void *data, size_t len);
void det_close(struct det *d);
bool det_open(struct det *d, __u64 cold_ns);
bool det_open_opts(struct det *d, const struct dp_options *opts);
bool det_reset(struct det *d);
__u16 conn_lport(const struct conn *c);
int conn_encap_stat(const struct conn *c);
const char *conn_local(const struct conn *c);
const char *conn_remote(const struct conn *c);
void put_be32(__u8 *p, __u32 v);
void add_ip(struct pkt *p, int version, const char *src, const char *dst);
int build_tcp(struct pkt *p, const struct conn *c, int dir, __u8 flags, __u32 seq, __u32 ack);
int build_other(struct pkt *p, const struct conn *c, int dir, int l4);
int count_flows(struct det *d);
int take_snap(struct det *d, struct det_snap *s);
int read_flow(struct det *d, const char *local, const char *remote, __u16 lport, __u16 rport,
	      struct flow_state *fs);
int read_conn_flow(struct det *d, const struct conn *c, struct flow_state *fs);
struct det_expect expect_det(const struct conn *c, int dir);
/* The usual steps, on top of expect_det(): a SYN that opens a flow, its SYN-ACK (an RTT sample) */
struct det_expect expect_new_syn(const struct conn *c);
struct det_expect expect_synack(const struct conn *c);
/* ... and what a packet adds to them: a SYN seen again (flows: none added), */
void expect_retransmit(struct det_expect *e);
/* a cold flow's SYN seen again (no flow added), a cold start, the answer that ends it */
void expect_first_packet_drop(struct det_expect *e);
void expect_cold_start(struct det_expect *e);
void expect_recovery(struct det_expect *e);
bool check_hist(const struct wp_hist *b, const struct wp_hist *a, __u64 samples, const char *label,
		const char *which);
bool check_peer_det(const struct det_snap *bs, const struct det_snap *as, int i,
		    const struct det_expect *e, size_t len, const struct det_result *r,
		    const char *label);
bool check_event_common(const struct wp_event *ev, const struct det_expect *e,
			const struct det_result *r, const char *label);
bool run_detect(struct det *d, const void *data, size_t len, const struct det_expect *e,
		struct det_result *r, const char *name);
bool run_pkt(struct det *d, const struct pkt *p, const struct det_expect *e, struct det_result *r,
	     const char *name);
/* @body on the datapath of det_open(d, COLD_NS), closed after (detect_steps.c). */
void with_det(void (*body)(struct det *d));
/*
 * Steps (detect_steps.c): a non-TCP packet of @c (@l4: FLOW_UDP, FLOW_ICMP)
 * sent @dir, a SYN of @c with @seq; expected as expect_det() or expect_new_syn(),
 * then @more (NULL: nothing more). The packet stays in @p.
 */
bool step_other(struct det *d, struct pkt *p, const struct conn *c, int dir, int l4,
		void (*more)(struct det_expect *e), struct det_result *r, const char *name);
bool step_syn(struct det *d, struct pkt *p, const struct conn *c, __u32 seq,
	      void (*more)(struct det_expect *e), struct det_result *r, const char *name);
/* The peer's first packet ever (step_other()), then idle past the cold threshold. */
void first_packet_then_idle(struct det *d, struct pkt *p, const struct conn *c, int dir, int l4,
			    struct det_result *r);
bool check_event_tuple(const struct wp_event *ev, const char *saddr, const char *daddr, __u16 sport,
		       __u16 dport, __u8 l4proto, const char *label);
bool check_syn_event(const struct wp_event *ev, const struct conn *c, __u32 syn_count,
		     const struct flow_state *fs, const char *label);
bool check_flow(struct det *d, const struct conn *c, __u32 seq, __u32 syn_count, int cold,
		int answered, struct flow_state *fs, const char *label);

#endif /* __WARMPATH_DETECT_FIXTURE_H */
