/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Loading the datapath, pinning its maps, attaching it to interfaces with tcx
 * links (pinned, so they outlive a crash and are replaced in place on restart)
 * or tc clsact filters at warmpath's own handle and priority, and detaching
 * only what is ours.
 */
#ifndef __WARMPATH_LOADER_H
#define __WARMPATH_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include "links.h"
#include "tc_filters.h"
#include "warmpath.h"

#define WP_DEFAULT_PIN_PATH "/sys/fs/bpf/warmpath"
#define WP_MAX_NEW_PINS 32

enum wp_attach_pref { WP_ATTACH_PREF_AUTO = 0, WP_ATTACH_PREF_TCX, WP_ATTACH_PREF_TC };

struct wp_load_opts {
	const char *pin_path;
	__u16 probe_port;
	__u16 vxlan_ports[2];
	__u16 wireguard_port;
	__u64 cold_threshold_ns;
	enum wp_attach_pref attach_pref;
};

struct wp_attachment {
	int ifindex;
	char ifname[WP_IFNAME_LEN];
	__u32 flags; /* WP_IF_* */
	int mode; /* WP_ATTACH_TCX or WP_ATTACH_TC */
	int link_fd[2];
	bool tc_attached[2]; /* this run attached (or replaced) our tc filter there */
	bool created_hook;
	__u32 slot; /* its iface_counters slot (if_flags bits 16..) */
	bool wg; /* a WireGuard device (kernel or wireguard-go) */
	bool encap; /* an IPIP / VXLAN device, whose packets may cross a WireGuard device next */
};

struct wp_new_pin {
	char path[300];
};

/* Maps and programs: ld->skel->maps.peers etc. (include "datapath.skel.h"). */
struct datapath_bpf;

struct wp_loader {
	struct datapath_bpf *skel;
	char pin_path[256];
	enum wp_attach_pref attach_pref;
	int nattach;
	struct wp_attachment attach[WP_MAX_IFACES];
	int tc_rec_fd; /* pinned tc_filters map: what we attached with tc */
	__u8 tc_tag[2][WP_TC_TAG_LEN]; /* our programs' tags (ingress, egress) */
	/* pins that did not exist before this run: a failed start removes them */
	int nnew_pins;
	struct wp_new_pin new_pins[WP_MAX_NEW_PINS];
	bool created_pin_dir;
	bool created_links_dir;
};

/* Check the environment (root/caps, bpffs, BTF), open, configure, load, pin. */
int wp_loader_load(struct wp_loader *ld, const struct wp_load_opts *o, char *err, size_t errlen);
/*
 * Whether attaching to a link would be refused (a foreign filter at our tc
 * handle and priority); changes nothing. Check every link before attaching any.
 */
int wp_loader_preflight(struct wp_loader *ld, const struct link_desc *l, char *err, size_t errlen);
/* Attach ingress and egress to a link; replaces our own leftovers in place. */
int wp_loader_attach(struct wp_loader *ld, const struct link_desc *l, __u32 flags, char *err,
		     size_t errlen);
/* After all attach calls: remove our attachments and ifaces entries from earlier runs
 * on interfaces this run does not watch. */
void wp_loader_prune_stale(struct wp_loader *ld);
/* Detach attachment i (e.g. its interface vanished) and close the gap. */
void wp_loader_detach_index(struct wp_loader *ld, int i);
/* Detach everything this run attached; maps stay pinned. */
void wp_loader_detach_all(struct wp_loader *ld);
/* A start that failed: remove the pins this run created (after wp_loader_detach_all). */
void wp_loader_abandon(struct wp_loader *ld);
void wp_loader_destroy(struct wp_loader *ld);
/* After any change to the prefixes map: invalidate the datapath's per-CPU peer cache. */
void wp_loader_prefixes_changed(struct wp_loader *ld);

/* `warmpath cleanup`: detach our programs and remove our pins, nothing else. */
int wp_cleanup(const char *pin_path, bool verbose);

const char *wp_attach_mode_name(int mode);

#endif /* __WARMPATH_LOADER_H */
