/* Internal to src/rpc: the pure cores (gRPC framer, macaroon codec) and the
 * structures shared between the server files.  Not for other modules. */
#ifndef COLDNODE_RPC_INTERNAL_H
#define COLDNODE_RPC_INTERNAL_H

#include "rpc/rpc.h"
#include "admit/admit.h"

#include <ev.h>
#include <nghttp2/nghttp2.h>
#include <openssl/ssl.h>

/* ---- grpc_frame.c: length-prefixed message framing (pure) ---------------- */

/* gRPC over HTTP/2: "Length-Prefixed-Message → Compressed-Flag
 * Message-Length Message" (1 byte flag, 4 bytes big-endian length). */
#define RPC_FRAME_HDR 5

enum rpc_frame_res {
	RPC_FRAME_OK,
	RPC_FRAME_TOO_BIG,    /* declared length above the cap */
	RPC_FRAME_COMPRESSED, /* flag 1: we never negotiate compression */
	RPC_FRAME_BAD_FLAG,   /* flag other than 0/1 */
	RPC_FRAME_STOPPED,    /* the message callback asked to stop */
};

/* Reassembles messages from arbitrary DATA chunks. */
struct rpc_framer {
	uint8_t hdr[RPC_FRAME_HDR];
	size_t hdr_have;
	uint8_t *buf;    /* owned; the message being collected */
	size_t msg_len;  /* declared length of that message */
	size_t have;
	size_t max;      /* largest accepted message */
};

/* Returns false to stop feeding (the call was finished/closed).
 * @msg borrowed until return. */
typedef bool (*rpc_frame_cb)(void *arg, const uint8_t *msg, size_t len);

void rpc_framer_init(struct rpc_framer *f, size_t max);
/* Frees the partial buffer; the framer may be reused after init. */
void rpc_framer_clear(struct rpc_framer *f);
/* Feeds @data (borrowed); calls @cb for each complete message. */
enum rpc_frame_res rpc_framer_feed(struct rpc_framer *f, const uint8_t *data,
				   size_t len, rpc_frame_cb cb, void *arg);
/* True if no message is partly received (a stream may end here). */
bool rpc_framer_at_boundary(const struct rpc_framer *f);
/* Writes the 5-byte prefix for an uncompressed message of @len bytes. */
void rpc_frame_prefix(uint8_t out[RPC_FRAME_HDR], uint32_t len);

/* Messages waiting to be sent on one stream, each with its 5-byte prefix,
 * handed out to nghttp2's data callback in chunks of any size (server
 * calls and client streams alike).  Zero-initialise; rpc_sendq_clear frees. */
struct rpc_sendq_buf;
struct rpc_sendq {
	struct rpc_sendq_buf *head, *tail; /* owned */
	size_t bytes;                      /* queued, not yet pulled */
};
/* Appends @msg (copied) as one length-prefixed message.  Returns false
 * (queue unchanged) if it is too long for the prefix or memory is out. */
bool rpc_sendq_push(struct rpc_sendq *q, const uint8_t *msg, size_t len)
	CN_WARN_UNUSED;
/* Moves up to @max queued bytes into @buf; returns how many. */
size_t rpc_sendq_pull(struct rpc_sendq *q, uint8_t *buf, size_t max);
/* Frees whatever was not pulled. */
void rpc_sendq_clear(struct rpc_sendq *q);

/* "grpc-timeout → TimeoutValue TimeoutUnit": 1-8 digits, then one of
 * H M S m u n.  Returns false on a malformed value. */
bool rpc_parse_grpc_timeout(double *secs, const char *v, size_t len);
/* Percent-encodes @msg for grpc-message ("Percent-Encoded → 1*(
 * Percent-Byte-Unencoded / Percent-Byte-Encoded)"): bytes outside
 * 0x20-0x7E and '%' become %XX.  Returns a malloc'd string (caller frees). */
char *rpc_percent_encode(const char *msg);
/* Decodes in place; invalid escapes are left as they are. */
void rpc_percent_decode(char *s);
/* @s (borrowed; may be NULL) made safe for one log line: bytes outside
 * 0x20-0x7E and '\\' become \\xHH, so client-chosen text (a caveat, a
 * grpc-message) cannot start a new line or send terminal escapes; longer
 * than @max input bytes is cut and marked "...".  malloc'd (caller frees);
 * NULL on allocation failure. */
char *rpc_log_escape(const char *s, size_t max);

/* ---- macaroon.c: binary v2 codec (pure) ----------------------------------- */

#define RPC_MAC_MAX_CAVEATS 32
#define RPC_MAC_MAX_LEN 8192 /* bytes of binary macaroon we accept */

struct rpc_mac_field {
	const uint8_t *p; /* borrowed, points into the decoded buffer */
	size_t len;
	bool present;
};

struct rpc_mac_caveat {
	struct rpc_mac_field location, id, vid;
};

/* A decoded macaroon; all fields borrow from the input buffer. */
struct rpc_mac {
	struct rpc_mac_field location, id, sig;
	struct rpc_mac_caveat caveats[RPC_MAC_MAX_CAVEATS];
	size_t num_caveats;
};

/* Decodes a binary v2 macaroon.  Returns false on any malformation (also:
 * more than RPC_MAC_MAX_CAVEATS caveats, a signature not 32 bytes). */
bool rpc_mac_decode(struct rpc_mac *m, const uint8_t *buf, size_t len)
	CN_WARN_UNUSED;

/* The identifier's contents: an lnd v3 id (0x03 + MacaroonId). */
struct rpc_mac_ops;
/* Parses an identifier; NULL if it is not a v3 MacaroonId.  Free with
 * rpc_mac_ops_free. */
