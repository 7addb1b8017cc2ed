// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Prometheus escaping (user/export/prom.c): label values and HELP text from
 * the outside world (peer and node names, interface names, reasons). The
 * input is split at its first NUL into a label value and a HELP text. What
 * comes out must still be one exposition line per sample: no raw newline, no
 * unescaped quote ending the value early, valid UTF-8 throughout.
 */
#include <stdio.h>
#include <jansson.h>
#include "fuzz.h"
#include "prom.h"

/* The value between `peer="` and the closing quote; checks it on the way. */
static void check_sample_line(const char *text)
{
	/* the sample is the line after # HELP and # TYPE */
	const char *v = strstr(text, "\n# TYPE fuzz_metric gauge\nfuzz_metric{peer=\""), *p;

	FUZZ_CHECK(v);
	v += strlen("\n# TYPE fuzz_metric gauge\nfuzz_metric{peer=\"");
	for (p = v; *p && *p != '"'; p++) {
		FUZZ_CHECK(*p != '\n');
		if (*p == '\\') {
			p++;
			FUZZ_CHECK(*p == '\\' || *p == 'n' || *p == '"');
		}
	}
	FUZZ_CHECK(*p == '"');
	FUZZ_CHECK(!strncmp(p, "\",dir=\"tx\"} 1\n", 14));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *value = fuzz_strndup(data, size), *help;
	const char *labels[] = { "peer", value, "dir", "tx", NULL };
	struct prom_buf b;
	json_t *utf8;
	size_t vlen = strlen(value);

	help = vlen < size ? value + vlen + 1 : value + vlen;
	prom_buf_init(&b);
	if (!prom_family(&b, "fuzz_metric", PROM_GAUGE, help) &&
	    !prom_sample_u64(&b, "fuzz_metric", labels, 1)) {
		FUZZ_CHECK(!prom_buf_error(&b));
		/* valid UTF-8 (jansson refuses anything else), one line per item */
		utf8 = json_stringn(b.data, b.len);
		FUZZ_CHECK(utf8);
		json_decref(utf8);
		check_sample_line(b.data);
		/* HELP, TYPE, the sample: three lines */
		size_t lines = 0;

		for (size_t i = 0; i < b.len; i++)
			lines += b.data[i] == '\n';
		FUZZ_CHECK(lines == 3);
	}
	prom_buf_free(&b);
	free(value);
	return 0;
}
