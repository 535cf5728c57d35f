/*~ call: one connection's HTTP/2 session and its gRPC calls, sans-I/O.
 *
 * Bytes from the socket go in through rpc_session_recv (nghttp2's
 * mem_recv); bytes to write come out of rpc_session_pull (mem_send).
 * Each HTTP/2 stream is one struct rpc_call, attached as nghttp2 stream
 * user data and freed in on_stream_close, the one place a call dies.
 * Requests are checked in this order: HTTP method and content-type, method
 * path (UNIMPLEMENTED), grpc-timeout, macaroon, concurrency cap; only then
 * does the method's owner see the call.
 */
#include "rpc/rpc_internal.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_MAC_HEX (2 * RPC_MAC_MAX_LEN)
/* Longest :path kept: every registered path is far shorter; a longer one
 * is answered UNIMPLEMENTED without being copied. */
#define MAX_PATH_LEN 256
/* Lines about one pre-auth connection's refused calls and errors at INFO:
 * the rest of that connection's go to DEBUG, so a client that opens
 * streams by the thousand writes a few lines, not thousands (the global
 * log_burst caps a flood of connections on top). */
#define LOG_LINES_PER_CONN 3

struct rpc_session {
	struct rpc_server *srv;
	struct rpc_conn *conn;
	nghttp2_session *h2;
	char *peer, *peer_ip; /* owned */
	struct rpc_call *calls;
	size_t ncalls; /* streams open, i.e. entries in calls */
	/* Streams refused at the max_streams cap, for the rate-limited log
	 * line: refused since the last line, and when that line was. */
	uint64_t refused_unlogged;
	double refused_logged_at; /* cn_now(); 0: never */
	size_t queued; /* bytes in all calls' send queues */
	struct rpc_mac_verified *mac_ok; /* last macaroon that verified */
	/* A call's macaroon passed on this connection (signature, caveats
	 * and the method's permissions): the connection is authenticated
	 * for the limits below.  Until then it is pre-auth. */
	bool authed;
	size_t unauth_calls;  /* started macaroon-less calls while pre-auth */
	size_t preauth_hdr;   /* header bytes (RFC 9113 sizes) while pre-auth */
	unsigned log_lines;   /* INFO lines so far about this connection */
	const char *fatal;    /* why a callback failed the session, static */
};

struct rpc_call {
	struct rpc_session *sess;
	struct rpc_call *next, *prev;
	int32_t stream_id;
	struct rpc_method_entry *me; /* set once started */
	/* request headers */
	char *path;
	bool is_post, grpc_ct, timeout_bad, has_timeout;
	double timeout;
	char *mac_hex; /* the first macaroon header only; freed once checked */
	unsigned mac_count;
	bool path_long;  /* :path over MAX_PATH_LEN: not copied */
	size_t hdr_size; /* RFC 9113 §6.5.2 size of the header list so far */
	bool hdr_overflow;
	bool unauth;     /* counted in unauth_calls (session and server) */
	/* receive */
	struct rpc_framer framer;
	unsigned nmsgs;
	bool remote_closed;
	/* send */
	struct rpc_sendq q;
	bool headers_sent, finishing, done_sending;
	enum rpc_status status;
	char *status_msg; /* percent-encoded, owned */
	double t0;        /* cn_now() at the request headers */
	bool started;
	/* rpc_call_close_connection: GOAWAY once the stream is closed. */
	bool close_conn;
	ev_timer deadline;
	void *data;
};

static const char *subsys(const struct rpc_session *s)
{
	return s->srv->subsys;
}

/* The listener's counters: [1] for the unix socket (no peer address). */
static void count_headers_refused(struct rpc_session *s)
{
	s->srv->headers_refused[s->peer_ip ? 0 : 1]++;
}

static void count_unauth_refused(struct rpc_session *s)
{
	s->srv->unauth_calls_refused[s->peer_ip ? 0 : 1]++;
}

/* Anyone can send a bad macaroon, on as many calls as they like: capped
 * (10 lines a second, then debug and a summary), so a flood of them
 * cannot rotate the log files away. */
/* May this pre-auth connection log one more line at INFO?  Authenticated
 * connections are not capped here (their owner holds a macaroon). */
static bool conn_may_log(struct rpc_session *s)
{
	if (s->authed)
		return true;
	if (s->log_lines >= LOG_LINES_PER_CONN)
		return false;
	s->log_lines++;
	return true;
}

static void log_refused(struct rpc_session *s, const char *path,
			const char *why)
{
	bool info = conn_may_log(s) &&
		    log_burst_allow(&s->srv->log_refused, cn_now(), subsys(s),
				    "refused calls");
	/* @path and @why may hold client bytes (a caveat's text): escaped
	 * so they cannot forge log lines or send terminal escapes. */
	char *p = rpc_log_escape(path, 200), *w = rpc_log_escape(why, 300);
	log_msg(subsys(s), info ? LOG_INFO : LOG_DEBUG, "%s %s refused: %s%s",
		s->peer, p ? p : "?", w ? w : "?",
		info && !s->authed && s->log_lines == LOG_LINES_PER_CONN
			? " (further lines about this connection at debug)"
			: "");
	free(p);
	free(w);
}

