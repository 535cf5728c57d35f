/*~ GET /metrics over plain HTTP/1.1, as lnd's --prometheus.listen serves
 * it.  The HTTP parser is libmicrohttpd's (a maintained embeddable server:
 * we do not hand-write HTTP/1.1).  It runs in its "external select" mode
 * with epoll: MHD keeps one epoll descriptor for its listener and
 * connections, libev watches that one descriptor, and every MHD_run()
 * happens on our loop.  So a scrape runs between two other events, never
 * concurrently with them, and its cost is the page's O(samples) render.
 */
#include "metrics/metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ev.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A scraper needs one connection; a few more let a human curl too.  Over
 * it MHD refuses the connection (closed at accept). */
#define HTTP_MAX_CONNECTIONS 16
/* Idle or half-sent connections go after this (seconds), freeing their
 * slot; Prometheus simply reconnects. */
#define HTTP_IDLE_TIMEOUT 10
/* Request line and headers; a GET carries nothing else. */
#define HTTP_MEMORY_LIMIT (32 * 1024)

struct metrics_http {
	struct ev_loop *loop;   /* borrowed */
	struct metrics *m;      /* borrowed */
	struct MHD_Daemon *d;
	ev_io io;               /* MHD's epoll descriptor */
	ev_timer timer;         /* MHD's own timeouts */
	uint16_t port;
	uint64_t scrapes;
};

static void http_log(void *cls, const char *fmt, va_list ap)
{
	char line[256];
	size_t n;

	(void)cls;
	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n && line[n - 1] == '\n')
		line[--n] = '\0';
	/* A client's bad request, not our error: debug. */
	log_debug("PROM", "http: %s", line);
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned code,
			     const char *text)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(
		strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
	enum MHD_Result ret;

	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
				"text/plain; charset=utf-8");
	if (code == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	ret = MHD_queue_response(conn, code, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
				  const char *url, const char *method,
				  const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	struct metrics_http *h = cls;
	struct MHD_Response *r;
	enum MHD_Result ret;
	size_t len = 0;
	char *page;

	(void)version;
	(void)upload;
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
	    strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
			     "only GET /metrics\n");
	/* A GET with a body: refuse rather than read it.  MHD calls us
	 * first with the headers only, so look at them. */
	const char *cl = MHD_lookup_connection_value(
		conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (*upload_size || (cl && strcmp(cl, "0") != 0) ||
	    MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
					MHD_HTTP_HEADER_TRANSFER_ENCODING))
		return reply(conn, MHD_HTTP_BAD_REQUEST, "unexpected body\n");
	(void)con_cls;
	if (strcmp(url, "/metrics") != 0)
		return reply(conn, MHD_HTTP_NOT_FOUND,
			     "not found: the metrics are at /metrics\n");
	double t0 = cn_now();
	page = metrics_render(h->m, &len);
	/* What a scrape adds to the loop iteration it runs in (bench). */
	log_debug("PROM", "scrape: %zu bytes rendered in %.3f ms", len,
		  (cn_now() - t0) * 1000);
	if (!page)
		return reply(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
			     "out of memory\n");
	r = MHD_create_response_from_buffer(len, page, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(page);
		return MHD_NO;
	}
	/* The text exposition format's content type. */
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
				"text/plain; version=0.0.4; charset=utf-8");
	ret = MHD_queue_response(conn, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	h->scrapes++;
	return ret;
}

/* After any MHD work: arm the timer for MHD's next deadline (0 when it
 * already has more to do). */
static void rearm(struct metrics_http *h)
{
	MHD_UNSIGNED_LONG_LONG ms;

	ev_timer_stop(h->loop, &h->timer);
	if (MHD_get_timeout(h->d, &ms) == MHD_YES) {
		ev_timer_set(&h->timer, (double)ms / 1000.0, 0);
		ev_timer_start(h->loop, &h->timer);
	}
}

static void on_io(struct ev_loop *loop, ev_io *w, int revents)
{
	struct metrics_http *h = w->data;

	(void)loop;
	(void)revents;
	MHD_run(h->d);
	/* A second pass: work that the first pass made possible (e.g. the
	 * listener put back into MHD's epoll set once connections closed
	 * below the limit) gets no new edge on MHD's descriptor. */
	MHD_run(h->d);
	rearm(h);
}

static void on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct metrics_http *h = w->data;

	(void)loop;
	(void)revents;
	MHD_run(h->d);
	rearm(h);
}

struct metrics_http *metrics_http_new(struct ev_loop *loop, struct metrics *m,
				      const char *hostport)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICSERV | AI_PASSIVE };
	struct addrinfo *ai = NULL;
	struct metrics_http *h;
	const union MHD_DaemonInfo *info;
	char host[256], port[8];
	uint16_t p;
	unsigned flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
	int rc;

	if (!cn_split_hostport(host, sizeof(host), &p, hostport)) {
		log_unusual("PROM", "--prometheus.listen: '%s' is not "
			    "host:port", hostport);
		return NULL;
	}
	snprintf(port, sizeof(port), "%u", p);
	rc = getaddrinfo(host, port, &hints, &ai);
	if (rc != 0) {
		log_unusual("PROM", "--prometheus.listen: %s: %s", hostport,
			    gai_strerror(rc));
		return NULL;
	}
	h = calloc(1, sizeof(*h));
	if (!h) {
		freeaddrinfo(ai);
		return NULL;
	}
	h->loop = loop;
	h->m = m;
	if (ai->ai_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	h->d = MHD_start_daemon(
		flags, 0, NULL, NULL, on_request, h,
		MHD_OPTION_EXTERNAL_LOGGER, http_log, h,
		MHD_OPTION_SOCK_ADDR, ai->ai_addr,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTP_MAX_CONNECTIONS,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_IDLE_TIMEOUT,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_MEMORY_LIMIT,
		/* Refuse what RFC 9112 forbids (e.g. HTTP/1.1 without Host). */
		MHD_OPTION_STRICT_FOR_CLIENT, (int)1,
		MHD_OPTION_END);
	freeaddrinfo(ai);
	if (!h->d) {
		log_unusual("PROM", "cannot serve metrics on %s: %s", hostport,
			    strerror(errno));
		free(h);
		return NULL;
	}
	info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
	h->port = info ? info->port : p;
	info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_EPOLL_FD);
	if (!info) {
		log_broken("PROM", "libmicrohttpd has no epoll descriptor");
		MHD_stop_daemon(h->d);
		free(h);
		return NULL;
	}
	ev_io_init(&h->io, on_io, info->epoll_fd, EV_READ);
	h->io.data = h;
	ev_io_start(loop, &h->io);
	ev_timer_init(&h->timer, on_timer, 0, 0);
	h->timer.data = h;
	rearm(h);
	log_info("PROM", "Prometheus metrics on http://%s:%u/metrics", host,
		 h->port);
	return h;
}

void metrics_http_free(struct metrics_http *h)
{
	if (!h)
		return;
	ev_io_stop(h->loop, &h->io);
	ev_timer_stop(h->loop, &h->timer);
	MHD_stop_daemon(h->d);
	free(h);
}

uint16_t metrics_http_port(const struct metrics_http *h)
{
	return h->port;
}

uint64_t metrics_http_scrapes(const struct metrics_http *h)
{
	return h->scrapes;
}
