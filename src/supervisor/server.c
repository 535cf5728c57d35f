/*~ The signer stream on the rpc module's gRPC server core.
 *
 * A thin adapter: each call of /watchonlyrpc.WatchOnly/SignCoordinatorStreams
 * becomes one sv_stream; messages go to sv_stream_recv, the end of the call
 * (client gone, RST_STREAM, GOAWAY, TLS error, server freed) becomes
 * sv_stream_gone.  The macaroon (remotesigner:generate) and the framing are
 * the core's business.
 */
#include "supervisor/supervisor.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "rpc/rpc.h"
#include "supervisor/sv_priv.h"

struct glue {
	struct supervisor *sv;
	struct rpc_call *call;
	struct sv_stream *st; /* NULL once the supervisor let go */
};

static bool glue_send(void *conn, const uint8_t *msg, size_t len)
{
	struct glue *g = conn;
	return rpc_call_send(g->call, msg, len);
}

static void glue_finish(void *conn, enum sv_code code, const char *msg)
{
	struct glue *g = conn;

	g->st = NULL;
	rpc_call_finish(g->call, (enum rpc_status)code, msg);
}

static void glue_authenticated(void *conn)
{
	struct glue *g = conn;
	rpc_call_authenticated(g->call);
}

static const void *glue_connection(void *conn)
{
	struct glue *g = conn;
	return rpc_call_connection(g->call);
}

static void glue_close_connection(void *conn)
{
	struct glue *g = conn;
	rpc_call_close_connection(g->call);
}

static const struct sv_stream_ops glue_ops = {
	.send = glue_send,
	.finish = glue_finish,
	.authenticated = glue_authenticated,
	.connection = glue_connection,
	.close_connection = glue_close_connection,
};

static void on_start(void *arg, struct rpc_call *call)
{
	struct supervisor *sv = arg;
	struct glue *g = calloc(1, sizeof(*g));
	enum sv_code code;
	const char *msg;

	if (!g) {
		rpc_call_finish(call, RPC_STATUS_RESOURCE_EXHAUSTED,
				"out of memory");
		return;
	}
	g->sv = sv;
	g->call = call;
	rpc_call_set_data(call, g);
	g->st = sv_stream_open(sv, &code, &msg, &glue_ops, g,
			       rpc_call_peer(call));
	if (!g->st)
		rpc_call_finish(call, (enum rpc_status)code, msg);
}

static void on_message(void *arg, struct rpc_call *call, const uint8_t *msg,
		       size_t len)
{
	struct glue *g = rpc_call_data(call);

	if (g && g->st)
		sv_stream_recv(g->st, msg, len);
}

static void on_half_close(void *arg, struct rpc_call *call)
{
	struct glue *g = rpc_call_data(call);
	struct sv_stream *st;

	if (!g || !g->st)
		return;
	/* A signer that stops sending can no longer answer anything. */
	st = g->st;
	g->st = NULL;
	sv_stream_gone(st, "signer closed its side of the stream");
	rpc_call_finish(call, RPC_STATUS_UNAVAILABLE,
			"signer closed its side of the stream");
}

static void on_closed(void *arg, struct rpc_call *call, enum rpc_status st)
{
	struct glue *g = rpc_call_data(call);
	char why[96];

	if (!g)
		return;
	if (g->st) {
		struct sv_stream *s = g->st;
		g->st = NULL;
		snprintf(why, sizeof(why), "stream ended (%s)",
			 rpc_status_str(st));
		sv_stream_gone(s, why);
	}
	rpc_call_set_data(call, NULL);
	free(g);
}

static void on_accept(void *arg, const char *peer)
{
	sv_connection_arrived(arg, peer);
}

/* lnd: the signer's macaroon needs only this ("remotesigner:generate"). */
static const struct rpc_perm signer_perm = { "remotesigner", "generate" };

bool sv_server_bake_macaroon(const struct rpc_macaroon_svc *macaroons,
			     const char *path)
{
	bool wrote;
	bool ok = rpc_macaroon_bake_file(macaroons, path, &signer_perm, 1,
					 &wrote);

	if (wrote)
		log_info("SUPV", "wrote %s (remotesigner:generate) for the "
			 "signer", path);
	return ok;
}

void sv_server_register(struct supervisor *sv, struct rpc_server *srv)
{
	struct rpc_method m = {
		.path = SV_GRPC_PATH,
		.kind = RPC_KIND_BIDI_STREAM,
		.perms = &signer_perm,
		.num_perms = 1,
		.on_start = on_start,
		.on_message = on_message,
		.on_half_close = on_half_close,
		.on_closed = on_closed,
		.arg = sv,
	};
	rpc_server_add_method(srv, &m);
}

struct rpc_server *sv_server_new(struct ev_loop *loop, struct supervisor *sv,
				 const char *const *listen, size_t num_listen,
				 const char *unix_path, const char *cert,
				 const char *key,
				 const struct rpc_macaroon_svc *macaroons)
{
	return sv_server_new_limits(loop, sv, listen, num_listen, unix_path,
				    cert, key, macaroons, NULL);
}

struct rpc_server *sv_server_new_limits(struct ev_loop *loop,
					struct supervisor *sv,
					const char *const *listen,
					size_t num_listen,
					const char *unix_path,
					const char *cert, const char *key,
					const struct rpc_macaroon_svc *macaroons,
					const struct sv_server_limits *lim)
{
	struct rpc_server_config cfg;
	struct rpc_server *srv;

	rpc_server_config_default(&cfg);
	cfg.listen = listen;
	cfg.num_listen = num_listen;
	cfg.unix_path = unix_path;
	cfg.tls_cert_path = cert;
	cfg.tls_key_path = key;
	cfg.macaroons = macaroons;
	/* Signer messages are small: anything bigger is refused by the
	 * core with RESOURCE_EXHAUSTED before we see it. */
	cfg.max_recv_msg = SV_MAX_MSG;
	/* Authenticated (registration accepted): one signer, plus room for
	 * a stale one.  Pre-auth: a flood evicts its own connections first
	 * (src/admit),
	 * and 64 slots over at most 4 per source means a signer from its
	 * own address is evicted only by a flood from more than 64 sources
	 * (docs/hardening.md). */
	cfg.max_conns = 16;
	cfg.max_preauth = 64;
	cfg.max_preauth_per_source = 4;
	cfg.max_unix_preauth = 16;
	if (lim) {
		if (lim->max_preauth)
			cfg.max_preauth = lim->max_preauth;
		cfg.max_preauth_per_source = lim->max_preauth_per_source;
		if (lim->preauth_timeout > 0)
			cfg.handshake_timeout = lim->preauth_timeout;
		if (lim->max_msg)
			cfg.max_recv_msg = lim->max_msg;
	}
	/* Authenticated = registration accepted (sv calls back), not just
	 * the macaroon. */
	cfg.owner_authenticates = true;
	cfg.admit_name = "signer";
	cfg.admit_unix_name = "signer-unix";
	cfg.preauth_flag = "--signer.maxpreauth";
	cfg.per_source_flag = "--signer.maxpreauthpersource";
	cfg.max_streams = 4;
	cfg.log_subsys = "SUPV";
	/* Outbound handshakes overlap the signer's TLS and registration. */
	cfg.on_accept = on_accept;
	cfg.on_accept_arg = sv;
	srv = rpc_server_new(loop, &cfg);
	if (srv)
		sv_server_register(sv, srv);
	return srv;
}
