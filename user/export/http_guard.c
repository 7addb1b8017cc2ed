// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The HTTP server's request deadline: see http_guard.h. */
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <time.h>
#include <sys/socket.h>
#include "http_guard.h"
#include "log.h"

/* The client address as 16 bytes, IPv4-mapped for IPv4; false for other families. */
static bool client_key(const struct sockaddr *sa, socklen_t len, __u8 key[16])
{
	if (sa && sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
		memset(key, 0, 10);
		key[10] = key[11] = 0xff;
		memcpy(key + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		return true;
	}
	if (sa && sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
		memcpy(key, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
		return true;
	}
	return false;
}

/*
 * One open connection. MHD reports a connection closed (NOTIFY_CLOSED, which
 * unlinks it here under the lock) before it closes the socket, so the reaper,
 * which shuts sockets down under the same lock, never touches a descriptor
 * that has been closed and reused.
 */
struct http_conn {
	struct http_conn *next, **pprev;
	int fd;
	__u8 client[16]; /* the client address, IPv4-mapped for IPv4 */
	uint64_t since_ms; /* accept, or the end of the previous request */
	bool cut; /* shut down already, MHD not done with it yet */
};

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int http_guard_init(struct http_guard *g, unsigned int deadline_s, unsigned int max_per_ip,
		    const char *name)
{
	pthread_condattr_t attr;
	int err;

	g->conns = NULL;
	g->started = g->stopping = false;
	g->deadline_ms = deadline_s * 1000;
	g->max_per_ip = max_per_ip;
	g->name = name;
	g->cut = g->refused = 0;
	if (pthread_mutex_init(&g->lock, NULL))
		return -1;
	err = pthread_condattr_init(&attr);
	if (!err) {
		err = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) ||
		      pthread_cond_init(&g->stop_cond, &attr);
		pthread_condattr_destroy(&attr);
	}
	if (err) {
		pthread_mutex_destroy(&g->lock);
		return -1;
	}
	return 0;
}

void http_guard_fini(struct http_guard *g)
{
	pthread_cond_destroy(&g->stop_cond);
	pthread_mutex_destroy(&g->lock);
}

/*
 * Whether a tracked connection still holds its client: MHD tells us a
 * connection closed (and releases it) only when its listening thread gets
 * round to it, well after the connection thread has finished and shut the
 * socket down. A socket that is no longer ESTABLISHED is on its way out.
 */
static bool conn_open(const struct http_conn *c)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	if (getsockopt(c->fd, IPPROTO_TCP, TCP_INFO, &ti, &len))
		return true;
	return ti.tcpi_state == TCP_ESTABLISHED;
}

enum MHD_Result http_guard_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
	struct http_guard *g = cls;
	unsigned int n = 0;
	struct http_conn *c;
	__u8 key[16];

	if (!client_key(addr, addrlen, key))
		return MHD_YES;
	pthread_mutex_lock(&g->lock);
	for (c = g->conns; c && n < g->max_per_ip; c = c->next)
		n += !memcmp(c->client, key, 16) && conn_open(c);
	pthread_mutex_unlock(&g->lock);
	if (n < g->max_per_ip)
		return MHD_YES;
	__atomic_fetch_add(&g->refused, 1, __ATOMIC_RELAXED);
	log_debug("http %s: connection refused: %u open from that client", g->name, n);
	return MHD_NO;
}

void http_guard_on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
			      enum MHD_ConnectionNotificationCode code)
{
	struct http_guard *g = cls;
	struct http_conn *c = *socket_context;
	const union MHD_ConnectionInfo *info;

	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		info = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
		c = info ? calloc(1, sizeof(*c)) : NULL;
		if (!c)
			return; /* untracked: only MHD's idle timeout applies to it */
		c->fd = info->connect_fd;
		info = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
		if (info)
			client_key(info->client_addr, sizeof(struct sockaddr_in6), c->client);
		c->since_ms = mono_ms();
		pthread_mutex_lock(&g->lock);
		c->next = g->conns;
		if (c->next)
			c->next->pprev = &c->next;
		c->pprev = &g->conns;
		g->conns = c;
		pthread_mutex_unlock(&g->lock);
		*socket_context = c;
	} else if (code == MHD_CONNECTION_NOTIFY_CLOSED && c) {
		pthread_mutex_lock(&g->lock);
		*c->pprev = c->next;
		if (c->next)
			c->next->pprev = c->pprev;
		pthread_mutex_unlock(&g->lock);
		*socket_context = NULL;
		free(c);
	}
}

void http_guard_on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			     enum MHD_RequestTerminationCode toe)
{
	struct http_guard *g = cls;
	const union MHD_ConnectionInfo *info;
	struct http_conn *c;

	info = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	c = info ? info->socket_context : NULL;
	if (!c)
		return;
	/* the next request on this (keep-alive) connection starts its clock */
	pthread_mutex_lock(&g->lock);
	c->since_ms = mono_ms();
	pthread_mutex_unlock(&g->lock);
}

/* Four times a second: shut down the connections past their deadline. */
static void *reaper_main(void *arg)
{
	struct http_guard *g = arg;
	struct timespec until;
	struct http_conn *c;
	uint64_t now;

	pthread_mutex_lock(&g->lock);
	while (!g->stopping) {
		now = mono_ms();
		for (c = g->conns; c; c = c->next) {
			if (c->cut || now - c->since_ms < g->deadline_ms || !conn_open(c))
				continue;
			/* MHD's connection thread sees the end of the stream and closes it */
			shutdown(c->fd, SHUT_RDWR);
			c->cut = true;
			__atomic_fetch_add(&g->cut, 1, __ATOMIC_RELAXED);
			log_debug("http %s: connection cut: no complete request in %us", g->name,
				  g->deadline_ms / 1000);
		}
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_nsec += 250 * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&g->stop_cond, &g->lock, &until);
	}
	pthread_mutex_unlock(&g->lock);
	return NULL;
}

int http_guard_start(struct http_guard *g)
{
	if (pthread_create(&g->reaper, NULL, reaper_main, g))
		return -1;
	g->started = true;
	return 0;
}

void http_guard_stop(struct http_guard *g)
{
	if (!g->started)
		return;
	pthread_mutex_lock(&g->lock);
	g->stopping = true;
	pthread_cond_signal(&g->stop_cond);
	pthread_mutex_unlock(&g->lock);
	pthread_join(g->reaper, NULL);
	g->started = false;
}
