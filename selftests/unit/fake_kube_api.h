/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A fake Kubernetes API server for the discovery tests (test_kube_*.c), in
 * the test process: libmicrohttpd over TLS (GnuTLS) with a CA and server
 * certificate made by the `openssl` CLI in a temporary directory, a
 * bearer-token check, a real-shaped NodeList (paginated) and a watch stream
 * each test scripts line by line (fake_step, fake_event). Loopback only; the
 * temporary directory is removed by certs_remove(). Also the client-side
 * helpers the tests share (options pointing at the fake, waits, peer lookups).
 */
#ifndef __WARMPATH_FAKE_KUBE_API_H
#define __WARMPATH_FAKE_KUBE_API_H

#include <pthread.h>
#include <stdbool.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>
#include <microhttpd.h>
#include "kube.h"
#include "test_helpers.h"
#include "test_progs.h"

#define WAIT_MS 5000 /* the longest any condition below may take to come true */
#define MAX_STEPS 64

enum step_kind {
	STEP_LINE, /* send text + "\n" */
	STEP_PARTIAL, /* send text, no newline */
	STEP_END, /* end the stream cleanly (last chunk) */
	STEP_CUT, /* drop the connection mid-stream */
};

enum list_mode { LIST_OK, LIST_STATUS, LIST_TRUNCATED, LIST_GARBAGE, LIST_STALL };

struct fake_api {
	struct MHD_Daemon *d;
	int port;
	char *key_pem, *cert_pem;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stopping;
	/* the script */
	char token[64]; /* the bearer token required */
	json_t *nodes; /* the NodeList items */
	char rv[32]; /* the list's resourceVersion */
	enum list_mode list_mode; /* for the next list_mode_n list requests */
	int list_mode_n, list_status;
	int watch_status, watch_status_n; /* answer the next n watches with this status */
	struct {
		enum step_kind kind;
		char *text;
	} steps[MAX_STEPS];
	int nsteps, next_step;
	int watch_gen; /* only the newest watch stream takes steps */
	/* what was seen */
	int lists, watches, unauthorized;
	char watch_rv[32], last_token[64];
	char list_rv[32]; /* resourceVersion of the last list's first page */
	bool list_rv_with_continue; /* a page asked resourceVersion and continue together */
	bool watch_bookmarks;
};

#define IPIP "projectcalico.org/IPv4IPIPTunnelAddr"
#define VXLAN "projectcalico.org/IPv4VXLANTunnelAddr"
#define WGADDR "projectcalico.org/IPv4WireguardInterfaceAddr"

/* the files of the fake's temporary directory (set by the test runner) */
extern char token_path[128], ca_path[128], other_ca_path[128];

int fake_listen(struct fake_api *f);
void fake_halt(struct fake_api *f);
bool certs_make(void);
void certs_remove(void);
void tmp_path(char *buf, size_t len, const char *name);
void write_file(const char *name, const char *text);
struct fake_api *fake_start(void);
void fake_free(struct fake_api *f);
void fake_step(struct fake_api *f, enum step_kind kind, const char *text);
void fake_event(struct fake_api *f, const char *type, json_t *obj);
int fake_get(struct fake_api *f, const int *field);
json_t *make_node(const char *name, const char *rv, const char *ip, const char *ann_key,
		  const char *ann_val, const char *cidr, const char *cidr6);
void fake_three_nodes(struct fake_api *f);
struct wp_kube_opts test_opts(struct fake_api *f);
struct wp_kube *client_start(const struct wp_kube_opts *o);
struct wp_peer *find_peer(struct wp_peer_set *s, const char *name);
bool has_prefix(const struct wp_peer *p, const char *text);
const char *addr_of(struct wp_peer_set *s, const char *name);
bool notify_ready(struct wp_kube *k, int ms);
__u64 now_ms(void);

/* kube_fixture.c: one test's fake API server (three nodes) and the client under test */
struct kube_run {
	struct fake_api *f;
	struct wp_kube_opts o; /* test_opts(f), for the test to adjust before the client */
	struct wp_kube *k;
	struct wp_peer_set set;
};

/* Zeroes @r, starts the fake with fake_three_nodes(); false (asserted) when it cannot. */
bool kube_run_fake(struct kube_run *r);
/* Starts the client with r->o (asserted as @name); with @watch, waits for its first watch. */
bool kube_run_client(struct kube_run *r, const char *name, bool watch);
void kube_run_end(struct kube_run *r);
/* The next @n watch requests are answered with HTTP @status. */
void fake_watch_status(struct fake_api *f, int status, int n);
/* The next @n list requests are answered in @mode. */
void fake_list_mode(struct fake_api *f, enum list_mode mode, int n);

/* Poll @cond (a statement expression over `st`) every 10 ms for up to WAIT_MS. */
#define WAIT_STATS(k, cond)                             \
	({                                              \
		struct wp_kube_stats st;                \
		__u64 ___end = now_ms() + WAIT_MS;      \
		bool ___ok;                             \
		for (;;) {                              \
			kube_get_stats((k), &st);       \
			___ok = (cond);                 \
			if (___ok || now_ms() > ___end) \
				break;                  \
			usleep(10000);                  \
		}                                       \
		___ok;                                  \
	})

#define WAIT_FAKE(f, cond)                                \
	({                                                \
		__u64 ___end = now_ms() + WAIT_MS;        \
		bool ___ok;                               \
		for (;;) {                                \
			pthread_mutex_lock(&(f)->lock);   \
			___ok = (cond);                   \
			pthread_mutex_unlock(&(f)->lock); \
			if (___ok || now_ms() > ___end)   \
				break;                    \
			usleep(10000);                    \
		}                                         \
		___ok;                                    \
	})

#define ASSERT_STREQ(got, want, name)                                                      \
	({                                                                                 \
		const char *___g = (got), *___w = (want);                                  \
		test__assert_report(___g && !strcmp(___g, ___w), __FILE__, __LINE__, name, \
				    "got=%s want=%s", ___g ? ___g : "(null)", ___w);       \
	})

/* subtests of test_kube_discovery, in test_kube_discovery.c and test_kube_errors.c */
void kube_case_list_watch(void);
void kube_case_relist_gone(void);
void kube_case_auth_token(void);
void kube_case_bad_json(void);
void kube_case_truncated(void);
void kube_case_slow(void);
void kube_case_server_dies(void);
void kube_case_wrong_ca(void);
void kube_case_metrics(void);
void kube_case_start_errors(void);
void kube_case_cni_fixtures(void); /* test_kube_cni.c */

#endif /* __WARMPATH_FAKE_KUBE_API_H */
