// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <math.h>
#include <sys/epoll.h>
#include <bpf/bpf.h>
#include "agent.h"
#include "agent_int.h"
#include "datapath.skel.h"
#include "evtag.h"
#include "config.h"
#include "http.h"
#include "ifwatch.h"
#include "coverage.h"
#include "routes.h"
#include "wg_sync.h"
#include "probe.h"
#include "util.h"
#include "links.h"
#include "loader.h"
#include "log.h"
#include "peers.h"
#include "route.h"

static volatile sig_atomic_t exiting;
static volatile sig_atomic_t reload;

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		reload = 1;
	else
		exiting = 1;
}

/* --peer flags plus --peers-file, without this node. */
/* the user-only pinned map of prefix sources (for status --json); -1: none */
static int prefix_src_fd = -1;

static int sync_peers(struct wp_loader *ld, struct wp_peer_set *set)
{
	char err[512];
	int ret;

	ret = peers_sync_maps(bpf_map__fd(ld->skel->maps.peers),
			      bpf_map__fd(ld->skel->maps.prefixes), set, err, sizeof(err));
	if (!ret && prefix_src_fd < 0) {
		prefix_src_fd = prefix_sources_open(ld->pin_path, true);
		if (prefix_src_fd < 0)
			log_warn("%s/prefix_sources: %s: status --json shows no prefix sources",
				 ld->pin_path, strerror(-prefix_src_fd));
	}
	if (!ret && prefix_src_fd >= 0 && prefix_sources_sync(prefix_src_fd, set))
		log_warn("prefix_sources: not all prefix sources written");
	/* even a failed sync may have changed some prefixes */
	wp_loader_prefixes_changed(ld);
	if (ret)
		log_error("%s", err);
	return ret;
}

/* The peer table for `set` (counters carried over by name), and the prober's slots. */
static int rt_rebuild(struct agent *a, struct wp_peer_set *set)
{
	int *old_of = calloc(set->n ? set->n : 1, sizeof(*old_of)), old_n = a->peers.n;
	struct probe_slot *slots = prober_slots_new(set->n);

	if (!old_of || !slots || peer_table_rebuild(&a->peers, set, old_of)) {
		free(old_of);
		free(slots);
		return -ENOMEM; /* nothing changed */
	}
	prober_peers_changed(&a->prober, slots, old_of, old_n);
	free(old_of);
	return 0;
}

/* Install a new peer set: maps first, then runtime state (under the lock). */
static int agent_set_peers(struct agent *a, struct wp_peer_set *set)
{
	int ret;

	ret = sync_peers(&a->ld, set);
	if (ret)
		return ret;
	pthread_mutex_lock(&a->lock);
	ret = rt_rebuild(a, set);
	if (!ret) {
		peer_set_free(&a->installed);
		a->installed = *set;
		memset(set, 0, sizeof(*set));
	}
	pthread_mutex_unlock(&a->lock);
	return ret;
}

/* One tick: read the maps, decide per peer, send what is due. */
/*
 * The activity stamps are those of the fold (each tick, each scrape) that saw
 * a peer's per-CPU counters move: the packet itself went up to a fold interval
 * earlier. The keep-alive decision takes the earliest it can have been, so an
 * idle pair is probed once per interval, not once per interval and a tick.
 */
static __u64 activity_floor(__u64 stamp, __u64 tick_ns)
{
	return stamp > tick_ns ? stamp - tick_ns : stamp;
}

