/* Shared helpers for gossip tests: temp dirs, an in-memory synthetic graph,
 * a settable clock. */
#ifndef COLDNODE_GTEST_UTIL_H
#define COLDNODE_GTEST_UTIL_H

#include "common/common.h"
#include "gossip/gossip.h"
#include "tools/gengraph.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct gmsgs {
	uint8_t **m;
	size_t *len;
	size_t n, cap;
};

static inline void gmsgs_add(void *arg, const uint8_t *msg, size_t len)
{
	struct gmsgs *g = arg;
	if (g->n == g->cap) {
		g->cap = g->cap ? g->cap * 2 : 256;
		g->m = realloc(g->m, g->cap * sizeof(*g->m));
		g->len = realloc(g->len, g->cap * sizeof(*g->len));
	}
	g->m[g->n] = malloc(len);
	memcpy(g->m[g->n], msg, len);
	g->len[g->n++] = len;
}

static inline void gmsgs_free(struct gmsgs *g)
{
	for (size_t i = 0; i < g->n; i++)
		free(g->m[i]);
	free(g->m);
	free(g->len);
	memset(g, 0, sizeof(*g));
}

/* Find the @k-th message of @type. */
static inline const uint8_t *gmsgs_find(const struct gmsgs *g, uint16_t type,
				 size_t k, size_t *len)
{
	for (size_t i = 0; i < g->n; i++)
		if (be16_get(g->m[i]) == type && k-- == 0) {
			*len = g->len[i];
			return g->m[i];
		}
	return NULL;
}

static inline char *tmpdir_new(void)
{
	char tmpl[] = "/tmp/cn-gossip-XXXXXX";
	char *d = mkdtemp(tmpl);
	if (!d)
		abort();
	return strdup(d);
}

static inline void tmpdir_rm(char *dir)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	free(dir);
}

static uint32_t test_now;
static inline uint32_t test_clock(void *arg)
{
	return test_now;
}

#endif