/* Output is pending.  Without an I/O adapter (conn NULL: the fuzzer) the
 * owner pulls by itself. */
static void session_kick(struct rpc_session *s)
{
	if (s->conn)
		rpc_conn_kick(s->conn);
}

static void call_free_queue(struct rpc_call *c)
{
	c->sess->queued -= c->q.bytes;
	rpc_sendq_clear(&c->q);
}

/* Ends the call's life: on_closed to the owner if it saw the call. */
static void call_destroy(struct rpc_call *c, enum rpc_status why)
{
	struct rpc_session *s = c->sess;
	if (c->started) {
		ev_timer_stop(s->srv->loop, &c->deadline);
		c->me->active--;
		c->started = false;
		if (c->me->m.on_closed)
			c->me->m.on_closed(c->me->m.arg, c, why);
	}
	if (c->prev)
		c->prev->next = c->next;
	else
		s->calls = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->ncalls--;
	if (c->unauth) {
		s->unauth_calls--;
		s->srv->unauth_calls--;
	}
	call_free_queue(c);
	rpc_framer_clear(&c->framer);
	free(c->path);
	free(c->mac_hex);
	free(c->status_msg);
	free(c);
}

/* ---- sending -------------------------------------------------------------- */

#define NV(n, v) { (uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, \
		   strlen(v), NGHTTP2_NV_FLAG_NONE }

static ssize_t data_read(nghttp2_session *h2, int32_t sid, uint8_t *buf,
			 size_t length, uint32_t *flags,
			 nghttp2_data_source *src, void *user)
{
	struct rpc_call *c = src->ptr;
	size_t n = rpc_sendq_pull(&c->q, buf, length);

	c->sess->queued -= n;
	if (!c->q.head && c->finishing) {
		char code[8];
		snprintf(code, sizeof(code), "%d", (int)c->status);
		nghttp2_nv tr[2] = { NV("grpc-status", code),
				     NV("grpc-message", c->status_msg) };
		*flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
		nghttp2_submit_trailer(h2, sid, tr, c->status_msg[0] ? 2 : 1);
		c->done_sending = true;
		return (ssize_t)n;
	}
	if (n == 0)
		return NGHTTP2_ERR_DEFERRED;
	return (ssize_t)n;
}

static void submit_headers(struct rpc_call *c)
{
	nghttp2_nv hdrs[] = { NV(":status", "200"),
			      NV("content-type", "application/grpc"),
			      NV("grpc-accept-encoding", "identity") };
	nghttp2_data_provider prd = { .source.ptr = c, .read_callback = data_read };
	c->headers_sent = true;
	nghttp2_submit_response(c->sess->h2, c->stream_id, hdrs,
				CN_ARRAY_SIZE(hdrs), &prd);
}

/* A non-gRPC HTTP answer (405/415), ending the stream. */
static void submit_http_error(struct rpc_call *c, const char *code)
{
	nghttp2_nv hdrs[] = { NV(":status", code) };
	c->headers_sent = c->finishing = c->done_sending = true;
	c->status = RPC_STATUS_INTERNAL;
	nghttp2_submit_response(c->sess->h2, c->stream_id, hdrs, 1, NULL);
}

bool rpc_call_send(struct rpc_call *c, const uint8_t *msg, size_t len)
{
	if (c->finishing || !rpc_sendq_push(&c->q, msg, len))
		return false;
	c->sess->queued += RPC_FRAME_HDR + len;
	if (!c->headers_sent)
		submit_headers(c);
	else
		nghttp2_session_resume_data(c->sess->h2, c->stream_id);
	session_kick(c->sess);
	return true;
}

static struct rpc_method_entry *find_method(struct rpc_server *srv,
					    const char *path);

/* Metrics: one count per call, under its method if registered. */
static void count_call(struct rpc_call *c, enum rpc_status st)
{
	struct rpc_server *srv = c->sess->srv;
	struct rpc_method_entry *me =
		c->me ? c->me : c->path ? find_method(srv, c->path) : NULL;
	struct rpc_method_stats *ms = me ? &me->stats : &srv->unknown_stats;

	if ((unsigned)st < RPC_NUM_STATUS)
		ms->calls[st]++;
	cn_hist_observe(&ms->latency, cn_now() - c->t0);
}

