/*~ client: a small gRPC client (HTTP/2 over TLS, the server's certificate
 * pinned like lncli does), for coldctl and coldsigner.
 *
 * One connection core (struct cconn: socket, TLS, nghttp2 client session,
 * one active stream) is driven by cconn_io() whenever the socket is ready;
 * two thin adapters wait for readiness: poll() for the blocking unary
 * call, libev watchers for the streaming client.
 */
#include "rpc/rpc_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdio.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_RESP_MSG (64 * 1024 * 1024)

struct cconn;
/* Events of the core up to its adapter. */
struct cconn_events {
	void (*open)(struct cconn *c);
	void (*message)(struct cconn *c, const uint8_t *msg, size_t len);
	void (*close)(struct cconn *c); /* c->status / c->status_msg set */
};

struct cconn {
	int fd;
	/* Addresses to try, in order (a name may resolve to ::1 and
	 * 127.0.0.1 with the server on only one of them). */
	struct sockaddr_storage addrs[4];
	socklen_t addrlens[4];
	size_t num_addrs, next_addr;
	SSL_CTX *ctx; /* owned */
	SSL *ssl;     /* owned; NULL for cleartext */
	nghttp2_session *h2;
	char host[256];
	char *path, *macaroon_hex;
	char timeout_hdr[16];
	bool connecting, hs_started, tls_done, opened, closed, end_sent, want_end;
	int32_t sid;
	struct rpc_framer framer;
	struct rpc_sendq q;
	uint8_t *out;
	size_t out_len, out_off, out_cap;
	/* result */
	enum rpc_status status;
	char status_msg[512];
	bool have_status;
	int http_status;
	const struct cconn_events *ev;
	void *owner;
};

static void cconn_fail(struct cconn *c, enum rpc_status st, const char *fmt,
		       ...) CN_PRINTF(3, 4);
static bool cconn_connect_next(struct cconn *c, char *err, size_t errlen);

static void cconn_finish(struct cconn *c)
{
	if (c->closed)
		return;
	c->closed = true;
	if (c->ev->close)
		c->ev->close(c);
}

static void cconn_fail(struct cconn *c, enum rpc_status st, const char *fmt,
		       ...)
{
	va_list ap;
	if (c->closed)
		return;
	c->status = st;
	c->have_status = true;
	va_start(ap, fmt);
	vsnprintf(c->status_msg, sizeof(c->status_msg), fmt, ap);
	va_end(ap);
	cconn_finish(c);
}

/* ---- nghttp2 -------------------------------------------------------------- */

static ssize_t c_data_read(nghttp2_session *h2, int32_t sid, uint8_t *buf,
			   size_t length, uint32_t *flags,
			   nghttp2_data_source *src, void *user)
{
	struct cconn *c = user;
	size_t n = rpc_sendq_pull(&c->q, buf, length);

	if (!c->q.head && c->want_end) {
		*flags |= NGHTTP2_DATA_FLAG_EOF;
		c->end_sent = true;
		return (ssize_t)n;
	}
	return n ? (ssize_t)n : NGHTTP2_ERR_DEFERRED;
}

