/*~ HTTP/1.1 POST to etcd's gateway through libcurl's multi-socket API on
 * the one libev loop (as src/chain/http.c does for bitcoind), plus
 * streamed answers split into lines for watch.  Answers are capped at
 * 1 MiB: an election prefix holds a handful of small keys. */
#include "cluster/cluster_internal.h"
#include "common/common.h"

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
	char *resp;
	size_t len, cap, line_start;
	bool too_big;
	cl_http_done done;
	cl_http_line line;
	void *ctx;
	struct cl_http_req *next;
};

struct sock {
	ev_io io;
	struct cl_http *h;
	curl_socket_t fd;
	struct sock *next, *prev;
};

struct cl_http {
	struct ev_loop *loop;
	CURLM *multi;
	ev_timer timer;
	char *cacert, *cert, *key;
	struct cl_http_req *reqs;
	struct sock *socks;
};

static void check_done(struct cl_http *h);

static void on_io(struct ev_loop *loop, ev_io *w, int revents)
{
	struct sock *s = (struct sock *)w;
	struct cl_http *h = s->h;
	int running, action = 0;

	if (revents & EV_READ)
		action |= CURL_CSELECT_IN;
	if (revents & EV_WRITE)
		action |= CURL_CSELECT_OUT;
	curl_multi_socket_action(h->multi, s->fd, action, &running);
	check_done(h);
}

static void on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct cl_http *h = w->data;
	int running;

	curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_done(h);
}

static int sock_cb(CURL *e, curl_socket_t fd, int what, void *userp,
		   void *sockp)
{
	struct cl_http *h = userp;
	struct sock *s = sockp;

	if (what == CURL_POLL_REMOVE) {
		if (s) {
			ev_io_stop(h->loop, &s->io);
			if (s->prev)
				s->prev->next = s->next;
			else
				h->socks = s->next;
			if (s->next)
				s->next->prev = s->prev;
			free(s);
			curl_multi_assign(h->multi, fd, NULL);
		}
		return 0;
	}
	if (!s) {
		s = calloc(1, sizeof(*s));
		if (!s)
			abort();
		s->h = h;
		s->fd = fd;
		s->next = h->socks;
		if (h->socks)
			h->socks->prev = s;
		h->socks = s;
		curl_multi_assign(h->multi, fd, s);
	} else {
		ev_io_stop(h->loop, &s->io);
	}
	ev_io_init(&s->io, on_io, fd,
		   ((what & CURL_POLL_IN) ? EV_READ : 0) |
		   ((what & CURL_POLL_OUT) ? EV_WRITE : 0));
	ev_set_priority(&s->io, EV_MAXPRI);
	ev_io_start(h->loop, &s->io);
	return 0;
}

static int timer_cb(CURLM *m, long ms, void *userp)
{
	struct cl_http *h = userp;

	ev_timer_stop(h->loop, &h->timer);
	if (ms >= 0) {
		ev_timer_set(&h->timer, ms / 1000.0, 0.);
		ev_timer_start(h->loop, &h->timer);
	}
	return 0;
}

static size_t write_cb(char *p, size_t sz, size_t nm, void *arg)
{
	struct cl_http_req *r = arg;
	size_t n = sz * nm;

	if (r->len + n > MAX_RESPONSE) {
		r->too_big = true;
		return 0;
	}
	if (r->len + n + 1 > r->cap) {
		size_t cap = r->cap ? r->cap : 4096;
		while (cap < r->len + n + 1)
			cap *= 2;
		char *nr = realloc(r->resp, cap);
		if (!nr)
			abort();
		r->resp = nr;
		r->cap = cap;
	}
	memcpy(r->resp + r->len, p, n);
	r->len += n;
	r->resp[r->len] = '\0';
	if (r->line) {
		/* Hand up whole lines; keep the tail for the next chunk. */
		char *nl;
		while ((nl = memchr(r->resp + r->line_start, '\n',
				    r->len - r->line_start))) {
			size_t ll = (size_t)(nl - (r->resp + r->line_start));
			r->line(r->ctx, r->resp + r->line_start, ll);
			r->line_start += ll + 1;
		}
		if (r->line_start == r->len)
			r->len = r->line_start = 0;
	}
	return n;
}

static void req_free(struct cl_http_req *r)
{
	curl_multi_remove_handle(r->h->multi, r->easy);
	curl_easy_cleanup(r->easy);
	curl_slist_free_all(r->hdrs);
	/* An authenticate body holds the etcd password. */
	sodium_memzero(r->body, strlen(r->body));
	free(r->body);
	free(r->url);
	free(r->resp);
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

static void check_done(struct cl_http *h)
{
	CURLMsg *m;
	int left;

	/* One at a time: a callback may cancel other requests. */
	while ((m = curl_multi_info_read(h->multi, &left))) {
		struct cl_http_req *r;
		CURLcode rc;
		long status = 0;

		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &r);
		rc = m->data.result;
		unlink_req(h, r);
		curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
		if (r->too_big)
			r->done(r->ctx, false, status, NULL, 0,
				"answer too large");
		else if (rc != CURLE_OK)
			r->done(r->ctx, false, status, NULL, 0,
				curl_easy_strerror(rc));
		else
			r->done(r->ctx, true, status, r->resp ? r->resp : "",
				r->len, "");
		req_free(r);
	}
}

struct cl_http *cl_http_new(struct ev_loop *loop, const char *cacert,
			    const char *cert, const char *key)
{
	static bool inited;
	struct cl_http *h = calloc(1, sizeof(*h));

	if (!h)
		abort();
	if (!inited) {
		curl_global_init(CURL_GLOBAL_DEFAULT);
		inited = true;
	}
	h->loop = loop;
	h->cacert = cacert ? strdup(cacert) : NULL;
	h->cert = cert ? strdup(cert) : NULL;
	h->key = key ? strdup(key) : NULL;
	h->multi = curl_multi_init();
	if (!h->multi)
		abort();
	ev_timer_init(&h->timer, on_timer, 0., 0.);
	h->timer.data = h;
	/* Above everything else on the loop: a renewal's answer must not
	 * wait behind a burst of peer traffic. */
	ev_set_priority(&h->timer, EV_MAXPRI);
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
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
	if (curl_multi_add_handle(h->multi, e) != CURLM_OK)
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
	ev_timer_stop(h->loop, &h->timer);
	curl_multi_cleanup(h->multi);
	while (h->socks) {
		struct sock *sk = h->socks;
		h->socks = sk->next;
		ev_io_stop(h->loop, &sk->io);
		free(sk);
	}
	free(h->cacert);
	free(h->cert);
	free(h->key);
	free(h);
}