static void agent_tick(struct agent *a, __u64 now)
{
	__u64 interval = (__u64)(a->cfg->keepalive_interval * 1e9);
	__u64 per_interval = a->tick_ns && interval > a->tick_ns ? interval / a->tick_ns : 1;
	/*
	 * At most twice a tick's fair share of probes: peers that fall idle
	 * together (all of them at start) are spread over the interval instead of
	 * going out in one burst that holds the loop (and the RTT of the replies).
	 * The next tick carries on where this one stopped.
	 */
	int n = a->peers.n, budget = 2 * (int)((n + per_interval - 1) / per_interval) + 16,
	    sent = 0;
	int start = n ? a->tick_next_peer % n : 0;
	/*
	 * tie-break margin: past the other side's tick jitter and probe round trip,
	 * plus a tick for each side's activity stamps, which move at the tick that
	 * folds the per-CPU counters (tick resolution); at most one interval, so a
	 * pair whose other agent stopped is still probed every 2 intervals at worst
	 */
	__u64 margin = 3 * a->tick_ns + (__u64)a->cfg->probe_timeout_ms * 1000000ull;

	if (margin > interval)
		margin = interval;

	tick_stats_begin(&a->ticks);
	peer_table_read_states(&a->peers);
	a->wg_held_any = wg_sync_keepalive_any();
	a->tick_next_peer = start;
	for (int k = 0; k < n; k++) {
		int i = (start + k) % n;
		struct peer_entry *rt = &a->peers.e[i];

		bool bypassed = peer_entry_check_bypass(rt);

		if (bypassed)
			peer_table_count_bypass(&a->peers, rt);
		if (bypassed && !rt->bypass_logged) {
			char route[160];

			route_describe(&rt->addr, route, sizeof(route));
			log_warn("probe to %s (%s) crossed no watched interface: it keeps nothing "
				 "warm; the route to it is %s (counted in "
				 "warmpath_probes_bypassed_total; logged once per peer)",
				 rt->name, rt->addr_str, route);
			rt->bypass_logged = true;
		}
		bool holding;
		/* the peer's own interval: fixed, or learned (lifetime_run.c) */
		__u64 iv = lifetime_step(a, i, now, &holding);

		if (holding)
			continue; /* a lifetime trial holds the pair's keep-alives */
		if (sent == budget) {
			a->tick_next_peer = i;
			break;
		}
		switch (keepalive_decide(
			a->cfg->mode, &rt->ka, now, activity_floor(rt->bpf.last_tx_ns, a->tick_ns),
			activity_floor(rt->bpf.last_rx_ns, a->tick_ns), iv, a->tick_ns / 2,
			keepalive_defer_ns(a->cfg->node_name, rt->name,
					   margin < iv ? margin : iv))) {
		case KA_PROBE:
			if (a->cfg->mode == WP_MODE_IDLE && wg_sync_keepalive_suppress(rt->name)) {
				rt->suppressed++; /* WireGuard's persistent keepalive holds it warm */
				break;
			}
			prober_send(&a->prober, i, now);
			sent++;
			break;
		case KA_SUPPRESS:
			rt->suppressed++;
			break;
		default:
			break;
		}
	}
	prober_flush(&a->prober); /* the UDP probes queued above, in sendmmsg batches */
	event_log_check_unanswered(&a->events, &a->peers, now);
	tick_stats_end(&a->ticks);
}

/* Next tick in tick_interval ± 10 %, so agents started together drift apart. */
static __u64 next_tick(struct agent *a, __u64 now)
{
	double jitter = 0.9 + 0.2 * (rand() / (double)RAND_MAX);

	return now + (__u64)(a->tick_ns * jitter);
}

/*
 * Install the static peers (--peer, --peers-file) and the discovered ones
 * together. A discovered node whose name or probe address a static peer has is
 * left out; prefixes a static peer claims are dropped from discovered ones.
 */
static int agent_install_peers(struct agent *a)
{
	struct wp_peer_set set = {};
	char err[256];
	int skipped;

	if (peer_set_merge(&set, &a->static_peers, err, sizeof(err)) < 0 ||
	    (skipped = peer_set_merge(&set, &a->kube_peers, err, sizeof(err))) < 0) {
		log_error("peers: %s", err);
		peer_set_free(&set);
		return -1;
	}
	if (skipped)
		log_warn("kubernetes: %d node(s) not made peers: their name or address is a "
			 "--peer / --peers-file peer's (-v names them)",
			 skipped);
	wg_sync_peers(&set, bpf_map__fd(a->ld.skel->maps.ifaces),
		      &(struct wg_sync_opts){ !a->cfg->no_wireguard_prefixes,
					      a->cfg->keepalive_interval });
	if (!a->cfg->no_route_prefixes)
		routes_sync_peers(&set, bpf_map__fd(a->ld.skel->maps.ifaces));
	if (agent_set_peers(a, &set)) {
		peer_set_free(&set);
		return -1;
	}
	return 0;
}

static void agent_reload(struct agent *a)
{
	struct wp_peer_set fresh, old;

	if (peer_set_from_config(a->cfg, &fresh)) {
		log_warn("SIGHUP: peers unchanged (%d peers kept)", a->installed.n);
		return;
	}
	old = a->static_peers;
	a->static_peers = fresh;
	if (agent_install_peers(a)) {
		a->static_peers = old;
		peer_set_free(&fresh);
		log_warn("SIGHUP: peers unchanged (%d peers kept)", a->installed.n);
		return;
	}
	peer_set_free(&old);
	log_info("SIGHUP: peers reloaded: %d peer(s)", a->installed.n);
}