static int c_on_header(nghttp2_session *h2, const nghttp2_frame *frame,
		       const uint8_t *name, size_t namelen,
		       const uint8_t *value, size_t valuelen, uint8_t flags,
		       void *user)
{
	struct cconn *c = user;
	if (frame->hd.stream_id != c->sid)
		return 0;
	if (namelen == 7 && memcmp(name, ":status", 7) == 0) {
		c->http_status = atoi((const char *)value);
	} else if (namelen == 11 && memcmp(name, "grpc-status", 11) == 0) {
		char tmp[12];
		size_t n = valuelen < sizeof(tmp) - 1 ? valuelen
						      : sizeof(tmp) - 1;
		memcpy(tmp, value, n);
		tmp[n] = '\0';
		c->status = (enum rpc_status)atoi(tmp);
		c->have_status = true;
	} else if (namelen == 12 && memcmp(name, "grpc-message", 12) == 0) {
		size_t n = valuelen < sizeof(c->status_msg) - 1
			? valuelen : sizeof(c->status_msg) - 1;
		memcpy(c->status_msg, value, n);
		c->status_msg[n] = '\0';
		rpc_percent_decode(c->status_msg);
		/* The server's text ends up in our logs and on terminals:
		 * no control characters (a newline could forge a log line,
		 * an ESC drive the terminal). */
		for (char *p = c->status_msg; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				*p = '?';
	}
	return 0;
}

static bool c_on_msg(void *arg, const uint8_t *msg, size_t len)
{
	struct cconn *c = arg;
	if (c->ev->message)
		c->ev->message(c, msg, len);
	return !c->closed;
}

static int c_on_data(nghttp2_session *h2, uint8_t flags, int32_t sid,
		     const uint8_t *data, size_t len, void *user)
{
	struct cconn *c = user;
	if (sid != c->sid || c->closed)
		return 0;
	switch (rpc_framer_feed(&c->framer, data, len, c_on_msg, c)) {
	case RPC_FRAME_OK:
	case RPC_FRAME_STOPPED:
		break;
	case RPC_FRAME_TOO_BIG:
		cconn_fail(c, RPC_STATUS_RESOURCE_EXHAUSTED,
			   "response message too large");
		break;
	case RPC_FRAME_COMPRESSED:
	case RPC_FRAME_BAD_FLAG:
		cconn_fail(c, RPC_STATUS_INTERNAL,
			   "compressed or malformed response message");
		break;
	}
	return 0;
}

static int c_on_stream_close(nghttp2_session *h2, int32_t sid,
			     uint32_t error_code, void *user)
{
	struct cconn *c = user;
	if (sid != c->sid || c->closed)
		return 0;
	if (!c->have_status) {
		if (error_code != NGHTTP2_NO_ERROR)
			cconn_fail(c, RPC_STATUS_UNAVAILABLE,
				   "stream reset by server (%s)",
				   nghttp2_http2_strerror(error_code));
		else if (c->http_status && c->http_status != 200)
			cconn_fail(c, RPC_STATUS_UNKNOWN, "HTTP status %d",
				   c->http_status);
		else
			cconn_fail(c, RPC_STATUS_INTERNAL,
				   "response without grpc-status");
		return 0;
	}
	cconn_finish(c);
	return 0;
}

static int c_on_frame_recv(nghttp2_session *h2, const nghttp2_frame *frame,
			   void *user)
{
	struct cconn *c = user;
	if (frame->hd.type == NGHTTP2_GOAWAY && !c->closed &&
	    frame->goaway.last_stream_id < c->sid)
		cconn_fail(c, RPC_STATUS_UNAVAILABLE, "server sent GOAWAY");
	return 0;
}

#define CNV(n, v) { (uint8_t *)(n), (uint8_t *)(v), strlen(n), strlen(v), \
		    NGHTTP2_NV_FLAG_NONE }

static bool cconn_start_h2(struct cconn *c)
{
	nghttp2_session_callbacks *cbs;
	if (nghttp2_session_callbacks_new(&cbs) != 0)
		return false;
	nghttp2_session_callbacks_set_on_header_callback(cbs, c_on_header);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs,
								  c_on_data);
	nghttp2_session_callbacks_set_on_stream_close_callback(
		cbs, c_on_stream_close);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cbs,
							     c_on_frame_recv);
	int r = nghttp2_session_client_new(&c->h2, cbs, c);
	nghttp2_session_callbacks_del(cbs);
	if (r != 0)
		return false;
	nghttp2_settings_entry iv[] = {
		{ NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1024 * 1024 },
	};
	nghttp2_submit_settings(c->h2, NGHTTP2_FLAG_NONE, iv, 1);
	nghttp2_session_set_local_window_size(c->h2, NGHTTP2_FLAG_NONE, 0,
					      8 * 1024 * 1024);
	nghttp2_nv hdrs[9] = {
		CNV(":method", "POST"),
		CNV(":scheme", c->ssl ? "https" : "http"),
		CNV(":path", c->path),
		CNV(":authority", c->host),
		CNV("content-type", "application/grpc"),
		CNV("te", "trailers"),
		CNV("user-agent", "coldnode-rpc-client/" "0.1"),
	};
	size_t n = 7;
	if (c->macaroon_hex)
		hdrs[n++] = (nghttp2_nv)CNV("macaroon", c->macaroon_hex);
	if (c->timeout_hdr[0])
		hdrs[n++] = (nghttp2_nv)CNV("grpc-timeout", c->timeout_hdr);
	nghttp2_data_provider prd = { .read_callback = c_data_read };
	c->sid = nghttp2_submit_request(c->h2, NULL, hdrs, n, &prd, c);
	if (c->sid < 0)
		return false;
	c->opened = true;
	if (c->ev->open)
		c->ev->open(c);
	return true;
}

