// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The fake Kubernetes API server: see fake_kube_api.h (the client-side
 * helpers are kube_fixture.c).
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include "fake_kube_api.h"

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
	{
		const char *rv =
			MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "resourceVersion");
		const char *cont =
			MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "continue");

		/* what the first page asked, and whether a later one mixed both */
		if (!cont)
			snprintf(f->list_rv, sizeof(f->list_rv), "%s", rv ? rv : "(none)");
		else if (rv)
			f->list_rv_with_continue = true;
	}
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

int fake_listen(struct fake_api *f)
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

void fake_halt(struct fake_api *f)
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

bool certs_make(void)
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

void certs_remove(void)
{
	char cmd[128];

	if (!tmpdir[0] || strncmp(tmpdir, "/tmp/wpkube.", 12))
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf -- %s", tmpdir);
	if (system(cmd))
		test__printf("could not remove %s\n", tmpdir);
	tmpdir[0] = '\0';
}

void tmp_path(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", tmpdir, name);
}

/* Replace a file the way the kubelet rotates projected tokens: write aside, rename. */
void write_file(const char *name, const char *text)
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

struct fake_api *fake_start(void)
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

void fake_free(struct fake_api *f)
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

void fake_step(struct fake_api *f, enum step_kind kind, const char *text)
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
void fake_event(struct fake_api *f, const char *type, json_t *obj)
{
	json_t *ev = json_pack("{s:s, s:o}", "type", type, "object", obj);
	char *s = json_dumps(ev, JSON_COMPACT);

	fake_step(f, STEP_LINE, s);
	free(s);
	json_decref(ev);
}

int fake_get(struct fake_api *f, const int *field)
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
json_t *make_node(const char *name, const char *rv, const char *ip, const char *ann_key,
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

/* The cluster most tests start from: node-a is this node. */
void fake_three_nodes(struct fake_api *f)
{
	json_array_append_new(f->nodes, make_node("node-a", "90", "192.168.1.1", IPIP, "10.244.0.1",
						  "10.244.0.0/24", NULL));
	json_array_append_new(f->nodes, make_node("node-b", "91", "192.168.1.2", IPIP, "10.244.1.1",
						  "10.244.1.0/24", "fd00:10:244:1::/64"));
	json_array_append_new(f->nodes, make_node("node-c", "92", "192.168.1.3", NULL, NULL,
						  "10.244.2.0/24", NULL));
}
