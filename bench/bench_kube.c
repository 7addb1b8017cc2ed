// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Discovery at 5,000 nodes (test_progs --bench-kube, part of `make bench`):
 * a fake API server in a child process (so the agent side is measured alone)
 * serves 5,000 Nodes of a real Node's shape (~15 KB of JSON each: managed
 * fields, labels, Calico annotations, conditions, 40 images), paginated by
 * limit/continue. The discovery client (user/discovery) lists them, then
 * watches; the server then answers 5 watches in a row with 410 Gone.
 * Printed: peak RSS added by the client during the list, CPU of one full
 * list, and what the client sent and received during the relist storm
 * (requests, bytes, the delay between each 410 and the relist it caused),
 * each against what issue 12 expects.
 */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <microhttpd.h>
#include "kube.h"
#include "log.h"

#define NODES 5000
#define STORM 5
#define PAGE 100

struct shared {
	atomic_int port, storm, gone_sent, lists_after_gone;
	atomic_llong bytes_sent, list_reqs, watch_reqs;
	double gone_at[STORM + 1], relist_at[STORM + 1];
};

static struct shared *sh;

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * The elements of a JSON array, comma-separated: the printf format item once
 * for each names[i], with second[i] (when given) as its second argument.
 */
static int json_items(char *b, size_t size, const char *const *names, const char *const *second,
		      int count, const char *item)
{
	int n = 0;

	for (int i = 0; i < count; i++) {
		if (i)
			n += snprintf(b + n, size - n, ",");
		n += snprintf(b + n, size - n, item, names[i], second ? second[i] : "");
	}
	return n;
}

static const char *const managers[] = { "kubelet", "kube-controller-manager", "calico-node",
					"kubectl-label" };
static const char *const conditions[] = { "MemoryPressure", "DiskPressure", "PIDPressure",
					  "NetworkUnavailable", "Ready" };
static const char *const statuses[] = { "False", "False", "False", "False", "True" };

