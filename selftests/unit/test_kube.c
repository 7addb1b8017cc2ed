// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Kubernetes discovery (user/kube.c) against a fake API server in this
 * process: libmicrohttpd over TLS (GnuTLS) with a CA and server certificate
 * made by the `openssl` CLI in a temporary directory, a bearer-token check,
 * a real-shaped NodeList (paginated) and a watch stream each test scripts
 * line by line. Loopback only; the temporary directory is removed.
 *
 *	test_kube_node       Node object -> peer; merging with static peers; metrics text
 *	test_kube_discovery  list + watch, 410 relist, 401/403 + token rotation, garbage,
 *	                     truncation, slow server, dead server, wrong CA
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>
#include <microhttpd.h>
#include "kube.h"
#include "log.h"
#include "prom.h"
#include "test_progs.h"

#define PROMTOOL "/usr/bin/promtool"
#define WAIT_MS 5000 /* the longest any condition below may take to come true */
#define MAX_STEPS 64

/* ---- the fake API server ---------------------------------------------------------- */

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
	bool watch_bookmarks;
};

/* One streamed response. */
struct stream {
	struct fake_api *f;
	enum { S_WATCH, S_TRUNCATED, S_STALL } kind;
	int gen;
	char *out;
	size_t len, off;
};

static void fake_wait(struct fake_api *f, int ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += ms * 1000000L;
	ts.tv_sec += ts.tv_nsec / 1000000000L;
	ts.tv_nsec %= 1000000000L;
	pthread_cond_timedwait(&f->cond, &f->lock, &ts);
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct stream *s = cls;
	struct fake_api *f = s->f;
	enum step_kind kind;
	char *text;

	while (s->off == s->len) {
		free(s->out);
		s->out = NULL;
		s->off = s->len = 0;
		if (s->kind == S_TRUNCATED)
			return MHD_CONTENT_READER_END_WITH_ERROR;
		pthread_mutex_lock(&f->lock);
		if (s->kind == S_STALL) {
			/* a server that sent a little and went quiet: until stopped, or 5 s */
			for (int i = 0; i < 100 && !f->stopping; i++)
				fake_wait(f, 50);
			pthread_mutex_unlock(&f->lock);
			return MHD_CONTENT_READER_END_WITH_ERROR;
		}
		while (!f->stopping && s->gen == f->watch_gen && f->next_step == f->nsteps)
			fake_wait(f, 50);
		if (f->stopping || s->gen != f->watch_gen) {
			pthread_mutex_unlock(&f->lock);
			return MHD_CONTENT_READER_END_WITH_ERROR;
		}
		kind = f->steps[f->next_step].kind;
		text = f->steps[f->next_step++].text;
		pthread_mutex_unlock(&f->lock);
		if (kind == STEP_END)
			return MHD_CONTENT_READER_END_OF_STREAM;
		if (kind == STEP_CUT)
			return MHD_CONTENT_READER_END_WITH_ERROR;
		if (asprintf(&s->out, "%s%s", text, kind == STEP_LINE ? "\n" : "") < 0)
			return MHD_CONTENT_READER_END_WITH_ERROR;
		s->len = strlen(s->out);
	}
	if (max > s->len - s->off)
		max = s->len - s->off;
	memcpy(buf, s->out + s->off, max);
	s->off += max;
	return max;
}

static void stream_free(void *cls)
{
	struct stream *s = cls;

	free(s->out);
	free(s);
}

static enum MHD_Result respond(struct MHD_Connection *c, int code, char *body)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", "application/json");
	ret = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	return ret;
}

/* A metav1.Status, as the API server sends with every error. */
static char *status_json(int code, const char *reason, const char *msg)
{
	json_t *o = json_pack("{s:s, s:s, s:{}, s:s, s:s, s:s, s:i}", "kind", "Status",
			      "apiVersion", "v1", "metadata", "status", "Failure", "message", msg,
			      "reason", reason, "code", code);
	char *s = json_dumps(o, JSON_COMPACT);

	json_decref(o);
	return s;
}

static enum MHD_Result respond_stream(struct fake_api *f, struct MHD_Connection *c, int kind,
				      int gen, char *first)
{
	struct stream *s = calloc(1, sizeof(*s));
	struct MHD_Response *r;
	enum MHD_Result ret;

	if (!s)
		return MHD_NO;
	s->f = f;
	s->kind = kind;
	s->gen = gen;
	s->out = first;
	s->len = first ? strlen(first) : 0;
	r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, stream_read, s, stream_free);
	if (!r) {
		stream_free(s);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", "application/json");
	ret = MHD_queue_response(c, 200, r);
	MHD_destroy_response(r);
	return ret;
}

/* One page of the NodeList: ?limit=N&continue=INDEX (caller holds the lock). */
static char *list_body(struct fake_api *f, struct MHD_Connection *c)
{
	const char *lim = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "limit");
	const char *cont = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "continue");
	size_t from = cont ? strtoul(cont, NULL, 10) : 0, n = json_array_size(f->nodes);
	size_t limit = lim ? strtoul(lim, NULL, 10) : n;
	json_t *items = json_array(), *meta = json_pack("{s:s}", "resourceVersion", f->rv), *o;
	char next[32], *s;

	for (size_t i = from; i < n && i < from + limit; i++)
		json_array_append(items, json_array_get(f->nodes, i));
	if (from + limit < n) {
		snprintf(next, sizeof(next), "%zu", from + limit);
		json_object_set_new(meta, "continue", json_string(next));
	}
	o = json_pack("{s:s, s:s, s:o, s:o}", "kind", "NodeList", "apiVersion", "v1", "metadata",
		      meta, "items", items);
	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return s;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **req_cls)
{
	static int first_call;
	struct fake_api *f = cls;
	const char *auth, *watch, *arg;
	enum list_mode mode = LIST_OK;
	char want[80], *body;
	int code, gen;

	if (!*req_cls) {
		*req_cls = &first_call;
		return MHD_YES;
	}
	auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	pthread_mutex_lock(&f->lock);
	snprintf(want, sizeof(want), "Bearer %s", f->token);
	if (!auth || strcmp(auth, want)) {
		f->unauthorized++;
		pthread_mutex_unlock(&f->lock);
		return respond(c, 401, status_json(401, "Unauthorized", "Unauthorized"));
	}
	snprintf(f->last_token, sizeof(f->last_token), "%s", f->token);
	if (strcmp(url, "/api/v1/nodes")) {
		pthread_mutex_unlock(&f->lock);
		return respond(c, 404,
			       status_json(404, "NotFound", "the server could not find it"));
	}
	watch = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "watch");
	if (watch) {
		f->watches++;
		arg = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "resourceVersion");
		snprintf(f->watch_rv, sizeof(f->watch_rv), "%s", arg ? arg : "");
		arg = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "allowWatchBookmarks");
		f->watch_bookmarks = arg && !strcmp(arg, "true");
		if (f->watch_status_n) {
			f->watch_status_n--;
			code = f->watch_status;
			pthread_mutex_unlock(&f->lock);
			return respond(c, code, status_json(code, "Expired", "scripted status"));
		}
		gen = ++f->watch_gen;
		pthread_cond_broadcast(&f->cond);
		pthread_mutex_unlock(&f->lock);
		return respond_stream(f, c, S_WATCH, gen, NULL);
	}
	f->lists++;
	if (f->list_mode_n) {
		f->list_mode_n--;
		mode = f->list_mode;
	}
	code = f->list_status;
	body = list_body(f, c);
	pthread_mutex_unlock(&f->lock);
	switch (mode) {
	case LIST_STATUS:
		free(body);
		return respond(c, code, status_json(code, "Forbidden", "scripted status"));
	case LIST_GARBAGE:
		free(body);
		return respond(c, 200, strdup("<html><body>502 Bad Gateway</body></html>"));
	case LIST_TRUNCATED:
		body[strlen(body) / 2] = '\0';
		return respond_stream(f, c, S_TRUNCATED, 0, body);
	case LIST_STALL:
		body[10] = '\0';
		return respond_stream(f, c, S_STALL, 0, body);
	default:
		return respond(c, 200, body);
	}
}

