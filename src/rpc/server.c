/*~ server: the libev adapter of the gRPC server.  It owns the listening
 * sockets and each connection's fd, TLS object and buffers; it moves bytes
 * between the socket and the connection's sans-I/O session (call.c).
 *
 * A connection is torn down in one place, conn_destroy, always from a
 * fresh loop callback (close_cb), never from inside a user's call into
 * rpc_call_send/finish, so owners never see a call vanish under them.
 *
 * Slots are scarce, so they are handed out by the connection budget
 * (src/admit): TCP and the unix socket each have one; a connection is
 * pre-auth until a call's macaroon passes (with owner_authenticates: until
 * the method's owner calls rpc_call_authenticated), then authenticated
 * and never evicted.  A source over its pre-auth cap is closed right after accept,
 * before SSL_new: no TLS work at all.  A pre-auth connection must make an
 * authorised call within handshake_timeout of accept (bytes alone prove
 * nothing, and so does a macaroon-less health call), and one with no open
 * stream for idle_timeout is sent a GOAWAY.  A long-lived stream (the
 * signer's, SubscribeState, a Health Watch on an authenticated connection)
 * keeps its connection.
 */
#include "rpc/rpc_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define READ_CHUNK (16 * 1024)
/* Stop pulling from nghttp2 while this much waits for the socket. */
#define OUT_HIGH_WATER (64 * 1024)

struct rpc_listener {
	struct rpc_server *srv;
	int fd;
	ev_io w;
	uint16_t port;
	bool is_unix;
};

struct rpc_conn {
	struct rpc_server *srv;
	struct rpc_conn *next, *prev;
	int fd;
	ev_io rio, wio;
	ev_timer hs_timer;  /* accept until the first authorised call */
	ev_timer idle_timer; /* runs while authorised with no open stream */
	ev_timer close_timer; /* deferred teardown */
	ev_timer flush_timer; /* deferred write after an owner's send */
	SSL *ssl;           /* NULL: cleartext */
	bool tls_done, authorised, closing;
	bool goaway;        /* idle GOAWAY queued: the session is ending */
	int busy;           /* inside session recv/pull: no flush */
	bool want_flush;
	struct rpc_session *sess;
	uint8_t *out;       /* bytes for the socket, owned */
	size_t out_len, out_off, out_cap;
	char peer[72];
	char peer_ip[INET6_ADDRSTRLEN];
	bool is_unix;
	struct admit *admit;     /* borrowed: the server's, by listener */
	struct admit_slot *slot; /* owned; released in conn_destroy */
};

static void conn_flush(struct rpc_conn *conn);

void rpc_server_config_default(struct rpc_server_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->max_recv_msg = 4 * 1024 * 1024;
	cfg->max_unauth_msg = 1024;
	cfg->max_unauth_calls = 4;
	cfg->max_unauth_calls_total = 256;
	cfg->max_header_list = 32 * 1024;
	cfg->max_preauth_header_bytes = 256 * 1024;
	cfg->max_streams = 128;
	cfg->max_conns = 256;
	cfg->max_preauth = 128;
	cfg->max_preauth_per_source = 32;
	cfg->max_unix_preauth = 32;
	cfg->max_send_queue = 16 * 1024 * 1024;
	cfg->handshake_timeout = 10;
	cfg->idle_timeout = 300;
	cfg->log_subsys = "RPC";
}

/* ---- connection teardown -------------------------------------------------- */

static void conn_destroy(struct rpc_conn *conn, enum rpc_status why)
{
	struct rpc_server *srv = conn->srv;
	ev_io_stop(srv->loop, &conn->rio);
	ev_io_stop(srv->loop, &conn->wio);
	ev_timer_stop(srv->loop, &conn->hs_timer);
	ev_timer_stop(srv->loop, &conn->idle_timer);
	ev_timer_stop(srv->loop, &conn->close_timer);
	ev_timer_stop(srv->loop, &conn->flush_timer);
	/* Keep the conn valid while owners hear about their calls. */
	conn->closing = true;
	conn->busy++;
	rpc_session_free(conn->sess, why);
	conn->sess = NULL;
	if (conn->ssl)
		SSL_free(conn->ssl);
	close(conn->fd);
	if (conn->prev)
		conn->prev->next = conn->next;
	else
		srv->conns = conn->next;
	if (conn->next)
		conn->next->prev = conn->prev;
	srv->num_conns--;
	admit_release(conn->admit, conn->slot);
	free(conn->out);
	free(conn);
}

