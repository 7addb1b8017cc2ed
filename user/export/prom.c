// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Prometheus text exposition builder: see prom.h. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "prom.h"

#define PROM_BUF_MIN 4096

struct prom_family_seen {
	char *name;
	enum prom_type type;
};

const double prom_hist_bounds[PROM_HIST_NR_BOUNDS] = {
	0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
	0.05,	0.1,	 0.25,	 0.5,	1,	2.5,   5,    10,
};

static const char *const type_names[] = {
	[PROM_COUNTER] = "counter",
	[PROM_GAUGE] = "gauge",
	[PROM_HISTOGRAM] = "histogram",
	[PROM_UNTYPED] = "untyped",
};

void prom_buf_init(struct prom_buf *b)
{
	memset(b, 0, sizeof(*b));
}

static void forget_families(struct prom_buf *b)
{
	size_t i;

	for (i = 0; i < b->nr_families; i++)
		free(b->families[i].name);
	b->nr_families = 0;
}

void prom_buf_free(struct prom_buf *b)
{
	forget_families(b);
	free(b->families);
	free(b->data);
	prom_buf_init(b);
}

void prom_buf_reset(struct prom_buf *b)
{
	forget_families(b);
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
	b->err = 0;
}

int prom_buf_error(const struct prom_buf *b)
{
	return b->err;
}

static int set_err(struct prom_buf *b, int err)
{
	if (!b->err)
		b->err = err;
	return b->err;
}

/* Room for @n more bytes plus the terminating NUL. */
static int reserve(struct prom_buf *b, size_t n)
{
	size_t need, cap;
	char *data;

	if (b->err)
		return b->err;
	if (n > SIZE_MAX - b->len - 1)
		return set_err(b, -ENOMEM);
	need = b->len + n + 1;
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : PROM_BUF_MIN;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	data = realloc(b->data, cap);
	if (!data)
		return set_err(b, -ENOMEM);
	b->data = data;
	b->cap = cap;
	return 0;
}

char *prom_buf_release(struct prom_buf *b, size_t *len)
{
	char *text;

	if (b->err) {
		errno = -b->err;
		return NULL;
	}
	if (reserve(b, 0)) {
		errno = ENOMEM;
		return NULL;
	}
	b->data[b->len] = '\0';
	text = b->data;
	if (len)
		*len = b->len;
	b->data = NULL;
	prom_buf_free(b);
	return text;
}

int prom_append(struct prom_buf *b, const char *s, size_t n)
{
	int err = reserve(b, n);

	if (err)
		return err;
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

static int append_str(struct prom_buf *b, const char *s)
{
	return prom_append(b, s, strlen(s));
}

int prom_printf(struct prom_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n, err;

	/* try in the room there is, grow once to the exact size if it was short */
	err = reserve(b, 0);
	if (err)
		return err;
	va_start(ap, fmt);
	n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0)
		return set_err(b, -EINVAL);
	if ((size_t)n >= b->cap - b->len) {
		err = reserve(b, n);
		if (err) {
			b->data[b->len] = '\0';
			return err;
		}
		va_start(ap, fmt);
		vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
	}
	b->len += n;
	return 0;
}

/* Length of the valid UTF-8 sequence at @s (1..4), or 0 if it is not one. */
static size_t utf8_seq_len(const unsigned char *s)
{
	unsigned char c = s[0];
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n, i;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4;
	else
		return 0;
	/* overlongs, UTF-16 surrogates and code points above U+10FFFF */
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return n;
}

/*
 * Append @s escaped: backslash and newline always, the double quote in label
 * values only (HELP text keeps it); invalid UTF-8 becomes U+FFFD.
 */
static int append_escaped(struct prom_buf *b, const char *s, bool quote)
{
	const unsigned char *p = (const unsigned char *)s, *run = p;
	const char *esc;
	size_t n;
	int err;

	while (*p) {
		n = utf8_seq_len(p);
		if (n == 1 && *p == '\\')
			esc = "\\\\";
		else if (n == 1 && *p == '\n')
			esc = "\\n";
		else if (n == 1 && *p == '"' && quote)
			esc = "\\\"";
		else if (n == 0)
			esc = "\xef\xbf\xbd";
		else {
			p += n;
			continue;
		}
		err = prom_append(b, (const char *)run, p - run);
		if (!err)
			err = append_str(b, esc);
		if (err)
			return err;
		p++;
		run = p;
	}
	return prom_append(b, (const char *)run, p - run);
}