static void quiet_log(void *cls, const char *fmt, va_list ap)
{
	if (env.verbose)
		vfprintf(stderr, fmt, ap);
}

static int fake_listen(struct fake_api *f)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(f->port) };

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	f->stopping = false;
	f->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
					MHD_USE_TLS | MHD_USE_ERROR_LOG,
				0, NULL, NULL, on_request, f, MHD_OPTION_EXTERNAL_LOGGER, quiet_log,
				NULL, MHD_OPTION_HTTPS_MEM_KEY, f->key_pem,
				MHD_OPTION_HTTPS_MEM_CERT, f->cert_pem, MHD_OPTION_SOCK_ADDR, &sin,
				MHD_OPTION_LISTENING_ADDRESS_REUSE, 1U, MHD_OPTION_EXTERNAL_LOGGER,
				quiet_log, NULL, MHD_OPTION_END);
	if (!f->d)
		return -1;
	f->port = MHD_get_daemon_info(f->d, MHD_DAEMON_INFO_BIND_PORT)->port;
	return 0;
}

static void fake_halt(struct fake_api *f)
{
	if (!f->d)
		return;
	pthread_mutex_lock(&f->lock);
	f->stopping = true;
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->lock);
	MHD_stop_daemon(f->d);
	f->d = NULL;
}

static char *slurp(const char *path)
{
	FILE *fp = fopen(path, "r");
	char *s = NULL;
	size_t len = 0;

	if (!fp)
		return NULL;
	if (getdelim(&s, &len, '\0', fp) < 0) {
		free(s);
		s = NULL;
	}
	fclose(fp);
	return s;
}

/* The certificates: made once per test, in a directory removed at its end. */
static char tmpdir[64];

static bool certs_make(void)
{
	char cmd[2048];

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/wpkube.XXXXXX");
	if (!mkdtemp(tmpdir))
		return false;
	snprintf(cmd, sizeof(cmd),
		 "cd %s && "
		 "printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n"
		 "extendedKeyUsage=serverAuth\\nbasicConstraints=CA:FALSE\\n' >ext.cnf && "
		 "for ca in ca other-ca; do openssl req -x509 -newkey ec "
		 "-pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout $ca.key -out $ca.crt "
		 "-days 1 -subj /CN=warmpath-test-$ca "
		 "-addext basicConstraints=critical,CA:TRUE "
		 "-addext keyUsage=critical,keyCertSign,cRLSign || exit 1; done && "
		 "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
		 "-keyout server.key -out server.csr -subj /CN=127.0.0.1 && "
		 "openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial "
		 "-days 1 -extfile ext.cnf -out server.crt",
		 tmpdir);
	strcat(cmd, " >/dev/null 2>&1");
	return system(cmd) == 0;
}

static void certs_remove(void)
{
	char cmd[128];

	if (!tmpdir[0] || strncmp(tmpdir, "/tmp/wpkube.", 12))
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf -- %s", tmpdir);
	if (system(cmd))
		test__printf("could not remove %s\n", tmpdir);
	tmpdir[0] = '\0';
}

static void tmp_path(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", tmpdir, name);
}

/* Replace a file the way the kubelet rotates projected tokens: write aside, rename. */
static void write_file(const char *name, const char *text)
{
	char path[128], tmp[140];
	FILE *fp;

	tmp_path(path, sizeof(path), name);
	snprintf(tmp, sizeof(tmp), "%s.new", path);
	fp = fopen(tmp, "w");
	if (!fp)
		return;
	fputs(text, fp);
	fclose(fp);
	rename(tmp, path);
}

static struct fake_api *fake_start(void)
{
	struct fake_api *f = calloc(1, sizeof(*f));
	char path[128];

	if (!f)
		return NULL;
	pthread_mutex_init(&f->lock, NULL);
	pthread_cond_init(&f->cond, NULL);
	tmp_path(path, sizeof(path), "server.key");
	f->key_pem = slurp(path);
	tmp_path(path, sizeof(path), "server.crt");
	f->cert_pem = slurp(path);
	strcpy(f->token, "tok-1");
	strcpy(f->rv, "100");
	f->nodes = json_array();
	write_file("token", "tok-1\n");
	if (!f->key_pem || !f->cert_pem || fake_listen(f)) {
		free(f->key_pem);
		free(f->cert_pem);
		json_decref(f->nodes);
		free(f);
		return NULL;
	}
	return f;
}

static void fake_free(struct fake_api *f)
{
	if (!f)
		return;
	fake_halt(f);
	for (int i = 0; i < f->nsteps; i++)
		free(f->steps[i].text);
	json_decref(f->nodes);
	free(f->key_pem);
	free(f->cert_pem);
	pthread_cond_destroy(&f->cond);
	pthread_mutex_destroy(&f->lock);
	free(f);
}