static void close_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	conn_destroy(w->data, RPC_STATUS_UNAVAILABLE);
}

/* Drop the connection soon (not from inside this call). */
static void rpc_conn_close_later(struct rpc_conn *conn, const char *why)
{
	if (conn->closing)
		return;
	conn->closing = true;
	log_debug(conn->srv->subsys, "%s: closing: %s", conn->peer, why);
	ev_io_stop(conn->srv->loop, &conn->rio);
	ev_io_stop(conn->srv->loop, &conn->wio);
	ev_timer_start(conn->srv->loop, &conn->close_timer);
}

/* Whoever can reach the port can open a connection; only one that gets
 * a call authorised keeps its slot.  Unusual: a real client calls at
 * once, so this is a scanner, a stuck client or someone holding slots. */
static void hs_timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct rpc_conn *conn = w->data;
	char why[64];
	snprintf(why, sizeof(why), "no authorised call within %gs",
		 conn->srv->cfg.handshake_timeout);
	admit_note(conn->admit, ADMIT_TIMED_OUT, conn->peer, why, cn_now());
	rpc_conn_close_later(conn, "no authorised call");
}

void rpc_conn_authorised(struct rpc_conn *conn, bool authenticated)
{
	if (authenticated && !admit_is_authenticated(conn->slot))
		admit_authenticated(conn->admit, conn->slot, conn->peer);
	if (conn->authorised)
		return;
	conn->authorised = true;
	ev_timer_stop(conn->srv->loop, &conn->hs_timer);
}

/* The budget chose this pre-auth connection to make room for a newcomer. */
static void evict_cb(void *arg, void *owner)
{
	struct rpc_conn *conn = owner;
	(void)arg;
	rpc_conn_close_later(conn, "evicted (pre-auth budget full)");
}

static void idle_timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct rpc_conn *conn = w->data;
	if (conn->closing)
		return;
	log_info(conn->srv->subsys, "%s: no open stream for %gs, closing "
		 "with GOAWAY", conn->peer, conn->srv->cfg.idle_timeout);
	conn->goaway = true;
	rpc_session_goaway(conn->sess);
	/* Sending the GOAWAY ends the session; conn_flush then closes. */
	conn_flush(conn);
}

/* Runs the idle timer exactly while an authorised connection has no open
 * stream.  Streams open and close only inside rpc_session_recv/pull, and
 * conn_flush follows both, so it calls this at its end.  Restarting on
 * each change gives a full idle_timeout after the last stream closed. */
static void conn_idle_update(struct rpc_conn *conn)
{
	struct ev_loop *loop = conn->srv->loop;
	if (!conn->authorised || conn->goaway ||
	    conn->srv->cfg.idle_timeout <= 0)
		return;
	if (rpc_session_open_streams(conn->sess) > 0)
		ev_timer_stop(loop, &conn->idle_timer);
	else if (!ev_is_active(&conn->idle_timer))
		ev_timer_start(loop, &conn->idle_timer);
}

/* ---- output --------------------------------------------------------------- */

/* Bytes the adapter holds for the socket plus what the session queued. */
static size_t rpc_conn_queued(const struct rpc_conn *conn)
{
	return conn->out_len - conn->out_off +
	       (conn->sess ? rpc_session_queued(conn->sess) : 0);
}

static bool out_append(struct rpc_conn *conn, const uint8_t *p, size_t n)
{
	if (conn->out_off == conn->out_len)
		conn->out_off = conn->out_len = 0;
	if (conn->out_len + n > conn->out_cap) {
		size_t cap = (conn->out_len + n) * 2;
		uint8_t *nb = realloc(conn->out, cap);
		if (!nb)
			return false;
		conn->out = nb;
		conn->out_cap = cap;
	}
	memcpy(conn->out + conn->out_len, p, n);
	conn->out_len += n;
	return true;
}

