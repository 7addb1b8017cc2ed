// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "peer_counters.h"
#include "peer_schema.h"

static size_t peers_map_len(void)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t len = (size_t)WP_MAX_PEERS * sizeof(struct peer_state);

	return (len + page - 1) / page * page;
}

struct peer_state *wp_peers_mmap(int peers_fd)
{
	void *p;

	if (peers_fd < 0)
		return NULL;
	p = mmap(NULL, peers_map_len(), PROT_READ | PROT_WRITE, MAP_SHARED, peers_fd, 0);
	return p == MAP_FAILED ? NULL : p;
}

void wp_peers_munmap(struct peer_state *mem)
{
	if (mem)
		munmap(mem, peers_map_len());
}

static void counters_add(struct peer_counters *sum, const struct peer_counters *c)
{
	for (int d = 0; d < 2; d++) {
		sum->packets[d] += c->packets[d];
		sum->bytes[d] += c->bytes[d];
		sum->probe_packets[d] += c->probe_packets[d];
		sum->probe_bytes[d] += c->probe_bytes[d];
	}
}

int wp_peer_counters_read(int counters_fd, const __u32 *ids, int n, struct peer_counters *sums)
{
	int ncpu = libbpf_num_possible_cpus();
	struct peer_counters *percpu;
	int err = 0;

	if (ncpu <= 0)
		return ncpu ? ncpu : -EINVAL;
	percpu = calloc(ncpu, sizeof(*percpu));
	if (!percpu)
		return -ENOMEM;
	for (int i = 0; i < n; i++) {
		memset(&sums[i], 0, sizeof(sums[i]));
		if (bpf_map_lookup_elem(counters_fd, &ids[i], percpu)) {
			err = -errno;
			continue;
		}
		for (int c = 0; c < ncpu; c++)
			counters_add(&sums[i], &percpu[c]);
	}
	free(percpu);
	return err;
}

int wp_peer_counters_zero(int counters_fd, __u32 id)
{
	int ncpu = libbpf_num_possible_cpus();
	void *zero;
	int err;

	if (ncpu <= 0)
		return ncpu ? ncpu : -EINVAL;
	zero = calloc(ncpu, sizeof(struct peer_counters));
	if (!zero)
		return -ENOMEM;
	err = bpf_map_update_elem(counters_fd, &id, zero, BPF_ANY) ? -errno : 0;
	free(zero);
	return err;
}

void wp_peer_counters_apply(struct peer_state *ps, const struct peer_counters *sum)
{
	ps->tx_packets = sum->packets[WP_DIR_TX];
	ps->rx_packets = sum->packets[WP_DIR_RX];
	ps->tx_bytes = sum->bytes[WP_DIR_TX];
	ps->rx_bytes = sum->bytes[WP_DIR_RX];
	ps->tx_probe_packets = sum->probe_packets[WP_DIR_TX];
	ps->rx_probe_packets = sum->probe_packets[WP_DIR_RX];
	ps->tx_probe_bytes = sum->probe_bytes[WP_DIR_TX];
	ps->rx_probe_bytes = sum->probe_bytes[WP_DIR_RX];
}

#define LOAD(p) __atomic_load_n(p, __ATOMIC_RELAXED)
#define STORE(p, v) __atomic_store_n(p, v, __ATOMIC_RELAXED)

bool wp_peer_fold(struct peer_state *ps, const struct peer_counters *sum, __u64 now,
		  __u64 cold_threshold_ns)
{
	__u64 old_tx = LOAD(&ps->tx_packets), old_rx = LOAD(&ps->rx_packets);
	__u64 tx = sum->packets[WP_DIR_TX], rx = sum->packets[WP_DIR_RX];
	bool moved = tx != old_tx || rx != old_rx;
	__u64 armed, idle, zero = 0;

	if (moved) {
		/* totals first, stamps after: a reader never sees a stamp ahead of its count */
		STORE(&ps->tx_packets, tx);
		STORE(&ps->rx_packets, rx);
		STORE(&ps->tx_bytes, sum->bytes[WP_DIR_TX]);
		STORE(&ps->rx_bytes, sum->bytes[WP_DIR_RX]);
		STORE(&ps->tx_probe_packets, sum->probe_packets[WP_DIR_TX]);
		STORE(&ps->rx_probe_packets, sum->probe_packets[WP_DIR_RX]);
		STORE(&ps->tx_probe_bytes, sum->probe_bytes[WP_DIR_TX]);
		STORE(&ps->rx_probe_bytes, sum->probe_bytes[WP_DIR_RX]);
		/* a count that went down is a slot reset, not traffic */
		if (tx > old_tx)
			STORE(&ps->last_tx_ns, now);
		if (rx > old_rx)
			STORE(&ps->last_rx_ns, now);
	}
	armed = LOAD(&ps->cold_armed_ns);
	if (moved) {
		/* packets went by without taking the arm (they raced it): not idle */
		if (armed)
			__atomic_compare_exchange_n(&ps->cold_armed_ns, &armed, 0, false,
						    __ATOMIC_SEQ_CST, __ATOMIC_RELAXED);
		return false;
	}
	idle = wp_idle_since_ns(LOAD(&ps->last_tx_ns), LOAD(&ps->last_rx_ns));
	/* never seen (idle 0): no cold start, however long idle; already armed: nothing to do */
	if (armed || !idle || now < idle || now - idle < cold_threshold_ns)
		return false;
	return __atomic_compare_exchange_n(&ps->cold_armed_ns, &zero, idle, false, __ATOMIC_SEQ_CST,
					   __ATOMIC_RELAXED);
}

