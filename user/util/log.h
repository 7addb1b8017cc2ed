/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Logging: one line per message, text or JSON, to stderr. */
#ifndef __WARMPATH_LOG_H
#define __WARMPATH_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

enum log_level { LOG_ERROR = 0, LOG_WARN, LOG_INFO, LOG_DEBUG };

void log_setup(bool json, int verbosity);
bool log_is_json(void);
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A message with structured fields (JSON members; text format shows msg only). Consumes fields. */
void log_fields(enum log_level level, json_t *fields, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/*
 * dst (at least 4 * len + 1 bytes) = src with control characters and bytes
 * that are not valid UTF-8 written as \xNN. Returns the length of dst.
 */
size_t log_escape(char *dst, const char *src, size_t len);
/* libbpf's messages go through log_msg: warnings always, debug only with -vv */
void log_hook_libbpf(void);

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif /* __WARMPATH_LOG_H */
