/* HTTP/1.1 POST with keep-alive through libcurl's multi-socket API, driven
 * by the one libev loop (src/curlev: curl tells it which sockets to watch
 * and when to time out; it tells curl what happened).  libcurl rather than
 * our own client: chunked encoding, keep-alive, auth and timeouts are its
 * job.
 *
 * The response is capped: a node (or something posing as one) sending
 * more than max_response bytes gets the transfer aborted. */
#include "chain/http.h"
#include "common/common.h"
#include "curlev/curlev.h"

#include <curl/curl.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

struct http_req {
	struct chain_http *h;
	CURL *easy;
	struct curl_slist *hdrs;
	char *body;         /* owned: curl does not copy POSTFIELDS */
	struct curlev_body resp; /* owned, grows */
	bool too_big;
	CURLcode rc;
	chain_http_done done;
	void *ctx;
	struct http_req *next;
};

struct chain_http {
	struct curlev *cev;
	int busy;             /* inside a request's done callback */
	bool dying;           /* chain_http_free called from a callback */
	char *url;
	char *userpwd;        /* sodium_malloc'd: it is the RPC password */
	double timeout;
	size_t max_response;
	struct http_req *reqs; /* in flight */
};

static size_t write_cb(char *p, size_t sz, size_t nm, void *arg)
{
	struct http_req *r = arg;

	if (!curlev_body_append(&r->resp, p, sz * nm, r->h->max_response)) {
		r->too_big = true;
		return 0; /* aborts the transfer (CURLE_WRITE_ERROR) */
	}
	return sz * nm;
}

static void req_free(struct http_req *r)
{
	curlev_remove(r->h->cev, r->easy);
	curl_easy_cleanup(r->easy);
	curl_slist_free_all(r->hdrs);
	free(r->body);
	curlev_body_free(&r->resp);
	free(r);
}

static void unlink_req(struct chain_http *h, struct http_req *r)
{
	for (struct http_req **pp = &h->reqs; *pp; pp = &(*pp)->next)
		if (*pp == r) {
			*pp = r->next;
			return;
		}
}

static void http_destroy(struct chain_http *h);

/* From curlev, one finished transfer at a time. */
static void on_done(void *arg, CURL *easy, CURLcode rc)
{
	struct chain_http *h = arg;
	struct http_req *r;
	long status = 0;

	curl_easy_getinfo(easy, CURLINFO_PRIVATE, &r);
	r->rc = rc;
	unlink_req(h, r);
	/* The callback may post again or free the whole client. */
	h->busy++;
	curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
	if (r->too_big || r->rc == CURLE_FILESIZE_EXCEEDED)
		r->done(r->ctx, CHAIN_HTTP_TOO_BIG, status, NULL, 0,
			"response too large");
	else if (r->rc != CURLE_OK)
		r->done(r->ctx, CHAIN_HTTP_FAILED, status, NULL, 0,
			curl_easy_strerror(r->rc));
	else
		r->done(r->ctx, CHAIN_HTTP_OK, status,
			r->resp.data ? r->resp.data : "", r->resp.len, "");
	req_free(r);
	if (--h->busy == 0 && h->dying)
		http_destroy(h);
}

struct chain_http *chain_http_new(struct ev_loop *loop, const char *url,
				  double timeout, size_t max_response)
{
	static const struct curlev_cbs cbs = { .done = on_done };
	struct chain_http *h = calloc(1, sizeof(*h));

	if (!h)
		abort();
	h->url = strdup(url);
	h->timeout = timeout;
	h->max_response = max_response;
	if (!h->url)
		abort();
	/* One keep-alive connection is all a poller needs; funding checks
	 * share it through batches. */
	h->cev = curlev_new(loop, 0, 4L, &cbs, h);
	return h;
}

void chain_http_set_auth(struct chain_http *h, const char *userpwd)
{
	if (h->userpwd) {
		sodium_memzero(h->userpwd, strlen(h->userpwd));
		sodium_free(h->userpwd);
		h->userpwd = NULL;
	}
	if (!userpwd)
		return;
	size_t n = strlen(userpwd) + 1;
	h->userpwd = sodium_malloc(n);
	if (!h->userpwd)
		abort();
	memcpy(h->userpwd, userpwd, n);
}

bool chain_http_post(struct chain_http *h, const char *body, size_t len,
		     chain_http_done done, void *ctx)
{
	struct http_req *r = calloc(1, sizeof(*r));

	if (!r)
		abort();
	r->h = h;
	r->done = done;
	r->ctx = ctx;
	r->body = malloc(len + 1);
	r->easy = curl_easy_init();
	if (!r->body || !r->easy)
		abort();
	memcpy(r->body, body, len);
	r->body[len] = '\0';
	r->hdrs = curl_slist_append(NULL, "Content-Type: application/json");
	/* bitcoind does not do 100-continue: do not wait for it. */
	r->hdrs = curl_slist_append(r->hdrs, "Expect:");
	CURL *e = r->easy;
	curl_easy_setopt(e, CURLOPT_URL, h->url);
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body);
	curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->hdrs);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(e, CURLOPT_PRIVATE, r);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)(h->timeout * 1000));
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
			 (long)(h->timeout * 1000));
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http");
	curl_easy_setopt(e, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE,
			 (curl_off_t)h->max_response);
	curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
	if (h->userpwd) {
		curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		/* libcurl keeps its own copy (and the base64 header) in its
		 * heap until curl_easy_cleanup; that copy is not ours to zero. */
		curl_easy_setopt(e, CURLOPT_USERPWD, h->userpwd);
	}
	if (!curlev_add(h->cev, e)) {
		curl_easy_cleanup(e);
		curl_slist_free_all(r->hdrs);
		free(r->body);
		free(r);
		return false;
	}
	r->next = h->reqs;
	h->reqs = r;
	return true;
}

void chain_http_free(struct chain_http *h)
{
	if (!h)
		return;
	if (h->busy) {
		h->dying = true;
		return;
	}
	http_destroy(h);
}

static void http_destroy(struct chain_http *h)
{
	while (h->reqs) {
		struct http_req *r = h->reqs;
		h->reqs = r->next;
		req_free(r);
	}
	/* From inside on_done, curlev defers its own end until we return
	 * to it. */
	curlev_free(h->cev);
	chain_http_set_auth(h, NULL);
	free(h->url);
	free(h);
}