static bool valid_name(const char *s, bool colon)
{
	const char *p;

	if (!s || !*s || (*s >= '0' && *s <= '9'))
		return false;
	for (p = s; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '_' || (colon && *p == ':'))
			continue;
		return false;
	}
	return true;
}

static bool valid_metric_name(const char *s)
{
	return valid_name(s, true);
}

/* Label names: valid, not reserved (__*), not repeated, every key with a value. */
static bool valid_labels(const char *const *labels, const char *extra_key)
{
	size_t i, j;

	if (!labels)
		return true;
	for (i = 0; labels[i]; i += 2) {
		if (!labels[i + 1] || !valid_name(labels[i], false) || !strncmp(labels[i], "__", 2))
			return false;
		if (extra_key && !strcmp(labels[i], extra_key))
			return false;
		for (j = 0; j < i; j += 2)
			if (!strcmp(labels[i], labels[j]))
				return false;
	}
	return true;
}

int prom_format_double(char *out, size_t len, double v)
{
	char tmp[64];
	int prec, n = 0;

	if (isnan(v))
		return snprintf(out, len, "NaN");
	if (isinf(v))
		return snprintf(out, len, v > 0 ? "+Inf" : "-Inf");
	/* %.17g always reads back exactly; fewer digits read better when they do too */
	for (prec = 15; prec <= 17; prec++) {
		n = snprintf(tmp, sizeof(tmp), "%.*g", prec, v);
		if (strtod(tmp, NULL) == v)
			break;
	}
	return snprintf(out, len, "%s", tmp) < 0 ? -1 : n;
}

static struct prom_family_seen *find_family(const struct prom_buf *b, const char *name)
{
	size_t i;

	for (i = 0; i < b->nr_families; i++)
		if (!strcmp(b->families[i].name, name))
			return &b->families[i];
	return NULL;
}

bool prom_has_family(const struct prom_buf *b, const char *name)
{
	return find_family(b, name) != NULL;
}

int prom_family(struct prom_buf *b, const char *name, enum prom_type type, const char *help)
{
	struct prom_family_seen *f;
	char *copy;
	int err;

	if (b->err)
		return b->err;
	if (!valid_metric_name(name) || type < PROM_COUNTER || type > PROM_UNTYPED || !help ||
	    !*help)
		return set_err(b, -EINVAL);
	f = find_family(b, name);
	if (f)
		return f->type == type ? 0 : set_err(b, -EINVAL);

	if (b->nr_families == b->cap_families) {
		size_t cap = b->cap_families ? b->cap_families * 2 : 32;

		f = realloc(b->families, cap * sizeof(*f));
		if (!f)
			return set_err(b, -ENOMEM);
		b->families = f;
		b->cap_families = cap;
	}
	copy = strdup(name);
	if (!copy)
		return set_err(b, -ENOMEM);
	b->families[b->nr_families].name = copy;
	b->families[b->nr_families].type = type;
	b->nr_families++;

	err = prom_printf(b, "# HELP %s ", name);
	if (!err)
		err = append_escaped(b, help, false);
	if (!err)
		err = prom_printf(b, "\n# TYPE %s %s\n", name, type_names[type]);
	return err;
}

/* name[suffix]{labels[,extra_key="extra_val"]} value\n (appends only: no printf per sample) */
static int write_sample(struct prom_buf *b, const char *name, const char *suffix,
			const char *const *labels, const char *extra_key, const char *extra_val,
			const char *value)
{
	bool first = true;
	size_t i;
	int err;

	if (b->err)
		return b->err;
	if (!valid_metric_name(name) || !valid_labels(labels, extra_key))
		return set_err(b, -EINVAL);

	err = append_str(b, name);
	if (!err)
		err = append_str(b, suffix);
	for (i = 0; !err && labels && labels[i]; i += 2) {
		err = append_str(b, first ? "{" : ",");
		if (!err)
			err = append_str(b, labels[i]);
		if (!err)
			err = prom_append(b, "=\"", 2);
		if (!err)
			err = append_escaped(b, labels[i + 1], true);
		if (!err)
			err = prom_append(b, "\"", 1);
		first = false;
	}
	if (!err && extra_key) {
		err = append_str(b, first ? "{" : ",");
		if (!err)
			err = append_str(b, extra_key);
		if (!err)
			err = prom_append(b, "=\"", 2);
		if (!err)
			err = append_escaped(b, extra_val, true);
		if (!err)
			err = prom_append(b, "\"", 1);
		first = false;
	}
	if (!err)
		err = append_str(b, first ? " " : "} ");
	if (!err)
		err = append_str(b, value);
	if (!err)
		err = prom_append(b, "\n", 1);
	return err;
}