/* Writes what we can.  Returns false on a fatal socket/TLS error. */
static bool out_write(struct rpc_conn *conn)
{
	while (conn->out_off < conn->out_len) {
		size_t n = conn->out_len - conn->out_off;
		ssize_t w;
		if (conn->ssl) {
			ERR_clear_error();
			int r = SSL_write(conn->ssl, conn->out + conn->out_off,
					  n > INT32_MAX ? INT32_MAX : (int)n);
			if (r <= 0) {
				int e = SSL_get_error(conn->ssl, r);
				if (e == SSL_ERROR_WANT_WRITE ||
				    e == SSL_ERROR_WANT_READ)
					return true;
				return false;
			}
			w = r;
		} else {
			w = send(conn->fd, conn->out + conn->out_off, n,
				 MSG_NOSIGNAL);
			if (w < 0) {
				if (errno == EAGAIN || errno == EWOULDBLOCK ||
				    errno == EINTR)
					return true;
				return false;
			}
		}
		conn->out_off += (size_t)w;
	}
	return true;
}

static void conn_flush(struct rpc_conn *conn)
{
	struct rpc_server *srv = conn->srv;
	ev_timer_stop(srv->loop, &conn->flush_timer);
	if (conn->closing || !conn->tls_done)
		return;
	conn->want_flush = false;
	for (;;) {
		/* Pull frames from nghttp2 while the socket keeps up. */
		conn->busy++;
		while (conn->out_len - conn->out_off < OUT_HIGH_WATER) {
			const uint8_t *p;
			ssize_t r = rpc_session_pull(conn->sess, &p);
			if (r < 0) {
				conn->busy--;
				rpc_conn_close_later(conn, "HTTP/2 send error");
				return;
			}
			if (r == 0)
				break;
			if (!out_append(conn, p, (size_t)r)) {
				conn->busy--;
				rpc_conn_close_later(conn, "out of memory");
				return;
			}
		}
		conn->busy--;
		size_t before = conn->out_off;
		if (!out_write(conn)) {
			rpc_conn_close_later(conn, "write error");
			return;
		}
		if (conn->out_off < conn->out_len) {
			/* Socket full: wait for it. */
			ev_io_start(srv->loop, &conn->wio);
			break;
		}
		if (!rpc_session_want_write(conn->sess) ||
		    conn->out_off == before) {
			ev_io_stop(srv->loop, &conn->wio);
			break;
		}
	}
	/* A peer that does not read while we keep producing. */
	if (rpc_conn_queued(conn) > srv->cfg.max_send_queue) {
		log_info(srv->subsys, "%s: dropping slow reader (%zu bytes "
			 "queued)", conn->peer, rpc_conn_queued(conn));
		rpc_conn_close_later(conn, "slow reader");
		return;
	}
	if (!rpc_session_alive(conn->sess) && conn->out_off == conn->out_len) {
		rpc_conn_close_later(conn, "session finished");
		return;
	}
	conn_idle_update(conn);
}

static void flush_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	conn_flush(w->data);
}

/* Never flushes synchronously: writing lets nghttp2 close streams, and an
 * owner inside rpc_call_send must not see on_closed (of this or another
 * call) before it returns.  Inside a read the flush follows the read; else
 * it runs from the loop, batching all sends of this iteration. */
void rpc_conn_kick(struct rpc_conn *conn)
{
	if (conn->busy)
		conn->want_flush = true;
	else if (!conn->closing && !ev_is_active(&conn->flush_timer))
		ev_timer_start(conn->srv->loop, &conn->flush_timer);
}

/* ---- input ---------------------------------------------------------------- */

static void tls_handshake(struct rpc_conn *conn)
{
	ERR_clear_error();
	int r = SSL_accept(conn->ssl);
	if (r == 1) {
		const unsigned char *alpn = NULL;
		unsigned alen = 0;
		SSL_get0_alpn_selected(conn->ssl, &alpn, &alen);
		if (alen != 2 || memcmp(alpn, "h2", 2) != 0) {
			/* No ALPN at all: the preface check decides. */
			log_debug(conn->srv->subsys, "%s: no ALPN h2",
				  conn->peer);
		}
		conn->tls_done = true;
		ev_io_stop(conn->srv->loop, &conn->wio);
		conn_flush(conn); /* our SETTINGS */
		return;
	}
	int e = SSL_get_error(conn->ssl, r);
	if (e == SSL_ERROR_WANT_READ) {
		ev_io_stop(conn->srv->loop, &conn->wio);
		return;
	}
	if (e == SSL_ERROR_WANT_WRITE) {
		ev_io_start(conn->srv->loop, &conn->wio);
		return;
	}
	char buf[160];
	ERR_error_string_n(ERR_peek_error(), buf, sizeof(buf));
	/* Anyone can fail a handshake: capped, so a flood of them cannot
	 * rotate the log files away. */
	log_msg(conn->srv->subsys,
		log_burst_allow(&conn->srv->log_tls, cn_now(),
				conn->srv->subsys, "TLS handshake failures")
			? LOG_INFO : LOG_DEBUG,
		"%s: TLS handshake failed: %s", conn->peer,
		ERR_peek_error() ? buf : "connection closed");
	rpc_conn_close_later(conn, "TLS handshake failed");
}

