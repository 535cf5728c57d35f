/*~ HTTP/1.1 POST to etcd's gateway through libcurl's multi-socket API on
 * the one libev loop (src/curlev, shared with src/chain/http.c), plus
 * streamed answers split into lines for watch.  Answers are capped at
 * 1 MiB: an election prefix holds a handful of small keys. */
#include "cluster/cluster_internal.h"
#include "common/common.h"
#include "curlev/curlev.h"

#include <curl/curl.h>
#include <ev.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define MAX_RESPONSE (1024 * 1024)

struct cl_http_req {
	struct cl_http *h;
	CURL *easy;
	struct curl_slist *hdrs;
	char *body, *url;
	struct curlev_body resp;
	size_t line_start;    /* in resp: where the next watch line starts */
	bool too_big;
	cl_http_done done;
	cl_http_line line;
	void *ctx;
	struct cl_http_req *next;
};

struct cl_http {
	struct curlev *cev;
	char *cacert, *cert, *key;
	struct cl_http_req *reqs;
};

static size_t write_cb(char *p, size_t sz, size_t nm, void *arg)
{
	struct cl_http_req *r = arg;
	struct curlev_body *b = &r->resp;

	if (!curlev_body_append(b, p, sz * nm, MAX_RESPONSE)) {
		r->too_big = true;
		return 0;
	}
	if (r->line) {
		/* Hand up whole lines; keep the tail for the next chunk. */
		char *nl;
		while ((nl = memchr(b->data + r->line_start, '\n',
				    b->len - r->line_start))) {
			size_t ll = (size_t)(nl - (b->data + r->line_start));
			r->line(r->ctx, b->data + r->line_start, ll);
			r->line_start += ll + 1;
		}
		if (r->line_start == b->len)
			b->len = r->line_start = 0;
	}
	return sz * nm;
}

static void req_free(struct cl_http_req *r)
{
	curlev_remove(r->h->cev, r->easy);
	curl_easy_cleanup(r->easy);
	curl_slist_free_all(r->hdrs);
	/* An authenticate body holds the etcd password. */
	sodium_memzero(r->body, strlen(r->body));
	free(r->body);
	free(r->url);
	curlev_body_free(&r->resp);
	free(r);
}

static void unlink_req(struct cl_http *h, struct cl_http_req *r)
{
	for (struct cl_http_req **pp = &h->reqs; *pp; pp = &(*pp)->next)
		if (*pp == r) {
			*pp = r->next;
			return;
		}
}

/* From curlev, one finished transfer at a time: a callback may cancel
 * other requests. */
static void on_done(void *arg, CURL *easy, CURLcode rc)
{
	struct cl_http *h = arg;
	struct cl_http_req *r;
	long status = 0;

	curl_easy_getinfo(easy, CURLINFO_PRIVATE, &r);
	unlink_req(h, r);
	curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
	if (r->too_big)
		r->done(r->ctx, false, status, NULL, 0, "answer too large");
	else if (rc != CURLE_OK)
		r->done(r->ctx, false, status, NULL, 0,
			curl_easy_strerror(rc));
	else
		r->done(r->ctx, true, status,
			r->resp.data ? r->resp.data : "", r->resp.len, "");
	req_free(r);
}

struct cl_http *cl_http_new(struct ev_loop *loop, const char *cacert,
			    const char *cert, const char *key)
{
	static const struct curlev_cbs cbs = { .done = on_done };
	struct cl_http *h = calloc(1, sizeof(*h));

	if (!h)
		abort();
	h->cacert = cacert ? strdup(cacert) : NULL;
	h->cert = cert ? strdup(cert) : NULL;
	h->key = key ? strdup(key) : NULL;
	/* Above everything else on the loop: a renewal's answer must not
	 * wait behind a burst of peer traffic. */
	h->cev = curlev_new(loop, EV_MAXPRI, 0, &cbs, h);
	return h;
}

struct cl_http_req *cl_http_post(struct cl_http *h, const char *url,
				 const char *body, double timeout,
				 const char *auth, cl_http_done done,
				 cl_http_line line, void *ctx)
{
	struct cl_http_req *r = calloc(1, sizeof(*r));

	if (!r)
		abort();
	r->h = h;
	r->done = done;
	r->line = line;
	r->ctx = ctx;
	r->body = strdup(body);
	r->url = strdup(url);
	r->easy = curl_easy_init();
	if (!r->body || !r->url || !r->easy)
		abort();
	r->hdrs = curl_slist_append(NULL, "Content-Type: application/json");
	r->hdrs = curl_slist_append(r->hdrs, "Expect:");
	if (auth) {
		char *a = NULL;
		if (asprintf(&a, "Authorization: %s", auth) < 0)
			abort();
		r->hdrs = curl_slist_append(r->hdrs, a);
		free(a);
	}
	CURL *e = r->easy;
	curl_easy_setopt(e, CURLOPT_URL, r->url);
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body);
	curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
			 (curl_off_t)strlen(r->body));
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->hdrs);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(e, CURLOPT_PRIVATE, r);
	if (timeout > 0) {
		curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)(timeout * 1000));
		curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
				 (long)(timeout * 1000));
	} else {
		curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
	}
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
	/* A partitioned member: notice a dead watch connection. */
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	if (h->cacert)
		curl_easy_setopt(e, CURLOPT_CAINFO, h->cacert);
	if (h->cert)
		curl_easy_setopt(e, CURLOPT_SSLCERT, h->cert);
	if (h->key)
		curl_easy_setopt(e, CURLOPT_SSLKEY, h->key);
	if (!curlev_add(h->cev, e))
		abort();
	r->next = h->reqs;
	h->reqs = r;
	return r;
}

void cl_http_cancel(struct cl_http *h, struct cl_http_req *r)
{
	if (!r)
		return;
	unlink_req(h, r);
	req_free(r);
}

void cl_http_free(struct cl_http *h)
{
	if (!h)
		return;
	while (h->reqs) {
		struct cl_http_req *r = h->reqs;
		h->reqs = r->next;
		req_free(r);
	}
	curlev_free(h->cev);
	free(h->cacert);
	free(h->cert);
	free(h->key);
	free(h);
}
