// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The Prometheus exposition builder (user/prom.c) and the HTTP server
 * (user/http.c): exact text for escaping, values and histograms, promtool's
 * verdict on what we produce, and the endpoints over plain TCP sockets
 * (status, headers, bodies, 404/405, HEAD, bind errors, IPv6, concurrent
 * scrapes).
 *
 *	test_prom_text         escaping, names, values, families, sticky errors
 *	test_prom_hist         buckets, boundaries, emit, merge
 *	test_prom_promtool     `promtool check metrics` on built and served text
 *	test_prom_http         listen parsing, every endpoint, keep-alive, limits
 *	test_prom_http_concurrent  8 threads x 50 scrapes at once
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>
#include <jansson.h>
#include "http.h"
#include "prom.h"
#include "test_progs.h"

#define PROMTOOL "/usr/bin/promtool"
#define IO_TIMEOUT_S 5
#define SCRAPE_THREADS 8
#define SCRAPES_PER_THREAD 50

/* Exact text, with the first difference and both texts on failure. */
static bool assert_text(const char *got, const char *want, const char *name)
{
	size_t i = 0;

	if (!got)
		return test__assert_report(false, __FILE__, __LINE__, name, "got=NULL");
	while (got[i] && got[i] == want[i])
		i++;
	if (got[i] == want[i])
		return test__assert_report(true, __FILE__, __LINE__, name, "equal");
	return test__assert_report(false, __FILE__, __LINE__, name,
				   "differs at offset %zu\n--- got:\n%s--- want:\n%s---", i, got,
				   want);
}

static bool assert_contains(const char *hay, const char *needle, const char *name)
{
	return test__assert_report(hay && strstr(hay, needle), __FILE__, __LINE__, name,
				   "\"%s\" not in:\n%s", needle, hay ? hay : "(null)");
}

static int count_occurrences(const char *hay, const char *needle)
{
	int n = 0;

	while (hay && (hay = strstr(hay, needle))) {
		n++;
		hay += strlen(needle);
	}
	return n;
}

/* ---- the text builder ---- */

static void text_escaping(void)
{
	struct prom_buf b;

	prom_buf_init(&b);
	ASSERT_OK(prom_family(&b, "wp_test_info", PROM_GAUGE,
			      "Help with \\ backslash\nnewline and \"quotes\" kept"),
		  "family");
	ASSERT_OK(prom_sample(&b, "wp_test_info",
			      (const char *[]){ "v", "a\\b\"c\nd", "empty", "", NULL }, 1),
		  "sample");
	/* UTF-8 kept; a lone byte, a surrogate and a truncated sequence replaced */
	ASSERT_OK(
		prom_sample(&b, "wp_test_info",
			    (const char *[]){ "v", "\xc3\xbc \xe6\x97\xa5 \xf0\x9f\x98\x80", NULL },
			    2),
		"utf8");
	ASSERT_OK(prom_sample(&b, "wp_test_info",
			      (const char *[]){ "v", "x\xffy\xed\xa0\x80", NULL }, 3),
		  "bad_utf8");
	assert_text(b.data,
		    "# HELP wp_test_info Help with \\\\ backslash\\nnewline and \"quotes\" kept\n"
		    "# TYPE wp_test_info gauge\n"
		    "wp_test_info{v=\"a\\\\b\\\"c\\nd\",empty=\"\"} 1\n"
		    "wp_test_info{v=\"\xc3\xbc \xe6\x97\xa5 \xf0\x9f\x98\x80\"} 2\n"
		    "wp_test_info{v=\"x\xef\xbf\xbdy\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"} 3\n",
		    "text");
	prom_buf_free(&b);
}

static void text_counters(void)
{
	struct prom_buf b;

	prom_buf_init(&b);
	prom_family(&b, "wp_test_packets_total", PROM_COUNTER, "Packets");
	prom_sample_u64(&b, "wp_test_packets_total",
			(const char *[]){ "peer", "node-a", "direction", "tx", NULL }, 0);
	prom_sample_u64(&b, "wp_test_packets_total",
			(const char *[]){ "peer", "node-a", "direction", "rx", NULL }, UINT64_MAX);
	/* 2^53 + 1: a double would print ...992 */
	prom_sample_u64(&b, "wp_test_packets_total", (const char *[]){ NULL }, 9007199254740993ULL);
	prom_sample_u64(&b, "wp_test_packets_total", NULL, 42);
	ASSERT_OK(prom_buf_error(&b), "error");
	assert_text(b.data,
		    "# HELP wp_test_packets_total Packets\n"
		    "# TYPE wp_test_packets_total counter\n"
		    "wp_test_packets_total{peer=\"node-a\",direction=\"tx\"} 0\n"
		    "wp_test_packets_total{peer=\"node-a\",direction=\"rx\"} 18446744073709551615\n"
		    "wp_test_packets_total 9007199254740993\n"
		    "wp_test_packets_total 42\n",
		    "text");
	prom_buf_free(&b);
}

static void text_values(void)
{
	static const struct {
		double v;
		const char *text;
	} cases[] = {
		{ 0, "0" },
		{ 1, "1" },
		{ -0.5, "-0.5" },
		{ 0.1, "0.1" },
		{ 1e-7, "1e-07" },
		{ 0.0001, "0.0001" },
		{ 123456789012.0, "123456789012" },
		{ 9007199254740992.0, "9007199254740992" },
		{ 1.0 / 3, "0.3333333333333333" },
		{ 0.1 + 0.2, "0.30000000000000004" },
		{ 1e300, "1e+300" },
	};
	char text[64];
	struct prom_buf b;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		prom_format_double(text, sizeof(text), cases[i].v);
		assert_text(text, cases[i].text, cases[i].text);
		ASSERT_TRUE(strtod(text, NULL) == cases[i].v, "reads_back");
	}

	prom_buf_init(&b);
	prom_family(&b, "wp_test_seconds", PROM_GAUGE, "Seconds");
	prom_sample(&b, "wp_test_seconds", (const char *[]){ "k", "nan", NULL }, NAN);
	prom_sample(&b, "wp_test_seconds", (const char *[]){ "k", "inf", NULL }, INFINITY);
	prom_sample(&b, "wp_test_seconds", (const char *[]){ "k", "-inf", NULL }, -INFINITY);
	prom_sample(&b, "wp_test_seconds", (const char *[]){ "k", "x", NULL }, 2.5);
	assert_text(b.data,
		    "# HELP wp_test_seconds Seconds\n"
		    "# TYPE wp_test_seconds gauge\n"
		    "wp_test_seconds{k=\"nan\"} NaN\n"
		    "wp_test_seconds{k=\"inf\"} +Inf\n"
		    "wp_test_seconds{k=\"-inf\"} -Inf\n"
		    "wp_test_seconds{k=\"x\"} 2.5\n",
		    "text");
	prom_buf_free(&b);
}