/* ---- socket + TLS --------------------------------------------------------- */

static bool out_flush(struct cconn *c)
{
	for (;;) {
		if (c->out_off == c->out_len) {
			c->out_off = c->out_len = 0;
			const uint8_t *p;
			ssize_t r = nghttp2_session_mem_send(c->h2, &p);
			if (r < 0)
				return false;
			if (r == 0)
				return true;
			if ((size_t)r > c->out_cap) {
				uint8_t *nb = realloc(c->out, (size_t)r);
				if (!nb)
					return false;
				c->out = nb;
				c->out_cap = (size_t)r;
			}
			memcpy(c->out, p, (size_t)r);
			c->out_len = (size_t)r;
		}
		size_t n = c->out_len - c->out_off;
		ssize_t w;
		if (c->ssl) {
			ERR_clear_error();
			int r = SSL_write(c->ssl, c->out + c->out_off, (int)n);
			if (r <= 0) {
				int e = SSL_get_error(c->ssl, r);
				return e == SSL_ERROR_WANT_WRITE ||
				       e == SSL_ERROR_WANT_READ;
			}
			w = r;
		} else {
			w = send(c->fd, c->out + c->out_off, n, MSG_NOSIGNAL);
			if (w < 0)
				return errno == EAGAIN || errno == EINTR;
		}
		c->out_off += (size_t)w;
		if (c->out_off < c->out_len)
			return true;
	}
}

/* Progress everything that can progress now. */
static void cconn_io(struct cconn *c)
{
	if (c->closed)
		return;
	if (c->connecting) {
		int err = 0;
		socklen_t l = sizeof(err);
		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
		if (err == EINPROGRESS || err == EALREADY)
			return;
		if (err) {
			char why[256];
			snprintf(why, sizeof(why), "cannot connect to %.100s: %s",
				 c->host, strerror(err));
			if (!cconn_connect_next(c, why, sizeof(why)))
				cconn_fail(c, RPC_STATUS_UNAVAILABLE, "%s", why);
			return; /* the next attempt reports when ready */
		}
		struct pollfd pfd = { .fd = c->fd, .events = POLLOUT };
		if (poll(&pfd, 1, 0) <= 0)
			return;
		c->connecting = false;
	}
	if (!c->tls_done) {
		c->hs_started = true;
		if (c->ssl) {
			ERR_clear_error();
			int r = SSL_connect(c->ssl);
			if (r != 1) {
				int e = SSL_get_error(c->ssl, r);
				if (e == SSL_ERROR_WANT_READ ||
				    e == SSL_ERROR_WANT_WRITE)
					return;
				long v = SSL_get_verify_result(c->ssl);
				char buf[160];
				ERR_error_string_n(ERR_peek_error(), buf,
						   sizeof(buf));
				cconn_fail(c, RPC_STATUS_UNAVAILABLE,
					   "TLS handshake with %s failed: %s",
					   c->host,
					   v != X509_V_OK
					   ? X509_verify_cert_error_string(v)
					   : buf);
				return;
			}
		}
		c->tls_done = true;
		if (!cconn_start_h2(c)) {
			cconn_fail(c, RPC_STATUS_INTERNAL, "HTTP/2 setup failed");
			return;
		}
	}
	/* read */
	for (;;) {
		uint8_t buf[16384];
		ssize_t n;
		if (c->ssl) {
			ERR_clear_error();
			int r = SSL_read(c->ssl, buf, sizeof(buf));
			if (r <= 0) {
				int e = SSL_get_error(c->ssl, r);
				if (e == SSL_ERROR_WANT_READ ||
				    e == SSL_ERROR_WANT_WRITE)
					break;
				cconn_fail(c, RPC_STATUS_UNAVAILABLE,
					   "connection closed by server");
				return;
			}
			n = r;
		} else {
			n = recv(c->fd, buf, sizeof(buf), 0);
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				break;
			if (n <= 0) {
				cconn_fail(c, RPC_STATUS_UNAVAILABLE,
					   "connection closed by server");
				return;
			}
		}
		ssize_t rr = nghttp2_session_mem_recv(c->h2, buf, (size_t)n);
		/* Decrypted traffic (a signer's ECDH results) does not stay
		 * on the stack once handled. */
		sodium_memzero(buf, (size_t)n);
		if (rr < 0) {
			cconn_fail(c, RPC_STATUS_INTERNAL,
				   "HTTP/2 protocol error from server");
			return;
		}
		if (c->closed)
			return;
	}
	if (!out_flush(c))
		cconn_fail(c, RPC_STATUS_UNAVAILABLE, "write to server failed");
}