/* The discovery thread says the nodes changed: take them and install. */
static void agent_kube_update(struct agent *a)
{
	int n = kube_take_peers(a->kube, &a->kube_peers);

	if (n < 0) {
		log_warn("kubernetes: %s: peers unchanged", strerror(-n));
		return;
	}
	if (agent_install_peers(a))
		log_warn("kubernetes: peers unchanged (%d peers kept)", a->installed.n);
	else
		log_info("kubernetes: %d node(s) discovered, %d peer(s) installed", n,
			 a->installed.n);
}

static int kube_open(struct agent *a)
{
	const struct wp_config *cfg = a->cfg;
	struct wp_kube_opts o = {
		.api_url = cfg->kube_api[0] ? cfg->kube_api : NULL,
		.node_name = cfg->node_name,
	};
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = EV_TAG(EV_KUBE, 0) };
	char err[512];

	/* "" in the config: the default (NULL); the words none / system: "" */
	if (cfg->kube_token_file[0])
		o.token_file = strcmp(cfg->kube_token_file, "none") ? cfg->kube_token_file : "";
	if (cfg->kube_ca_file[0])
		o.ca_file = strcmp(cfg->kube_ca_file, "system") ? cfg->kube_ca_file : "";
	if (cfg->kube_prefix_annotations[0])
		o.prefix_annotations = strcmp(cfg->kube_prefix_annotations, "none") ?
					       cfg->kube_prefix_annotations :
					       "";
	if (cfg->kube_annotations[0])
		o.address_annotations =
			strcmp(cfg->kube_annotations, "none") ? cfg->kube_annotations : "";
	a->kube = kube_start(&o, err, sizeof(err));
	if (!a->kube) {
		log_error("--kubernetes: %s", err);
		return -1;
	}
	if (epoll_ctl(a->epfd, EPOLL_CTL_ADD, kube_notify_fd(a->kube), &ev)) {
		log_error("--kubernetes: epoll: %s", strerror(errno));
		return -1;
	}
	return 0;
}

#define WP_RECONCILE_NS (5ull * 1000000000ull)

static void agent_loop(struct agent *a)
{
	struct epoll_event evs[64];

	a->next_tick_ns = wp_now_ns() + a->tick_ns / 10;
	a->last_reconcile_ns = wp_now_ns();
	while (!exiting) {
		__u64 now = wp_now_ns(), wake = a->next_tick_ns;
		bool kube_changed = false, routes_event = false;
		int n, timeout_ms;

		if (a->prober.earliest_deadline_ns && a->prober.earliest_deadline_ns < wake)
			wake = a->prober.earliest_deadline_ns;
		if (a->lt_wake_ns && a->lt_wake_ns < wake)
			wake = a->lt_wake_ns;
		if (a->prober.trial_wake_ns && a->prober.trial_wake_ns < wake)
			wake = a->prober.trial_wake_ns;
		timeout_ms = wake > now ? (int)((wake - now + 999999) / 1000000) : 0;
		n = epoll_wait(a->epfd, evs, 64, timeout_ms);
		if (n < 0 && errno != EINTR) {
			log_error("epoll_wait: %s", strerror(errno));
			break;
		}
		now = wp_now_ns();
		pthread_mutex_lock(&a->lock);
		for (int i = 0; i < n; i++) {
			__u32 kind = evs[i].data.u64 >> 32, idx = (__u32)evs[i].data.u64;

			if (kind == EV_UDP)
				prober_on_udp(&a->prober, now);
			else if (kind == EV_ICMP4)
				prober_on_icmp(&a->prober, AF_INET, now);
			else if (kind == EV_ICMP6)
				prober_on_icmp(&a->prober, AF_INET6, now);
			else if (kind == EV_HTTP)
				prober_on_http(&a->prober, idx, evs[i].events, now);
			else if (kind == EV_RING)
				event_log_poll(&a->events);
			else if (kind == EV_KUBE)
				kube_changed = true;
			else if (kind == EV_ROUTES)
				routes_event = true;
		}
		prober_expire(&a->prober, now);
		lifetime_timers(a, now);
		/* nothing attached yet (--interface auto before the CNI's tunnel): every second */
		if (now - a->last_reconcile_ns >=
		    (a->ld.nattach ? WP_RECONCILE_NS : WP_RECONCILE_NS / 5)) {
			reconcile_interfaces(a->cfg, &a->ld);
			a->last_reconcile_ns = now;
		}
		if (now >= a->next_tick_ns) {
			agent_tick(a, now);
			a->next_tick_ns = next_tick(a, now);
		}
		pthread_mutex_unlock(&a->lock);
		if (reload) {
			reload = 0;
			agent_reload(a);
		}
		/* after the unlock: installing peers takes the lock itself */
		if (kube_changed)
			agent_kube_update(a);
		if (wg_sync_changed(bpf_map__fd(a->ld.skel->maps.ifaces)) && agent_install_peers(a))
			log_warn("wireguard: peers unchanged (%d peers kept)", a->peers.n);
		coverage_tick(bpf_map__fd(a->ld.skel->maps.stats),
			      bpf_map__fd(a->ld.skel->maps.unmatched), wp_now_ns());
		if (!a->cfg->no_route_prefixes &&
		    routes_changed(bpf_map__fd(a->ld.skel->maps.ifaces), routes_event) &&
		    agent_install_peers(a))
			log_warn("routes: peers unchanged (%d peers kept)", a->peers.n);
	}
}

