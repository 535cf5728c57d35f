/* cluster module internals: the HTTP client under the session. */
#ifndef COLDNODE_CLUSTER_INTERNAL_H
#define COLDNODE_CLUSTER_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

struct ev_loop;
struct cl_http;
struct cl_http_req;

/* @body borrowed for the call (NULL on failure); @err static or borrowed. */
typedef void (*cl_http_done)(void *ctx, bool ok, long status,
			     const char *body, size_t len, const char *err);
/* One newline-terminated line of a streamed answer (watch); borrowed. */
typedef void (*cl_http_line)(void *ctx, const char *line, size_t len);

/* @cacert, @cert, @key: borrowed during the call, NULL for none. */
struct cl_http *cl_http_new(struct ev_loop *loop, const char *cacert,
			    const char *cert, const char *key);
/**
 * cl_http_post - POST @body (copied) to @url (copied).
 * @timeout: seconds, 0 for none (a watch).  @auth: an etcd token for the
 * Authorization header, or NULL (copied).  @line: NULL for a plain call;
 * else each line of the answer goes there and @done fires at the end.
 * Returns a handle for cl_http_cancel; @done fires exactly once unless
 * cancelled, never inside this call.
 */
struct cl_http_req *cl_http_post(struct cl_http *h, const char *url,
				 const char *body, double timeout,
				 const char *auth, cl_http_done done,
				 cl_http_line line, void *ctx);
/* Drop @r without calling back.  NULL ok. */
void cl_http_cancel(struct cl_http *h, struct cl_http_req *r);
/* Cancels everything.  NULL ok.  Not from inside a callback. */
void cl_http_free(struct cl_http *h);

#endif