static void fake_step(struct fake_api *f, enum step_kind kind, const char *text)
{
	pthread_mutex_lock(&f->lock);
	if (f->nsteps < MAX_STEPS) {
		f->steps[f->nsteps].kind = kind;
		f->steps[f->nsteps++].text = text ? strdup(text) : NULL;
	}
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->lock);
}

/* A watch event line for @obj (consumed). */
static void fake_event(struct fake_api *f, const char *type, json_t *obj)
{
	json_t *ev = json_pack("{s:s, s:o}", "type", type, "object", obj);
	char *s = json_dumps(ev, JSON_COMPACT);

	fake_step(f, STEP_LINE, s);
	free(s);
	json_decref(ev);
}

static int fake_get(struct fake_api *f, const int *field)
{
	int v;

	pthread_mutex_lock(&f->lock);
	v = *field;
	pthread_mutex_unlock(&f->lock);
	return v;
}

/*
 * A Node as the API server sends it (trimmed of images and most of nodeInfo).
 * @ann_key/@ann_val: one address annotation (or NULL); @cidr6: a second podCIDR.
 */
static json_t *make_node(const char *name, const char *rv, const char *ip, const char *ann_key,
			 const char *ann_val, const char *cidr, const char *cidr6)
{
	json_t *ann = json_pack("{s:s, s:s}", "node.alpha.kubernetes.io/ttl", "0",
				"volumes.kubernetes.io/controller-managed-attach-detach", "true");
	json_t *cidrs = json_array(), *spec = json_object();

	if (ann_key)
		json_object_set_new(ann, ann_key, json_string(ann_val));
	if (cidr) {
		json_object_set_new(spec, "podCIDR", json_string(cidr));
		json_array_append_new(cidrs, json_string(cidr));
		if (cidr6)
			json_array_append_new(cidrs, json_string(cidr6));
		json_object_set_new(spec, "podCIDRs", cidrs);
	} else {
		json_decref(cidrs);
	}
	return json_pack(
		"{s:s, s:s,"
		" s:{s:s, s:s, s:s, s:s, s:{s:s, s:s, s:s}, s:o},"
		" s:o,"
		" s:{s:{s:s, s:s}, s:[{s:s, s:s}, {s:s, s:s}],"
		"    s:[{s:s, s:s, s:s, s:s, s:s, s:s}], s:{s:s, s:s, s:s}}}",
		"kind", "Node", "apiVersion", "v1", "metadata", "name", name, "uid",
		"6a1c2e0b-0000-4000-8000-000000000000", "resourceVersion", rv, "creationTimestamp",
		"2024-01-01T00:00:00Z", "labels", "kubernetes.io/hostname", name,
		"kubernetes.io/os", "linux", "kubernetes.io/arch", "amd64", "annotations", ann,
		"spec", spec, "status", "capacity", "cpu", "4", "memory", "8029368Ki", "addresses",
		"type", "InternalIP", "address", ip, "type", "Hostname", "address", name,
		"conditions", "type", "Ready", "status", "True", "reason", "KubeletReady",
		"message", "kubelet is posting ready status", "lastHeartbeatTime",
		"2024-01-01T00:00:00Z", "lastTransitionTime", "2024-01-01T00:00:00Z", "nodeInfo",
		"kubeletVersion", "v1.29.0", "osImage", "Debian GNU/Linux 12 (bookworm)",
		"containerRuntimeVersion", "containerd://1.7.0");
}

#define IPIP "projectcalico.org/IPv4IPIPTunnelAddr"
#define VXLAN "projectcalico.org/IPv4VXLANTunnelAddr"
#define WGADDR "projectcalico.org/IPv4WireguardInterfaceAddr"

/* The cluster most tests start from: node-a is this node. */
static void fake_three_nodes(struct fake_api *f)
{
	json_array_append_new(f->nodes, make_node("node-a", "90", "192.168.1.1", IPIP, "10.244.0.1",
						  "10.244.0.0/24", NULL));
	json_array_append_new(f->nodes, make_node("node-b", "91", "192.168.1.2", IPIP, "10.244.1.1",
						  "10.244.1.0/24", "fd00:10:244:1::/64"));
	json_array_append_new(f->nodes, make_node("node-c", "92", "192.168.1.3", NULL, NULL,
						  "10.244.2.0/24", NULL));
}

/* ---- the client side ----------------------------------------------------------------- */

static char token_path[128], ca_path[128], other_ca_path[128], api_url[64];

static struct wp_kube_opts test_opts(struct fake_api *f)
{
	struct wp_kube_opts o = {
		.api_url = api_url,
		.token_file = token_path,
		.ca_file = ca_path,
		.node_name = "node-a",
		.connect_timeout_ms = 1000,
		.request_timeout_ms = 3000,
		.watch_timeout_s = 30,
		.backoff_min_ms = 20,
		.backoff_max_ms = 200,
	};

	snprintf(api_url, sizeof(api_url), "https://127.0.0.1:%d", f->port);
	return o;
}

static struct wp_kube *client_start(const struct wp_kube_opts *o)
{
	char err[256] = "";
	struct wp_kube *k = kube_start(o, err, sizeof(err));

	if (!k)
		test__printf("kube_start: %s\n", err);
	return k;
}

static __u64 now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ull + ts.tv_nsec / 1000000;
}

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

static struct wp_peer *find_peer(struct wp_peer_set *s, const char *name)
{
	return peer_set_find(s, name);
}

static bool has_prefix(const struct wp_peer *p, const char *text)
{
	struct wp_prefix want;

	if (!p || prefix_parse(text, &want))
		return false;
	for (int i = 0; i < p->nprefixes; i++)
		if (p->prefixes[i].len == want.len && !memcmp(p->prefixes[i].addr, want.addr, 16))
			return true;
	return false;
}

static const char *addr_of(struct wp_peer_set *s, const char *name)
{
	struct wp_peer *p = find_peer(s, name);

	return p ? p->addr_str : "(none)";
}

static bool notify_ready(struct wp_kube *k, int ms)
{
	struct pollfd pfd = { .fd = kube_notify_fd(k), .events = POLLIN };

	return poll(&pfd, 1, ms) == 1;
}

#define ASSERT_STREQ(got, want, name)                                                      \
	({                                                                                 \
		const char *___g = (got), *___w = (want);                                  \
		test__assert_report(___g && !strcmp(___g, ___w), __FILE__, __LINE__, name, \
				    "got=%s want=%s", ___g ? ___g : "(null)", ___w);       \
	})

/* ---- test_kube_node ------------------------------------------------------------------ */