static int start_http(struct agent *a)
{
	struct wp_http_handlers metrics = {
		.ctx = &a->views,
		.metrics = wp_export_metrics,
		.peers_json = wp_export_peers_json,
		.ready = wp_export_ready,
	};
	struct wp_http_handlers ping = { .ctx = a };
	char err[512], listen[64];

	if (strcmp(a->cfg->metrics_listen, "off")) {
		a->http_metrics = wp_http_start(a->cfg->metrics_listen, &metrics, err, sizeof(err));
		if (!a->http_metrics) {
			log_error("--metrics-listen: %s", err);
			return -1;
		}
		log_info("serving /metrics /peers /healthz /readyz on %s", a->cfg->metrics_listen);
	}
	/* GET /ping on the probe port, for peers whose --probe is http */
	snprintf(listen, sizeof(listen), "[::]:%d", a->cfg->probe_port);
	a->http_probe = wp_http_start(listen, &ping, err, sizeof(err));
	if (!a->http_probe) {
		snprintf(listen, sizeof(listen), "0.0.0.0:%d", a->cfg->probe_port);
		a->http_probe = wp_http_start(listen, &ping, err, sizeof(err));
	}
	if (!a->http_probe)
		log_warn("HTTP probe responder on TCP port %d: %s (peers probing with http will "
			 "fail)",
			 a->cfg->probe_port, err);
	return 0;
}