/* One Node of a real Node's shape, ~15 KB. */
static int node_json(int i, char *b, size_t size)
{
	int n = snprintf(
		b, size,
		"{\"metadata\":{\"name\":\"worker-%05d\",\"uid\":\"6c1f0b2e-%04x-4c1e-9d3a-0242ac1%05d\","
		"\"resourceVersion\":\"%d\",\"creationTimestamp\":\"2026-01-12T08:14:%02dZ\","
		"\"labels\":{\"beta.kubernetes.io/arch\":\"amd64\",\"beta.kubernetes.io/os\":"
		"\"linux\",\"kubernetes.io/arch\":\"amd64\",\"kubernetes.io/hostname\":"
		"\"worker-%05d\",\"kubernetes.io/os\":\"linux\",\"node.kubernetes.io/instance-type\":"
		"\"m6i.2xlarge\",\"topology.kubernetes.io/region\":\"eu-west-1\","
		"\"topology.kubernetes.io/zone\":\"eu-west-1%c\"},\"annotations\":{"
		"\"node.alpha.kubernetes.io/ttl\":\"0\",\"projectcalico.org/IPv4Address\":"
		"\"10.%d.%d.%d/16\",\"projectcalico.org/IPv4IPIPTunnelAddr\":\"10.%d.%d.1\","
		"\"volumes.kubernetes.io/controller-managed-attach-detach\":\"true\"},"
		"\"managedFields\":[",
		i, i & 0xffff, i, 1000 + i, i % 60, i, 'a' + i % 3, 100 + i / 65536 % 100,
		i / 256 % 256, i % 256, 64 + i / 256 % 64, i % 256);

	n += json_items(b + n, size - n, managers, NULL, 4,
			"{\"manager\":\"%s\",\"operation\":\"Update\",\"apiVersion\":\"v1\","
			"\"time\":\"2026-01-12T08:15:00Z\",\"fieldsType\":\"FieldsV1\","
			"\"fieldsV1\":{\"f:metadata\":{\"f:annotations\":{\".\":{},"
			"\"f:node.alpha.kubernetes.io/ttl\":{}},\"f:labels\":{\".\":{},"
			"\"f:kubernetes.io/hostname\":{}}},\"f:status\":{\"f:conditions\":{"
			"\"k:{\\\"type\\\":\\\"Ready\\\"}\":{\"f:lastHeartbeatTime\":{},"
			"\"f:lastTransitionTime\":{},\"f:message\":{},\"f:reason\":{},"
			"\"f:status\":{}}},\"f:images\":{},\"f:nodeInfo\":{\"f:bootID\":{}}}}}");
	n += snprintf(
		b + n, size - n,
		"]},\"spec\":{\"podCIDR\":\"10.%d.%d.0/24\",\"podCIDRs\":[\"10.%d.%d.0/24\"],"
		"\"providerID\":\"aws:///eu-west-1a/i-0%015d\"},\"status\":{\"capacity\":{"
		"\"cpu\":\"8\",\"ephemeral-storage\":\"104845292Ki\",\"memory\":\"32386148Ki\","
		"\"pods\":\"110\"},\"allocatable\":{\"cpu\":\"7910m\",\"ephemeral-storage\":"
		"\"95551679124\",\"memory\":\"31369316Ki\",\"pods\":\"110\"},\"conditions\":[",
		64 + i / 256 % 64, i % 256, 64 + i / 256 % 64, i % 256, i);
	n += json_items(b + n, size - n, conditions, statuses, 5,
			"{\"type\":\"%s\",\"status\":\"%s\",\"lastHeartbeatTime\":"
			"\"2026-01-12T09:01:12Z\",\"lastTransitionTime\":\"2026-01-12T08:15:"
			"00Z\",\"reason\":\"KubeletHasSufficientMemory\",\"message\":\"kubelet "
			"has sufficient memory available\"}");
	n += snprintf(b + n, size - n,
		      "],\"addresses\":[{\"type\":\"InternalIP\",\"address\":\"192.%d.%d.%d\"},"
		      "{\"type\":\"Hostname\",\"address\":\"worker-%05d\"}],\"daemonEndpoints\":{"
		      "\"kubeletEndpoint\":{\"Port\":10250}},\"nodeInfo\":{\"machineID\":"
		      "\"ec2f6d0e1b6a4b1f8e3c9a7d5b2e4f60\",\"bootID\":\"b1d1e7c2-9f2a-4f0e-8c3d-"
		      "2a1b3c4d5e6f\",\"kernelVersion\":\"6.1.0-18-cloud-amd64\",\"osImage\":"
		      "\"Debian GNU/Linux 12 (bookworm)\",\"containerRuntimeVersion\":"
		      "\"containerd://1.7.13\",\"kubeletVersion\":\"v1.30.2\",\"operatingSystem\":"
		      "\"linux\",\"architecture\":\"amd64\"},\"images\":[",
		      168 + i / 65536 % 32, i / 256 % 256, i % 256, i);
	for (int m = 0; m < 40; m++)
		n += snprintf(b + n, size - n,
			      "%s{\"names\":[\"registry.example.com/team-%d/service-%d@sha256:"
			      "%08x%08x%08x%08x%08x%08x%08x%08x\",\"registry.example.com/team-%d/"
			      "service-%d:v1.%d.%d\"],\"sizeBytes\":%d}",
			      m ? "," : "", m % 7, m, m * 2654435761u, m ^ 0x5bd1e995, m * 40503u,
			      m + 0x27d4eb2d, m * 97u, m * 31u, m * 13u, m * 7u, m % 7, m, m % 5, m,
			      10000000 + m * 123457);
	n += snprintf(b + n, size - n, "]}}");
	return n;
}

struct list_stream {
	int from, to, next;
	char cont[32];
	char *cur;
	size_t len, off;
	int phase; /* 0 head, 1 items, 2 tail, 3 done */
};

static ssize_t list_read(void *cls, uint64_t pos, char *out, size_t max)
{
	struct list_stream *s = cls;
	size_t n;

	(void)pos;
	while (s->off == s->len) {
		if (s->phase == 0) {
			s->len = snprintf(
				s->cur, 65536,
				"{\"kind\":\"NodeList\",\"apiVersion\":\"v1\",\"metadata\":"
				"{\"resourceVersion\":\"7000\"%s%s%s},\"items\":[",
				s->cont[0] ? ",\"continue\":\"" : "", s->cont,
				s->cont[0] ? "\"" : "");
			s->phase = 1;
		} else if (s->phase == 1 && s->next < s->to) {
			s->len = node_json(s->next, s->cur + (s->next > s->from), 65535);
			if (s->next > s->from)
				s->cur[0] = ',', s->len++;
			s->next++;
		} else if (s->phase <= 1) {
			s->len = snprintf(s->cur, 64, "]}");
			s->phase = 2;
		} else {
			return MHD_CONTENT_READER_END_OF_STREAM;
		}
		s->off = 0;
	}
	n = s->len - s->off < max ? s->len - s->off : max;
	memcpy(out, s->cur + s->off, n);
	s->off += n;
	atomic_fetch_add(&sh->bytes_sent, n);
	return n;
}