static void node_peer_cases(void)
{
	const char *custom[] = { "example.com/probe", NULL };
	struct wp_peer p;
	char err[256];
	json_t *n;

	/* the Calico annotation wins; every address and CIDR becomes a prefix */
	n = make_node("node-b", "1", "192.168.1.2", IPIP, "10.244.1.1", "10.244.1.0/24",
		      "fd00:10:244:1::/64");
	if (ASSERT_OK(kube_node_peer(n, NULL, &p, err, sizeof(err)), "calico")) {
		ASSERT_STREQ(p.name, "node-b", "calico_name");
		ASSERT_STREQ(p.addr_str, "10.244.1.1", "calico_addr");
		ASSERT_EQ(p.nprefixes, 4, "calico_nprefixes");
		ASSERT_TRUE(has_prefix(&p, "10.244.1.1"), "calico_pfx_tunnel");
		ASSERT_TRUE(has_prefix(&p, "192.168.1.2"), "calico_pfx_internal");
		ASSERT_TRUE(has_prefix(&p, "10.244.1.0/24"), "calico_pfx_podcidr");
		ASSERT_TRUE(has_prefix(&p, "fd00:10:244:1::/64"), "calico_pfx_podcidr6");
	}
	/* ... but not with other annotation keys configured */
	if (ASSERT_OK(kube_node_peer(n, custom, &p, err, sizeof(err)), "custom"))
		ASSERT_STREQ(p.addr_str, "192.168.1.2", "custom_falls_back_to_internal");
	json_decref(n);

	/* InternalIP fallback, podCIDR without podCIDRs, the address once only */
	n = make_node("node-c", "1", "192.168.1.3", "example.com/probe", "192.168.1.3/24", NULL,
		      NULL);
	json_object_set_new(json_object_get(n, "spec"), "podCIDR", json_string("10.9.0.0/16"));
	if (ASSERT_OK(kube_node_peer(n, NULL, &p, err, sizeof(err)), "internal")) {
		ASSERT_STREQ(p.addr_str, "192.168.1.3", "internal_addr");
		ASSERT_EQ(p.nprefixes, 2, "internal_nprefixes");
		ASSERT_TRUE(has_prefix(&p, "10.9.0.0/16"), "internal_podcidr");
	}
	/* an annotation with /len (Calico's IPv4Address style) probes the address */
	if (ASSERT_OK(kube_node_peer(n, custom, &p, err, sizeof(err)), "slash")) {
		ASSERT_STREQ(p.addr_str, "192.168.1.3", "slash_addr");
		ASSERT_FALSE(has_prefix(&p, "192.168.1.0/24"), "slash_not_a_subnet");
	}
	json_decref(n);

	/* IPv6 InternalIP, the VXLAN annotation */
	n = make_node("node-d", "1", "fd00::4", VXLAN, "10.244.3.0", NULL, NULL);
	if (ASSERT_OK(kube_node_peer(n, NULL, &p, err, sizeof(err)), "vxlan")) {
		ASSERT_STREQ(p.addr_str, "10.244.3.0", "vxlan_addr");
		ASSERT_TRUE(has_prefix(&p, "fd00::4"), "vxlan_pfx_v6");
	}
	json_decref(n);

	/* nothing to probe: a garbage annotation and no InternalIP */
	n = make_node("node-e", "1", "not-an-ip", IPIP, "garbage", NULL, NULL);
	ASSERT_EQ(kube_node_peer(n, NULL, &p, err, sizeof(err)), -EINVAL, "no_address");
	json_decref(n);

	/* a name longer than a peer name may be */
	n = make_node("node-with-a-very-long-name-0123456789012345678901234567890123456789", "1",
		      "192.168.1.9", NULL, NULL, NULL, NULL);
	ASSERT_EQ(kube_node_peer(n, NULL, &p, err, sizeof(err)), -EINVAL, "long_name");
	json_decref(n);
	n = json_pack("{s:{}}", "metadata");
	ASSERT_EQ(kube_node_peer(n, NULL, &p, err, sizeof(err)), -EINVAL, "no_name");
	json_decref(n);
}

static void merge_cases(void)
{
	struct wp_peer_set dst = {}, kube = {};
	struct wp_peer p;
	char err[256];
	int ret;

	peer_parse_spec("static-b=10.0.0.2,192.168.2.0/24", &p, err, sizeof(err));
	peer_set_add(&dst, &p, err, sizeof(err));
	/* same name as a static peer: the static one wins */
	peer_parse_spec("static-b=10.9.9.9", &p, err, sizeof(err));
	peer_set_add(&kube, &p, err, sizeof(err));
	/* probe address claimed by a static peer: skipped */
	peer_parse_spec("node-x=10.0.0.2", &p, err, sizeof(err));
	kube.peers = realloc(kube.peers, 8 * sizeof(p));
	kube.cap = 8;
	kube.peers[kube.n++] = p;
	/* a prefix claimed by a static peer: dropped, the rest kept */
	peer_parse_spec("node-y=10.0.0.3,192.168.2.0/24,10.244.5.0/24", &p, err, sizeof(err));
	kube.peers[kube.n++] = p;
	/* two kube peers sharing a podCIDR: the first keeps it */
	peer_parse_spec("node-z=10.0.0.4,10.244.5.0/24", &p, err, sizeof(err));
	kube.peers[kube.n++] = p;

	ret = kube_merge_peers(&dst, &kube, err, sizeof(err));
	ASSERT_EQ(ret, 2, "merge_skipped");
	ASSERT_EQ(dst.n, 3, "merge_n");
	ASSERT_STREQ(addr_of(&dst, "static-b"), "10.0.0.2", "merge_static_wins");
	ASSERT_TRUE(find_peer(&dst, "node-x") == NULL, "merge_probe_conflict_skipped");
	ASSERT_EQ(find_peer(&dst, "node-y") ? find_peer(&dst, "node-y")->nprefixes : -1, 2,
		  "merge_prefix_dropped");
	ASSERT_TRUE(has_prefix(find_peer(&dst, "node-y"), "10.244.5.0/24"), "merge_first_keeps");
	ASSERT_EQ(find_peer(&dst, "node-z") ? find_peer(&dst, "node-z")->nprefixes : -1, 1,
		  "merge_second_loses");
	peer_set_free(&dst);
	peer_set_free(&kube);
}

void test_kube_node(void)
{
	if (test__start_subtest("node_peer"))
		node_peer_cases();
	if (test__start_subtest("merge"))
		merge_cases();
}

