// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * What the running kernel says about dropped packets, from its BTF (see
 * drops.h): the names of enum skb_drop_reason, and which kfree_skb tracepoint
 * variant it has (with or without the reason), probed before the tracer loads.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/btf.h>
#include "drops.h"

#define REASON_PREFIX "SKB_DROP_REASON_"

struct reason_ent {
	__u32 value;
	char *name;
};

struct wp_drop_reasons {
	int n;
	struct reason_ent *ents; /* sorted by value, one name per value */
};

/* --- reason names ------------------------------------------------------------ */

static int reason_cmp(const void *a, const void *b)
{
	const struct reason_ent *x = a, *y = b;

	return x->value < y->value ? -1 : x->value > y->value;
}

/* SKB_DROP_REASON_NO_SOCKET -> no_socket, SKB_CONSUMED -> consumed. */
static char *reason_label(const char *enumerator)
{
	const char *s = enumerator;
	char *out;

	if (!strncmp(s, REASON_PREFIX, strlen(REASON_PREFIX)))
		s += strlen(REASON_PREFIX);
	else if (!strncmp(s, "SKB_", 4))
		s += 4;
	out = strdup(s);
	for (char *p = out; p && *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p += 'a' - 'A';
	return out;
}

/* Members of the enum that name no reason: its bound and its subsystem mask. */
static bool reason_is_marker(const char *enumerator)
{
	return !strcmp(enumerator, REASON_PREFIX "MAX") ||
	       !strcmp(enumerator, REASON_PREFIX "SUBSYS_MASK");
}

static int reasons_add(struct wp_drop_reasons *t, int *cap, const char *enumerator, __u64 value)
{
	struct reason_ent *tmp;

	if (reason_is_marker(enumerator) || value > 0xffffffffull)
		return 0;
	if (t->n == *cap) {
		*cap = *cap ? *cap * 2 : 128;
		tmp = realloc(t->ents, *cap * sizeof(*t->ents));
		if (!tmp)
			return -ENOMEM;
		t->ents = tmp;
	}
	t->ents[t->n].value = value;
	t->ents[t->n].name = reason_label(enumerator);
	if (!t->ents[t->n].name)
		return -ENOMEM;
	t->n++;
	return 0;
}

static int reasons_fill(struct wp_drop_reasons *t, const struct btf *btf)
{
	const struct btf_type *e;
	int id, cap = 0, ret = 0, out = 0;
	__u16 vlen;

	id = btf__find_by_name_kind(btf, "skb_drop_reason", BTF_KIND_ENUM);
	if (id < 0)
		id = btf__find_by_name_kind(btf, "skb_drop_reason", BTF_KIND_ENUM64);
	if (id < 0)
		return 0; /* a kernel from before drop reasons: no names */
	e = btf__type_by_id(btf, id);
	vlen = btf_vlen(e);
	for (int i = 0; i < vlen && !ret; i++) {
		if (btf_is_enum(e)) {
			const struct btf_enum *m = btf_enum(e) + i;

			ret = reasons_add(t, &cap, btf__name_by_offset(btf, m->name_off),
					  (__u32)m->val);
		} else {
			const struct btf_enum64 *m = btf_enum64(e) + i;

			ret = reasons_add(t, &cap, btf__name_by_offset(btf, m->name_off),
					  btf_enum64_value(m));
		}
	}
	if (ret)
		return ret;
	/* sorted, and the first name of a value wins (aliases are rare) */
	qsort(t->ents, t->n, sizeof(*t->ents), reason_cmp);
	for (int i = 0; i < t->n; i++) {
		if (out && t->ents[out - 1].value == t->ents[i].value) {
			free(t->ents[i].name);
			continue;
		}
		t->ents[out++] = t->ents[i];
	}
	t->n = out;
	return 0;
}

struct wp_drop_reasons *wp_drop_reasons_new(const struct btf *btf)
{
	struct wp_drop_reasons *t = calloc(1, sizeof(*t));
	struct btf *vmlinux = NULL;
	int ret;

	if (!t)
		return NULL;
	if (!btf) {
		vmlinux = btf__load_vmlinux_btf();
		if (!vmlinux) {
			ret = -errno;
			goto fail;
		}
		btf = vmlinux;
	}
	ret = reasons_fill(t, btf);
	btf__free(vmlinux);
	if (!ret)
		return t;
fail:
	wp_drop_reasons_free(t);
	errno = -ret;
	return NULL;
}

void wp_drop_reasons_free(struct wp_drop_reasons *t)
{
	if (!t)
		return;
	for (int i = 0; i < t->n; i++)
		free(t->ents[i].name);
	free(t->ents);
	free(t);
}

int wp_drop_reasons_count(const struct wp_drop_reasons *t)
{
	return t ? t->n : 0;
}

const char *wp_drop_reason_name(const struct wp_drop_reasons *t, __u32 reason, char *buf,
				size_t len)
{
	struct reason_ent key = { .value = reason }, *e = NULL;

	if (t && t->n)
		e = bsearch(&key, t->ents, t->n, sizeof(*t->ents), reason_cmp);
	if (e)
		return e->name;
	snprintf(buf, len, "unknown_%u", reason);
	return buf;
}

int wp_drop_reason_value(const struct wp_drop_reasons *t, const char *name, __u32 *value)
{
	for (int i = 0; t && i < t->n; i++) {
		if (!strcmp(t->ents[i].name, name)) {
			*value = t->ents[i].value;
			return 0;
		}
	}
	return -ENOENT;
}

/* --- feature probing ----------------------------------------------------------- */

/* Whether a BTF type (through typedefs and qualifiers) is enum skb_drop_reason. */
static bool is_reason_enum(const struct btf *btf, __u32 id)
{
	const struct btf_type *t = btf__type_by_id(btf, btf__resolve_type(btf, id));

	return t && btf_is_any_enum(t) &&
	       !strcmp(btf__name_by_offset(btf, t->name_off), "skb_drop_reason");
}

enum wp_drops_variant wp_drops_probe_variant(const struct btf *btf)
{
	enum wp_drops_variant v = WP_DROPS_NONE;
	const struct btf_type *t;
	struct btf *vmlinux = NULL;
	int id;

	if (!btf) {
		vmlinux = btf__load_vmlinux_btf();
		if (!vmlinux)
			return WP_DROPS_NONE;
		btf = vmlinux;
	}
	/* typedef void (*btf_trace_kfree_skb)(void *ctx, struct sk_buff *, void *, ...) */
	id = btf__find_by_name_kind(btf, "btf_trace_kfree_skb", BTF_KIND_TYPEDEF);
	if (id < 0)
		goto out;
	t = btf__type_by_id(btf, btf__type_by_id(btf, id)->type);
	if (!t || !btf_is_ptr(t))
		goto out;
	t = btf__type_by_id(btf, t->type);
	if (!t || !btf_is_func_proto(t))
		goto out;
	if (btf_vlen(t) >= 4 && is_reason_enum(btf, btf_params(t)[3].type))
		v = WP_DROPS_REASON;
	else if (btf_vlen(t) >= 3)
		v = WP_DROPS_PLAIN;
out:
	btf__free(vmlinux);
	return v;
}

const char *wp_drops_variant_name(enum wp_drops_variant v)
{
	switch (v) {
	case WP_DROPS_REASON:
		return "reason";
	case WP_DROPS_PLAIN:
		return "plain";
	default:
		return "none";
	}
}