void rpc_call_finish(struct rpc_call *c, enum rpc_status st, const char *msg)
{
	if (c->finishing)
		return;
	c->finishing = true;
	c->status = st;
	count_call(c, st);
	c->status_msg = rpc_percent_encode(msg ? msg : "");
	if (!c->status_msg)
		c->status_msg = calloc(1, 1);
	if (!c->status_msg)
		abort(); /* out of memory for one byte */
	if (st != RPC_STATUS_OK && log_enabled(subsys(c->sess), LOG_DEBUG)) {
		/* @msg may quote the client (a caveat): escaped. */
		char *e = rpc_log_escape(msg ? msg : "", 300);
		log_debug(subsys(c->sess), "%s %s: %s %s", c->sess->peer,
			  c->path ? c->path : "?", rpc_status_str(st),
			  e ? e : "?");
		free(e);
	}
	if (!c->headers_sent) {
		/* Trailers-Only: "HTTP-Status Content-Type Trailers" in one
		 * HEADERS frame with END_STREAM. */
		char code[8];
		snprintf(code, sizeof(code), "%d", (int)st);
		nghttp2_nv hdrs[] = { NV(":status", "200"),
				      NV("content-type", "application/grpc"),
				      NV("grpc-status", code),
				      NV("grpc-message", c->status_msg) };
		c->headers_sent = c->done_sending = true;
		nghttp2_submit_response(c->sess->h2, c->stream_id, hdrs,
					c->status_msg[0] ? 4 : 3, NULL);
	} else {
		nghttp2_session_resume_data(c->sess->h2, c->stream_id);
	}
	session_kick(c->sess);
}

void rpc_call_authenticated(struct rpc_call *c)
{
	if (c->sess->conn)
		rpc_conn_authorised(c->sess->conn, true);
}

const void *rpc_call_connection(const struct rpc_call *c)
{
	return c->sess;
}

void rpc_call_close_connection(struct rpc_call *c)
{
	/* on_stream_close does it once the status is out (or the client
	 * reset the stream first); a call already finished or closing has
	 * nothing more to send. */
	c->close_conn = true;
	if (c->finishing || !c->started) {
		rpc_session_goaway(c->sess);
		session_kick(c->sess);
	}
}

void rpc_call_set_data(struct rpc_call *c, void *data) { c->data = data; }
void *rpc_call_data(const struct rpc_call *c) { return c->data; }
const char *rpc_call_peer(const struct rpc_call *c) { return c->sess->peer; }
bool rpc_call_finished(const struct rpc_call *c) { return c->finishing; }
double rpc_call_timeout(const struct rpc_call *c)
{
	return c->has_timeout ? c->timeout : 0;
}

/* ---- receiving ------------------------------------------------------------ */

static void deadline_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct rpc_call *c = w->data;
	rpc_call_finish(c, RPC_STATUS_DEADLINE_EXCEEDED, "deadline exceeded");
}

static struct rpc_method_entry *find_method(struct rpc_server *srv,
					    const char *path)
{
	for (size_t i = 0; i < srv->num_methods; i++)
		if (strcmp(srv->methods[i]->path, path) == 0)
			return srv->methods[i];
	return NULL;
}

/* Refuses the call for its macaroon, unless the method is public (then
 * the call goes on, unauthenticated, and nothing is said). */
static bool refuse(struct rpc_call *c, bool public, enum rpc_status st,
		   const char *why, bool log)
{
	if (public)
		return false;
	if (log)
		log_refused(c->sess, c->path, why);
	rpc_call_finish(c, st, why);
	return false;
}

/* Checks the call's macaroon.  Returns true if it passed (the connection
 * is then authenticated).  For a method that needs none (@me no_macaroon)
 * a macaroon is optional: a valid one authenticates the connection (a
 * monitor that sends its macaroon on every call keeps its Health Watch
 * past the pre-auth deadline), an invalid or missing one changes nothing
 * for the call.  Otherwise a failure finishes the call. */
static bool authorize(struct rpc_call *c, struct rpc_method_entry *me)
{
	char why[160];
	struct rpc_session *s = c->sess;
	const struct rpc_macaroon_svc *svc = s->srv->cfg.macaroons;
	uint8_t stackbuf[512], *bin = stackbuf;
	enum rpc_status st;
	bool pub = me->m.no_macaroon;

	if (pub && c->mac_count == 0)
		return false;
	/* lnd: "expected 1 macaroon, got %d".  A second one was counted,
	 * never copied. */
	if (c->mac_count != 1) {
		snprintf(why, sizeof(why), "expected 1 macaroon, got %u",
			 c->mac_count);
		return refuse(c, pub, RPC_STATUS_UNAUTHENTICATED, why, false);
	}
	size_t hl = strlen(c->mac_hex);
	if (hl / 2 > sizeof(stackbuf))
		bin = malloc(hl / 2);
	if (hl % 2 != 0 || hl == 0 || !bin || !hex_decode(bin, hl / 2,
							  c->mac_hex)) {
		if (bin != stackbuf)
			free(bin);
		return refuse(c, pub, RPC_STATUS_UNAUTHENTICATED,
			      "macaroon is not valid hex", false);
	}
	if (!svc) {
		if (bin != stackbuf)
			free(bin);
		return refuse(c, pub, RPC_STATUS_UNAUTHENTICATED,
			      "macaroons are not available on this server",
			      false);
	}
	/* A client sends the same macaroon on every call: its signature is
	 * checked once per connection; caveats and permissions every time. */
	if (!rpc_mac_verified_is(s->mac_ok, bin, hl / 2)) {
		struct rpc_mac_verified *v = rpc_mac_authenticate(
			svc, why, sizeof(why), bin, hl / 2);
		if (!v) {
			if (bin != stackbuf)
				free(bin);
			return refuse(c, pub, RPC_STATUS_UNAUTHENTICATED, why,
				      true);
		}
		rpc_mac_verified_free(s->mac_ok);
		s->mac_ok = v;
	}
	if (bin != stackbuf)
		free(bin);
	/* A public method lists no permissions: any valid macaroon of ours
	 * whose caveats hold will do. */
	st = rpc_mac_authorize(s->mac_ok, why, sizeof(why), c->path,
			       me->perms, me->m.num_perms, s->peer_ip,
			       (int64_t)time(NULL));
	if (st != RPC_STATUS_OK)
		return refuse(c, pub, st, why, true);
	s->authed = true;
	return true;
}

