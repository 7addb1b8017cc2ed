// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The Kubernetes API transport: one GET through libcurl (HTTPS with CA
 * verification, a bearer token read again for every request, timeouts and
 * stall detection), its body buffered (a list page) or handed to the watch
 * line splitter, and its failure as an enum kube_error. See kube_int.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "kube_int.h"
#include "log.h"

#ifndef WARMPATH_VERSION
#define WARMPATH_VERSION "dev"
#endif

/* The token, trailing whitespace removed; NULL when it cannot be read. */
static char *token_read(const char *path)
{
	char *buf = malloc(TOKEN_MAX);
	ssize_t n = -1;
	int fd;

	if (!buf)
		return NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, buf, TOKEN_MAX - 1);
		close(fd);
	}
	if (n <= 0 || n == TOKEN_MAX - 1) {
		free(buf);
		return NULL;
	}
	while (n && strchr(" \t\r\n", buf[n - 1]))
		n--;
	buf[n] = '\0';
	if (!n || strpbrk(buf, "\r\n")) {
		free(buf);
		return NULL;
	}
	return buf;
}

bool kube_buf_append(struct xfer *x, const char *data, size_t n)
{
	if (x->len + n > x->max) {
		x->fail = KUBE_ERR_TOO_LARGE;
		return false;
	}
	if (x->len + n + 1 > x->cap) {
		size_t cap = x->cap ? x->cap : 16384;
		char *b;

		while (cap < x->len + n + 1)
			cap *= 2;
		b = realloc(x->buf, cap);
		if (!b) {
			x->fail = KUBE_ERR_TOO_LARGE;
			return false;
		}
		x->buf = b;
		x->cap = cap;
	}
	memcpy(x->buf + x->len, data, n);
	x->len += n;
	x->buf[x->len] = '\0';
	return true;
}

int kube_status_error(long code)
{
	switch (code) {
	case 401:
		return KUBE_ERR_HTTP_401;
	case 403:
		return KUBE_ERR_HTTP_403;
	case 410:
		return KUBE_ERR_GONE;
	default:
		return KUBE_ERR_HTTP_OTHER;
	}
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *ud)
{
	struct xfer *x = ud;
	size_t n = size * nmemb;

	if (n > 2 || (n && data[0] != '\r' && data[0] != '\n'))
		return n;
	/* the blank line after the headers: the status is known */
	curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &x->code);
	if (x->code == 200 && x->watch) {
		pthread_mutex_lock(&x->k->lock);
		x->k->st.watches++;
		x->k->st.up = true;
		x->k->st.last_success = kube_wall_now();
		pthread_mutex_unlock(&x->k->lock);
	}
	return n;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
	struct xfer *x = ud;
	size_t n = size * nmemb;

	x->received += n;
	if (!x->code)
		curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &x->code);
	if (x->code != 200) {
		size_t keep = sizeof(x->err_body) - 1 - x->err_len;

		keep = n < keep ? n : keep;
		memcpy(x->err_body + x->err_len, data, keep);
		x->err_len += keep;
		x->err_body[x->err_len] = '\0';
		return n;
	}
	if (x->watch ? kube_watch_feed(x, data, n) :
	    x->fresh ? kube_list_feed(x, data, n) :
		       kube_buf_append(x, data, n))
		return n;
	return 0; /* CURLE_WRITE_ERROR: x->fail says why */
}

static int curl_error(const struct xfer *x, CURLcode res)
{
	switch (res) {
	case CURLE_OPERATION_TIMEDOUT:
		return KUBE_ERR_TIMEOUT;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_CONNECT:
		return KUBE_ERR_CONNECT;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
		return KUBE_ERR_TLS;
	default:
		/* lost after the 200: mid-body (or mid-line) is a truncation */
		if (x->code == 200 && (!x->watch || x->len))
			return KUBE_ERR_TRUNCATED;
		return KUBE_ERR_DISCONNECT;
	}
}

/* Run one transfer to its end, or until the thread is asked to stop. */
static CURLcode run_transfer(struct wp_kube *k, CURL *easy)
{
	CURLcode res = CURLE_ABORTED_BY_CALLBACK;
	int running = 1, queued;
	CURLMsg *m;

	if (curl_multi_add_handle(k->multi, easy) != CURLM_OK)
		return CURLE_OUT_OF_MEMORY;
	while (running && !atomic_load(&k->stopping)) {
		if (curl_multi_perform(k->multi, &running) != CURLM_OK)
			break;
		if (running && curl_multi_poll(k->multi, NULL, 0, 1000, NULL) != CURLM_OK)
			break;
	}
	while ((m = curl_multi_info_read(k->multi, &queued)))
		if (m->msg == CURLMSG_DONE && m->easy_handle == easy)
			res = m->data.result;
	curl_multi_remove_handle(k->multi, easy);
	return res;
}

