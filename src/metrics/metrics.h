/*~ metrics: a registry of collectors rendered as the Prometheus text
 * exposition format (version 0.0.4), and a small HTTP endpoint serving it
 * (libmicrohttpd, driven from the one libev loop).
 *
 * Modules do not depend on this one: they keep plain counters and
 * struct cn_hist histograms (common.h) and expose them through read-only
 * stat accessors in their own headers.  The daemon registers one collector
 * per module; at scrape time each collector reads its module's stats and
 * writes families and samples into the page.  A chain or wallet module
 * adds itself the same way: one metrics_add_collector() call in main.c.
 *
 * Rendering is O(number of samples) when collectors read counters; the
 * daemon's do (docs/operations.md names the two linear exceptions: peer
 * counts, open fds).
 */
#ifndef COLDNODE_METRICS_H
#define COLDNODE_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/common.h"

struct ev_loop;
struct metrics;      /* the registry */
struct metrics_page; /* one page being rendered */
struct metrics_http; /* the HTTP endpoint */

enum metrics_type {
	METRICS_GAUGE,
	METRICS_COUNTER,
	METRICS_HISTOGRAM,
};

/* Writes this module's families into @pg.  @arg: the collector's, borrowed. */
typedef void (*metrics_collect_fn)(void *arg, struct metrics_page *pg);

struct metrics *metrics_new(void);
void metrics_free(struct metrics *m); /* NULL ok */

/* Collectors run in the order added.  @arg borrowed: it must outlive the
 * registry or be removed with metrics_remove_collector first.  False on
 * allocation failure. */
bool metrics_add_collector(struct metrics *m, metrics_collect_fn fn,
			   void *arg) CN_WARN_UNUSED;
/* Remove every collector registered with @arg (a module shutting down). */
void metrics_remove_collector(struct metrics *m, void *arg);

/**
 * metrics_render - run every collector and return the page.
 * @len: set to the page's length.
 * Returns a malloc'd, NUL-terminated page the caller frees; NULL on
 * allocation failure.
 */
char *metrics_render(struct metrics *m, size_t *len) CN_WARN_UNUSED;

/* Inside a collector: start family @name (borrowed; must carry the
 * coldnode_ prefix and its unit, Prometheus' naming guide).  A family
 * must be started once per page, before its samples. */
void metrics_family(struct metrics_page *pg, const char *name,
		    enum metrics_type type, const char *help);
/* One sample of the current family, with label pairs (key, value, ...,
 * NULL); values are escaped as the format requires.  Counters get the
 * _total suffix from their family name, so pass it there. */
void metrics_sample(struct metrics_page *pg, double v, ...)
	__attribute__((sentinel));
/* One histogram of the current (METRICS_HISTOGRAM) family, @h borrowed,
 * with label pairs as metrics_sample; writes _bucket (cumulative, with
 * le="+Inf"), _sum and _count. */
void metrics_histogram(struct metrics_page *pg, const struct cn_hist *h, ...)
	__attribute__((sentinel));

/* Process metrics (resident memory, open fds, CPU, start time), read from
 * /proc/self at scrape time: the names the Prometheus client libraries
 * use, with the coldnode_ prefix.  @arg unused. */
void metrics_collect_process(void *arg, struct metrics_page *pg);

/* Event loop busy time per iteration (ev_check to ev_prepare).
 * @loop borrowed.  Register metrics_collect_loop with the handle as @arg;
 * free after the registry stops rendering.  NULL on allocation failure. */
struct metrics_loop;
struct metrics_loop *metrics_loop_new(struct ev_loop *loop);
void metrics_loop_free(struct metrics_loop *ml); /* NULL ok */
void metrics_collect_loop(void *arg, struct metrics_page *pg);

/**
 * metrics_http_new - serve GET /metrics on @hostport ("127.0.0.1:8989",
 * "[::1]:0"; port 0 picks one).
 * @loop, @m: borrowed, must outlive the endpoint.
 * Returns NULL (and logs why) if the address is unusable.
 */
struct metrics_http *metrics_http_new(struct ev_loop *loop, struct metrics *m,
				      const char *hostport) CN_WARN_UNUSED;
void metrics_http_free(struct metrics_http *h); /* NULL ok */
/* The bound port (the real one when 0 was asked). */
uint16_t metrics_http_port(const struct metrics_http *h);
/* Scrapes served since start (tests, logs). */
uint64_t metrics_http_scrapes(const struct metrics_http *h);

#endif /* COLDNODE_METRICS_H */
