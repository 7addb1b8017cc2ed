// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Parsing of --metrics-listen addresses (wp_http_parse_listen, see http.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "http.h"
#include "util.h"

/* PORT: decimal digits only, 0..65535. */
static int parse_port(const char *listen, const char *p, uint16_t *port, char *err, size_t errlen)
{
	unsigned long v = 0;
	const char *c;

	if (!*p) {
		wp_set_err(err, errlen, "invalid listen address \"%s\": missing port after ':'",
			   listen);
		return -EINVAL;
	}
	for (c = p; *c; c++) {
		if (*c < '0' || *c > '9') {
			wp_set_err(err, errlen, "invalid listen address \"%s\": bad port \"%s\"",
				   listen, p);
			return -EINVAL;
		}
		v = v * 10 + (*c - '0');
		if (v > 65535) {
			wp_set_err(err, errlen,
				   "invalid listen address \"%s\": port %s out of range (0-65535)",
				   listen, p);
			return -EINVAL;
		}
	}
	*port = v;
	return 0;
}

static int parse_ipv6(const char *listen, const char *host, size_t hostlen, uint16_t port,
		      struct sockaddr_storage *ss, socklen_t *len, char *err, size_t errlen)
{
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	char buf[INET6_ADDRSTRLEN + IF_NAMESIZE + 2], *zone, *end;
	unsigned long idx = 0;

	if (hostlen >= sizeof(buf))
		goto bad;
	memcpy(buf, host, hostlen);
	buf[hostlen] = '\0';
	zone = strchr(buf, '%');
	if (zone) {
		*zone++ = '\0';
		idx = if_nametoindex(zone);
		if (!idx) {
			errno = 0;
			idx = strtoul(zone, &end, 10);
			if (!*zone || *end || errno || !idx || idx > UINT32_MAX) {
				wp_set_err(err, errlen,
					   "invalid listen address \"%s\": no interface \"%s\"",
					   listen, zone);
				return -EINVAL;
			}
		}
	}
	memset(sin6, 0, sizeof(*sin6));
	if (inet_pton(AF_INET6, buf, &sin6->sin6_addr) != 1)
		goto bad;
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(port);
	sin6->sin6_scope_id = idx;
	*len = sizeof(*sin6);
	return 0;
bad:
	wp_set_err(err, errlen, "invalid listen address \"%s\": bad IPv6 address \"%.*s\"", listen,
		   (int)hostlen, host);
	return -EINVAL;
}

int wp_http_parse_listen(const char *listen, struct sockaddr_storage *ss, socklen_t *len, char *err,
			 size_t errlen)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	const char *host, *colon, *close;
	char buf[INET_ADDRSTRLEN];
	size_t hostlen;
	uint16_t port;
	int ret;

	if (!listen || !*listen) {
		wp_set_err(err, errlen,
			   "empty listen address (want ADDR:PORT, e.g. 0.0.0.0:9051 or [::]:9051)");
		return -EINVAL;
	}

	if (listen[0] == '[') {
		/* [IPv6]:PORT */
		host = listen + 1;
		close = strchr(host, ']');
		if (!close) {
			wp_set_err(err, errlen, "invalid listen address \"%s\": missing ']'",
				   listen);
			return -EINVAL;
		}
		if (close[1] != ':') {
			wp_set_err(err, errlen,
				   "invalid listen address \"%s\": missing port (want [ADDR]:PORT)",
				   listen);
			return -EINVAL;
		}
		ret = parse_port(listen, close + 2, &port, err, errlen);
		if (ret)
			return ret;
		return parse_ipv6(listen, host, close - host, port, ss, len, err, errlen);
	}

	/* IPv4:PORT or :PORT */
	colon = strrchr(listen, ':');
	if (!colon) {
		wp_set_err(
			err, errlen,
			"invalid listen address \"%s\": missing port (want ADDR:PORT, e.g. 0.0.0.0:9051)",
			listen);
		return -EINVAL;
	}
	if (memchr(listen, ':', colon - listen)) {
		wp_set_err(
			err, errlen,
			"invalid listen address \"%s\": put an IPv6 address in brackets, e.g. [::]:9051",
			listen);
		return -EINVAL;
	}
	ret = parse_port(listen, colon + 1, &port, err, errlen);
	if (ret)
		return ret;
	host = listen;
	hostlen = colon - listen;
	if (!hostlen) {
		host = "0.0.0.0";
		hostlen = strlen(host);
	}
	memset(sin, 0, sizeof(*sin));
	if (hostlen >= sizeof(buf))
		goto bad;
	memcpy(buf, host, hostlen);
	buf[hostlen] = '\0';
	if (inet_pton(AF_INET, buf, &sin->sin_addr) != 1)
		goto bad;
	sin->sin_family = AF_INET;
	sin->sin_port = htons(port);
	*len = sizeof(*sin);
	return 0;
bad:
	wp_set_err(
		err, errlen,
		"invalid listen address \"%s\": bad address \"%.*s\" (want a numeric IPv4 address, or IPv6 in brackets)",
		listen, (int)hostlen, host);
	return -EINVAL;
}