struct rpc_mac_ops *rpc_mac_ops_parse(const uint8_t *id, size_t len);
void rpc_mac_ops_free(struct rpc_mac_ops *ops);
/* Does the id grant @entity:@action (borrowed)? */
bool rpc_mac_ops_allows(const struct rpc_mac_ops *ops, const char *entity,
			const char *action);

/* Signature-checked macaroon (decode + HMAC chain + identifier): done once
 * per distinct macaroon on a connection.  rpc_mac_authorize then checks
 * caveats (time, peer) and permissions for each call. */
struct rpc_mac_verified;
struct rpc_mac_verified *rpc_mac_authenticate(const struct rpc_macaroon_svc *svc,
					      char *why, size_t whylen,
					      const uint8_t *mac, size_t maclen);
enum rpc_status rpc_mac_authorize(const struct rpc_mac_verified *v,
				  char *why, size_t whylen, const char *method,
				  const struct rpc_perm *required,
				  size_t num_required, const char *peer_ip,
				  int64_t now);
/* Is @v exactly these bytes? */
bool rpc_mac_verified_is(const struct rpc_mac_verified *v, const uint8_t *mac,
			 size_t maclen);
void rpc_mac_verified_free(struct rpc_mac_verified *v);

/* The signature @m should carry under @svc's root key (for the fuzzer,
 * which re-signs mutated macaroons to reach the caveat checks). */
void rpc_mac_expected_sig(uint8_t out[32], const struct rpc_macaroon_svc *svc,
			  const struct rpc_mac *m);

/* Parses RFC 3339 ("2030-01-02T03:04:05Z", "...05.123+02:00") into unix
 * time.  Returns false on a malformed value. */
bool rpc_parse_rfc3339(int64_t *out, const char *s);

/* ---- server internals shared by server.c and call.c ----------------------- */

struct rpc_method_entry {
	struct rpc_method m; /* path/perms point at the copies below */
	char *path;
	struct rpc_perm *perms; /* entity/action strings owned */
	size_t active;
	struct rpc_method_stats stats; /* stats.method: NULL, see path */
};

struct rpc_conn;

struct rpc_server {
	struct ev_loop *loop;
	struct rpc_server_config cfg; /* string pointers cleared after _new */
	const char *subsys;
	SSL_CTX *ssl_ctx; /* NULL: cleartext */
	struct rpc_listener *listeners;
	size_t num_listeners;
	char *unix_path;
	struct rpc_method_entry **methods; /* each owned */
	size_t num_methods;
	struct rpc_conn *conns; /* list */
	size_t num_conns;
	struct rpc_method_stats unknown_stats; /* unregistered paths */
	size_t unauth_calls; /* macaroon-less calls on pre-auth connections */
	/* Counters for rpc_server_admit_stats, [0] TCP, [1] unix. */
	uint64_t headers_refused[2], unauth_calls_refused[2];
	struct admit *admit_tcp, *admit_unix; /* owned; unix NULL if none */
	/* Lines anyone who reaches the port can cause, capped (log_burst):
	 * failed TLS handshakes, HTTP/2 errors, calls refused for their
	 * macaroon. */
	struct log_burst log_tls, log_h2, log_refused;
};

/* call.c: the HTTP/2 + gRPC session of one connection (sans-I/O: bytes in
 * via rpc_session_recv, bytes out via rpc_session_pull).  @conn may be NULL
 * (no I/O adapter: the caller pulls output itself, as the fuzzer does). */
struct rpc_session;
struct rpc_session *rpc_session_new(struct rpc_server *srv,
				    struct rpc_conn *conn, const char *peer,
				    const char *peer_ip);
/* Fires on_closed(@why) for every started call, then frees. NULL ok. */
void rpc_session_free(struct rpc_session *s, enum rpc_status why);
/* Returns false if the connection must be closed (bad preface, protocol
 * error, GOAWAY done). */
bool rpc_session_recv(struct rpc_session *s, const uint8_t *data,
		      size_t len);
/* Next chunk of output (*out borrowed until the next call): returns its
 * length, 0 if there is nothing to send, <0 on a fatal error. */
ssize_t rpc_session_pull(struct rpc_session *s, const uint8_t **out);
/* Does the session still want to read or write?  false: close. */
bool rpc_session_alive(const struct rpc_session *s);
bool rpc_session_want_write(const struct rpc_session *s);
/* Bytes queued in calls, not yet handed to nghttp2. */
size_t rpc_session_queued(const struct rpc_session *s);
/* Streams open (started or not): 0 means the connection is idle. */
size_t rpc_session_open_streams(const struct rpc_session *s);
/* Queues a GOAWAY (NO_ERROR); the session ends once it is sent. */
void rpc_session_goaway(struct rpc_session *s);

/* server.c: ask the connection's I/O adapter to write pending output (now
 * if safe, otherwise once the current read finishes). */
void rpc_conn_kick(struct rpc_conn *conn);
/* A call passed its macaroon check (@authenticated) or needs none: stops
 * the handshake/auth timer; @authenticated also moves the connection to
 * the authenticated class of the connection budget (never evicted). */
void rpc_conn_authorised(struct rpc_conn *conn, bool authenticated);

/* datadir.c */
/* "dir/file", malloc'd (caller frees); NULL on allocation failure. */
char *rpc_path_join(const char *dir, const char *file);
/* mkdir -m 0700 unless it exists. */
bool rpc_datadir_ensure(const char *datadir);
/* admin/readonly/monitor.macaroon unless they exist. */
bool rpc_datadir_macaroons(const struct rpc_macaroon_svc *svc,
			   const char *datadir);

/* tls.c */
SSL_CTX *rpc_tls_server_ctx(const char *cert_path, const char *key_path);
SSL_CTX *rpc_tls_client_ctx(const char *cert_path);

#endif /* COLDNODE_RPC_INTERNAL_H */