static void text_families(void)
{
	struct prom_buf b;

	prom_buf_init(&b);
	ASSERT_OK(prom_family(&b, "wp_a", PROM_GAUGE, "A"), "first");
	ASSERT_OK(prom_family(&b, "wp_a", PROM_GAUGE, "A again"), "again_same_type");
	ASSERT_TRUE(prom_has_family(&b, "wp_a"), "has_a");
	ASSERT_FALSE(prom_has_family(&b, "wp_b"), "has_b");
	ASSERT_OK(prom_family(&b, "wp_b", PROM_UNTYPED, "B"), "untyped");
	ASSERT_OK(prom_family(&b, "wp_c_seconds", PROM_HISTOGRAM, "C"), "histogram");
	assert_text(b.data,
		    "# HELP wp_a A\n# TYPE wp_a gauge\n"
		    "# HELP wp_b B\n# TYPE wp_b untyped\n"
		    "# HELP wp_c_seconds C\n# TYPE wp_c_seconds histogram\n",
		    "text");
	/* reset forgets the families: declared again */
	prom_buf_reset(&b);
	ASSERT_EQ(b.len, 0, "reset_len");
	ASSERT_OK(prom_family(&b, "wp_a", PROM_GAUGE, "A"), "after_reset");
	assert_text(b.data, "# HELP wp_a A\n# TYPE wp_a gauge\n", "text_after_reset");
	/* the same name as another type is a bug, and sticky */
	ASSERT_EQ(prom_family(&b, "wp_a", PROM_COUNTER, "A"), -EINVAL, "type_clash");
	ASSERT_EQ(prom_sample(&b, "wp_a", NULL, 1), -EINVAL, "sticky");
	ASSERT_EQ(prom_buf_error(&b), -EINVAL, "error");
	errno = 0;
	ASSERT_TRUE(prom_buf_release(&b, NULL) == NULL, "release_refused");
	ASSERT_EQ(errno, EINVAL, "release_errno");
	prom_buf_free(&b);
}

/* Each bad call fails with -EINVAL and poisons its own buffer only. */
static void text_invalid(void)
{
	static const char *const ok[] = { "peer", "a", NULL };
	static const char *const odd[] = { "peer", NULL };
	static const char *const dash[] = { "a-b", "x", NULL };
	static const char *const digit[] = { "1a", "x", NULL };
	static const char *const reserved[] = { "__name__", "x", NULL };
	static const char *const dup[] = { "peer", "a", "peer", "b", NULL };
	static const char *const le[] = { "le", "1", NULL };
	static const struct {
		const char *what, *name;
		const char *const *labels;
	} cases[] = {
		{ "metric_digit", "1wp", ok },
		{ "metric_dash", "wp-x", ok },
		{ "metric_empty", "", ok },
		{ "label_odd", "wp_x", odd },
		{ "label_dash", "wp_x", dash },
		{ "label_digit", "wp_x", digit },
		{ "label_reserved", "wp_x", reserved },
		{ "label_dup", "wp_x", dup },
	};
	struct prom_hist h = {};
	struct prom_buf b;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		prom_buf_init(&b);
		ASSERT_EQ(prom_sample(&b, cases[i].name, cases[i].labels, 1), -EINVAL,
			  cases[i].what);
		ASSERT_EQ(b.len, 0, "nothing_written");
		prom_buf_free(&b);
	}
	prom_buf_init(&b);
	ASSERT_EQ(prom_hist_emit(&b, "wp_x_seconds", le, &h), -EINVAL, "hist_le_label");
	prom_buf_free(&b);
	prom_buf_init(&b);
	ASSERT_EQ(prom_family(&b, "wp_x", PROM_GAUGE, ""), -EINVAL, "empty_help");
	prom_buf_free(&b);
	prom_buf_init(&b);
	ASSERT_EQ(prom_family(&b, "wp_x", PROM_GAUGE, NULL), -EINVAL, "null_help");
	prom_buf_free(&b);
	/* colons are allowed in metric names (recording rules) */
	prom_buf_init(&b);
	ASSERT_OK(prom_sample(&b, "wp:x:rate5m", ok, 1), "metric_colon");
	prom_buf_free(&b);
}

/* A big exposition: grows without losing a byte. */
static void text_growth(void)
{
	char peer[32], line[96], *text;
	struct prom_buf b;
	size_t want = 0, len = 0;
	int i;

	prom_buf_init(&b);
	for (i = 0; i < 20000; i++) {
		snprintf(peer, sizeof(peer), "node-%05d", i);
		want += snprintf(line, sizeof(line), "wp_test_total{peer=\"%s\"} %d\n", peer, i);
		prom_sample_u64(&b, "wp_test_total", (const char *[]){ "peer", peer, NULL }, i);
	}
	ASSERT_OK(prom_buf_error(&b), "error");
	ASSERT_EQ(b.len, want, "len");
	ASSERT_EQ(strlen(b.data), want, "strlen");
	assert_contains(b.data, "wp_test_total{peer=\"node-19999\"} 19999\n", "last_line");
	text = prom_buf_release(&b, &len);
	ASSERT_EQ(len, want, "release_len");
	ASSERT_TRUE(b.data == NULL && b.len == 0, "released_buf_empty");
	free(text);

	/* nothing appended yet: still a string */
	text = prom_buf_release(&b, &len);
	if (ASSERT_OK_PTR(text, "release_empty"))
		ASSERT_EQ(strlen(text) + len, 0, "empty_text");
	free(text);
	prom_buf_free(&b);
}

void test_prom_text(void)
{
	if (test__start_subtest("escaping"))
		text_escaping();
	if (test__start_subtest("counters"))
		text_counters();
	if (test__start_subtest("values"))
		text_values();
	if (test__start_subtest("families"))
		text_families();
	if (test__start_subtest("invalid"))
		text_invalid();
	if (test__start_subtest("growth"))
		text_growth();
}

/* ---- histograms ---- */

/*
 * Check an emitted histogram: buckets cumulative and in order, +Inf equal to
 * _count, _count equal to want_count.
 */
static void check_hist_text(const char *text, const char *name, uint64_t want_count)
{
	unsigned long long prev = 0, v, inf = 0, count = 0;
	char key[128];
	const char *p;
	int buckets = 0;

	snprintf(key, sizeof(key), "%s_bucket{", name);
	for (p = strstr(text, key); p; p = strstr(p + 1, key)) {
		const char *val = strchr(p, '}');

		if (!ASSERT_TRUE(val, "bucket_line"))
			return;
		v = strtoull(val + 2, NULL, 10);
		ASSERT_GE(v, prev, "cumulative");
		prev = v;
		buckets++;
		if (strstr(p, "le=\"+Inf\"") && strstr(p, "le=\"+Inf\"") < val)
			inf = v;
	}
	ASSERT_EQ(buckets, PROM_HIST_NR_BOUNDS + 1, "nr_buckets");
	snprintf(key, sizeof(key), "%s_count", name);
	p = strstr(text, key);
	if (ASSERT_TRUE(p, "count_line"))
		count = strtoull(strchr(p, ' ') + 1, NULL, 10);
	ASSERT_EQ(inf, count, "inf_is_count");
	ASSERT_EQ(count, want_count, "count");
}