/* A macaroon-less call (health) on a pre-auth connection: capped per
 * connection and per server, so that streams nobody authenticated cannot
 * pile up (issue 22: 128 Watch streams x 4 MiB on one connection).
 * Returns false if the call was refused. */
static bool unauth_admit(struct rpc_call *c)
{
	struct rpc_session *s = c->sess;
	struct rpc_server *srv = s->srv;
	char msg[160];

	if (s->authed)
		return true;
	if (s->unauth_calls >= srv->cfg.max_unauth_calls) {
		count_unauth_refused(s);
		snprintf(msg, sizeof(msg), "too many calls without a macaroon "
			 "on this connection (%zu)", srv->cfg.max_unauth_calls);
		rpc_call_finish(c, RPC_STATUS_RESOURCE_EXHAUSTED, msg);
		return false;
	}
	if (srv->unauth_calls >= srv->cfg.max_unauth_calls_total) {
		count_unauth_refused(s);
		snprintf(msg, sizeof(msg), "too many calls without a macaroon "
			 "on this server (%zu)",
			 srv->cfg.max_unauth_calls_total);
		if (conn_may_log(s) &&
		    log_burst_allow(&srv->log_refused, cn_now(), subsys(s),
				    "refused calls"))
			log_info(subsys(s), "%s: %s", s->peer, msg);
		rpc_call_finish(c, RPC_STATUS_RESOURCE_EXHAUSTED, msg);
		return false;
	}
	c->unauth = true;
	s->unauth_calls++;
	srv->unauth_calls++;
	return true;
}

/* All request headers are in: decide what happens to the call. */
static void call_dispatch(struct rpc_call *c)
{
	struct rpc_server *srv = c->sess->srv;
	char msg[200];

	if (!c->is_post || (!c->path && !c->path_long)) {
		submit_http_error(c, "405");
		return;
	}
	/* PROTOCOL-HTTP2.md: "If Content-Type does not begin with
	 * "application/grpc", gRPC servers SHOULD respond with HTTP status
	 * of 415 (Unsupported Media Type)." */
	if (!c->grpc_ct) {
		submit_http_error(c, "415");
		return;
	}
	struct rpc_method_entry *me = c->path ? find_method(srv, c->path)
					      : NULL;
	if (!me) {
		snprintf(msg, sizeof(msg), "unknown method %.150s",
			 c->path ? c->path : "(path too long)");
		rpc_call_finish(c, RPC_STATUS_UNIMPLEMENTED, msg);
		return;
	}
	if (c->timeout_bad) {
		rpc_call_finish(c, RPC_STATUS_INVALID_ARGUMENT,
				"malformed grpc-timeout");
		return;
	}
	bool passed = authorize(c, me);
	/* Checked: the macaroon's hex copy is not needed any more. */
	free(c->mac_hex);
	c->mac_hex = NULL;
	if (!passed && !me->m.no_macaroon)
		return;
	/* A call whose macaroon passed makes the connection safe from the
	 * pre-auth deadline (handshake_timeout) and, unless the owner
	 * decides (owner_authenticates), authenticated in the budget.  A
	 * macaroon-less call (health) proves nothing: it neither stops the
	 * deadline nor lifts the pre-auth caps, so a health client that
	 * holds no macaroon is closed after handshake_timeout like any
	 * other pre-auth connection. */
	if (passed && c->sess->conn)
		rpc_conn_authorised(c->sess->conn,
				    !srv->cfg.owner_authenticates);
	if (me->m.no_macaroon && !unauth_admit(c))
		return;
	if (me->m.max_calls && me->active >= me->m.max_calls) {
		snprintf(msg, sizeof(msg),
			 "too many concurrent calls of %.150s", c->path);
		rpc_call_finish(c, RPC_STATUS_RESOURCE_EXHAUSTED, msg);
		return;
	}
	c->me = me;
	c->started = true;
	me->active++;
	/* Public methods take tiny requests (a health check's service name):
	 * their messages are capped far below max_recv_msg, so a call nobody
	 * authenticated cannot make us buffer megabytes. */
	if (me->m.no_macaroon && srv->cfg.max_unauth_msg < c->framer.max)
		c->framer.max = srv->cfg.max_unauth_msg;
	if (c->has_timeout) {
		ev_timer_init(&c->deadline, deadline_cb, c->timeout, 0);
		c->deadline.data = c;
		ev_timer_start(srv->loop, &c->deadline);
	}
	if (me->m.on_start)
		me->m.on_start(me->m.arg, c);
}