static void conn_read(struct rpc_conn *conn)
{
	uint8_t buf[READ_CHUNK];
	/* Bounded per wakeup, so one busy client cannot starve others. */
	for (int i = 0; i < 16 && !conn->closing; i++) {
		ssize_t n;
		if (conn->ssl) {
			ERR_clear_error();
			int r = SSL_read(conn->ssl, buf, sizeof(buf));
			if (r <= 0) {
				int e = SSL_get_error(conn->ssl, r);
				if (e == SSL_ERROR_WANT_READ ||
				    e == SSL_ERROR_WANT_WRITE)
					break;
				rpc_conn_close_later(conn,
						     e == SSL_ERROR_ZERO_RETURN
						     ? "closed by peer"
						     : "TLS read error");
				return;
			}
			n = r;
		} else {
			n = recv(conn->fd, buf, sizeof(buf), 0);
			if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK ||
				      errno == EINTR))
				break;
			if (n <= 0) {
				rpc_conn_close_later(conn, n == 0
						     ? "closed by peer"
						     : "read error");
				return;
			}
		}
		conn->busy++;
		bool ok = rpc_session_recv(conn->sess, buf, (size_t)n);
		conn->busy--;
		/* Decrypted traffic (the signer's ECDH results) does not stay
		 * on the stack once handled; OpenSSL wipes its own copy
		 * (SSL_OP_CLEANSE_PLAINTEXT, tls.c). */
		sodium_memzero(buf, (size_t)n);
		if (!ok) {
			/* Let nghttp2's GOAWAY out, then close. */
			conn_flush(conn);
			rpc_conn_close_later(conn, "protocol error");
			return;
		}
		if ((size_t)n < sizeof(buf) &&
		    !(conn->ssl && SSL_pending(conn->ssl)))
			break;
	}
	conn_flush(conn);
}

static void io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct rpc_conn *conn = w->data;
	if (conn->closing)
		return;
	if (!conn->tls_done) {
		tls_handshake(conn);
		if (!conn->tls_done || conn->closing)
			return;
	}
	if (revents & EV_READ)
		conn_read(conn);
	else
		conn_flush(conn);
}

/* ---- accepting ------------------------------------------------------------ */

static void peer_name(struct rpc_conn *conn, const struct sockaddr *sa)
{
	uint16_t port = 0;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;
		inet_ntop(AF_INET, &in->sin_addr, conn->peer_ip,
			  sizeof(conn->peer_ip));
		port = ntohs(in->sin_port);
		snprintf(conn->peer, sizeof(conn->peer), "%s:%u",
			 conn->peer_ip, port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;
		inet_ntop(AF_INET6, &in6->sin6_addr, conn->peer_ip,
			  sizeof(conn->peer_ip));
		port = ntohs(in6->sin6_port);
		snprintf(conn->peer, sizeof(conn->peer), "[%s]:%u",
			 conn->peer_ip, port);
	} else {
		conn->is_unix = true;
		strcpy(conn->peer, "unix");
	}
}