/* ---- test_kube_discovery ------------------------------------------------------------- */

static void list_watch(void)
{
	struct fake_api *f = fake_start();
	struct wp_peer_set set = {};
	struct wp_kube_opts o;
	struct wp_kube *k = NULL;
	json_t *n;

	if (!ASSERT_OK_PTR(f, "fake_start"))
		return;
	fake_three_nodes(f);
	o = test_opts(f);
	o.list_page_size = 2; /* two pages, the second through ?continue= */
	k = client_start(&o);
	if (!ASSERT_OK_PTR(k, "kube_start"))
		goto out;
	ASSERT_TRUE(notify_ready(k, WAIT_MS), "notified_after_list");
	ASSERT_TRUE(WAIT_STATS(k, st.synced && st.nodes == 3), "synced");
	ASSERT_EQ(fake_get(f, &f->lists), 2, "two_pages");
	ASSERT_EQ(kube_take_peers(k, &set), 2, "peers_without_self");
	ASSERT_FALSE(notify_ready(k, 0), "take_drains_eventfd");
	ASSERT_TRUE(find_peer(&set, "node-a") == NULL, "self_skipped");
	ASSERT_STREQ(addr_of(&set, "node-b"), "10.244.1.1", "calico_annotation_probe");
	ASSERT_STREQ(addr_of(&set, "node-c"), "192.168.1.3", "internal_ip_fallback");
	ASSERT_TRUE(has_prefix(find_peer(&set, "node-b"), "192.168.1.2"), "b_internal_ip");
	ASSERT_TRUE(has_prefix(find_peer(&set, "node-b"), "10.244.1.0/24"), "b_podcidr");
	ASSERT_TRUE(has_prefix(find_peer(&set, "node-b"), "fd00:10:244:1::/64"), "b_podcidr6");
	ASSERT_TRUE(has_prefix(find_peer(&set, "node-c"), "10.244.2.0/24"), "c_podcidr");
	ASSERT_TRUE(WAIT_FAKE(f, f->watches == 1), "watching");
	ASSERT_STREQ(f->watch_rv, "100", "watch_from_list_rv");
	ASSERT_TRUE(f->watch_bookmarks, "watch_bookmarks");

	/* ADDED */
	fake_event(f, "ADDED",
		   make_node("node-d", "101", "192.168.1.4", VXLAN, "10.244.3.0", NULL, NULL));
	ASSERT_TRUE(notify_ready(k, WAIT_MS), "added_notified");
	ASSERT_EQ(kube_take_peers(k, &set), 3, "added_peers");
	ASSERT_STREQ(addr_of(&set, "node-d"), "10.244.3.0", "added_vxlan_probe");

	/* MODIFIED: node-c gets a WireGuard address, which becomes its probe address */
	fake_event(f, "MODIFIED",
		   make_node("node-c", "102", "192.168.1.3", WGADDR, "10.244.2.9", "10.244.2.0/24",
			     NULL));
	ASSERT_TRUE(notify_ready(k, WAIT_MS), "modified_notified");
	kube_take_peers(k, &set);
	ASSERT_STREQ(addr_of(&set, "node-c"), "10.244.2.9", "modified_probe");
	ASSERT_TRUE(has_prefix(find_peer(&set, "node-c"), "192.168.1.3"), "modified_keeps_ip");

	/* MODIFIED with nothing that matters (a heartbeat): no notification */
	n = make_node("node-b", "103", "192.168.1.2", IPIP, "10.244.1.1", "10.244.1.0/24",
		      "fd00:10:244:1::/64");
	json_object_set_new(json_object_get(n, "status"), "phase", json_string("Running"));
	fake_event(f, "MODIFIED", n);
	ASSERT_TRUE(WAIT_STATS(k, st.events[1] == 2), "heartbeat_seen");
	ASSERT_FALSE(notify_ready(k, 100), "heartbeat_not_notified");

	/* this node changing is not a peer change either */
	fake_event(f, "MODIFIED",
		   make_node("node-a", "104", "192.168.1.1", NULL, NULL, NULL, NULL));
	ASSERT_TRUE(WAIT_STATS(k, st.events[1] == 3), "self_seen");
	ASSERT_FALSE(notify_ready(k, 100), "self_not_notified");

	/* DELETED */
	fake_event(f, "DELETED",
		   make_node("node-d", "105", "192.168.1.4", VXLAN, "10.244.3.0", NULL, NULL));
	ASSERT_TRUE(notify_ready(k, WAIT_MS), "deleted_notified");
	ASSERT_EQ(kube_take_peers(k, &set), 2, "deleted_peers");
	ASSERT_TRUE(find_peer(&set, "node-d") == NULL, "deleted_gone");

	/* BOOKMARK: the next watch starts from it */
	fake_step(f, STEP_LINE,
		  "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"Node\",\"apiVersion\":\"v1\","
		  "\"metadata\":{\"resourceVersion\":\"200\",\"annotations\":"
		  "{\"k8s.io/initial-events-end\":\"true\"}}}}");
	ASSERT_TRUE(WAIT_STATS(k, st.events[3] == 1), "bookmark_seen");
	ASSERT_FALSE(notify_ready(k, 0), "bookmark_not_notified");
	fake_step(f, STEP_END, NULL);
	ASSERT_TRUE(WAIT_FAKE(f, f->watches == 2), "rewatch_after_end");
	ASSERT_STREQ(f->watch_rv, "200", "rewatch_from_bookmark");
	ASSERT_EQ(fake_get(f, &f->lists), 2, "no_relist");
	{
		struct wp_kube_stats st;

		kube_get_stats(k, &st);
		for (int r = 0; r < KUBE_ERR_MAX; r++)
			ASSERT_EQ(st.errors[r], 0, kube_error_name(r));
		ASSERT_EQ(st.peers, 2, "stats_peers");
		ASSERT_TRUE(st.last_success > 1.6e9, "last_success");
	}
out:
	kube_stop(k);
	peer_set_free(&set);
	fake_free(f);
}