static bool single_request(const struct rpc_call *c)
{
	switch (c->me->m.kind) {
	case RPC_KIND_UNARY:
	case RPC_KIND_SERVER_STREAM:
		return true;
	case RPC_KIND_CLIENT_STREAM:
	case RPC_KIND_BIDI_STREAM:
		return false;
	}
	abort();
}

static bool on_msg(void *arg, const uint8_t *msg, size_t len)
{
	struct rpc_call *c = arg;
	c->nmsgs++;
	if (single_request(c) && c->nmsgs > 1) {
		rpc_call_finish(c, RPC_STATUS_INTERNAL,
				"more than one request message for a "
				"non-client-streaming method");
		return false;
	}
	c->me->m.on_message(c->me->m.arg, c, msg, len);
	return !c->finishing;
}

static void call_data(struct rpc_call *c, const uint8_t *data, size_t len)
{
	char msg[120];
	if (!c->started || c->finishing)
		return; /* refused or done: the bytes are just flow control */
	switch (rpc_framer_feed(&c->framer, data, len, on_msg, c)) {
	case RPC_FRAME_OK:
	case RPC_FRAME_STOPPED:
		return;
	case RPC_FRAME_TOO_BIG:
		if (c->me->m.no_macaroon)
			count_unauth_refused(c->sess);
		snprintf(msg, sizeof(msg),
			 "request message larger than max (%u vs. %zu)",
			 be32_get(c->framer.hdr + 1), c->framer.max);
		rpc_call_finish(c, RPC_STATUS_RESOURCE_EXHAUSTED, msg);
		return;
	case RPC_FRAME_COMPRESSED:
		rpc_call_finish(c, RPC_STATUS_UNIMPLEMENTED,
				"compressed messages are not supported");
		return;
	case RPC_FRAME_BAD_FLAG:
		rpc_call_finish(c, RPC_STATUS_INTERNAL,
				"invalid message compression flag");
		return;
	}
}

static void call_half_close(struct rpc_call *c)
{
	c->remote_closed = true;
	if (!c->started || c->finishing)
		return;
	if (!rpc_framer_at_boundary(&c->framer)) {
		rpc_call_finish(c, RPC_STATUS_INTERNAL,
				"stream ended inside a message");
		return;
	}
	if (single_request(c) && c->nmsgs == 0) {
		rpc_call_finish(c, RPC_STATUS_INTERNAL,
				"no request message");
		return;
	}
	if (c->me->m.on_half_close)
		c->me->m.on_half_close(c->me->m.arg, c);
}

/* ---- nghttp2 callbacks ---------------------------------------------------- */

static ssize_t send_cb(nghttp2_session *h2, const uint8_t *data, size_t len,
		       int flags, void *user)
{
	/* We only use mem_send. */
	return NGHTTP2_ERR_CALLBACK_FAILURE;
}