static void fill_h1(struct prom_hist *h)
{
	/* binary fractions: the sum is exact */
	static const double v[] = { 0.00006103515625, 0.000244140625, 0.0625, 0.5, 2, 16, -1 };
	size_t i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		ASSERT_OK(prom_hist_observe(h, v[i]), "observe");
}

static const char h1_text[] = "# HELP wp_rtt_seconds RTT\n"
			      "# TYPE wp_rtt_seconds histogram\n"
			      "wp_rtt_seconds_bucket{peer=\"a\",le=\"0.0001\"} 2\n"
			      "wp_rtt_seconds_bucket{peer=\"a\",le=\"0.00025\"} 3\n"
			      "wp_rtt_seconds_bucket{peer=\"a\",le=\"0.0005\"} 3\n"
			      "wp_rtt_seconds_bucket{peer=\"a\",le=\"0.001\"} 3\n"
			      "wp_rtt_seconds_bucket{peer=\"a\",le=\"0.0025\"} 3\n"
			      "wp_rtt_seconds_bucket{peer=\"a\",le=\"0.005\"} 3\n"
			      "wp_rtt_seconds_bucket{peer=\"a\",le=\"0.01\"} 3\n"
			      "wp_rtt_seconds_bucket{peer=\"a\",le=\"0.025\"} 3\n"
			      "wp_rtt_seconds_bucket{peer=\"a\",le=\"0.05\"} 3\n"
			      "wp_rtt_seconds_bucket{peer=\"a\",le=\"0.1\"} 4\n"
			      "wp_rtt_seconds_bucket{peer=\"a\",le=\"0.25\"} 4\n"
			      "wp_rtt_seconds_bucket{peer=\"a\",le=\"0.5\"} 5\n"
			      "wp_rtt_seconds_bucket{peer=\"a\",le=\"1\"} 5\n"
			      "wp_rtt_seconds_bucket{peer=\"a\",le=\"2.5\"} 6\n"
			      "wp_rtt_seconds_bucket{peer=\"a\",le=\"5\"} 6\n"
			      "wp_rtt_seconds_bucket{peer=\"a\",le=\"10\"} 6\n"
			      "wp_rtt_seconds_bucket{peer=\"a\",le=\"+Inf\"} 7\n"
			      "wp_rtt_seconds_sum{peer=\"a\"} 18.56280517578125\n"
			      "wp_rtt_seconds_count{peer=\"a\"} 7\n";

static void hist_emit(void)
{
	struct prom_hist h = {};
	struct prom_buf b;

	fill_h1(&h);
	ASSERT_EQ(prom_hist_observe(&h, NAN), -EINVAL, "nan_refused");
	ASSERT_EQ(h.count, 7, "count");
	prom_buf_init(&b);
	prom_family(&b, "wp_rtt_seconds", PROM_HISTOGRAM, "RTT");
	ASSERT_OK(prom_hist_emit(&b, "wp_rtt_seconds", (const char *[]){ "peer", "a", NULL }, &h),
		  "emit");
	assert_text(b.data, h1_text, "text");
	check_hist_text(b.data, "wp_rtt_seconds", 7);
	prom_buf_free(&b);
}

static void hist_boundaries(void)
{
	struct prom_hist h = {};
	struct prom_buf b;
	size_t i;

	/* le is inclusive: a value equal to a bound lands in that bound's bucket */
	for (i = 0; i < PROM_HIST_NR_BOUNDS; i++)
		prom_hist_observe(&h, prom_hist_bounds[i]);
	for (i = 0; i < PROM_HIST_NR_BOUNDS; i++)
		ASSERT_EQ(h.counts[i], 1, "on_bound");
	ASSERT_EQ(h.counts[PROM_HIST_NR_BOUNDS], 0, "none_above");
	prom_hist_observe(&h, nextafter(10, 11));
	prom_hist_observe(&h, INFINITY);
	ASSERT_EQ(h.counts[PROM_HIST_NR_BOUNDS], 2, "above_largest");
	for (i = 1; i < PROM_HIST_NR_BOUNDS; i++)
		ASSERT_TRUE(prom_hist_bounds[i] > prom_hist_bounds[i - 1], "bounds_increase");

	/* no labels */
	memset(&h, 0, sizeof(h));
	prom_hist_observe(&h, 0.5);
	prom_buf_init(&b);
	prom_hist_emit(&b, "wp_x_seconds", NULL, &h);
	assert_contains(b.data, "wp_x_seconds_bucket{le=\"0.25\"} 0\n", "le_only_0.25");
	assert_contains(b.data, "wp_x_seconds_bucket{le=\"0.5\"} 1\n", "le_only_0.5");
	assert_contains(b.data, "wp_x_seconds_bucket{le=\"+Inf\"} 1\n", "le_only_inf");
	assert_contains(b.data, "\nwp_x_seconds_sum 0.5\nwp_x_seconds_count 1\n", "sum_count");
	prom_buf_free(&b);
}

static void hist_merge(void)
{
	struct prom_hist h1 = {}, h2 = {}, sum = {}, empty = {};
	struct prom_buf b;

	fill_h1(&h1);
	prom_hist_observe(&h2, 0.003);
	prom_hist_observe(&h2, 30);

	/* into an empty one: a copy */
	prom_hist_merge(&sum, &h1);
	ASSERT_MEMEQ(&sum, &h1, sizeof(h1), "merge_into_empty");
	prom_hist_merge(&sum, &empty);
	ASSERT_MEMEQ(&sum, &h1, sizeof(h1), "merge_empty");

	prom_hist_merge(&sum, &h2);
	ASSERT_EQ(sum.count, 9, "count");
	ASSERT_EQ(sum.counts[5], 1, "bucket_0.005");
	ASSERT_EQ(sum.counts[PROM_HIST_NR_BOUNDS], 2, "above_largest");
	ASSERT_TRUE(sum.sum == h1.sum + h2.sum, "sum");

	prom_buf_init(&b);
	prom_family(&b, "wp_rtt_seconds", PROM_HISTOGRAM, "RTT");
	prom_hist_emit(&b, "wp_rtt_seconds", (const char *[]){ "peer", "_other", NULL }, &sum);
	assert_contains(b.data, "wp_rtt_seconds_bucket{peer=\"_other\",le=\"0.0025\"} 3\n",
			"below_0.005");
	assert_contains(b.data, "wp_rtt_seconds_bucket{peer=\"_other\",le=\"0.005\"} 4\n",
			"at_0.005");
	assert_contains(b.data, "wp_rtt_seconds_bucket{peer=\"_other\",le=\"10\"} 7\n", "at_10");
	assert_contains(b.data, "wp_rtt_seconds_bucket{peer=\"_other\",le=\"+Inf\"} 9\n", "inf");
	check_hist_text(b.data, "wp_rtt_seconds", 9);
	prom_buf_free(&b);
}