static void relist_gone(void)
{
	struct fake_api *f = fake_start();
	struct wp_peer_set set = {};
	struct wp_kube_opts o;
	struct wp_kube *k = NULL;
	int lists;

	if (!ASSERT_OK_PTR(f, "fake_start"))
		return;
	fake_three_nodes(f);
	o = test_opts(f);
	k = client_start(&o);
	if (!ASSERT_OK_PTR(k, "kube_start") || !ASSERT_TRUE(WAIT_FAKE(f, f->watches == 1), "watch"))
		goto out;

	/* the cluster changes while the watch falls behind: node-c goes, node-e comes */
	pthread_mutex_lock(&f->lock);
	json_array_remove(f->nodes, 2);
	json_array_append_new(f->nodes, make_node("node-e", "150", "192.168.1.5", NULL, NULL,
						  "10.244.5.0/24", NULL));
	strcpy(f->rv, "300");
	pthread_mutex_unlock(&f->lock);
	fake_step(f, STEP_LINE,
		  "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\","
		  "\"metadata\":{},\"status\":\"Failure\",\"message\":\"too old resource "
		  "version: 100 (250)\",\"reason\":\"Expired\",\"code\":410}}");
	ASSERT_TRUE(WAIT_STATS(k, st.lists == 2 && st.errors[KUBE_ERR_GONE] == 1), "relisted");
	kube_take_peers(k, &set);
	ASSERT_TRUE(find_peer(&set, "node-c") == NULL, "relist_removes");
	ASSERT_STREQ(addr_of(&set, "node-e"), "192.168.1.5", "relist_adds");
	ASSERT_TRUE(WAIT_FAKE(f, f->watches == 2), "watch_after_relist");
	ASSERT_STREQ(f->watch_rv, "300", "watch_from_new_rv");

	/* 410 as the HTTP status of the watch request */
	pthread_mutex_lock(&f->lock);
	f->watch_status = 410;
	f->watch_status_n = 1;
	pthread_mutex_unlock(&f->lock);
	fake_step(f, STEP_END, NULL);
	ASSERT_TRUE(WAIT_STATS(k, st.lists == 3 && st.errors[KUBE_ERR_GONE] == 2),
		    "relisted_http_410");
	ASSERT_TRUE(WAIT_STATS(k, st.up), "up_again");

	/* a server that answers every watch with 410: relists, but backed off */
	ASSERT_TRUE(WAIT_FAKE(f, f->watches == 4), "watching_again");
	pthread_mutex_lock(&f->lock);
	f->watch_status_n = 1000000;
	lists = f->lists;
	pthread_mutex_unlock(&f->lock);
	fake_step(f, STEP_END, NULL);
	usleep(1000000);
	ASSERT_LT(fake_get(f, &f->lists) - lists, 20, "relists_backed_off");
	ASSERT_GT(fake_get(f, &f->lists) - lists, 2, "relists_go_on");
	pthread_mutex_lock(&f->lock);
	f->watch_status_n = 0;
	pthread_mutex_unlock(&f->lock);
out:
	kube_stop(k);
	peer_set_free(&set);
	fake_free(f);
}

static void auth_token(void)
{
	struct fake_api *f = fake_start();
	struct wp_peer_set set = {};
	struct wp_kube_opts o;
	struct wp_kube *k = NULL;
	int watches;

	if (!ASSERT_OK_PTR(f, "fake_start"))
		return;
	fake_three_nodes(f);
	o = test_opts(f);
	k = client_start(&o);
	if (!ASSERT_OK_PTR(k, "kube_start") || !ASSERT_TRUE(WAIT_FAKE(f, f->watches == 1), "watch"))
		goto out;

	/* the server now wants a rotated token the file does not hold yet: 401 */
	pthread_mutex_lock(&f->lock);
	strcpy(f->token, "tok-2");
	pthread_mutex_unlock(&f->lock);
	fake_step(f, STEP_END, NULL);
	ASSERT_TRUE(WAIT_STATS(k, st.errors[KUBE_ERR_HTTP_401] >= 2 && !st.up), "http_401");
	ASSERT_EQ(kube_take_peers(k, &set), 2, "peers_kept_on_401");

	/* the kubelet rotates the file: the next attempt reads and sends it */
	write_file("token", "tok-2\n");
	ASSERT_TRUE(WAIT_FAKE(f, f->watches == 2), "watch_with_new_token");
	ASSERT_STREQ(f->last_token, "tok-2", "new_token_sent");
	ASSERT_TRUE(WAIT_STATS(k, st.up), "up_after_rotation");

	/* RBAC says no */
	pthread_mutex_lock(&f->lock);
	f->watch_status = 403;
	f->watch_status_n = 2;
	watches = f->watches;
	pthread_mutex_unlock(&f->lock);
	fake_step(f, STEP_END, NULL);
	ASSERT_TRUE(WAIT_STATS(k, st.errors[KUBE_ERR_HTTP_403] == 2), "http_403");
	ASSERT_TRUE(WAIT_FAKE(f, f->watches == watches + 3), "watch_after_403");
	ASSERT_EQ(kube_take_peers(k, &set), 2, "peers_kept_on_403");

	/* a token file that vanished */
	kube_stop(k);
	write_file("token", "");
	k = client_start(&o);
	ASSERT_TRUE(WAIT_STATS(k, st.errors[KUBE_ERR_TOKEN] >= 1 && !st.synced),
		    "token_unreadable");
out:
	kube_stop(k);
	peer_set_free(&set);
	fake_free(f);
}

static void bad_json(void)
{
	struct fake_api *f = fake_start();
	struct wp_peer_set set = {};
	struct wp_kube_opts o;
	struct wp_kube *k = NULL;
	char big[12000];
	int n;

	if (!ASSERT_OK_PTR(f, "fake_start"))
		return;
	fake_three_nodes(f);
	f->list_mode = LIST_GARBAGE; /* a proxy's HTML error page with status 200 */
	f->list_mode_n = 1;
	o = test_opts(f);
	o.max_event_bytes = 4096;
	k = client_start(&o);
	if (!ASSERT_OK_PTR(k, "kube_start"))
		goto out;
	ASSERT_TRUE(WAIT_STATS(k, st.synced && st.errors[KUBE_ERR_BAD_JSON] == 1), "list_garbage");
	ASSERT_TRUE(WAIT_FAKE(f, f->watches == 1), "watch");

	fake_step(f, STEP_LINE, "this is not json");
	ASSERT_TRUE(WAIT_STATS(k, st.errors[KUBE_ERR_BAD_JSON] == 2), "watch_garbage");
	ASSERT_TRUE(WAIT_FAKE(f, f->watches == 2), "rewatch_after_garbage");
	ASSERT_STREQ(f->watch_rv, "100", "rewatch_same_rv");
	fake_step(f, STEP_LINE, "{\"type\":\"ADDED\"}");
	ASSERT_TRUE(WAIT_STATS(k, st.errors[KUBE_ERR_BAD_JSON] == 3), "event_without_object");
	ASSERT_TRUE(WAIT_FAKE(f, f->watches == 3), "rewatch_after_shape");

	/* a line above the bound */
	n = snprintf(big, sizeof(big), "{\"type\":\"ADDED\",\"object\":{\"x\":\"");
	memset(big + n, 'x', 10000);
	strcpy(big + n + 10000, "\"}}");
	fake_step(f, STEP_LINE, big);
	ASSERT_TRUE(WAIT_STATS(k, st.errors[KUBE_ERR_TOO_LARGE] == 1), "too_large");
	ASSERT_TRUE(WAIT_FAKE(f, f->watches == 4), "rewatch_after_too_large");
	ASSERT_EQ(kube_take_peers(k, &set), 2, "peers_kept");

	/* the stream still works */
	fake_event(f, "ADDED", make_node("node-d", "101", "192.168.1.4", NULL, NULL, NULL, NULL));
	ASSERT_TRUE(WAIT_STATS(k, st.peers == 3), "recovered");
	ASSERT_EQ(fake_get(f, &f->lists), 2, "no_relist_for_garbage");
out:
	kube_stop(k);
	peer_set_free(&set);
	fake_free(f);
}

