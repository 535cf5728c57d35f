/*~ curlev: libcurl's multi-socket API driven by the one libev loop.
 *
 * curl tells us which sockets to watch and when to time out; we tell it
 * what happened, and hand each finished transfer up to the owner.  The
 * owner (src/chain/http.c for bitcoind, src/cluster/http.c for etcd)
 * builds its easy handles, keeps its own requests, caps and secrets;
 * this module only owns the multi handle, the socket watchers and the
 * timer.
 */
#ifndef COLDNODE_CURLEV_H
#define COLDNODE_CURLEV_H

#include <curl/curl.h>
#include <stdbool.h>

struct ev_loop;
struct curlev;

struct curlev_cbs {
	/* @easy's transfer ended with @result (CURLE_OK: a complete
	 * response, any status).  @easy is still in the multi handle: the
	 * owner takes it out (curlev_remove) and cleans it up, here or
	 * later.  Called one transfer at a time from the loop, never from
	 * inside a curlev_* call; the owner may add, remove or curlev_free
	 * from here. */
	void (*done)(void *arg, CURL *easy, CURLcode result);
};

/* A response body as CURLOPT_WRITEFUNCTION hands it over, kept
 * NUL-terminated for the JSON parsers (data is NULL until the first
 * byte).  Zero-initialise; the owner frees it with curlev_body_free. */
struct curlev_body {
	char *data;
	size_t len, cap;
};

/* Appends @n bytes at @p unless the body would pass @max bytes: then false
 * and nothing is appended (the owner's write callback returns 0 for it,
 * and curl ends the transfer with CURLE_WRITE_ERROR).  Aborts when out of
 * memory. */
bool curlev_body_append(struct curlev_body *b, const char *p, size_t n,
			size_t max);
/* Frees the data; @b is empty again. */
void curlev_body_free(struct curlev_body *b);

/**
 * curlev_new - a multi handle on @loop (borrowed; must outlive us).
 * @priority: libev priority of our watchers (0 unless the owner's answers
 * must not wait behind other traffic).
 * @max_host_connections: CURLMOPT_MAX_HOST_CONNECTIONS, 0 for no limit.
 * @cbs: copied.  @arg: the owner's, passed back to @cbs.
 * Aborts when out of memory.
 */
struct curlev *curlev_new(struct ev_loop *loop, int priority,
			  long max_host_connections,
			  const struct curlev_cbs *cbs, void *arg);
/* Start @easy (still the owner's).  False if curl refuses it. */
bool curlev_add(struct curlev *c, CURL *easy);
/* Stop @easy, finished or not, with no callback (the owner then cleans
 * it up).  Its finish, if not yet handed up, never will be. */
void curlev_remove(struct curlev *c, CURL *easy);
/* NULL ok.  The owner removes its easy handles first.  From inside
 * cbs->done: takes effect when it returns, and no further done follows. */
void curlev_free(struct curlev *c);

#endif