void test_prom_hist(void)
{
	if (test__start_subtest("emit"))
		hist_emit();
	if (test__start_subtest("boundaries"))
		hist_boundaries();
	if (test__start_subtest("merge"))
		hist_merge();
}

/* ---- the HTTP server over plain sockets ---- */

struct reply {
	int status;
	char *head; /* status line and headers */
	char *body;
	size_t body_len;
};

static void reply_free(struct reply *r)
{
	free(r->head);
	free(r->body);
	memset(r, 0, sizeof(*r));
}

/* A header's value (case-insensitive name), copied into @out; false if absent. */
static bool reply_header(const struct reply *r, const char *name, char *out, size_t len)
{
	const char *p = r->head;
	size_t n = strlen(name);

	while (p && (p = strstr(p, "\r\n"))) {
		p += 2;
		if (!strncasecmp(p, name, n) && p[n] == ':') {
			const char *v = p + n + 1, *end;

			while (*v == ' ')
				v++;
			end = strstr(v, "\r\n");
			if (!end)
				end = v + strlen(v);
			snprintf(out, len, "%.*s", (int)(end - v), v);
			return true;
		}
	}
	return false;
}

/*
 * One request on a fresh connection (Connection: close), the reply read to
 * EOF. @family AF_INET connects to 127.0.0.1, AF_INET6 to ::1. 0 or -errno.
 */
static int http_request(int family, uint16_t port, const char *method, const char *path,
			const char *body, struct reply *r)
{
	struct timeval tv = { .tv_sec = IO_TIMEOUT_S };
	struct sockaddr_storage ss = {};
	char req[512], *buf = NULL, *sep, *nb;
	size_t len = 0, cap = 0;
	socklen_t slen;
	ssize_t n;
	int fd, err = 0, reqlen;

	memset(r, 0, sizeof(*r));
	if (family == AF_INET6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr = in6addr_loopback;
		sin6->sin6_port = htons(port);
		slen = sizeof(*sin6);
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sin->sin_port = htons(port);
		slen = sizeof(*sin);
	}
	fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&ss, slen)) {
		err = -errno;
		goto out;
	}
	reqlen = snprintf(req, sizeof(req),
			  "%s %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
			  "Content-Length: %zu\r\n\r\n%s",
			  method, path, body ? strlen(body) : 0, body ? body : "");
	if (send(fd, req, reqlen, MSG_NOSIGNAL) != reqlen) {
		err = -EIO;
		goto out;
	}
	for (;;) {
		if (cap - len < 4096) {
			cap = cap ? cap * 2 : 16384;
			nb = realloc(buf, cap + 1);
			if (!nb) {
				err = -ENOMEM;
				goto out;
			}
			buf = nb;
		}
		n = recv(fd, buf + len, cap - len, 0);
		if (n < 0) {
			err = -errno;
			goto out;
		}
		if (!n)
			break;
		len += n;
	}
	if (!buf) {
		err = -ECONNRESET;
		goto out;
	}
	buf[len] = '\0';
	sep = strstr(buf, "\r\n\r\n");
	if (!sep || sscanf(buf, "HTTP/1.%*d %d", &r->status) != 1) {
		err = -EPROTO;
		goto out;
	}
	r->head = strndup(buf, sep - buf);
	r->body_len = len - (sep + 4 - buf);
	r->body = strndup(sep + 4, r->body_len);
	if (!r->head || !r->body)
		err = -ENOMEM;
out:
	free(buf);
	close(fd);
	if (err)
		reply_free(r);
	return err;
}

/* The agent's side, as the tests play it. */
struct fake_agent {
	pthread_mutex_t lock;
	bool ready;
	bool fail_metrics, fail_peers, emit_self;
	struct wp_http *server; /* for emit_self */
	uint64_t scrapes;
	struct prom_hist rtt;
};

static int fake_metrics(void *ctx, struct prom_buf *out)
{
	struct fake_agent *a = ctx;
	int err = 0;

	pthread_mutex_lock(&a->lock);
	if (a->fail_metrics) {
		err = -EIO;
		goto unlock;
	}
	a->scrapes++;
	prom_family(out, "warmpath_build_info", PROM_GAUGE, "Build information");
	prom_sample(out, "warmpath_build_info", (const char *[]){ "version", "test", NULL }, 1);
	prom_family(out, "warmpath_test_scrapes_total", PROM_COUNTER,
		    "Scrapes of this fake agent, this one included");
	prom_sample_u64(out, "warmpath_test_scrapes_total", NULL, a->scrapes);
	prom_family(out, "warmpath_peer_idle_seconds", PROM_GAUGE,
		    "Seconds since a peer last carried a packet \"either way\"\n(+Inf: never)");
	prom_sample(out, "warmpath_peer_idle_seconds",
		    (const char *[]){ "peer", "we\"ird\\name\nx\xff", NULL }, 1.5);
	prom_sample(out, "warmpath_peer_idle_seconds", (const char *[]){ "peer", "never", NULL },
		    INFINITY);
	prom_sample(out, "warmpath_peer_idle_seconds", (const char *[]){ "peer", "unknown", NULL },
		    NAN);
	prom_family(out, "warmpath_probe_rtt_seconds", PROM_HISTOGRAM, "Probe round trip time");
	prom_hist_emit(out, "warmpath_probe_rtt_seconds", (const char *[]){ "peer", "a", NULL },
		       &a->rtt);
	prom_hist_emit(out, "warmpath_probe_rtt_seconds",
		       (const char *[]){ "peer", "_other", NULL }, &a->rtt);
	if (a->emit_self)
		err = wp_http_emit_self_metrics(a->server, out);
unlock:
	pthread_mutex_unlock(&a->lock);
	return err;
}

static char *fake_peers_json(void *ctx)
{
	struct fake_agent *a = ctx;
	char *text = NULL;

	pthread_mutex_lock(&a->lock);
	if (a->fail_peers)
		errno = EIO;
	else
		text = strdup("{\"peers\":[{\"name\":\"node-a\",\"idle_seconds\":1.5}]}");
	pthread_mutex_unlock(&a->lock);
	return text;
}

static bool fake_ready(void *ctx, char *why, size_t len)
{
	struct fake_agent *a = ctx;
	bool ready;

	pthread_mutex_lock(&a->lock);
	ready = a->ready;
	if (!ready)
		snprintf(why, len, "programs not attached yet");
	pthread_mutex_unlock(&a->lock);
	return ready;
}