void wp_peer_fold_recheck(struct peer_state *ps, const struct peer_counters *sum)
{
	__u64 armed = LOAD(&ps->cold_armed_ns);

	if (armed && (sum->packets[WP_DIR_TX] != LOAD(&ps->tx_packets) ||
		      sum->packets[WP_DIR_RX] != LOAD(&ps->rx_packets)))
		__atomic_compare_exchange_n(&ps->cold_armed_ns, &armed, 0, false, __ATOMIC_SEQ_CST,
					    __ATOMIC_RELAXED);
}

int wp_peers_fold(struct peer_state *mem, int counters_fd, const __u32 *ids, int n,
		  struct peer_counters *scratch, __u64 now, __u64 cold_threshold_ns)
{
	int err, armed = 0;

	err = wp_peer_counters_read(counters_fd, ids, n, scratch);
	if (err)
		return err;
	for (int i = 0; i < n; i++) {
		struct peer_counters again;

		if (ids[i] >= WP_MAX_PEERS)
			continue;
		if (!wp_peer_fold(&mem[ids[i]], &scratch[i], now, cold_threshold_ns))
			continue;
		armed++;
		if (!wp_peer_counters_read(counters_fd, &ids[i], 1, &again))
			wp_peer_fold_recheck(&mem[ids[i]], &again);
	}
	return armed;
}

const double wp_gap_bounds_s[WP_GAP_NR_BOUNDS] = { 5, 10, 20, 30, 60, 120, 300, 900 };

int wp_peer_judge_cold(struct peer_state *ps, __u64 now, __u64 unanswered_ns, __u64 *gap_ns)
{
	__u64 starts = LOAD(&ps->cold_starts), since, gap, v;
	int outcome;

	if (starts == LOAD(&ps->cold_judged))
		return -1;
	gap = LOAD(&ps->cold_gap_ns);
	since = LOAD(&ps->cold_since_ns);
	if (gap & 1)
		outcome = WP_GAP_DROPPED; /* a first-packet drop */
	else if (!since)
		outcome = WP_GAP_CLEAN; /* answered */
	else if (!(since & WP_COLD_TCP) && now > since && now - since >= unanswered_ns)
		outcome = WP_GAP_DROPPED; /* unanswered */
	else
		return -1; /* still open */
	STORE(&ps->cold_judged, starts);
	gap &= ~1ull;
	*gap_ns = gap;
	if (!gap)
		return outcome;
	if (outcome == WP_GAP_CLEAN) {
		v = LOAD(&ps->lifetime_lower_ns);
		if (gap > v)
			STORE(&ps->lifetime_lower_ns, gap);
	} else {
		v = LOAD(&ps->lifetime_upper_ns);
		if (!v || gap < v)
			STORE(&ps->lifetime_upper_ns, gap);
	}
	return outcome;
}

void wp_cold_gaps_add(struct wp_cold_gaps *g, int outcome, __u64 gap_ns)
{
	double s = gap_ns / 1e9;
	int i;

	for (i = 0; i < WP_GAP_NR_BOUNDS && s > wp_gap_bounds_s[i]; i++)
		;
	g->counts[outcome][i]++;
	g->count[outcome]++;
	g->sum_s[outcome] += s;
}

void wp_peers_judge(struct peer_state *mem, const __u32 *ids, int n, __u64 now, __u64 unanswered_ns,
		    struct wp_cold_gaps *gaps)
{
	for (int i = 0; i < n; i++) {
		__u64 gap;
		int outcome;

		if (ids[i] >= WP_MAX_PEERS)
			continue;
		outcome = wp_peer_judge_cold(&mem[ids[i]], now, unanswered_ns, &gap);
		if (outcome >= 0 && gaps)
			wp_cold_gaps_add(gaps, outcome, gap);
	}
}
