// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The Prometheus exposition builder (user/export/prom.c): exact text for
 * escaping, values and histograms, and promtool's verdict on what we produce
 * and on what the server serves. The server itself: test_http.c.
 *
 *	test_prom_text         escaping, names, values, families, sticky errors
 *	test_prom_hist         buckets, boundaries, emit, merge
 *	test_prom_promtool     `promtool check metrics` on built and served text
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
#include "http_fake.h"
#include "test_helpers.h"

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

/* ---- promtool ---- */

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