static void fake_init(struct fake_agent *a)
{
	memset(a, 0, sizeof(*a));
	pthread_mutex_init(&a->lock, NULL);
	prom_hist_observe(&a->rtt, 0.0003);
	prom_hist_observe(&a->rtt, 0.02);
	prom_hist_observe(&a->rtt, 12);
}

static void fake_set(struct fake_agent *a, bool *field, bool v)
{
	pthread_mutex_lock(&a->lock);
	*field = v;
	pthread_mutex_unlock(&a->lock);
}

static struct wp_http *start_fake(struct fake_agent *a, const char *listen)
{
	struct wp_http_handlers h = {
		.ctx = a,
		.metrics = fake_metrics,
		.peers_json = fake_peers_json,
		.ready = fake_ready,
	};
	char err[256] = "";
	struct wp_http *s;

	s = wp_http_start(listen, &h, err, sizeof(err));
	if (!ASSERT_OK_PTR(s, "wp_http_start"))
		test__printf("%s\n", err);
	else
		a->server = s;
	return s;
}

/* GET @path, expect @status, @type and a body starting with @body (NULL: any). */
static bool check_get(uint16_t port, const char *method, const char *path, int status,
		      const char *type, const char *body, struct reply *keep)
{
	char name[96], got_type[128] = "";
	struct reply r;
	bool ok;

	snprintf(name, sizeof(name), "%s_%s", method, path);
	if (!ASSERT_OK(http_request(AF_INET, port, method, path, NULL, &r), name))
		return false;
	ok = ASSERT_EQ(r.status, status, name);
	if (type) {
		reply_header(&r, "Content-Type", got_type, sizeof(got_type));
		ok &= assert_text(got_type, type, name);
	}
	if (body)
		ok &= test__assert_report(!strncmp(r.body, body, strlen(body)), __FILE__, __LINE__,
					  name, "body \"%s\" want \"%s\"", r.body, body);
	if (keep)
		*keep = r;
	else
		reply_free(&r);
	return ok;
}

#define CT_TEXT "text/plain; charset=utf-8"
#define CT_METRICS "text/plain; version=0.0.4; charset=utf-8"

static void http_listen_parse(void)
{
	static const struct {
		const char *in;
		int family;
		uint16_t port;
		const char *addr;
	} good[] = {
		{ "0.0.0.0:9051", AF_INET, 9051, "0.0.0.0" },
		{ "127.0.0.1:9051", AF_INET, 9051, "127.0.0.1" },
		{ ":9051", AF_INET, 9051, "0.0.0.0" },
		{ "10.1.2.3:0", AF_INET, 0, "10.1.2.3" },
		{ "1.2.3.4:65535", AF_INET, 65535, "1.2.3.4" },
		{ "[::]:9051", AF_INET6, 9051, "::" },
		{ "[::1]:80", AF_INET6, 80, "::1" },
		{ "[fe80::1%lo]:9051", AF_INET6, 9051, "fe80::1" },
	};
	static const struct {
		const char *in, *msg;
	} bad[] = {
		{ "", "empty listen address" },
		{ "9051", "missing port" },
		{ "127.0.0.1", "missing port" },
		{ "127.0.0.1:", "missing port" },
		{ "127.0.0.1:65536", "port 65536 out of range" },
		{ "127.0.0.1:99999999999999999999", "out of range" },
		{ "127.0.0.1:-1", "bad port \"-1\"" },
		{ "127.0.0.1:90a", "bad port \"90a\"" },
		{ "127.0.0.1: 80", "bad port" },
		{ "1.2.3.400:80", "bad address \"1.2.3.400\"" },
		{ "localhost:9051", "bad address \"localhost\"" },
		{ "::1:9051", "brackets" },
		{ "[::1]", "missing port" },
		{ "[::1]9051", "missing port" },
		{ "[::1:9051", "missing ']'" },
		{ "[1.2.3.4]:80", "bad IPv6 address \"1.2.3.4\"" },
		{ "[]:80", "bad IPv6 address" },
		{ "[fe80::1%nosuchif0]:80", "no interface \"nosuchif0\"" },
	};
	struct sockaddr_storage ss;
	char err[256], ip[INET6_ADDRSTRLEN];
	socklen_t len;
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		err[0] = '\0';
		if (!ASSERT_OK(wp_http_parse_listen(good[i].in, &ss, &len, err, sizeof(err)),
			       good[i].in)) {
			test__printf("%s\n", err);
			continue;
		}
		ASSERT_EQ(ss.ss_family, good[i].family, good[i].in);
		if (ss.ss_family == AF_INET6) {
			struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

			ASSERT_EQ(len, sizeof(*sin6), "len6");
			ASSERT_EQ(ntohs(sin6->sin6_port), good[i].port, good[i].in);
			inet_ntop(AF_INET6, &sin6->sin6_addr, ip, sizeof(ip));
		} else {
			struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

			ASSERT_EQ(len, sizeof(*sin), "len4");
			ASSERT_EQ(ntohs(sin->sin_port), good[i].port, good[i].in);
			inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip));
		}
		assert_text(ip, good[i].addr, good[i].in);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		ASSERT_EQ(wp_http_parse_listen(bad[i].in, &ss, &len, err, sizeof(err)), -EINVAL,
			  bad[i].in);
		assert_contains(err, bad[i].msg, bad[i].in);
		/* the message names the value (in quotes) */
		if (*bad[i].in) {
			char quoted[64];

			snprintf(quoted, sizeof(quoted), "\"%s\"", bad[i].in);
			assert_contains(err, quoted, "names_value");
		}
	}
}

