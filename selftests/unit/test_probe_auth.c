// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Probe authentication: the HMAC of the v2 datagram with the cluster key, the
 * key file, random nonces and the replay window of requests.
 */
#include <arpa/inet.h>
#include <endian.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "probe.h"
#include "test_progs.h"

static struct wp_probe_key test_key(const char *s)
{
	struct wp_probe_key k = { .len = strlen(s) };

	memcpy(k.key, s, k.len);
	return k;
}

void test_probe_auth(void)
{
	struct wp_probe_key key = test_key("0123456789abcdef-cluster-key"),
			    other = test_key("0123456789abcdef-another-key");
	__u8 nonce[WP_PROBE_NONCE_LEN], nonce2[WP_PROBE_NONCE_LEN];
	struct wp_probe_msg m, out, plain;
	struct wp_probe_msg_v1 v1 = {};
	char buf[sizeof(m)];

	if (test__start_subtest("mac")) {
		ASSERT_OK(probe_random(nonce, sizeof(nonce)), "getrandom");
		probe_msg_build(&m, WP_PROBE_REQUEST, 42, nonce, "node-a", &key);
		ASSERT_EQ(ntohs(m.flags) & WP_PROBE_F_MAC, WP_PROBE_F_MAC, "MAC flag");
		ASSERT_EQ(probe_msg_parse(&m, sizeof(m), &key, &out, NULL), WP_PROBE_OK,
			  "authenticated roundtrip");
		ASSERT_EQ(probe_msg_parse(&m, sizeof(m), &other, &out, NULL), WP_PROBE_BAD_MAC,
			  "another cluster's key");
		/* every byte under the MAC is covered */
		for (size_t i = 6; i < offsetof(struct wp_probe_msg, mac); i++) {
			memcpy(buf, &m, sizeof(m));
			buf[i] ^= 0x01;
			if (i == 6 || i == 7) /* flags: the MAC bit may go */
				continue;
			if (!ASSERT_EQ(probe_msg_parse(buf, sizeof(m), &key, &out, NULL),
				       WP_PROBE_BAD_MAC, "one flipped bit"))
				break;
		}
		memcpy(buf, &m, sizeof(m));
		buf[sizeof(m) - 1] ^= 0x80;
		ASSERT_EQ(probe_msg_parse(buf, sizeof(m), &key, &out, NULL), WP_PROBE_BAD_MAC,
			  "flipped MAC");
		/* an unauthenticated v2 datagram or a v1 one is refused with a key set */
		probe_msg_build(&plain, WP_PROBE_REQUEST, 43, nonce, "node-a", NULL);
		ASSERT_EQ(probe_msg_parse(&plain, sizeof(plain), &key, &out, NULL),
			  WP_PROBE_UNAUTHENTICATED, "no MAC");
		memcpy(buf, &plain, sizeof(plain));
		((struct wp_probe_msg *)buf)->flags = htons(WP_PROBE_F_MAC);
		ASSERT_EQ(probe_msg_parse(buf, sizeof(plain), &key, &out, NULL), WP_PROBE_BAD_MAC,
			  "MAC flag with a zero MAC");
		v1.magic = htonl(WP_PROBE_MAGIC);
		v1.version = 1;
		v1.type = WP_PROBE_REQUEST;
		ASSERT_EQ(probe_msg_parse(&v1, sizeof(v1), &key, &out, NULL),
			  WP_PROBE_UNAUTHENTICATED, "v1 with a key");
		/* without a key, an authenticated datagram still parses (mixed rollout) */
		ASSERT_EQ(probe_msg_parse(&m, sizeof(m), NULL, &out, NULL), WP_PROBE_OK,
			  "MAC ignored without a key");
		/* a reply echoes counter and nonce and carries its own MAC */
		probe_msg_build(&out, WP_PROBE_REPLY, 42, m.nonce, "node-b", &key);
		ASSERT_EQ(probe_msg_parse(&out, sizeof(out), &key, &plain, NULL), WP_PROBE_OK,
			  "reply authenticated");
		ASSERT_OK(memcmp(plain.nonce, nonce, sizeof(nonce)), "reply nonce");
		ASSERT_EQ(sizeof(out), sizeof(m), "reply never larger than the request");
	}
	if (test__start_subtest("nonce")) {
		ASSERT_OK(probe_random(nonce, sizeof(nonce)), "getrandom 1");
		ASSERT_OK(probe_random(nonce2, sizeof(nonce2)), "getrandom 2");
		ASSERT_NEQ(memcmp(nonce, nonce2, sizeof(nonce)), 0, "two nonces differ");
	}
	if (test__start_subtest("replay_window")) {
		struct wp_replay w = {};

		ASSERT_FALSE(probe_replay_accept(&w, 0), "counter 0 never valid");
		ASSERT_TRUE(probe_replay_accept(&w, 1000), "first");
		ASSERT_FALSE(probe_replay_accept(&w, 1000), "replayed");
		ASSERT_TRUE(probe_replay_accept(&w, 1002), "next");
		ASSERT_TRUE(probe_replay_accept(&w, 1001), "reordered, inside the window");
		ASSERT_FALSE(probe_replay_accept(&w, 1001), "reordered, replayed");
		ASSERT_TRUE(probe_replay_accept(&w, 1100), "jump");
		ASSERT_FALSE(probe_replay_accept(&w, 1002), "older than the window");
		ASSERT_TRUE(probe_replay_accept(&w, 1099), "inside the window after the jump");
		ASSERT_FALSE(probe_replay_accept(&w, 1036), "exactly 64 behind");
		ASSERT_TRUE(probe_replay_accept(&w, 1037), "63 behind");
		ASSERT_TRUE(probe_replay_accept(&w, 5000000), "a restart (wall-clock counter)");
		ASSERT_FALSE(probe_replay_accept(&w, 1100), "the old run's requests");
	}
	if (test__start_subtest("key_file")) {
		char path[] = "/tmp/wp_key_XXXXXX", err[256];
		struct wp_probe_key k;
		int fd = mkstemp(path);

		if (!ASSERT_GE(fd, 0, "mkstemp"))
			return;
		ASSERT_EQ(write(fd, "short\n", 6), 6, "write");
		ASSERT_LT(probe_key_load(path, &k, err, sizeof(err)), 0, "a 5-byte key refused");
		ASSERT_TRUE(strstr(err, "16 to 128 bytes") != NULL, "the error says why");
		ASSERT_EQ(ftruncate(fd, 0), 0, "truncate");
		ASSERT_EQ(pwrite(fd, "0123456789abcdef-cluster-key\n", 29, 0), 29, "write key");
		ASSERT_OK(probe_key_load(path, &k, err, sizeof(err)), "key loaded");
		ASSERT_EQ(k.len, key.len, "trailing newline dropped");
		ASSERT_OK(memcmp(k.key, key.key, k.len), "key bytes");
		close(fd);
		unlink(path);
		ASSERT_LT(probe_key_load(path, &k, err, sizeof(err)), 0, "missing file");
	}
}