static void truncated(void)
{
	struct fake_api *f = fake_start();
	struct wp_peer_set set = {};
	struct wp_kube_opts o;
	struct wp_kube *k = NULL;
	const char *half = "{\"type\":\"ADDED\",\"object\":{\"kind\":\"Node\",\"metadata\":{\"na";

	if (!ASSERT_OK_PTR(f, "fake_start"))
		return;
	fake_three_nodes(f);
	f->list_mode = LIST_TRUNCATED; /* the connection drops halfway through the list */
	f->list_mode_n = 1;
	o = test_opts(f);
	k = client_start(&o);
	if (!ASSERT_OK_PTR(k, "kube_start"))
		goto out;
	ASSERT_TRUE(WAIT_STATS(k, st.synced && st.errors[KUBE_ERR_TRUNCATED] == 1),
		    "list_truncated");
	ASSERT_TRUE(WAIT_FAKE(f, f->watches == 1), "watch");

	/* half an event, then the connection drops */
	fake_step(f, STEP_PARTIAL, half);
	fake_step(f, STEP_CUT, NULL);
	ASSERT_TRUE(WAIT_STATS(k, st.errors[KUBE_ERR_TRUNCATED] == 2), "line_cut");
	ASSERT_TRUE(WAIT_FAKE(f, f->watches == 2), "rewatch_after_cut");
	/* half an event, then a clean end of the stream */
	fake_step(f, STEP_PARTIAL, half);
	fake_step(f, STEP_END, NULL);
	ASSERT_TRUE(WAIT_STATS(k, st.errors[KUBE_ERR_TRUNCATED] == 3), "line_unfinished");
	/* dropped between events: a disconnect, not a truncation */
	ASSERT_TRUE(WAIT_FAKE(f, f->watches == 3), "rewatch_after_end");
	fake_step(f, STEP_CUT, NULL);
	ASSERT_TRUE(WAIT_STATS(k, st.errors[KUBE_ERR_DISCONNECT] == 1), "disconnect");
	ASSERT_EQ(kube_take_peers(k, &set), 2, "peers_kept");
	ASSERT_EQ(fake_get(f, &f->lists), 2, "no_relist_for_truncation");
out:
	kube_stop(k);
	peer_set_free(&set);
	fake_free(f);
}

static void slow(void)
{
	struct fake_api *f = fake_start();
	struct wp_peer_set set = {};
	struct wp_kube_opts o;
	struct wp_kube *k = NULL;
	__u64 t0;

	if (!ASSERT_OK_PTR(f, "fake_start"))
		return;
	fake_three_nodes(f);
	f->list_mode = LIST_STALL; /* headers and 10 bytes, then nothing */
	f->list_mode_n = 1;
	o = test_opts(f);
	o.stall_timeout_ms = 1000;
	k = client_start(&o);
	if (!ASSERT_OK_PTR(k, "kube_start") || !ASSERT_TRUE(WAIT_FAKE(f, f->lists == 1), "list"))
		goto out;
	/* the agent's side never waits on the stalled transfer */
	t0 = now_ms();
	ASSERT_EQ(kube_take_peers(k, &set), 0, "nothing_yet");
	ASSERT_LT(now_ms() - t0, 50, "take_does_not_block");
	ASSERT_TRUE(WAIT_STATS(k, st.errors[KUBE_ERR_TIMEOUT] == 1), "stall_timeout");
	ASSERT_TRUE(WAIT_STATS(k, st.synced && st.peers == 2), "synced_after_retry");
	kube_stop(k);

	/* a stop in the middle of a stalled transfer is prompt */
	pthread_mutex_lock(&f->lock);
	f->list_mode_n = 1;
	f->lists = 0;
	pthread_mutex_unlock(&f->lock);
	o.stall_timeout_ms = 30000;
	k = client_start(&o);
	if (!ASSERT_OK_PTR(k, "kube_start_2") ||
	    !ASSERT_TRUE(WAIT_FAKE(f, f->lists == 1), "list_2"))
		goto out;
	usleep(100000);
	t0 = now_ms();
	kube_stop(k);
	k = NULL;
	ASSERT_LT(now_ms() - t0, 500, "stop_is_prompt");
out:
	kube_stop(k);
	peer_set_free(&set);
	fake_free(f);
}

static void server_dies(void)
{
	struct fake_api *f = fake_start();
	struct wp_peer_set set = {};
	struct wp_kube_opts o;
	struct wp_kube *k = NULL;

	if (!ASSERT_OK_PTR(f, "fake_start"))
		return;
	fake_three_nodes(f);
	o = test_opts(f);
	k = client_start(&o);
	if (!ASSERT_OK_PTR(k, "kube_start") || !ASSERT_TRUE(WAIT_FAKE(f, f->watches == 1), "watch"))
		goto out;
	kube_take_peers(k, &set);

	fake_halt(f);
	ASSERT_TRUE(WAIT_STATS(k, st.errors[KUBE_ERR_CONNECT] >= 2 && !st.up), "connect_errors");
	ASSERT_FALSE(notify_ready(k, 0), "no_change_announced");
	ASSERT_EQ(kube_take_peers(k, &set), 2, "last_known_peers_kept");
	ASSERT_STREQ(addr_of(&set, "node-b"), "10.244.1.1", "kept_peer_intact");

	/* it comes back, having forgotten our resourceVersion, with another cluster */
	pthread_mutex_lock(&f->lock);
	json_array_remove(f->nodes, 1);
	strcpy(f->rv, "500");
	f->watch_status = 410;
	f->watch_status_n = 1;
	pthread_mutex_unlock(&f->lock);
	if (!ASSERT_OK(fake_listen(f), "restart"))
		goto out;
	ASSERT_TRUE(WAIT_STATS(k, st.lists == 2 && st.up), "relisted_after_restart");
	ASSERT_TRUE(notify_ready(k, WAIT_MS), "change_announced");
	ASSERT_EQ(kube_take_peers(k, &set), 1, "new_peers");
	ASSERT_STREQ(addr_of(&set, "node-c"), "192.168.1.3", "new_peer_set");
out:
	kube_stop(k);
	peer_set_free(&set);
	fake_free(f);
}