static bool cconn_wants_write(const struct cconn *c)
{
	if (c->connecting)
		return true;
	/* Before the first SSL_connect the ClientHello is ours to send. */
	if (!c->tls_done)
		return !c->hs_started || (c->ssl && SSL_want_write(c->ssl));
	return c->out_off < c->out_len ||
	       (c->h2 && nghttp2_session_want_write(c->h2));
}

static bool parse_target(struct cconn *c, char *err, size_t errlen,
			 const char *target)
{
	if (strncmp(target, "unix:", 5) == 0) {
		const char *p = target + 5;
		struct sockaddr_un *sun = (struct sockaddr_un *)&c->addrs[0];
		if (strncmp(p, "//", 2) == 0)
			p += 2;
		if (strlen(p) >= sizeof(sun->sun_path)) {
			snprintf(err, errlen, "unix socket path too long");
			return false;
		}
		memset(sun, 0, sizeof(*sun));
		sun->sun_family = AF_UNIX;
		strcpy(sun->sun_path, p);
		c->addrlens[0] = sizeof(*sun);
		c->num_addrs = 1;
		strcpy(c->host, "localhost");
		return true;
	}
	uint16_t portnum;
	char portstr[8];
	if (!cn_split_hostport(c->host, sizeof(c->host), &portnum, target)) {
		snprintf(err, errlen, "bad target \"%s\" (want host:port or "
			 "[v6addr]:port)", target);
		return false;
	}
	snprintf(portstr, sizeof(portstr), "%u", portnum);
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICSERV }, *res;
	int e = getaddrinfo(c->host, portstr, &hints, &res);
	if (e != 0) {
		snprintf(err, errlen, "%s: %s", target, gai_strerror(e));
		return false;
	}
	for (struct addrinfo *ai = res; ai && c->num_addrs < 4;
	     ai = ai->ai_next) {
		if (ai->ai_addrlen > sizeof(c->addrs[0]))
			continue;
		memcpy(&c->addrs[c->num_addrs], ai->ai_addr, ai->ai_addrlen);
		c->addrlens[c->num_addrs++] = ai->ai_addrlen;
	}
	freeaddrinfo(res);
	if (!c->num_addrs) {
		snprintf(err, errlen, "%s: no usable address", target);
		return false;
	}
	return true;
}

/* Starts connecting to the next address.  Returns false (with @err) when
 * none is left. */
static bool cconn_connect_next(struct cconn *c, char *err, size_t errlen)
{
	while (c->next_addr < c->num_addrs) {
		size_t i = c->next_addr++;
		int fam = c->addrs[i].ss_family;
		if (c->fd >= 0)
			close(c->fd);
		c->fd = socket(fam, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
			       0);
		if (c->fd < 0) {
			snprintf(err, errlen, "socket: %s", strerror(errno));
			continue;
		}
		if (fam != AF_UNIX) {
			int one = 1;
			setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one,
				   sizeof(one));
		}
		c->connecting = false;
		if (connect(c->fd, (struct sockaddr *)&c->addrs[i],
			    c->addrlens[i]) != 0) {
			if (errno != EINPROGRESS) {
				snprintf(err, errlen, "cannot connect to %.100s: %s",
					 c->host, strerror(errno));
				continue;
			}
			c->connecting = true;
		}
		if (c->ssl)
			SSL_set_fd(c->ssl, c->fd);
		return true;
	}
	return false;
}

