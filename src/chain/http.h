/* chain module: the HTTP transport on libev (http.c). */
#ifndef COLDNODE_CHAIN_HTTP_H
#define COLDNODE_CHAIN_HTTP_H

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>

/* ---- HTTP (http.c): libcurl multi-socket on the libev loop ---- */

enum chain_http_result {
	CHAIN_HTTP_OK,        /* a complete response (any status code) */
	CHAIN_HTTP_FAILED,    /* connect/transfer/timeout error */
	CHAIN_HTTP_TOO_BIG,   /* response over the cap: transfer aborted */
};
struct chain_http;
/* body: the response (NUL-terminated, borrowed for the call). */
typedef void (*chain_http_done)(void *ctx, enum chain_http_result r,
				long status, const char *body, size_t len,
				const char *errtext);
struct chain_http *chain_http_new(struct ev_loop *loop, const char *url,
				  double timeout, size_t max_response);
void chain_http_free(struct chain_http *h); /* cancels, no callbacks */
/* "user:pass" for basic auth (copied; the old one wiped). */
void chain_http_set_auth(struct chain_http *h, const char *userpwd);
/* POST body (copied).  done is called later from the loop, never from
 * inside this call.  False only if curl refuses the handle. */
bool chain_http_post(struct chain_http *h, const char *body, size_t len,
		     chain_http_done done, void *ctx);

#endif