static void list_free(void *cls)
{
	struct list_stream *s = cls;

	free(s->cur);
	free(s);
}

static ssize_t watch_read(void *cls, uint64_t pos, char *out, size_t max)
{
	(void)cls, (void)pos, (void)out, (void)max;
	/* a quiet watch, held until a storm begins */
	if (atomic_load(&sh->storm) > 0)
		return MHD_CONTENT_READER_END_OF_STREAM;
	usleep(50000);
	return 0;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *data,
				  size_t *data_len, void **con_cls)
{
	const char *watch = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "watch");
	const char *cont = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "continue");
	const char *limit = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "limit");
	struct MHD_Response *r;
	enum MHD_Result ret;

	(void)cls, (void)url, (void)method, (void)version, (void)data, (void)data_len;
	if (!*con_cls) {
		*con_cls = c;
		return MHD_YES;
	}
	if (watch) {
		atomic_fetch_add(&sh->watch_reqs, 1);
		if (atomic_load(&sh->storm) > 0) {
			static char gone[] =
				"{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":"
				"\"Failure\",\"message\":\"too old resource version\","
				"\"reason\":\"Expired\",\"code\":410}";
			int k = atomic_fetch_add(&sh->gone_sent, 1);

			if (k < STORM)
				sh->gone_at[k] = mono();
			atomic_fetch_sub(&sh->storm, 1);
			r = MHD_create_response_from_buffer(strlen(gone), gone,
							    MHD_RESPMEM_PERSISTENT);
			atomic_fetch_add(&sh->bytes_sent, strlen(gone));
			ret = MHD_queue_response(c, 410, r);
			MHD_destroy_response(r);
			return ret;
		}
		r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, watch_read, NULL,
						      NULL);
	} else {
		struct list_stream *s = calloc(1, sizeof(*s));
		int lim = limit ? atoi(limit) : NODES;

		if (!s || !(s->cur = malloc(65536)))
			return MHD_NO;
		atomic_fetch_add(&sh->list_reqs, 1);
		if (!cont) {
			int g = atomic_load(&sh->gone_sent);

			if (g > 0 && g <= STORM && !sh->relist_at[g - 1])
				sh->relist_at[g - 1] = mono();
		}
		s->from = s->next = cont ? atoi(cont) : 0;
		s->to = s->from + (lim > 0 ? lim : NODES);
		if (s->to > NODES)
			s->to = NODES;
		if (s->to < NODES)
			snprintf(s->cont, sizeof(s->cont), "%d", s->to);
		r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 65536, list_read, s,
						      list_free);
	}
	MHD_add_response_header(r, "Content-Type", "application/json");
	ret = MHD_queue_response(c, 200, r);
	MHD_destroy_response(r);
	return ret;
}

static void server_child(int ready_fd)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct MHD_Daemon *d;
	const union MHD_DaemonInfo *info;
	char c;

	d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0,
			     NULL, NULL, on_request, NULL, MHD_OPTION_SOCK_ADDR, &sin,
			     MHD_OPTION_END);
	if (!d)
		_exit(1);
	info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	atomic_store(&sh->port, info ? info->port : 0);
	c = 1;
	if (write(ready_fd, &c, 1) != 1)
		_exit(1);
	pause();
	_exit(0);
}

static int write_file_str(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	int ret;

	if (!f)
		return -errno;
	ret = fputs(text, f) < 0 ? -EIO : 0;
	return fclose(f) ? -errno : ret;
}

static long status_kb(const char *field)
{
	char line[256];
	long v = -1;
	FILE *f = fopen("/proc/self/status", "r");

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, field, strlen(field)))
			v = atol(line + strlen(field) + 1);
	if (f)
		fclose(f);
	return v;
}

static double cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
	       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static bool wait_stats(struct wp_kube *k, struct wp_kube_stats *st, int secs, int lists, int gone)
{
	double end = mono() + secs;

	while (mono() < end) {
		kube_get_stats(k, st);
		if ((int)st->lists >= lists && (int)st->errors[KUBE_ERR_GONE] >= gone)
			return true;
		usleep(20000);
	}
	return false;
}