/* Accepts one connection; false when there is none left to accept. */
static bool accept_one(struct ev_loop *loop, struct rpc_listener *l)
{
	struct rpc_server *srv = l->srv;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int fd = accept4(l->fd, (struct sockaddr *)&ss, &sl,
			 SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0) {
		if (errno != EAGAIN && errno != EINTR)
			log_unusual(srv->subsys, "accept: %s", strerror(errno));
		return false;
	}
	struct rpc_conn *conn = calloc(1, sizeof(*conn));
	if (!conn) {
		close(fd);
		return true;
	}
	conn->srv = srv;
	conn->fd = fd;
	peer_name(conn, (struct sockaddr *)&ss);
	/* Before SSL_new: a refused source costs us accept and close only. */
	conn->admit = l->is_unix ? srv->admit_unix : srv->admit_tcp;
	conn->slot = admit_accept(conn->admit, (struct sockaddr *)&ss, conn,
				  conn->peer, cn_now());
	if (!conn->slot) {
		close(fd);
		free(conn);
		return true;
	}
	if (!l->is_unix) {
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	conn->sess = rpc_session_new(srv, conn, conn->peer,
				     conn->is_unix ? NULL : conn->peer_ip);
	if (srv->ssl_ctx) {
		conn->ssl = SSL_new(srv->ssl_ctx);
		if (conn->ssl)
			SSL_set_fd(conn->ssl, fd);
	} else {
		conn->tls_done = true;
	}
	if (!conn->sess || (srv->ssl_ctx && !conn->ssl)) {
		admit_release(conn->admit, conn->slot);
		rpc_session_free(conn->sess, RPC_STATUS_UNAVAILABLE);
		SSL_free(conn->ssl);
		close(fd);
		free(conn);
		return true;
	}
	ev_io_init(&conn->rio, io_cb, fd, EV_READ);
	ev_io_init(&conn->wio, io_cb, fd, EV_WRITE);
	conn->rio.data = conn->wio.data = conn;
	ev_timer_init(&conn->hs_timer, hs_timeout_cb,
		      srv->cfg.handshake_timeout, 0);
	conn->hs_timer.data = conn;
	ev_timer_init(&conn->idle_timer, idle_timeout_cb,
		      srv->cfg.idle_timeout, 0);
	conn->idle_timer.data = conn;
	ev_timer_init(&conn->close_timer, close_cb, 0, 0);
	conn->close_timer.data = conn;
	ev_timer_init(&conn->flush_timer, flush_cb, 0, 0);
	conn->flush_timer.data = conn;
	conn->next = srv->conns;
	if (srv->conns)
		srv->conns->prev = conn;
	srv->conns = conn;
	srv->num_conns++;
	ev_io_start(loop, &conn->rio);
	ev_timer_start(loop, &conn->hs_timer);
	log_debug(srv->subsys, "%s: connected", conn->peer);
	/* Admitted and set up: only now is it news to the owner (a refused
	 * flood connection must not start the signer port's early dials). */
	if (srv->cfg.on_accept)
		srv->cfg.on_accept(srv->cfg.on_accept_arg, conn->peer);
	if (!conn->ssl)
		conn_flush(conn); /* our SETTINGS */
	return true;
}

/* Drains the backlog a batch at a time: under a flood the kernel's queue
 * fills, and a legitimate SYN that finds it full waits for its 1 s
 * retransmit. */
static void accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	for (int i = 0; i < 64 && accept_one(loop, w->data); i++)
		;
}

/* ---- listeners ------------------------------------------------------------ */

static int listen_tcp(const char *spec, uint16_t *port, const char *subsys)
{
	char host[256], portstr[8];
	uint16_t portnum;
	if (!cn_split_hostport(host, sizeof(host), &portnum, spec)) {
		log_unusual(subsys, "bad listen address \"%s\" (want host:port "
			    "or [v6]:port)", spec);
		return -1;
	}
	snprintf(portstr, sizeof(portstr), "%u", portnum);
	struct addrinfo hints = { .ai_family = AF_UNSPEC,
				  .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE | AI_NUMERICSERV },
			*res;
	int e = getaddrinfo(host, portstr, &hints, &res);
	if (e != 0) {
		log_unusual(subsys, "listen address \"%s\": %s", spec,
			    gai_strerror(e));
		return -1;
	}
	int fd = socket(res->ai_family,
			SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	if (fd >= 0)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fd < 0 || bind(fd, res->ai_addr, res->ai_addrlen) != 0 ||
	    listen(fd, SOMAXCONN) != 0) {
		log_unusual(subsys, "cannot listen on %s: %s", spec,
			    strerror(errno));
		if (fd >= 0)
			close(fd);
		freeaddrinfo(res);
		return -1;
	}
	freeaddrinfo(res);
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	getsockname(fd, (struct sockaddr *)&ss, &sl);
	*port = ntohs(ss.ss_family == AF_INET
		      ? ((struct sockaddr_in *)&ss)->sin_port
		      : ((struct sockaddr_in6 *)&ss)->sin6_port);
	return fd;
}