static void http_endpoints(void)
{
	struct fake_agent a;
	struct wp_http *s;
	struct reply r;
	char hdr[128];
	uint16_t port;
	json_error_t jerr;
	json_t *j;

	fake_init(&a);
	s = start_fake(&a, "127.0.0.1:0");
	if (!s)
		return;
	port = wp_http_port(s);
	ASSERT_NEQ(port, 0, "port");
	snprintf(hdr, sizeof(hdr), "127.0.0.1:%u", port);
	assert_text(wp_http_address(s), hdr, "address");

	check_get(port, "GET", "/healthz", 200, CT_TEXT, "ok\n", NULL);
	check_get(port, "GET", "/healthz?verbose=1", 200, CT_TEXT, "ok\n", NULL);
	check_get(port, "GET", "/ping", 200, CT_TEXT, "pong\n", NULL);
	if (check_get(port, "GET", "/", 200, CT_TEXT, "warmpath\n", &r)) {
		assert_contains(r.body, "/metrics", "index_metrics");
		assert_contains(r.body, "/readyz", "index_readyz");
		reply_free(&r);
	}

	/* readyz, both ways */
	if (check_get(port, "GET", "/readyz", 503, CT_TEXT, NULL, &r)) {
		assert_text(r.body, "not ready: programs not attached yet\n", "not_ready_body");
		reply_free(&r);
	}
	fake_set(&a, &a.ready, true);
	check_get(port, "GET", "/readyz", 200, CT_TEXT, "ready\n", NULL);

	/* peers: JSON that parses */
	if (check_get(port, "GET", "/peers", 200, "application/json", "{", &r)) {
		j = json_loads(r.body, 0, &jerr);
		if (ASSERT_OK_PTR(j, "peers_json"))
			ASSERT_EQ(json_array_size(json_object_get(j, "peers")), 1, "nr_peers");
		json_decref(j);
		reply_free(&r);
	}

	/* metrics, with our own counters appended */
	if (check_get(port, "GET", "/metrics", 200, CT_METRICS, "# HELP warmpath_build_info", &r)) {
		assert_contains(r.body, "warmpath_build_info{version=\"test\"} 1\n", "build_info");
		assert_contains(
			r.body,
			"warmpath_peer_idle_seconds{peer=\"we\\\"ird\\\\name\\nx\xef\xbf\xbd\"} 1.5\n",
			"escaped");
		assert_contains(r.body, "# TYPE warmpath_http_requests_total counter\n", "self");
		assert_contains(r.body,
				"warmpath_http_requests_total{path=\"/healthz\",code=\"200\"} 2\n",
				"self_healthz");
		assert_contains(r.body,
				"warmpath_http_requests_total{path=\"/readyz\",code=\"503\"} 1\n",
				"self_readyz_503");
		assert_contains(r.body,
				"warmpath_http_requests_total{path=\"/metrics\",code=\"200\"} 0\n",
				"self_metrics_zero");
		ASSERT_EQ(r.body_len, strlen(r.body), "body_len");
		reply_free(&r);
	}

	/* 404 and 405 */
	check_get(port, "GET", "/nope", 404, CT_TEXT, "not found\n", NULL);
	check_get(port, "GET", "/metrics/", 404, NULL, NULL, NULL);
	check_get(port, "POST", "/nope", 404, NULL, NULL, NULL);
	if (check_get(port, "POST", "/metrics", 405, CT_TEXT, "method not allowed\n", &r)) {
		if (ASSERT_TRUE(reply_header(&r, "Allow", hdr, sizeof(hdr)), "allow_header"))
			assert_text(hdr, "GET, HEAD", "allow");
		reply_free(&r);
	}
	check_get(port, "PUT", "/healthz", 405, NULL, NULL, NULL);
	check_get(port, "DELETE", "/peers", 405, NULL, NULL, NULL);
	/* a POST with a body is answered too, and the server carries on */
	if (ASSERT_OK(http_request(AF_INET, port, "POST", "/metrics", "a=1&b=2", &r),
		      "post_body")) {
		ASSERT_EQ(r.status, 405, "post_body_status");
		reply_free(&r);
	}

	/* HEAD: headers, no body */
	if (check_get(port, "HEAD", "/metrics", 200, CT_METRICS, NULL, &r)) {
		ASSERT_EQ(r.body_len, 0, "head_no_body");
		reply_free(&r);
	}
	if (check_get(port, "HEAD", "/healthz", 200, CT_TEXT, NULL, &r)) {
		ASSERT_TRUE(reply_header(&r, "Content-Length", hdr, sizeof(hdr)), "head_length");
		assert_text(hdr, "3", "head_length_value");
		ASSERT_EQ(r.body_len, 0, "head_no_body");
		reply_free(&r);
	}

	/* a handler failing: 500, and the next scrape is fine again */
	fake_set(&a, &a.fail_metrics, true);
	check_get(port, "GET", "/metrics", 500, CT_TEXT, "metrics unavailable", NULL);
	fake_set(&a, &a.fail_metrics, false);
	fake_set(&a, &a.fail_peers, true);
	check_get(port, "GET", "/peers", 500, CT_TEXT, "peers unavailable", NULL);
	fake_set(&a, &a.fail_peers, false);

	/* the counts of all the above, unknown paths as "other" */
	if (check_get(port, "GET", "/metrics", 200, CT_METRICS, NULL, &r)) {
		static const char *const want[] = {
			"{path=\"/\",code=\"200\"} 1\n",
			"{path=\"/metrics\",code=\"200\"} 2\n", /* GET and HEAD */
			"{path=\"/metrics\",code=\"405\"} 2\n",
			"{path=\"/metrics\",code=\"500\"} 1\n",
			"{path=\"/peers\",code=\"200\"} 1\n",
			"{path=\"/peers\",code=\"405\"} 1\n",
			"{path=\"/peers\",code=\"500\"} 1\n",
			"{path=\"/healthz\",code=\"200\"} 3\n",
			"{path=\"/healthz\",code=\"405\"} 1\n",
			"{path=\"/readyz\",code=\"200\"} 1\n",
			"{path=\"/readyz\",code=\"503\"} 1\n",
			"{path=\"/ping\",code=\"200\"} 1\n",
			"{path=\"other\",code=\"404\"} 3\n",
		};
		char line[128];
		size_t i;

		for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
			snprintf(line, sizeof(line), "warmpath_http_requests_total%s", want[i]);
			assert_contains(r.body, line, strtok(strdupa(line), "\n"));
		}
		ASSERT_EQ(count_occurrences(r.body, "warmpath_http_requests_total{"), 13,
			  "nr_series");
		reply_free(&r);
	}

	/* a metrics callback that emits the server's counters itself: no duplicate */
	fake_set(&a, &a.emit_self, true);
	if (check_get(port, "GET", "/metrics", 200, CT_METRICS, NULL, &r)) {
		ASSERT_EQ(count_occurrences(r.body, "# TYPE warmpath_http_requests_total"), 1,
			  "self_once");
		reply_free(&r);
	}
	wp_http_stop(s);
	pthread_mutex_destroy(&a.lock);
}

static int count_fds(void)
{
	struct dirent *de;
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	while (d && (de = readdir(d)))
		n++;
	if (d)
		closedir(d);
	return n;
}

/* NULL handlers: the probe-port server, only /, /healthz, /ping. */
static void http_ping_only(void)
{
	int fds_before = count_fds();
	struct wp_http *s;
	struct reply r;
	char err[256];
	uint16_t port;

	s = wp_http_start("127.0.0.1:0", NULL, err, sizeof(err));
	if (!ASSERT_OK_PTR(s, "start")) {
		test__printf("%s\n", err);
		return;
	}
	port = wp_http_port(s);
	check_get(port, "GET", "/ping", 200, CT_TEXT, "pong\n", NULL);
	check_get(port, "GET", "/healthz", 200, CT_TEXT, "ok\n", NULL);
	check_get(port, "GET", "/metrics", 404, NULL, NULL, NULL);
	check_get(port, "GET", "/peers", 404, NULL, NULL, NULL);
	check_get(port, "GET", "/readyz", 404, NULL, NULL, NULL);
	check_get(port, "POST", "/metrics", 404, NULL, NULL, NULL);
	if (check_get(port, "GET", "/", 200, CT_TEXT, NULL, &r)) {
		ASSERT_FALSE(strstr(r.body, "/metrics"), "index_without_metrics");
		assert_contains(r.body, "/ping", "index_ping");
		reply_free(&r);
	}
	wp_http_stop(s);
	/* the listening socket is gone with the server */
	ASSERT_EQ(count_fds(), fds_before, "no_fd_leak");
	ASSERT_LT(http_request(AF_INET, port, "GET", "/ping", NULL, &r), 0, "stopped");
}