int bench_kube_main(void)
{
	struct wp_kube_opts o = { .token_file = "",
				  .ca_file = "",
				  .node_name = "worker-00000",
				  .relist_spread_ms = 2000,
				  .backoff_min_ms = 200 };
	struct wp_kube_stats st0, st1, st2;
	struct wp_kube *k = NULL;
	char url[64], err[256], sample[65536];
	int fds[2], status, ret = 1, nodelen = node_json(1234, sample, sizeof(sample));
	long rss0, hwm;
	double cpu0, t0, tlist, cpu_list, tstorm, dmin = 1e9, dmax = 0;
	pid_t pid;

	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED || pipe(fds))
		return 1;
	memset(sh, 0, sizeof(*sh));
	pid = fork();
	if (pid < 0)
		return 1;
	if (!pid) {
		close(fds[0]);
		server_child(fds[1]);
	}
	close(fds[1]);
	if (read(fds[0], err, 1) != 1 || !atomic_load(&sh->port)) {
		fprintf(stderr, "bench-kube: the fake API server did not start\n");
		goto out;
	}
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", atomic_load(&sh->port));
	o.api_url = url;
	o.list_page_size = PAGE;
	printf("discovery at %d nodes: Node JSON %d bytes each (~%.0f MB a full list), pages of "
	       "%d\n",
	       NODES, nodelen, (double)nodelen * NODES / 1e6, PAGE);

	/* 1. one full list: peak RSS added, CPU */
	if (write_file_str("/proc/self/clear_refs", "5"))
		fprintf(stderr,
			"bench-kube: cannot reset the peak RSS: figures are upper bounds\n");
	rss0 = status_kb("VmRSS:");
	cpu0 = cpu_s();
	t0 = mono();
	k = kube_start(&o, err, sizeof(err));
	if (!k) {
		fprintf(stderr, "bench-kube: %s\n", err);
		goto out;
	}
	if (!wait_stats(k, &st0, 40, 1, 0)) {
		fprintf(stderr, "bench-kube: no full list within 40 s\n");
		goto out;
	}
	tlist = mono() - t0;
	cpu_list = cpu_s() - cpu0;
	hwm = status_kb("VmHWM:");
	printf("  full list:   %.2f s wall, %.2f s CPU, peak RSS +%.1f MiB for %d nodes (%.0f "
	       "bytes a node kept)   [issue: memory bounded by what a peer needs, not the Node "
	       "objects (%.0f MB)]\n",
	       tlist, cpu_list, (hwm - rss0) / 1024.0, st0.nodes,
	       (double)(hwm - rss0) * 1024 / (st0.nodes ? st0.nodes : 1),
	       (double)nodelen * NODES / 1e6);
	printf("  full list:   %llu requests, %.1f MB received\n", (unsigned long long)st0.requests,
	       st0.bytes_received / 1e6);

	/* 2. a relist storm: STORM watches in a row answered 410 */
	while (!atomic_load(&sh->watch_reqs))
		usleep(10000);
	kube_get_stats(k, &st1);
	t0 = mono();
	atomic_store(&sh->storm, STORM);
	if (!wait_stats(k, &st2, 50, 1 + STORM, STORM)) {
		fprintf(stderr, "bench-kube: the storm did not end within 50 s\n");
		goto out;
	}
	tstorm = mono() - t0;
	for (int i = 0; i < STORM; i++) {
		double d = sh->relist_at[i] - sh->gone_at[i];

		if (!sh->relist_at[i])
			continue;
		dmin = d < dmin ? d : dmin;
		dmax = d > dmax ? d : dmax;
	}
	printf("  %d x 410:     %llu requests (%d lists of %d pages + watches), %.1f MB received, "
	       "over %.1f s\n",
	       STORM, (unsigned long long)(st2.requests - st1.requests), STORM,
	       (NODES + PAGE - 1) / PAGE, (st2.bytes_received - st1.bytes_received) / 1e6, tstorm);
	printf("  410 -> relist delay: min %.2f s, max %.2f s   [issue: never immediate, "
	       "jittered: min > 0]\n",
	       dmin, dmax);
	printf("  every list asks resourceVersion=0 (the watch cache), not a quorum read\n");
	ret = dmin > 0 && dmin < 1e9 ? 0 : 1;
out:
	kube_stop(k);
	kill(pid, SIGTERM);
	waitpid(pid, &status, 0);
	close(fds[0]);
	munmap(sh, sizeof(*sh));
	return ret;
}
