/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Prometheus text exposition (format 0.0.4) builder.
 *
 *	struct prom_buf b;
 *	const char *labels[] = { "peer", name, "direction", "tx", NULL };
 *
 *	prom_buf_init(&b);
 *	prom_family(&b, "warmpath_peer_bytes_total", PROM_COUNTER, "Bytes through the tunnel");
 *	prom_sample_u64(&b, "warmpath_peer_bytes_total", labels, bytes);
 *	if (prom_buf_error(&b))
 *		... -ENOMEM (or -EINVAL for a bad name): nothing was silently cut off
 *	prom_buf_free(&b);
 *
 * Errors are sticky: after the first failure every later call is a no-op
 * returning the same error, so a caller may emit a whole exposition and check
 * prom_buf_error() once. Label sets are NULL-terminated arrays of key, value
 * string pairs (NULL or { NULL } for none). Label values and HELP text are
 * escaped here (and invalid UTF-8 is replaced by U+FFFD); metric and label
 * names are validated, not escaped. Keep the samples of one family together,
 * right after its prom_family().
 *
 * Numbers are printed with printf/strtod, so LC_NUMERIC must stay "C" (a
 * decimal comma would break the format). Nothing here locks: a prom_buf or
 * prom_hist belongs to one thread at a time.
 */
#ifndef __WARMPATH_PROM_H
#define __WARMPATH_PROM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct prom_family_seen;

struct prom_buf {
	char *data; /* NUL-terminated text, NULL until something was appended */
	size_t len;
	size_t cap;
	int err; /* first error (negative errno), sticky */
	struct prom_family_seen *families; /* families declared so far */
	size_t nr_families;
	size_t cap_families;
};

enum prom_type {
	PROM_COUNTER,
	PROM_GAUGE,
	PROM_HISTOGRAM,
	PROM_UNTYPED,
};

void prom_buf_init(struct prom_buf *b);
void prom_buf_free(struct prom_buf *b);
/* Forget the text, the declared families and the error; keep the memory. */
void prom_buf_reset(struct prom_buf *b);
/* 0, or the first error (negative errno) any call on @b ran into. */
int prom_buf_error(const struct prom_buf *b);
/*
 * Hand the text (malloc'd, NUL-terminated, never NULL on success) to the
 * caller, who frees it; @b is left empty (re-initialised). NULL with errno set
 * when @b carries an error or the copy fails.
 */
char *prom_buf_release(struct prom_buf *b, size_t *len);

/* Raw appends (no escaping): 0 or -ENOMEM / the sticky error. */
int prom_printf(struct prom_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int prom_append(struct prom_buf *b, const char *s, size_t n);

/*
 * `# HELP name help` and `# TYPE name type`, once per family and buffer: a
 * second call for the same name is a no-op (-EINVAL if the type differs).
 * @help must not be empty (promtool rejects a family without help).
 */
int prom_family(struct prom_buf *b, const char *name, enum prom_type type, const char *help);
bool prom_has_family(const struct prom_buf *b, const char *name);

/* One sample line `name{k="v",...} value`; NaN and ±Inf are spelled NaN, +Inf, -Inf. */
int prom_sample(struct prom_buf *b, const char *name, const char *const *labels, double value);
/* The same with an exact unsigned integer (counters). */
int prom_sample_u64(struct prom_buf *b, const char *name, const char *const *labels,
		    uint64_t value);

/* A family of one unlabelled sample: prom_family() and prom_sample() (_u64) in one call. */
int prom_metric(struct prom_buf *b, const char *name, enum prom_type type, const char *help,
		double value);
int prom_metric_u64(struct prom_buf *b, const char *name, enum prom_type type, const char *help,
		    uint64_t value);

/*
 * The shortest decimal text that reads back as @v exactly (at most %.17g),
 * or NaN / +Inf / -Inf. Returns the length, like snprintf.
 */
int prom_format_double(char *out, size_t len, double v);

/*
 * Histograms with fixed upper bounds in seconds, a 1-2.5-5 ladder from 100 µs
 * to 10 s (veth RTTs land in the first bucket, a re-handshaking tunnel's
 * 1 s / 3 s SYN retransmits in the last ones). A zeroed struct is empty.
 */
#define PROM_HIST_NR_BOUNDS 16
extern const double prom_hist_bounds[PROM_HIST_NR_BOUNDS];

struct prom_hist {
	/* per bucket, not cumulative; [PROM_HIST_NR_BOUNDS] is above the largest bound */
	uint64_t counts[PROM_HIST_NR_BOUNDS + 1];
	uint64_t count; /* sum of counts[] (emit totals the buckets, not this) */
	double sum;
};

/* Count @v (seconds); a negative value counts as 0, NaN is refused (-EINVAL). */
int prom_hist_observe(struct prom_hist *h, double v);
/* dst += src (e.g. peers beyond the series cap into peer="_other"). */
void prom_hist_merge(struct prom_hist *dst, const struct prom_hist *src);
/*
 * `name_bucket{labels,le="..."}` cumulative for every bound and +Inf (equal to
 * the count), then `name_sum` and `name_count`. @name is the family name
 * (declare it with PROM_HISTOGRAM first); @labels must not contain "le".
 */
int prom_hist_emit(struct prom_buf *b, const char *name, const char *const *labels,
		   const struct prom_hist *h);

#endif /* __WARMPATH_PROM_H */