/* A connected TCP socket to 127.0.0.1:@port with I/O timeouts, or -errno. */
static int connect_loopback(uint16_t port)
{
	struct timeval tv = { .tv_sec = IO_TIMEOUT_S };
	struct sockaddr_in sin = {
		.sin_family = AF_INET,
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
		.sin_port = htons(port),
	};
	int fd, err;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin))) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

/* Two requests on one connection: GETs keep it open, Connection: close ends it. */
static void http_keepalive(void)
{
	static const char req1[] = "GET /ping HTTP/1.1\r\nHost: x\r\n\r\n";
	static const char req2[] = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
	char buf[2048];
	size_t len = 0;
	struct wp_http *s;
	ssize_t n;
	int fd;

	s = wp_http_start("127.0.0.1:0", NULL, buf, sizeof(buf));
	if (!ASSERT_OK_PTR(s, "start"))
		return;
	fd = connect_loopback(wp_http_port(s));
	if (!ASSERT_GE(fd, 0, "connect"))
		goto out;
	ASSERT_EQ(send(fd, req1, strlen(req1), MSG_NOSIGNAL), strlen(req1), "send1");
	/* the whole first reply, up to its body */
	while (len < sizeof(buf) - 1 && !strstr(buf, "pong\n")) {
		n = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);
		if (n <= 0)
			break;
		len += n;
		buf[len] = '\0';
	}
	if (ASSERT_TRUE(len && strstr(buf, "pong\n"), "reply1")) {
		ASSERT_FALSE(strcasestr(buf, "Connection: close"), "kept_open");
		ASSERT_EQ(send(fd, req2, strlen(req2), MSG_NOSIGNAL), strlen(req2), "send2");
		len = 0;
		while (len < sizeof(buf) - 1) {
			n = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);
			if (n <= 0)
				break;
			len += n;
		}
		buf[len] = '\0';
		assert_contains(buf, "HTTP/1.1 200", "reply2");
		assert_contains(buf, "\r\n\r\nok\n", "reply2_body");
	}
	close(fd);
out:
	wp_http_stop(s);
}

/*
 * WP_HTTP_MAX_CONNECTIONS idle clients fill the server; the next one is
 * turned away, and once they leave it serves again.
 */
static void http_connection_limit(void)
{
	int fds[WP_HTTP_MAX_CONNECTIONS], i, nr = 0, err = -1, tries;
	struct wp_http *s;
	struct reply r;
	char errbuf[256];
	uint16_t port;

	s = wp_http_start("127.0.0.1:0", NULL, errbuf, sizeof(errbuf));
	if (!ASSERT_OK_PTR(s, "start"))
		return;
	port = wp_http_port(s);
	for (i = 0; i < WP_HTTP_MAX_CONNECTIONS; i++) {
		fds[nr] = connect_loopback(port);
		if (!ASSERT_GE(fds[nr], 0, "connect_idle"))
			break;
		nr++;
	}
	if (nr == WP_HTTP_MAX_CONNECTIONS) {
		err = http_request(AF_INET, port, "GET", "/ping", NULL, &r);
		ASSERT_LT(err, 0, "over_limit_refused");
		if (!err)
			reply_free(&r);
	}
	for (i = 0; i < nr; i++)
		close(fds[i]);
	/* the server notices the closed connections asynchronously */
	for (tries = 0; tries < 100; tries++) {
		err = http_request(AF_INET, port, "GET", "/ping", NULL, &r);
		if (!err)
			break;
		usleep(20000);
	}
	if (ASSERT_OK(err, "served_again")) {
		ASSERT_EQ(r.status, 200, "status");
		reply_free(&r);
	}
	wp_http_stop(s);
}

static void http_bind_errors(void)
{
	struct wp_http *s, *s2;
	char err[256] = "", want[64];

	s = wp_http_start("127.0.0.1:0", NULL, err, sizeof(err));
	if (!ASSERT_OK_PTR(s, "start"))
		return;
	s2 = wp_http_start(wp_http_address(s), NULL, err, sizeof(err));
	ASSERT_TRUE(s2 == NULL, "second_bind_fails");
	snprintf(want, sizeof(want), "cannot bind 127.0.0.1:%u: ", wp_http_port(s));
	assert_contains(err, want, "names_address");
	assert_contains(err, strerror(EADDRINUSE), "names_errno");
	wp_http_stop(s2);
	wp_http_stop(s);

	ASSERT_TRUE(wp_http_start("127.0.0.1:99999", NULL, err, sizeof(err)) == NULL, "bad_port");
	assert_contains(err, "\"127.0.0.1:99999\": port 99999 out of range", "bad_port_msg");
	/* an address this host does not have */
	ASSERT_TRUE(wp_http_start("192.0.2.1:9051", NULL, err, sizeof(err)) == NULL,
		    "foreign_address");
	assert_contains(err, "cannot bind 192.0.2.1:9051: ", "foreign_address_msg");
	wp_http_stop(NULL);
}

static void http_ipv6(void)
{
	struct wp_http *s;
	struct reply r;
	char err[256] = "";
	uint16_t port;

	s = wp_http_start("[::1]:0", NULL, err, sizeof(err));
	if (!s) {
		/* a kernel or namespace without IPv6 */
		test__printf("no IPv6 here, skipped (%s)\n", err);
		return;
	}
	port = wp_http_port(s);
	assert_contains(wp_http_address(s), "[::1]:", "address");
	if (ASSERT_OK(http_request(AF_INET6, port, "GET", "/ping", NULL, &r), "ping6")) {
		ASSERT_EQ(r.status, 200, "ping6_status");
		assert_text(r.body, "pong\n", "ping6_body");
		reply_free(&r);
	}
	wp_http_stop(s);

	/* [::] takes IPv4 clients too */
	s = wp_http_start("[::]:0", NULL, err, sizeof(err));
	if (!ASSERT_OK_PTR(s, "start_any6"))
		return;
	port = wp_http_port(s);
	check_get(port, "GET", "/ping", 200, CT_TEXT, "pong\n", NULL);
	wp_http_stop(s);
}

/* ---- concurrent scrapes ---- */

struct scraper {
	pthread_t thread;
	uint16_t port;
	pthread_barrier_t *start;
	int ok, failed;
	char first_error[128];
};