static int on_begin_headers(nghttp2_session *h2, const nghttp2_frame *frame,
			    void *user)
{
	struct rpc_session *s = user;
	if (frame->hd.type != NGHTTP2_HEADERS ||
	    frame->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	struct rpc_call *c = calloc(1, sizeof(*c));
	if (!c)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	c->sess = s;
	c->t0 = cn_now();
	c->stream_id = frame->hd.stream_id;
	rpc_framer_init(&c->framer, s->srv->cfg.max_recv_msg);
	c->next = s->calls;
	if (s->calls)
		s->calls->prev = c;
	s->calls = c;
	s->ncalls++;
	nghttp2_session_set_stream_user_data(h2, c->stream_id, c);
	return 0;
}

/* At most one line per connection per this many seconds: a client that
 * keeps opening streams must not be able to flood the log. */
#define REFUSED_LOG_INTERVAL 10.0

static const char *max_streams_flag(const struct rpc_session *s)
{
	return s->srv->cfg.max_streams_flag ? s->srv->cfg.max_streams_flag
					    : "rpc_server_config.max_streams";
}

/* nghttp2 enforces our SETTINGS_MAX_CONCURRENT_STREAMS itself and tells
 * us here.  RFC 9113 §5.1.2: "An endpoint that receives a HEADERS frame
 * that causes its advertised concurrent stream limit to be exceeded MUST
 * treat this as a connection error ... or a stream error of type
 * PROTOCOL_ERROR or REFUSED_STREAM".  nghttp2 1.52 refuses just the
 * stream while our SETTINGS are not yet acknowledged (a client racing
 * them, the usual case), and ends the connection with PROTOCOL_ERROR
 * once the client has acknowledged the limit and still exceeds it. */
static int on_invalid_frame(nghttp2_session *h2, const nghttp2_frame *frame,
			    int lib_error, void *user)
{
	struct rpc_session *s = user;
	size_t cap = s->srv->cfg.max_streams;

	if (frame->hd.type != NGHTTP2_HEADERS)
		return 0;
	if (lib_error == NGHTTP2_ERR_REFUSED_STREAM) {
		double now = cn_now();
		s->refused_unlogged++;
		if (s->refused_logged_at != 0 &&
		    now - s->refused_logged_at < REFUSED_LOG_INTERVAL)
			return 0;
		log_unusual(subsys(s), "refusing stream from %s: max streams "
			    "per connection (%zu) reached (%s); %" PRIu64
			    " refused since the last such line",
			    s->peer, cap, max_streams_flag(s),
			    s->refused_unlogged);
		s->refused_unlogged = 0;
		s->refused_logged_at = now;
		return 0;
	}
	if (lib_error == NGHTTP2_ERR_PROTO &&
	    frame->headers.cat == NGHTTP2_HCAT_REQUEST &&
	    !nghttp2_session_get_stream_user_data(h2, frame->hd.stream_id) &&
	    s->ncalls >= cap)
		log_unusual(subsys(s), "closing connection from %s: it opened "
			    "more than max streams per connection (%zu) after "
			    "acknowledging that limit (%s)",
			    s->peer, cap, max_streams_flag(s));
	return 0;
}

static bool hdr_is(const uint8_t *name, size_t len, const char *want)
{
	return len == strlen(want) && memcmp(name, want, len) == 0;
}

/* The call's header list is over the limit and its stream is about to be
 * reset: finished (RESOURCE_EXHAUSTED, counted once) without a response,
 * which the reset would overtake.  A started call (trailers over the
 * limit) gets a status its data callback can still send. */
static void header_list_refused(struct rpc_call *c)
{
	if (c->finishing)
		return;
	c->finishing = true;
	c->status = RPC_STATUS_RESOURCE_EXHAUSTED;
	c->status_msg = strdup("request header list too large");
	if (!c->status_msg)
		abort(); /* out of memory for a few bytes */
	count_call(c, RPC_STATUS_RESOURCE_EXHAUSTED);
	if (c->headers_sent)
		nghttp2_session_resume_data(c->sess->h2, c->stream_id);
}

/* Every header of a request passes here, so its cost must not depend on
 * how the client compressed it: HPACK lets one 4 KB value, indexed once,
 * come back for each 1-byte reference (issue 22).  The header list is
 * measured as RFC 9113 §6.5.2 does ("the uncompressed size of header
 * fields, including the length of the name and value in octets plus an
 * overhead of 32 octets for each header field") against the
 * SETTINGS_MAX_HEADER_LIST_SIZE we advertise, which nghttp2 only
 * advertises.  Past it the stream is reset at once: nghttp2 then skips
 * the rest of the block without validating or handing us its headers, so
 * a reference costs a table lookup, not a 4 KB scan.  The call is
 * counted as RESOURCE_EXHAUSTED (gRPC's 431).  On a pre-auth connection
 * the whole connection is closed instead, and it also has a budget for
 * all its header bytes: past it the connection is closed. */
static int on_header(nghttp2_session *h2, const nghttp2_frame *frame,
		     const uint8_t *name, size_t namelen, const uint8_t *value,
		     size_t valuelen, uint8_t flags, void *user)
{
	struct rpc_session *s = user;
	/* Trailers (a second HEADERS on the stream) count too: nghttp2
	 * validates their fields just the same. */
	if (frame->hd.type != NGHTTP2_HEADERS)
		return 0;
	struct rpc_call *c = nghttp2_session_get_stream_user_data(
		h2, frame->hd.stream_id);
	if (!c)
		return 0;
	size_t sz = namelen + valuelen + 32;
	if (!s->authed) {
		s->preauth_hdr += sz;
		if (s->preauth_hdr > s->srv->cfg.max_preauth_header_bytes) {
			count_headers_refused(s);
			s->fatal = "request headers over the pre-auth budget";
			return NGHTTP2_ERR_CALLBACK_FAILURE;
		}
	}
	c->hdr_size += sz;
	if (c->hdr_size > s->srv->cfg.max_header_list) {
		c->hdr_overflow = true;
		count_headers_refused(s);
		header_list_refused(c);
		/* No gRPC client sends this before it authenticated: drop
		 * the connection, so that the rest of the block (and of the
		 * read) is not even decoded. */
		if (!s->authed) {
			s->fatal = "request header list over the limit before "
				   "authentication";
			return NGHTTP2_ERR_CALLBACK_FAILURE;
		}
		/* nghttp2 resets the stream (RST_STREAM INTERNAL_ERROR: a
		 * response could not overtake it) and skips the rest. */
		log_debug(subsys(s), "%s: stream %d reset: request header list "
			  "over %zu bytes", s->peer, c->stream_id,
			  s->srv->cfg.max_header_list);
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	}
	if (frame->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	if (hdr_is(name, namelen, ":path")) {
		free(c->path);
		c->path = NULL;
		c->path_long = valuelen > MAX_PATH_LEN;
		if (!c->path_long)
			c->path = strndup((const char *)value, valuelen);
	} else if (hdr_is(name, namelen, ":method")) {
		c->is_post = valuelen == 4 && memcmp(value, "POST", 4) == 0;
	} else if (hdr_is(name, namelen, "content-type")) {
		c->grpc_ct = valuelen >= 16 &&
			     memcmp(value, "application/grpc", 16) == 0;
	} else if (hdr_is(name, namelen, "grpc-timeout")) {
		c->has_timeout = rpc_parse_grpc_timeout(
			&c->timeout, (const char *)value, valuelen);
		c->timeout_bad = !c->has_timeout;
	} else if (hdr_is(name, namelen, "macaroon")) {
		/* Only the first is kept: a repeated one refuses the call
		 * ("expected 1 macaroon"), so copying it would only let a
		 * client make us copy 16 KiB per 1-byte HPACK reference. */
		if (++c->mac_count == 1)
			c->mac_hex = valuelen <= MAX_MAC_HEX
				? strndup((const char *)value, valuelen)
				: strdup("too long");
	}
	return 0;
}

static int on_frame_recv(nghttp2_session *h2, const nghttp2_frame *frame,
			 void *user)
{
	struct rpc_session *s = user;
	struct rpc_call *c;

	switch (frame->hd.type) {
	case NGHTTP2_HEADERS:
		c = nghttp2_session_get_stream_user_data(h2,
							 frame->hd.stream_id);
		if (!c)
			return 0;
		if (frame->headers.cat == NGHTTP2_HCAT_REQUEST &&
		    !c->headers_sent && !c->started && !c->finishing)
			call_dispatch(c);
		if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)
			call_half_close(c);
		return 0;
	case NGHTTP2_DATA:
		c = nghttp2_session_get_stream_user_data(h2,
							 frame->hd.stream_id);
		if (c && (frame->hd.flags & NGHTTP2_FLAG_END_STREAM))
			call_half_close(c);
		return 0;
	case NGHTTP2_GOAWAY:
		log_debug(subsys(s), "%s sent GOAWAY", s->peer);
		return 0;
	default:
		return 0;
	}
}

static int on_data_chunk(nghttp2_session *h2, uint8_t flags, int32_t sid,
			 const uint8_t *data, size_t len, void *user)
{
	struct rpc_call *c = nghttp2_session_get_stream_user_data(h2, sid);
	if (c)
		call_data(c, data, len);
	return 0;
}

static int on_frame_send(nghttp2_session *h2, const nghttp2_frame *frame,
			 void *user)
{
	/* We sent our END_STREAM while the client still may send: reset
	 * with NO_ERROR so the stream (and the call) ends now (RFC 9113
	 * §8.1: "A server can send a complete response prior to the client
	 * sending an entire request ... RST_STREAM with an error code of
	 * NO_ERROR"). */
	if ((frame->hd.type == NGHTTP2_HEADERS ||
	     frame->hd.type == NGHTTP2_DATA) &&
	    (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
		struct rpc_call *c = nghttp2_session_get_stream_user_data(
			h2, frame->hd.stream_id);
		if (c && !c->remote_closed)
			nghttp2_submit_rst_stream(h2, NGHTTP2_FLAG_NONE,
						  frame->hd.stream_id,
						  NGHTTP2_NO_ERROR);
	}
	return 0;
}

static int on_stream_close(nghttp2_session *h2, int32_t sid,
			   uint32_t error_code, void *user)
{
	struct rpc_call *c = nghttp2_session_get_stream_user_data(h2, sid);
	if (!c)
		return 0;
	enum rpc_status why = c->done_sending ? c->status
					      : RPC_STATUS_CANCELLED;
	if (c->close_conn)
		rpc_session_goaway(c->sess);
	nghttp2_session_set_stream_user_data(h2, sid, NULL);
	call_destroy(c, why);
	return 0;
}

struct rpc_session *rpc_session_new(struct rpc_server *srv,
				    struct rpc_conn *conn, const char *peer,
				    const char *peer_ip)
{
	struct rpc_session *s = calloc(1, sizeof(*s));
	nghttp2_session_callbacks *cbs = NULL;
	nghttp2_option *opt = NULL;
	if (!s)
		return NULL;
	s->srv = srv;
	s->conn = conn;
	s->peer = strdup(peer);
	s->peer_ip = peer_ip ? strdup(peer_ip) : NULL;
	if (!s->peer || (peer_ip && !s->peer_ip) ||
	    nghttp2_session_callbacks_new(&cbs) != 0 ||
	    nghttp2_option_new(&opt) != 0)
		goto fail;
	nghttp2_session_callbacks_set_send_callback(cbs, send_cb);
	nghttp2_session_callbacks_set_on_begin_headers_callback(
		cbs, on_begin_headers);
	nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cbs,
							     on_frame_recv);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(
		cbs, on_data_chunk);
	nghttp2_session_callbacks_set_on_frame_send_callback(cbs,
							     on_frame_send);
	nghttp2_session_callbacks_set_on_stream_close_callback(
		cbs, on_stream_close);
	nghttp2_session_callbacks_set_on_invalid_frame_recv_callback(
		cbs, on_invalid_frame);
	nghttp2_option_set_max_send_header_block_length(opt, 64 * 1024);
	if (nghttp2_session_server_new2(&s->h2, cbs, s, opt) != 0)
		goto fail;
	nghttp2_settings_entry iv[] = {
		{ NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS,
		  (uint32_t)srv->cfg.max_streams },
		{ NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE,
		  (uint32_t)srv->cfg.max_header_list },
		{ NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1024 * 1024 },
	};
	if (nghttp2_submit_settings(s->h2, NGHTTP2_FLAG_NONE, iv,
				    CN_ARRAY_SIZE(iv)) != 0)
		goto fail;
	/* A connection-level window as large as the streams' together. */
	nghttp2_session_set_local_window_size(s->h2, NGHTTP2_FLAG_NONE, 0,
					      8 * 1024 * 1024);
	nghttp2_session_callbacks_del(cbs);
	nghttp2_option_del(opt);
	return s;
fail:
	nghttp2_session_callbacks_del(cbs);
	nghttp2_option_del(opt);
	if (s->h2)
		nghttp2_session_del(s->h2);
	free(s->peer);
	free(s->peer_ip);
	free(s);
	return NULL;
}

void rpc_session_free(struct rpc_session *s, enum rpc_status why)
{
	if (!s)
		return;
	/* nghttp2_session_del does not report stream closes: do it here. */
	while (s->calls) {
		struct rpc_call *c = s->calls;
		if (c->done_sending)
			why = c->status;
		call_destroy(c, why);
	}
	/* The rate limit held these back: count them before they are lost. */
	if (s->refused_unlogged)
		log_unusual(subsys(s), "%s: %" PRIu64 " more streams refused at "
			    "max streams per connection (%zu) (%s)", s->peer,
			    s->refused_unlogged, s->srv->cfg.max_streams,
			    max_streams_flag(s));
	nghttp2_session_del(s->h2);
	rpc_mac_verified_free(s->mac_ok);
	free(s->peer);
	free(s->peer_ip);
	free(s);
}

bool rpc_session_recv(struct rpc_session *s, const uint8_t *data, size_t len)
{
	ssize_t r = nghttp2_session_mem_recv(s->h2, data, len);
	if (r < 0) {
		bool info = conn_may_log(s) &&
			    log_burst_allow(&s->srv->log_h2, cn_now(),
					    subsys(s), "HTTP/2 errors");
		log_msg(subsys(s), info ? LOG_INFO : LOG_DEBUG,
			"%s: HTTP/2 error: %s", s->peer,
			s->fatal ? s->fatal : nghttp2_strerror((int)r));
		return false;
	}
	return true;
}

ssize_t rpc_session_pull(struct rpc_session *s, const uint8_t **out)
{
	ssize_t r = nghttp2_session_mem_send(s->h2, out);
	if (r < 0)
		log_info(subsys(s), "%s: HTTP/2 send error: %s", s->peer,
			 nghttp2_strerror((int)r));
	return r;
}

bool rpc_session_alive(const struct rpc_session *s)
{
	return nghttp2_session_want_read(s->h2) ||
	       nghttp2_session_want_write(s->h2);
}

bool rpc_session_want_write(const struct rpc_session *s)
{
	return nghttp2_session_want_write(s->h2);
}

size_t rpc_session_queued(const struct rpc_session *s)
{
	return s->queued;
}

size_t rpc_session_open_streams(const struct rpc_session *s)
{
	return s->ncalls;
}

void rpc_session_goaway(struct rpc_session *s)
{
	/* RFC 9113 §6.8: GOAWAY with NO_ERROR "to initiate shutdown of a
	 * connection"; nghttp2 stops reading and writing once it is sent, so
	 * rpc_session_alive turns false and the adapter closes. */
	if (nghttp2_session_terminate_session(s->h2, NGHTTP2_NO_ERROR) != 0)
		log_info(subsys(s), "%s: cannot queue GOAWAY", s->peer);
}
