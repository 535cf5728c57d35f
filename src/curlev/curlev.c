/* curlev: the multi-socket glue.  One ev_io per socket curl asks us to
 * watch, one ev_timer for curl's timeout; every event is handed to
 * curl_multi_socket_action, then finished transfers go up one at a time
 * (a callback may remove another transfer, whose queued finish libcurl
 * then drops, or free us). */
#include "curlev/curlev.h"

#include <ev.h>
#include <stdlib.h>
#include <string.h>

struct sock {
	ev_io io;
	struct curlev *c;
	curl_socket_t fd;
	struct sock *next, *prev; /* all watched sockets, for teardown */
};

struct curlev {
	struct ev_loop *loop; /* borrowed */
	CURLM *multi;
	ev_timer timer;
	int priority;
	struct curlev_cbs cbs;
	void *arg;            /* the owner's */
	int busy;             /* inside cbs.done */
	bool dying;           /* curlev_free called from cbs.done */
	struct sock *socks;   /* watched for curl */
};

static void destroy(struct curlev *c);

static void check_done(struct curlev *c)
{
	CURLMsg *m;
	int left;

	c->busy++;
	while (!c->dying && (m = curl_multi_info_read(c->multi, &left))) {
		if (m->msg != CURLMSG_DONE)
			continue;
		/* m is curl's until the next multi call: copy it out. */
		CURL *easy = m->easy_handle;
		CURLcode rc = m->data.result;
		c->cbs.done(c->arg, easy, rc);
	}
	if (--c->busy == 0 && c->dying)
		destroy(c);
}

static void on_io(struct ev_loop *loop, ev_io *w, int revents)
{
	struct sock *s = (struct sock *)w;
	struct curlev *c = s->c;
	int running, action = 0;

	if (revents & EV_READ)
		action |= CURL_CSELECT_IN;
	if (revents & EV_WRITE)
		action |= CURL_CSELECT_OUT;
	curl_multi_socket_action(c->multi, s->fd, action, &running);
	check_done(c);
}

static void on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct curlev *c = w->data;
	int running;

	curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_done(c);
}

static int sock_cb(CURL *e, curl_socket_t fd, int what, void *userp,
		   void *sockp)
{
	struct curlev *c = userp;
	struct sock *s = sockp;

	if (what == CURL_POLL_REMOVE) {
		if (s) {
			ev_io_stop(c->loop, &s->io);
			if (s->prev)
				s->prev->next = s->next;
			else
				c->socks = s->next;
			if (s->next)
				s->next->prev = s->prev;
			free(s);
			curl_multi_assign(c->multi, fd, NULL);
		}
		return 0;
	}
	if (!s) {
		s = calloc(1, sizeof(*s));
		if (!s)
			abort();
		s->c = c;
		s->fd = fd;
		s->next = c->socks;
		if (c->socks)
			c->socks->prev = s;
		c->socks = s;
		curl_multi_assign(c->multi, fd, s);
	} else {
		ev_io_stop(c->loop, &s->io);
	}
	ev_io_init(&s->io, on_io, fd,
		   ((what & CURL_POLL_IN) ? EV_READ : 0) |
		   ((what & CURL_POLL_OUT) ? EV_WRITE : 0));
	ev_set_priority(&s->io, c->priority);
	ev_io_start(c->loop, &s->io);
	return 0;
}

static int timer_cb(CURLM *m, long ms, void *userp)
{
	struct curlev *c = userp;

	ev_timer_stop(c->loop, &c->timer);
	if (ms >= 0) {
		ev_timer_set(&c->timer, ms / 1000.0, 0.);
		ev_timer_start(c->loop, &c->timer);
	}
	return 0;
}

struct curlev *curlev_new(struct ev_loop *loop, int priority,
			  long max_host_connections,
			  const struct curlev_cbs *cbs, void *arg)
{
	static bool inited;
	struct curlev *c = calloc(1, sizeof(*c));

	if (!c)
		abort();
	if (!inited) {
		curl_global_init(CURL_GLOBAL_DEFAULT);
		inited = true;
	}
	c->loop = loop;
	c->priority = priority;
	c->cbs = *cbs;
	c->arg = arg;
	c->multi = curl_multi_init();
	if (!c->multi)
		abort();
	ev_timer_init(&c->timer, on_timer, 0., 0.);
	c->timer.data = c;
	ev_set_priority(&c->timer, priority);
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
	if (max_host_connections > 0)
		curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
				  max_host_connections);
	return c;
}

bool curlev_add(struct curlev *c, CURL *easy)
{
	return curl_multi_add_handle(c->multi, easy) == CURLM_OK;
}

void curlev_remove(struct curlev *c, CURL *easy)
{
	curl_multi_remove_handle(c->multi, easy);
}

void curlev_free(struct curlev *c)
{
	if (!c)
		return;
	if (c->busy) {
		c->dying = true;
		return;
	}
	destroy(c);
}

static void destroy(struct curlev *c)
{
	ev_timer_stop(c->loop, &c->timer);
	curl_multi_cleanup(c->multi);
	/* Whatever curl did not hand back with CURL_POLL_REMOVE: no watcher
	 * may outlive us on the loop. */
	while (c->socks) {
		struct sock *sk = c->socks;
		c->socks = sk->next;
		ev_io_stop(c->loop, &sk->io);
		free(sk);
	}
	free(c);
}

bool curlev_body_append(struct curlev_body *b, const char *p, size_t n,
			size_t max)
{
	if (n > max || b->len > max - n)
		return false;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *nd = realloc(b->data, cap);
		if (!nd)
			abort();
		b->data = nd;
		b->cap = cap;
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return true;
}

void curlev_body_free(struct curlev_body *b)
{
	free(b->data);
	*b = (struct curlev_body){ 0 };
}