static void cconn_free(struct cconn *c)
{
	if (!c)
		return;
	if (c->h2)
		nghttp2_session_del(c->h2);
	SSL_free(c->ssl);
	SSL_CTX_free(c->ctx);
	if (c->fd >= 0)
		close(c->fd);
	rpc_sendq_clear(&c->q);
	rpc_framer_clear(&c->framer);
	free(c->out);
	free(c->path);
	if (c->macaroon_hex) {
		/* A bearer credential: do not leave it in freed memory. */
		explicit_bzero(c->macaroon_hex, strlen(c->macaroon_hex));
		free(c->macaroon_hex);
	}
	free(c);
}

static struct cconn *cconn_new(char *err, size_t errlen,
			       const struct rpc_client_config *cfg,
			       const char *path,
			       const struct cconn_events *ev, void *owner)
{
	struct cconn *c = calloc(1, sizeof(*c));

	if (!c) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	c->fd = -1;
	c->ev = ev;
	c->owner = owner;
	rpc_framer_init(&c->framer, MAX_RESP_MSG);
	c->path = strdup(path);
	if (cfg->macaroon_hex)
		c->macaroon_hex = strdup(cfg->macaroon_hex);
	if (!c->path || (cfg->macaroon_hex && !c->macaroon_hex)) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (!parse_target(c, err, errlen, cfg->target))
		goto fail;
	if (cfg->tls_cert_path) {
		c->ctx = rpc_tls_client_ctx(cfg->tls_cert_path);
		if (!c->ctx) {
			snprintf(err, errlen, "cannot load TLS cert %s",
				 cfg->tls_cert_path);
			goto fail;
		}
		c->ssl = SSL_new(c->ctx);
		if (!c->ssl) {
			snprintf(err, errlen, "SSL_new failed");
			goto fail;
		}
		/* Verify the name we dialled against the cert's SANs. */
		X509_VERIFY_PARAM *vp = SSL_get0_param(c->ssl);
		uint8_t tmp[16];
		if (inet_pton(AF_INET, c->host, tmp) == 1 ||
		    inet_pton(AF_INET6, c->host, tmp) == 1) {
			X509_VERIFY_PARAM_set1_ip_asc(vp, c->host);
		} else {
			X509_VERIFY_PARAM_set1_host(vp, c->host, 0);
			SSL_set_tlsext_host_name(c->ssl, c->host);
		}
	}
	if (!cconn_connect_next(c, err, errlen))
		goto fail;
	return c;
fail:
	cconn_free(c);
	return NULL;
}

static bool cconn_queue(struct cconn *c, const uint8_t *msg, size_t len)
{
	if (c->closed || c->want_end || !rpc_sendq_push(&c->q, msg, len))
		return false;
	if (c->h2 && c->sid > 0)
		nghttp2_session_resume_data(c->h2, c->sid);
	return true;
}

static void cconn_end(struct cconn *c)
{
	c->want_end = true;
	if (c->h2 && c->sid > 0)
		nghttp2_session_resume_data(c->h2, c->sid);
}

/* ---- blocking unary adapter ----------------------------------------------- */

struct rpc_client {
	struct rpc_client_config cfg; /* target/cert copied below */
	char *target, *cert, *mac;
};

void rpc_client_config_default(struct rpc_client_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->timeout = 30;
}

struct rpc_client *rpc_client_new(char *err, size_t errlen,
				  const struct rpc_client_config *cfg)
{
	struct rpc_client *c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	c->cfg = *cfg;
	c->target = strdup(cfg->target);
	c->cert = cfg->tls_cert_path ? strdup(cfg->tls_cert_path) : NULL;
	c->mac = cfg->macaroon_hex ? strdup(cfg->macaroon_hex) : NULL;
	if (!c->target || (cfg->tls_cert_path && !c->cert) ||
	    (cfg->macaroon_hex && !c->mac)) {
		snprintf(err, errlen, "out of memory");
		rpc_client_free(c);
		return NULL;
	}
	c->cfg.target = c->target;
	c->cfg.tls_cert_path = c->cert;
	c->cfg.macaroon_hex = c->mac;
	if (c->cfg.timeout <= 0)
		c->cfg.timeout = 30;
	return c;
}

void rpc_client_free(struct rpc_client *c)
{
	if (!c)
		return;
	free(c->target);
	free(c->cert);
	if (c->mac) {
		explicit_bzero(c->mac, strlen(c->mac));
		free(c->mac);
	}
	free(c);
}

struct unary_result {
	uint8_t *resp;
	size_t len;
	unsigned count;
};