/* See kube_int.h. */
int kube_get(struct wp_kube *k, const char *url, struct xfer *x, long timeout_ms, long stall_ms)
{
	char curl_err[CURL_ERROR_SIZE] = "", *token = NULL, *auth = NULL;
	struct curl_slist *hdrs = NULL, *tmp;
	int ret = KUBE_ERR_CONNECT; /* out of memory before a connection: retried like one */
	CURLcode res;

	x->k = k;
	x->fail = OK;
	if (k->token_file[0]) {
		/* read again for every request: bound tokens are rotated on disk */
		token = token_read(k->token_file);
		if (!token) {
			log_warn("kubernetes: cannot read a token from %s", k->token_file);
			return KUBE_ERR_TOKEN;
		}
		if (asprintf(&auth, "Authorization: Bearer %s", token) < 0)
			auth = NULL;
		explicit_bzero(token, strlen(token));
		free(token);
		if (!auth)
			return KUBE_ERR_TOKEN;
	}
	x->easy = curl_easy_init();
	if (!x->easy)
		goto cleanup;
	hdrs = curl_slist_append(NULL, "Accept: application/json");
	if (!hdrs)
		goto cleanup;
	if (auth) {
		tmp = curl_slist_append(hdrs, auth);
		if (!tmp)
			goto cleanup;
		hdrs = tmp;
	}
	curl_easy_setopt(x->easy, CURLOPT_URL, url);
	curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(x->easy, CURLOPT_USERAGENT, "warmpath/" WARMPATH_VERSION);
	/* a bearer token never travels in clear */
	curl_easy_setopt(x->easy, CURLOPT_PROTOCOLS_STR, auth ? "https" : "https,http");
	curl_easy_setopt(x->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(x->easy, CURLOPT_ERRORBUFFER, curl_err);
	curl_easy_setopt(x->easy, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(x->easy, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(x->easy, CURLOPT_SSL_VERIFYHOST, 2L);
	if (k->ca_file[0])
		curl_easy_setopt(x->easy, CURLOPT_CAINFO, k->ca_file);
	curl_easy_setopt(x->easy, CURLOPT_CONNECTTIMEOUT_MS, k->connect_timeout_ms);
	curl_easy_setopt(x->easy, CURLOPT_TIMEOUT_MS, timeout_ms);
	/* a dead or stalled server: less than 1 byte/s for that long ends the transfer */
	curl_easy_setopt(x->easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(x->easy, CURLOPT_LOW_SPEED_TIME, (stall_ms + 999) / 1000);
	curl_easy_setopt(x->easy, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(x->easy, CURLOPT_TCP_KEEPIDLE, 30L);
	curl_easy_setopt(x->easy, CURLOPT_TCP_KEEPINTVL, 10L);
	curl_easy_setopt(x->easy, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(x->easy, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(x->easy, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(x->easy, CURLOPT_WRITEDATA, x);

	res = run_transfer(k, x->easy);
	pthread_mutex_lock(&k->lock);
	k->st.requests++;
	k->st.bytes_received += x->received;
	pthread_mutex_unlock(&k->lock);
	if (atomic_load(&k->stopping)) {
		ret = STOPPED;
	} else if (x->fail != OK) {
		ret = x->fail;
	} else if (res != CURLE_OK) {
		ret = curl_error(x, res);
		log_warn("kubernetes: GET %s: %s", url,
			 curl_err[0] ? curl_err : curl_easy_strerror(res));
	} else if (x->code != 200) {
		ret = kube_status_error(x->code);
		log_warn("kubernetes: GET %s: HTTP %ld: %.200s", url, x->code, x->err_body);
	} else {
		ret = OK;
	}
	if (ret == KUBE_ERR_TOO_LARGE)
		log_warn("kubernetes: GET %s: more than %zu bytes in one %s", url,
			 x->fresh ? x->item_max : x->max, x->watch ? "event" : "list item");
cleanup:
	curl_easy_cleanup(x->easy);
	x->easy = NULL;
	curl_slist_free_all(hdrs);
	if (auth) {
		explicit_bzero(auth, strlen(auth));
		free(auth);
	}
	return ret;
}