int cmd_run(int argc, char **argv)
{
	struct wp_load_opts lo = {};
	struct wp_peer_set peers = {};
	struct sigaction sa = {};
	struct wp_config cfg;
	struct agent a = { .epfd = -1, .prober = { .udp_fd = -1, .icmp_fd = { -1, -1 } } };
	struct prober_opts po;
	struct wp_probe_key key = {};
	char err[512];
	int ret;

	ret = config_parse_run(argc, argv, &cfg);
	if (ret)
		return ret > 0 ? 0 : 2;
	a.cfg = &cfg;
	log_setup(cfg.log_json, cfg.verbosity);
	log_hook_libbpf();
	pthread_mutex_init(&a.lock, NULL);
	srand(getpid() ^ wp_now_ns());
	a.tick_ns = (__u64)(cfg.tick_interval * 1e9);
	lifetime_opts_init(&a.lt, &cfg, a.tick_ns);

	if (peer_set_from_config(&cfg, &peers)) {
		ret = 2;
		goto out;
	}
	if (cfg.probe_key_file[0]) {
		if (probe_key_load(cfg.probe_key_file, &key, err, sizeof(err))) {
			log_error("%s", err);
			ret = 2;
			goto out;
		}
		log_info("probes authenticated (HMAC-SHA256, key from %s)", cfg.probe_key_file);
	} else {
		log_warn("no --probe-key-file: probes and replies are not authenticated (anyone "
			 "who can send from a peer's address can forge them); v1 agents are "
			 "answered");
	}
	a.epfd = epoll_create1(EPOLL_CLOEXEC);
	if (a.epfd < 0) {
		log_error("out of memory");
		ret = 1;
		goto out;
	}
	lo.pin_path = cfg.pin_path;
	lo.probe_port = cfg.probe_port;
	lo.vxlan_ports[0] = cfg.vxlan_ports[0];
	lo.vxlan_ports[1] = cfg.vxlan_ports[1];
	lo.wireguard_port = cfg.wireguard_port;
	lo.cold_threshold_ns = (__u64)(cfg.cold_threshold * 1e9);
	lo.attach_pref = cfg.attach_pref;
	if (wp_loader_load(&a.ld, &lo, err, sizeof(err))) {
		log_error("%s", err);
		ret = 1;
		goto out;
	}
	if (peer_table_init(&a.peers, bpf_map__fd(a.ld.skel->maps.peers),
			    bpf_map__fd(a.ld.skel->maps.peer_hists))) {
		log_error("out of memory");
		ret = 1;
		goto destroy;
	}
	/* the datapath counts per CPU; the tick folds the counts into `peers` */
	ret = peer_table_attach_counters(&a.peers, bpf_map__fd(a.ld.skel->maps.peer_counters),
					 lo.cold_threshold_ns,
					 (__u64)cfg.probe_timeout_ms * 1000000ull);
	if (ret) {
		log_error("cannot map the peers map: %s", strerror(-ret));
		ret = 1;
		goto destroy;
	}
	/* optional: without it the agent runs on, exporting warmpath_kernel_drop_tracer_up 0 */
	if (wp_drops_open(&a.drops, cfg.pin_path, err, sizeof(err)))
		log_warn("kernel drop tracer not loaded: %s; continuing without kernel drop counts",
			 err);
	else
		log_info("kernel drop tracer attached to kfree_skb (drop reasons %s)",
			 wp_drops_variant(a.drops) == WP_DROPS_REASON ?
				 "from the kernel's BTF" :
				 "not reported by this kernel");
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	ret = 1;
	wg_sync_underlay(cfg.underlay, sizeof(cfg.underlay));
	if (attach_interfaces(&cfg, &a.ld) < 0)
		goto detach;
	wp_loader_prune_stale(&a.ld);
	a.static_peers = peers;
	memset(&peers, 0, sizeof(peers));
	/* before the first install: no route change between the dump and the subscription */
	if (!cfg.no_route_prefixes && (ret = routes_open(a.epfd, EV_TAG(EV_ROUTES, 0)))) {
		log_error("routes: netlink: %s", strerror(-ret));
		ret = 1;
		goto detach;
	}
	ret = 1;
	if (agent_install_peers(&a))
		goto detach;
	/* discovery runs in its own thread; the loop takes its changes from an eventfd */
	if (cfg.kubernetes && kube_open(&a))
		goto detach;
	if (event_log_open(&a.events, bpf_map__fd(a.ld.skel->maps.events), a.epfd, &a.peers,
			   cfg.probe_timeout_ms, err, sizeof(err))) {
		log_error("%s", err);
		goto detach;
	}
	po = (struct prober_opts){
		.kind = cfg.probe,
		.mode = cfg.mode,
		.port = cfg.probe_port,
		.timeout_ms = cfg.probe_timeout_ms,
		.keepalive_interval = cfg.keepalive_interval,
		.node_name = cfg.node_name,
		.key = &key,
		.lt = &a.lt,
	};
	if (prober_open(&a.prober, &po, &a.peers, a.epfd, bpf_map__fd(a.ld.skel->maps.prefixes),
			err, sizeof(err))) {
		log_error("%s", err);
		goto detach;
	}
	a.views = (struct wp_export_sources){
		.lock = &a.lock,
		.cfg = &cfg,
		.peers = &a.peers,
		.prober = &a.prober,
		.events = &a.events,
		.ticks = &a.ticks,
		.ld = &a.ld,
		.drops = a.drops,
		.kube = &a.kube,
		.ready = &a.ready,
	};
	if (start_http(&a))
		goto detach;
	pthread_mutex_lock(&a.lock);
	a.ready = true;
	pthread_mutex_unlock(&a.lock);
	log_info("warmpath %s running: %d peer(s), mode %s, probe %s, keepalive %gs, maps "
		 "pinned at %s",
		 WARMPATH_VERSION, a.installed.n, wp_mode_name(cfg.mode), wp_probe_name(cfg.probe),
		 cfg.keepalive_interval, cfg.pin_path);

	agent_loop(&a);
	log_info("exiting: detaching programs; maps stay pinned at %s", cfg.pin_path);
	ret = 0;
detach:
	wp_http_stop(a.http_metrics);
	wp_http_stop(a.http_probe);
	kube_stop(a.kube); /* after the HTTP server: /metrics reads its counters */
	a.kube = NULL;
	prober_close(&a.prober);
	event_log_close(&a.events);
	wp_drops_close(a.drops);
	wp_loader_detach_all(&a.ld);
destroy:
	if (ret) /* a failed start leaves nothing of its own behind */
		wp_loader_abandon(&a.ld);
	wp_loader_destroy(&a.ld);
out:
	if (a.epfd >= 0)
		close(a.epfd);
	peer_table_free(&a.peers);
	routes_close();
	if (prefix_src_fd >= 0)
		close(prefix_src_fd);
	prefix_src_fd = -1;
	peer_set_free(&a.installed);
	peer_set_free(&a.static_peers);
	peer_set_free(&a.kube_peers);
	peer_set_free(&peers);
	config_free(&cfg);
	explicit_bzero(&key, sizeof(key));
	return ret;
}
