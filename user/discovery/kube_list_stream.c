// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A NodeList page parsed as it arrives (see kube_int.h, struct xfer). A
 * 5,000-node list served from the API server's watch cache is one response
 * of ~75 MB (10-20 KB a Node with managedFields, images, conditions); held
 * whole and parsed with jansson it would cost several times that. Here a
 * byte scanner follows strings and nesting, hands each element of the
 * top-level "items" array to jansson alone, keeps the peer it makes and
 * drops the JSON: peak memory is one Node object plus the node table.
 */
#include <stdlib.h>
#include <string.h>
#include "kube_int.h"
#include "log.h"

static bool item_append(struct xfer *x, char c)
{
	if (x->item_len + 1 > x->item_max) {
		log_warn("kubernetes: node list: an item above %zu bytes", x->item_max);
		x->fail = KUBE_ERR_TOO_LARGE;
		return false;
	}
	if (x->item_len + 1 > x->item_cap) {
		size_t cap = x->item_cap ? x->item_cap * 2 : 32768;
		char *v = realloc(x->item, cap);

		if (!v) {
			x->fail = KUBE_ERR_TOO_LARGE;
			return false;
		}
		x->item = v;
		x->item_cap = cap;
	}
	x->item[x->item_len++] = c;
	return true;
}

/* One complete item: parse it, keep its peer, drop the JSON. */
static bool item_done(struct xfer *x)
{
	struct node_table *t = x->fresh;
	struct wp_kube *k = x->k;
	json_error_t jerr;
	json_t *obj = json_loadb(x->item, x->item_len, 0, &jerr);

	x->item_len = 0;
	if (!obj) {
		log_warn("kubernetes: node list: an item is not JSON (%s)", jerr.text);
		x->fail = KUBE_ERR_BAD_JSON;
		return false;
	}
	if (t->n >= k->max_nodes) {
		log_warn("kubernetes: node list: more than %d nodes", k->max_nodes);
		x->fail = KUBE_ERR_TOO_LARGE;
	} else if (kube_node_table_grow(t)) {
		x->fail = KUBE_ERR_TOO_LARGE;
	} else if (kube_node_parse(k, obj, &t->v[t->n])) {
		t->n++;
	} else {
		x->bad_items++;
		log_warn("kubernetes: node list: an item without a usable metadata.name");
	}
	json_decref(obj);
	return x->fail == OK;
}

/* Does the page so far (without items) end in `"items" :`? */
static bool at_items_key(const struct xfer *x)
{
	size_t n = x->len;

	while (n && strchr(" \t\r\n", x->buf[n - 1]))
		n--;
	if (!n || x->buf[--n] != ':')
		return false;
	while (n && strchr(" \t\r\n", x->buf[n - 1]))
		n--;
	return n >= 7 && !memcmp(x->buf + n - 7, "\"items\"", 7);
}

bool kube_list_feed(struct xfer *x, const char *data, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c = data[i];
		int d0 = x->depth; /* the depth before this byte */
		bool s0 = x->in_str;

		if (x->in_str) {
			if (x->esc)
				x->esc = false;
			else if (c == '\\')
				x->esc = true;
			else if (c == '"')
				x->in_str = false;
		} else if (c == '"') {
			x->in_str = true;
		} else if (c == '{' || c == '[') {
			x->depth++;
		} else if (c == '}' || c == ']') {
			x->depth--;
		}
		if (x->items == 1 && (d0 >= 3 || (d0 == 2 && c == '{'))) {
			if (!item_append(x, c))
				return false;
			if (!x->in_str && c == '}' && x->depth == 2 && !item_done(x))
				return false;
			continue;
		}
		if (x->items == 1 && d0 == 2) {
			if (c == ']') {
				x->items = 2;
			} else if (c == ',' || memchr(" \t\r\n", c, 4)) {
				continue;
			} else {
				/* an item that is no object is no Node */
				log_warn("kubernetes: node list: an item that is not an object");
				x->fail = KUBE_ERR_BAD_JSON;
				return false;
			}
		} else if (!x->items && !s0 && c == '[' && d0 == 1 && at_items_key(x)) {
			x->items = 1;
		}
		if (!kube_buf_append(x, &c, 1))
			return false;
	}
	return true;
}