static int listen_unix(const char *path, const char *subsys)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct stat st;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		log_unusual(subsys, "unix socket path too long: %s", path);
		return -1;
	}
	strcpy(sun.sun_path, path);
	/* Replace a stale socket, never a regular file. */
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0 ||
	    chmod(path, 0600) != 0 || listen(fd, SOMAXCONN) != 0) {
		log_unusual(subsys, "cannot listen on unix socket %s: %s",
			    path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

struct rpc_server *rpc_server_new(struct ev_loop *loop,
				  const struct rpc_server_config *cfg)
{
	struct rpc_server *srv = calloc(1, sizeof(*srv));
	if (!srv)
		return NULL;
	srv->loop = loop;
	srv->cfg = *cfg;
	srv->cfg.listen = NULL;
	srv->cfg.num_listen = 0;
	srv->cfg.unix_path = NULL;
	srv->cfg.tls_cert_path = srv->cfg.tls_key_path = NULL;
	srv->subsys = cfg->log_subsys ? cfg->log_subsys : "RPC";
	if (srv->cfg.max_streams == 0 || srv->cfg.max_streams > UINT32_MAX ||
	    srv->cfg.max_conns == 0 || srv->cfg.max_preauth == 0 ||
	    srv->cfg.max_unix_preauth == 0 ||
	    srv->cfg.max_recv_msg == 0 || srv->cfg.max_unauth_msg == 0 ||
	    srv->cfg.max_unauth_calls == 0 ||
	    srv->cfg.max_unauth_calls_total == 0 ||
	    srv->cfg.max_header_list < 4096 ||
	    srv->cfg.max_header_list > UINT32_MAX ||
	    srv->cfg.max_preauth_header_bytes < srv->cfg.max_header_list)
		abort(); /* use rpc_server_config_default */
	struct admit_cbs acbs = { .evict = evict_cb, .arg = srv };
	struct admit_config acfg = {
		.name = cfg->admit_name ? cfg->admit_name : "rpc",
		.subsys = srv->subsys,
		.max_unauth = srv->cfg.max_preauth,
		.max_auth = srv->cfg.max_conns,
		.max_per_source = srv->cfg.max_preauth_per_source,
		.unauth_flag = cfg->preauth_flag,
		.per_source_flag = cfg->per_source_flag,
	};
	srv->admit_tcp = admit_new(&acfg, &acbs);
	if (cfg->unix_path) {
		acfg.name = cfg->admit_unix_name ? cfg->admit_unix_name
						 : "rpc-unix";
		acfg.max_unauth = srv->cfg.max_unix_preauth;
		acfg.max_per_source = 0;
		acfg.unauth_flag = acfg.per_source_flag = NULL;
		srv->admit_unix = admit_new(&acfg, &acbs);
	}
	if (cfg->tls_cert_path || cfg->tls_key_path) {
		srv->ssl_ctx = rpc_tls_server_ctx(cfg->tls_cert_path,
						  cfg->tls_key_path);
		if (!srv->ssl_ctx)
			goto fail;
	}
	srv->listeners = calloc(cfg->num_listen + 1, sizeof(*srv->listeners));
	if (!srv->listeners)
		goto fail;
	for (size_t i = 0; i < cfg->num_listen + 1; i++) {
		struct rpc_listener *l = &srv->listeners[srv->num_listeners];
		int fd;
		if (i < cfg->num_listen) {
			fd = listen_tcp(cfg->listen[i], &l->port, srv->subsys);
		} else {
			if (!cfg->unix_path)
				break;
			fd = listen_unix(cfg->unix_path, srv->subsys);
			l->is_unix = true;
			srv->unix_path = strdup(cfg->unix_path);
		}
		if (fd < 0)
			goto fail;
		l->srv = srv;
		l->fd = fd;
		ev_io_init(&l->w, accept_cb, fd, EV_READ);
		l->w.data = l;
		ev_io_start(loop, &l->w);
		srv->num_listeners++;
		if (l->is_unix)
			log_info(srv->subsys, "gRPC listening on %s%s",
				 cfg->unix_path,
				 srv->ssl_ctx ? " (TLS)" : " (cleartext)");
		else
			log_info(srv->subsys, "gRPC listening on %s (port "
				 "%u)%s", cfg->listen[i], l->port,
				 srv->ssl_ctx ? " (TLS)" : " (cleartext)");
	}
	return srv;
fail:
	rpc_server_free(srv);
	return NULL;
}

void rpc_server_free(struct rpc_server *srv)
{
	if (!srv)
		return;
	while (srv->conns)
		conn_destroy(srv->conns, RPC_STATUS_UNAVAILABLE);
	for (size_t i = 0; i < srv->num_listeners; i++) {
		ev_io_stop(srv->loop, &srv->listeners[i].w);
		close(srv->listeners[i].fd);
	}
	if (srv->unix_path)
		unlink(srv->unix_path);
	free(srv->unix_path);
	free(srv->listeners);
	for (size_t i = 0; i < srv->num_methods; i++) {
		struct rpc_method_entry *me = srv->methods[i];
		for (size_t j = 0; j < me->m.num_perms; j++) {
			free((char *)me->perms[j].entity);
			free((char *)me->perms[j].action);
		}
		free(me->perms);
		free(me->path);
		free(me);
	}
	free(srv->methods);
	SSL_CTX_free(srv->ssl_ctx);
	admit_free(srv->admit_tcp);
	admit_free(srv->admit_unix);
	free(srv);
}

static char *xstrdup(const char *s)
{
	char *d = strdup(s);
	if (!d)
		abort(); /* registration happens at startup */
	return d;
}

void rpc_server_add_method(struct rpc_server *srv, const struct rpc_method *m)
{
	if (!m->path || m->path[0] != '/' || !m->on_message ||
	    (!m->no_macaroon && m->num_perms == 0))
		abort();
	for (size_t i = 0; i < srv->num_methods; i++)
		if (strcmp(srv->methods[i]->path, m->path) == 0)
			abort();
	/* Entries are separate allocations: live calls point at them. */
	struct rpc_method_entry **nm = realloc(srv->methods,
					       (srv->num_methods + 1) *
					       sizeof(*nm));
	struct rpc_method_entry *me = calloc(1, sizeof(*me));
	if (!nm || !me)
		abort();
	srv->methods = nm;
	srv->methods[srv->num_methods++] = me;
	me->m = *m;
	me->path = xstrdup(m->path);
	me->m.path = me->path;
	me->perms = calloc(m->num_perms ? m->num_perms : 1,
			   sizeof(*me->perms));
	if (!me->perms)
		abort();
	for (size_t i = 0; i < m->num_perms; i++) {
		me->perms[i].entity = xstrdup(m->perms[i].entity);
		me->perms[i].action = xstrdup(m->perms[i].action);
	}
	me->m.perms = me->perms;
}

size_t rpc_server_method_calls(const struct rpc_server *srv, const char *path)
{
	for (size_t i = 0; i < srv->num_methods; i++)
		if (strcmp(srv->methods[i]->path, path) == 0)
			return srv->methods[i]->active;
	return 0;
}

size_t rpc_server_admit_stats(const struct rpc_server *srv,
			      struct admit_stats *out, size_t max)
{
	size_t n = 0;
	if (n < max && srv->admit_tcp) {
		admit_get_stats(srv->admit_tcp, &out[n]);
		out[n].headers_refused = srv->headers_refused[0];
		out[n++].unauth_calls_refused = srv->unauth_calls_refused[0];
	}
	if (n < max && srv->admit_unix) {
		admit_get_stats(srv->admit_unix, &out[n]);
		out[n].headers_refused = srv->headers_refused[1];
		out[n++].unauth_calls_refused = srv->unauth_calls_refused[1];
	}
	return n;
}

uint16_t rpc_server_port(const struct rpc_server *srv, size_t idx)
{
	if (idx >= srv->num_listeners || srv->listeners[idx].is_unix)
		return 0;
	return srv->listeners[idx].port;
}

void rpc_server_foreach_stats(const struct rpc_server *srv,
			      void (*fn)(void *arg,
					 const struct rpc_method_stats *st),
			      void *arg)
{
	struct rpc_method_stats st;

	for (size_t i = 0; i < srv->num_methods; i++) {
		st = srv->methods[i]->stats;
		st.method = srv->methods[i]->path;
		fn(arg, &st);
	}
	st = srv->unknown_stats;
	st.method = "unknown";
	fn(arg, &st);
}

size_t rpc_server_num_conns(const struct rpc_server *srv)
{
	return srv->num_conns;
}