/* Decimal u64 without snprintf. */
static void u64_text(char *out, uint64_t v)
{
	char tmp[24];
	int n = 0;

	do {
		tmp[n++] = '0' + v % 10;
		v /= 10;
	} while (v);
	while (n)
		*out++ = tmp[--n];
	*out = '\0';
}

int prom_sample(struct prom_buf *b, const char *name, const char *const *labels, double value)
{
	char text[64];

	prom_format_double(text, sizeof(text), value);
	return write_sample(b, name, "", labels, NULL, NULL, text);
}

int prom_sample_u64(struct prom_buf *b, const char *name, const char *const *labels, uint64_t value)
{
	char text[32];

	u64_text(text, value);
	return write_sample(b, name, "", labels, NULL, NULL, text);
}

int prom_metric(struct prom_buf *b, const char *name, enum prom_type type, const char *help,
		double value)
{
	prom_family(b, name, type, help); /* an error is sticky: the sample returns it */
	return prom_sample(b, name, NULL, value);
}

int prom_metric_u64(struct prom_buf *b, const char *name, enum prom_type type, const char *help,
		    uint64_t value)
{
	prom_family(b, name, type, help);
	return prom_sample_u64(b, name, NULL, value);
}

int prom_hist_observe(struct prom_hist *h, double v)
{
	size_t i;

	if (isnan(v))
		return -EINVAL;
	if (v < 0)
		v = 0;
	/* le is inclusive: v lands in the first bucket whose bound is >= v */
	for (i = 0; i < PROM_HIST_NR_BOUNDS; i++)
		if (v <= prom_hist_bounds[i])
			break;
	h->counts[i]++;
	h->count++;
	h->sum += v;
	return 0;
}

void prom_hist_merge(struct prom_hist *dst, const struct prom_hist *src)
{
	size_t i;

	for (i = 0; i <= PROM_HIST_NR_BOUNDS; i++)
		dst->counts[i] += src->counts[i];
	dst->count += src->count;
	dst->sum += src->sum;
}

/* The le="..." texts of the bounds, formatted once. */
static char hist_le[PROM_HIST_NR_BOUNDS][32];
static pthread_once_t hist_le_once = PTHREAD_ONCE_INIT;

static void hist_le_init(void)
{
	for (size_t i = 0; i < PROM_HIST_NR_BOUNDS; i++)
		prom_format_double(hist_le[i], sizeof(hist_le[i]), prom_hist_bounds[i]);
}

int prom_hist_emit(struct prom_buf *b, const char *name, const char *const *labels,
		   const struct prom_hist *h)
{
	char le[64], value[32];
	uint64_t cum = 0;
	size_t i;
	int err = 0;

	if (b->err)
		return b->err;
	if (!valid_labels(labels, "le"))
		return set_err(b, -EINVAL);

	pthread_once(&hist_le_once, hist_le_init);
	for (i = 0; !err && i < PROM_HIST_NR_BOUNDS; i++) {
		cum += h->counts[i];
		u64_text(value, cum);
		err = write_sample(b, name, "_bucket", labels, "le", hist_le[i], value);
	}
	/* +Inf and _count are the same total, so the buckets can never exceed it */
	cum += h->counts[PROM_HIST_NR_BOUNDS];
	u64_text(value, cum);
	if (!err)
		err = write_sample(b, name, "_bucket", labels, "le", "+Inf", value);
	if (!err) {
		prom_format_double(le, sizeof(le), h->sum);
		err = write_sample(b, name, "_sum", labels, NULL, NULL, le);
	}
	if (!err)
		err = write_sample(b, name, "_count", labels, NULL, NULL, value);
	return err;
}