static void wrong_ca(void)
{
	struct fake_api *f = fake_start();
	struct wp_kube_opts o;
	struct wp_kube *k = NULL;

	if (!ASSERT_OK_PTR(f, "fake_start"))
		return;
	fake_three_nodes(f);
	o = test_opts(f);
	o.ca_file = other_ca_path;
	k = client_start(&o);
	if (!ASSERT_OK_PTR(k, "kube_start"))
		goto out;
	ASSERT_TRUE(WAIT_STATS(k, st.errors[KUBE_ERR_TLS] >= 2 && !st.synced), "tls_errors");
	ASSERT_EQ(fake_get(f, &f->lists), 0, "no_request_reached_the_server");
out:
	kube_stop(k);
	fake_free(f);
}

static int promtool_check(const char *text)
{
	FILE *p;
	int st;

	if (access(PROMTOOL, X_OK))
		return -1;
	p = popen(PROMTOOL " check metrics >/dev/null 2>&1", "w");
	if (!p)
		return -1;
	fputs(text, p);
	st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void metrics(void)
{
	struct fake_api *f = fake_start();
	struct wp_kube_opts o;
	struct wp_kube *k = NULL;
	struct prom_buf b;

	prom_buf_init(&b);
	if (!ASSERT_OK_PTR(f, "fake_start"))
		return;
	fake_three_nodes(f);
	f->list_mode = LIST_STATUS;
	f->list_status = 500;
	f->list_mode_n = 1;
	o = test_opts(f);
	k = client_start(&o);
	if (!ASSERT_OK_PTR(k, "kube_start") || !ASSERT_TRUE(WAIT_STATS(k, st.synced), "synced"))
		goto out;
	ASSERT_OK(kube_emit_metrics(k, &b), "emit");
	ASSERT_TRUE(b.data && strstr(b.data,
				     "warmpath_discovery_errors_total{reason=\"http_other\"} 1\n"),
		    "http_other_counted");
	ASSERT_TRUE(b.data &&
			    strstr(b.data, "warmpath_discovery_errors_total{reason=\"gone\"} 0\n"),
		    "zeros_present");
	ASSERT_TRUE(b.data && strstr(b.data, "warmpath_discovery_nodes 3\n"), "nodes");
	ASSERT_TRUE(b.data && strstr(b.data, "warmpath_discovery_peers 2\n"), "peers");
	ASSERT_TRUE(b.data && strstr(b.data, "warmpath_discovery_synced 1\n"), "synced_gauge");
	ASSERT_TRUE(b.data && strstr(b.data, "warmpath_discovery_last_success_timestamp_seconds 1"),
		    "last_success");
	if (b.data && !access(PROMTOOL, X_OK))
		ASSERT_EQ(promtool_check(b.data), 0, "promtool_check_metrics");
out:
	prom_buf_free(&b);
	kube_stop(k);
	fake_free(f);
}

static void start_errors(void)
{
	struct wp_kube_opts o = { .api_url = "ftp://x",
				  .token_file = token_path,
				  .ca_file = ca_path };
	char err[256];

	ASSERT_TRUE(kube_start(&o, err, sizeof(err)) == NULL, "bad_scheme");
	o.api_url = "https://127.0.0.1:1";
	o.ca_file = "/nonexistent/ca.crt";
	ASSERT_TRUE(kube_start(&o, err, sizeof(err)) == NULL, "missing_ca");
	ASSERT_TRUE(strstr(err, "/nonexistent/ca.crt") != NULL, "missing_ca_named");
	o.ca_file = ca_path;
	o.address_annotations = "a,b,c,d,e,f,g,h,i";
	ASSERT_TRUE(kube_start(&o, err, sizeof(err)) == NULL, "too_many_annotations");
	o.api_url = NULL;
	o.address_annotations = NULL;
	unsetenv("KUBERNETES_SERVICE_HOST");
	ASSERT_TRUE(kube_start(&o, err, sizeof(err)) == NULL, "not_in_cluster");
}

void test_kube_discovery(void)
{
	static const struct {
		const char *name;
		void (*run)(void);
	} subtests[] = {
		{ "list_watch", list_watch },	{ "relist_gone", relist_gone },
		{ "auth_token", auth_token },	{ "bad_json", bad_json },
		{ "truncated", truncated },	{ "slow", slow },
		{ "server_dies", server_dies }, { "wrong_ca", wrong_ca },
		{ "metrics", metrics },		{ "start_errors", start_errors },
	};

	int saved_stderr = -1, devnull;

	/* the client logs every failure it is made to see: shown with -v only */
	if (!env.verbose) {
		fflush(stderr);
		saved_stderr = dup(STDERR_FILENO);
		devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
		if (devnull >= 0) {
			dup2(devnull, STDERR_FILENO);
			close(devnull);
		}
	} else {
		log_setup(false, 1);
	}
	if (!ASSERT_TRUE(certs_make(), "openssl_test_ca"))
		goto out;
	tmp_path(token_path, sizeof(token_path), "token");
	tmp_path(ca_path, sizeof(ca_path), "ca.crt");
	tmp_path(other_ca_path, sizeof(other_ca_path), "other-ca.crt");
	for (size_t i = 0; i < sizeof(subtests) / sizeof(subtests[0]); i++) {
		__u64 t0 = now_ms();

		if (!test__start_subtest(subtests[i].name))
			continue;
		subtests[i].run();
		ASSERT_LT(now_ms() - t0, 10000, "under_10s");
	}
out:
	certs_remove();
	log_setup(false, 0);
	if (saved_stderr >= 0) {
		fflush(stderr);
		dup2(saved_stderr, STDERR_FILENO);
		close(saved_stderr);
	}
}