static void unary_message(struct cconn *c, const uint8_t *msg, size_t len)
{
	struct unary_result *r = c->owner;
	if (++r->count > 1)
		return;
	r->resp = malloc(len ? len : 1);
	if (r->resp) {
		memcpy(r->resp, msg, len);
		r->len = len;
	}
}

static const struct cconn_events unary_events = {
	.message = unary_message,
};

enum rpc_status rpc_client_unary(struct rpc_client *cl,
				 uint8_t **resp, size_t *resplen,
				 char *status_msg, size_t msglen,
				 const char *path,
				 const uint8_t *req, size_t reqlen)
{
	struct unary_result r = { 0 };
	char err[256];
	enum rpc_status st;
	/* The server enforces grpc-timeout and says so; wait a little longer
	 * ourselves so its DEADLINE_EXCEEDED (with its message) wins. */
	double deadline = cn_now() + cl->cfg.timeout + 0.5;

	*resp = NULL;
	*resplen = 0;
	if (msglen)
		status_msg[0] = '\0';
	struct cconn *c = cconn_new(err, sizeof(err), &cl->cfg, path,
				    &unary_events, &r);
	if (!c) {
		snprintf(status_msg, msglen, "%s", err);
		return RPC_STATUS_UNAVAILABLE;
	}
	/* grpc-timeout in milliseconds, at most 8 digits. */
	snprintf(c->timeout_hdr, sizeof(c->timeout_hdr), "%lum",
		 (unsigned long)(cl->cfg.timeout * 1000 > 99999999
				 ? 99999999 : cl->cfg.timeout * 1000));
	cconn_queue(c, req, reqlen);
	cconn_end(c);
	while (!c->closed) {
		double left = deadline - cn_now();
		if (left <= 0) {
			cconn_fail(c, RPC_STATUS_DEADLINE_EXCEEDED,
				   "no answer within %.0f s", cl->cfg.timeout);
			break;
		}
		struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
		if (cconn_wants_write(c))
			pfd.events |= POLLOUT;
		int n = poll(&pfd, 1, (int)(left * 1000) + 1);
		if (n < 0 && errno != EINTR) {
			cconn_fail(c, RPC_STATUS_UNAVAILABLE, "poll: %s",
				   strerror(errno));
			break;
		}
		if (n > 0)
			cconn_io(c);
	}
	st = c->status;
	snprintf(status_msg, msglen, "%s", c->status_msg);
	if (st == RPC_STATUS_OK && r.count != 1) {
		st = RPC_STATUS_INTERNAL;
		snprintf(status_msg, msglen, "expected 1 response message, "
			 "got %u", r.count);
	}
	if (st == RPC_STATUS_OK && !r.resp) {
		st = RPC_STATUS_RESOURCE_EXHAUSTED;
		snprintf(status_msg, msglen, "out of memory");
	}
	if (st == RPC_STATUS_OK) {
		*resp = r.resp;
		*resplen = r.len;
	} else {
		free(r.resp);
	}
	cconn_free(c);
	return st;
}

/* ---- libev streaming adapter ---------------------------------------------- */

struct rpc_client_stream {
	struct ev_loop *loop;
	struct cconn *c;
	ev_io w;
	ev_timer start; /* reports early failures from the loop, not _open */
	ev_timer kick;  /* I/O after a send, from the loop (no callback can
			 * fire inside rpc_client_stream_send) */
	struct rpc_client_stream_cbs cbs;
	void *arg;
	int in_cb;        /* depth of callbacks we are inside */
	bool free_pending;/* rpc_client_stream_free called from a callback */
	bool close_reported;
	char early_err[256];
};

static void stream_update(struct rpc_client_stream *s);

static void stream_open_ev(struct cconn *c)
{
	struct rpc_client_stream *s = c->owner;
	if (s->cbs.on_open) {
		s->in_cb++;
		s->cbs.on_open(s->arg, s);
		s->in_cb--;
	}
}

static void stream_message_ev(struct cconn *c, const uint8_t *msg, size_t len)
{
	struct rpc_client_stream *s = c->owner;
	if (s->free_pending)
		return;
	s->in_cb++;
	s->cbs.on_message(s->arg, s, msg, len);
	s->in_cb--;
}