static void *scrape_loop(void *arg)
{
	struct scraper *sc = arg;
	struct reply r;
	int i, err;

	pthread_barrier_wait(sc->start);
	for (i = 0; i < SCRAPES_PER_THREAD; i++) {
		err = http_request(AF_INET, sc->port, "GET", "/metrics", NULL, &r);
		if (!err && r.status == 200 && strstr(r.body, "warmpath_probe_rtt_seconds_count") &&
		    r.body_len && r.body[r.body_len - 1] == '\n') {
			sc->ok++;
		} else {
			if (!sc->failed)
				snprintf(sc->first_error, sizeof(sc->first_error),
					 "scrape %d: err=%d status=%d", i, err, err ? 0 : r.status);
			sc->failed++;
		}
		if (!err)
			reply_free(&r);
	}
	return NULL;
}

static void http_concurrent(void)
{
	struct scraper sc[SCRAPE_THREADS] = {};
	pthread_barrier_t start;
	struct fake_agent a;
	struct wp_http *s;
	struct reply r;
	char line[128];
	int i, ok = 0, started = 0;

	fake_init(&a);
	s = start_fake(&a, "127.0.0.1:0");
	if (!s)
		return;
	pthread_barrier_init(&start, NULL, SCRAPE_THREADS);
	for (i = 0; i < SCRAPE_THREADS; i++) {
		sc[i].port = wp_http_port(s);
		sc[i].start = &start;
		if (!ASSERT_OK(pthread_create(&sc[i].thread, NULL, scrape_loop, &sc[i]),
			       "pthread_create"))
			break;
		started++;
	}
	if (started < SCRAPE_THREADS) {
		/* the barrier would never open; nothing sane left to do */
		test__printf("only %d threads started\n", started);
		exit(1);
	}
	for (i = 0; i < SCRAPE_THREADS; i++) {
		pthread_join(sc[i].thread, NULL);
		ok += sc[i].ok;
		if (sc[i].failed)
			test__printf("thread %d: %d failed, first: %s\n", i, sc[i].failed,
				     sc[i].first_error);
	}
	ASSERT_EQ(ok, SCRAPE_THREADS * SCRAPES_PER_THREAD, "scrapes_ok");
	ASSERT_EQ(a.scrapes, SCRAPE_THREADS * SCRAPES_PER_THREAD, "handler_calls");

	/* and the server still answers, having counted every one */
	if (check_get(wp_http_port(s), "GET", "/metrics", 200, CT_METRICS, NULL, &r)) {
		snprintf(line, sizeof(line),
			 "warmpath_http_requests_total{path=\"/metrics\",code=\"200\"} %d\n",
			 SCRAPE_THREADS * SCRAPES_PER_THREAD);
		assert_contains(r.body, line, "counted");
		reply_free(&r);
	}
	pthread_barrier_destroy(&start);
	wp_http_stop(s);
	pthread_mutex_destroy(&a.lock);
}

void test_prom_http(void)
{
	if (test__start_subtest("listen_parse"))
		http_listen_parse();
	if (test__start_subtest("endpoints"))
		http_endpoints();
	if (test__start_subtest("ping_only"))
		http_ping_only();
	if (test__start_subtest("keepalive"))
		http_keepalive();
	if (test__start_subtest("connection_limit"))
		http_connection_limit();
	if (test__start_subtest("bind_errors"))
		http_bind_errors();
	if (test__start_subtest("ipv6"))
		http_ipv6();
}

void test_prom_http_concurrent(void)
{
	if (test__start_subtest("scrapes_8x50"))
		http_concurrent();
}

/* ---- promtool ---- */

/* Exit status of `promtool check metrics` on @text; -1 if it could not run. */
static int promtool_check(const char *text, bool quiet)
{
	FILE *p;
	int status;

	p = popen(quiet ? PROMTOOL " check metrics >/dev/null 2>&1" : PROMTOOL " check metrics",
		  "w");
	if (!p)
		return -1;
	fwrite(text, 1, strlen(text), p);
	status = pclose(p);
	if (status == -1 || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

static void promtool_built(void)
{
	struct fake_agent a;
	struct prom_buf b;
	struct prom_hist empty = {};

	fake_init(&a);
	prom_buf_init(&b);
	ASSERT_OK(fake_metrics(&a, &b), "fake_metrics");
	prom_family(&b, "warmpath_peer_packets_total", PROM_COUNTER,
		    "Packets to (tx) and from (rx) a peer");
	prom_sample_u64(
		&b, "warmpath_peer_packets_total",
		(const char *[]){ "peer", "node-a", "direction", "tx", "kind", "workload", NULL },
		UINT64_MAX);
	prom_sample_u64(&b, "warmpath_peer_packets_total",
			(const char *[]){ "peer", "", "direction", "rx", "kind", "probe", NULL },
			0);
	prom_family(&b, "warmpath_syn_rtt_seconds", PROM_HISTOGRAM, "Passive SYN to SYN-ACK time");
	prom_hist_emit(&b, "warmpath_syn_rtt_seconds", (const char *[]){ "peer", "a", NULL },
		       &empty);
	ASSERT_OK(prom_buf_error(&b), "built");
	ASSERT_EQ(promtool_check(b.data, false), 0, "promtool_exit");
	prom_buf_free(&b);
	pthread_mutex_destroy(&a.lock);

	/* the check can fail: a counter without _total and a sample out of its family */
	ASSERT_NEQ(promtool_check("# HELP wp_x X\n# TYPE wp_x counter\nwp_x 1\n", true), 0,
		   "promtool_rejects_lint");
	ASSERT_NEQ(promtool_check("wp_x{a=\"b} 1\n", true), 0, "promtool_rejects_syntax");
}

static void promtool_served(void)
{
	struct fake_agent a;
	struct wp_http *s;
	struct reply r;

	fake_init(&a);
	s = start_fake(&a, "127.0.0.1:0");
	if (!s)
		return;
	/* some traffic, so the self metrics have several series */
	check_get(wp_http_port(s), "GET", "/nope", 404, NULL, NULL, NULL);
	check_get(wp_http_port(s), "POST", "/metrics", 405, NULL, NULL, NULL);
	check_get(wp_http_port(s), "GET", "/readyz", 503, NULL, NULL, NULL);
	if (check_get(wp_http_port(s), "GET", "/metrics", 200, CT_METRICS, NULL, &r)) {
		ASSERT_EQ(promtool_check(r.body, false), 0, "promtool_exit");
		reply_free(&r);
	}
	wp_http_stop(s);
	pthread_mutex_destroy(&a.lock);
}

void test_prom_promtool(void)
{
	if (access(PROMTOOL, X_OK)) {
		test__printf("%s not found: apt-get install prometheus (or sudo make deps)\n",
			     PROMTOOL);
		test__fail();
		return;
	}
	if (test__start_subtest("built"))
		promtool_built();
	if (test__start_subtest("served"))
		promtool_served();
}