static void stream_close_ev(struct cconn *c)
{
	struct rpc_client_stream *s = c->owner;
	if (s->close_reported || s->free_pending)
		return;
	s->close_reported = true;
	ev_io_stop(s->loop, &s->w);
	if (s->cbs.on_close) {
		s->in_cb++;
		s->cbs.on_close(s->arg, s, c->status, c->status_msg);
		s->in_cb--;
	}
}

static const struct cconn_events stream_events = {
	.open = stream_open_ev,
	.message = stream_message_ev,
	.close = stream_close_ev,
};

static void stream_really_free(struct rpc_client_stream *s)
{
	ev_io_stop(s->loop, &s->w);
	ev_timer_stop(s->loop, &s->start);
	ev_timer_stop(s->loop, &s->kick);
	cconn_free(s->c);
	free(s);
}

static void stream_update(struct rpc_client_stream *s)
{
	if (!s->c || s->c->closed) {
		ev_io_stop(s->loop, &s->w);
		return;
	}
	int events = EV_READ | (cconn_wants_write(s->c) ? EV_WRITE : 0);
	/* (the fd changes when a connect falls back to the next address) */
	if (ev_is_active(&s->w) && s->w.events == events &&
	    s->w.fd == s->c->fd)
		return;
	ev_io_stop(s->loop, &s->w);
	ev_io_set(&s->w, s->c->fd, events);
	ev_io_start(s->loop, &s->w);
}

static void stream_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct rpc_client_stream *s = w->data;
	s->in_cb++; /* a free from a user callback is deferred */
	cconn_io(s->c);
	s->in_cb--;
	if (s->free_pending) {
		stream_really_free(s);
		return;
	}
	stream_update(s);
}

static void stream_kick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct rpc_client_stream *s = w->data;
	stream_io_cb(loop, &s->w, EV_WRITE);
}

static void stream_kick(struct rpc_client_stream *s)
{
	if (s->c && s->c->h2 && !s->in_cb && !ev_is_active(&s->kick))
		ev_timer_start(s->loop, &s->kick);
}

static void stream_start_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct rpc_client_stream *s = w->data;
	if (!s->c) {
		s->close_reported = true;
		if (s->cbs.on_close) {
			s->in_cb++;
			s->cbs.on_close(s->arg, s, RPC_STATUS_UNAVAILABLE,
					s->early_err);
			s->in_cb--;
		}
		if (s->free_pending)
			stream_really_free(s);
		return;
	}
	stream_io_cb(loop, &s->w, EV_WRITE);
}

struct rpc_client_stream *rpc_client_stream_open(
	struct ev_loop *loop, const struct rpc_client_config *cfg,
	const char *path, const struct rpc_client_stream_cbs *cbs, void *arg)
{
	struct rpc_client_stream *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->loop = loop;
	s->cbs = *cbs;
	s->arg = arg;
	s->c = cconn_new(s->early_err, sizeof(s->early_err), cfg, path,
			 &stream_events, s);
	ev_io_init(&s->w, stream_io_cb, s->c ? s->c->fd : 0, EV_READ);
	s->w.data = s;
	/* Everything, even an immediate failure, is reported from the loop. */
	ev_timer_init(&s->start, stream_start_cb, 0, 0);
	s->start.data = s;
	ev_timer_init(&s->kick, stream_kick_cb, 0, 0);
	s->kick.data = s;
	ev_timer_start(loop, &s->start);
	return s;
}

bool rpc_client_stream_send(struct rpc_client_stream *s, const uint8_t *msg,
			    size_t len)
{
	if (!s->c || !cconn_queue(s->c, msg, len))
		return false;
	stream_kick(s);
	return true;
}

void rpc_client_stream_close_send(struct rpc_client_stream *s)
{
	if (!s->c)
		return;
	cconn_end(s->c);
	stream_kick(s);
}

void rpc_client_stream_free(struct rpc_client_stream *s)
{
	if (!s)
		return;
	if (s->in_cb) {
		s->free_pending = true;
		return;
	}
	if (s->c && s->c->h2 && !s->c->closed && s->c->sid > 0) {
		/* Best effort: tell the server we are gone. */
		nghttp2_submit_rst_stream(s->c->h2, NGHTTP2_FLAG_NONE,
					  s->c->sid, NGHTTP2_CANCEL);
		s->c->closed = true;
		out_flush(s->c);
	}
	stream_really_free(s);
}
