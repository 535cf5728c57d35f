/*~ signerproxy: lnd's classic remote-signer API, forwarded over the
 * signer's inbound stream.
 *
 * Every released lnd knows only the signer it dials (remotesigner.rpchost):
 * a watch-only lnd calls signrpc.Signer and walletrpc.WalletKit unary
 * methods on it.  Here coldnode is that address.  Each call becomes one
 * SignCoordinatorRequest on the stream the signer opened to coldnode's
 * signer port (src/supervisor), with the request's bytes as the oneof
 * member, and the member the signer answers with is the unary reply.
 * Nothing is decoded on the way: the proxy holds no key and checks no
 * signature (docs/signerproxy.md says what that trusts).
 *
 * "No signer, no shutdown": lnd stops itself when a signer call fails with
 * UNAVAILABLE or DEADLINE_EXCEEDED (rpcwallet.go considerShutdown).  So a
 * call made while no signer is attached waits up to the hold time, and
 * every call is answered before the caller's own deadline, with a status
 * that fails only that operation (spx_decide).
 *
 * Layers, behind this one header:
 *   1. pure: the method table (spx_method_*) and the answer -> status
 *      decision (spx_decide), tested by table;
 *   2. the adapter (signerproxy_*): an rpc_server on the caller's loop
 *      (TLS with the node's certificate, the node's macaroons), one
 *      sv_forward per call, the grpc.health.v1 service.
 *
 * Ownership is written next to each pointer that crosses this header.
 */
#ifndef COLDNODE_SIGNERPROXY_H
#define COLDNODE_SIGNERPROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/common.h"
#include "rpc/rpc.h"
#include "supervisor/supervisor.h"

struct ev_loop;
struct signerproxy;

/* ------------------------------------------------------------------------
 * 1. Pure core.
 */

/* The methods lnd's RPCKeyRing calls on its signer
 * (lnwallet/rpcwallet/rpcwallet.go). */
enum spx_method {
	SPX_DERIVE_SHARED_KEY,
	SPX_SIGN_MESSAGE,
	SPX_MUSIG2_CREATE_SESSION,
	SPX_MUSIG2_REGISTER_NONCES,
	SPX_MUSIG2_REGISTER_COMBINED_NONCE,
	SPX_MUSIG2_GET_COMBINED_NONCE,
	SPX_MUSIG2_SIGN,
	SPX_MUSIG2_COMBINE_SIG,
	SPX_MUSIG2_CLEANUP,
	SPX_SIGN_PSBT,
};
#define SPX_NUM_METHODS 10

struct spx_method_info {
	const char *path;    /* "/signrpc.Signer/DeriveSharedKey" */
	const char *name;    /* "DeriveSharedKey" (metric label) */
	unsigned field;      /* SignCoordinatorRequest/Response member */
	struct rpc_perm perm; /* lnd's permission for the method */
};

/* Static; @m must be a valid enum value (else abort). */
const struct spx_method_info *spx_method_info(enum spx_method m);
/* @path borrowed.  false: not one of the ten. */
bool spx_method_lookup(enum spx_method *out, const char *path);

/* How a call ended. */
enum spx_outcome {
	SPX_OUT_OK,
	SPX_OUT_SIGNER_ERROR, /* the signer refused: its text */
	SPX_OUT_AWAY,         /* no signer within the hold time: not sent */
	SPX_OUT_LOST,         /* the signer went away with the call sent */
	SPX_OUT_SLOW,         /* no answer before the caller's deadline */
	SPX_OUT_BAD_REPLY,    /* an answer of another method's type */
	SPX_OUT_CANCELLED,    /* the caller went away first */
};
#define SPX_NUM_OUTCOMES 7
const char *spx_outcome_str(enum spx_outcome o); /* "signer_away", static */

struct spx_verdict {
	enum spx_outcome outcome;
	enum rpc_status status; /* never UNAVAILABLE or DEADLINE_EXCEEDED */
	char msg[1200];         /* grpc-message ("" on OK) */
};

/**
 * spx_decide - the status a call gets from its forwarded answer.
 * @out: filled.  @m: the method.  @a: borrowed, the supervisor's answer.
 * @hold: the hold time in seconds (for the text).
 * The body to send (on SPX_OUT_OK) is @a->body.
 */
void spx_decide(struct spx_verdict *out, enum spx_method m,
		const struct sv_fwd_answer *a, double hold);
/* The verdict for a call still unanswered at its deadline (@sent: it
 * reached the signer). */
void spx_decide_slow(struct spx_verdict *out, enum spx_method m, bool sent);

/* Statistics per method since start. */
struct spx_method_stats {
	uint64_t calls;       /* calls received (macaroon passed) */
	uint64_t forwarded;   /* sent to a signer */
	uint64_t held;        /* waited for a signer first */
	uint64_t outcomes[SPX_NUM_OUTCOMES];
	struct cn_hist wait;  /* seconds held waiting for a signer */
	struct cn_hist signer; /* seconds from sent to the signer's answer */
};
struct spx_stats {
	struct spx_method_stats m[SPX_NUM_METHODS];
	uint64_t held_now;      /* calls waiting for a signer now */
	uint64_t in_flight_now; /* calls at the signer now */
	uint64_t connections;   /* connections open now */
};

/* ------------------------------------------------------------------------
 * 2. The listener.
 */

/* grpc.health.v1 service names on the proxy's listener: SERVING while a
 * signer is attached and ready, NOT_SERVING otherwise.  "" (the server)
 * is always SERVING. */
#define SPX_HEALTH_SERVICE "coldnode.signerproxy"

struct signerproxy_config {
	const char *const *listen; /* "host:port"; borrowed during _new */
	size_t num_listen;
	/* PEM cert/key; borrowed during _new.  NULL: cleartext (tests). */
	const char *tls_cert_path;
	const char *tls_key_path;
	/* Borrowed; must outlive the proxy. */
	const struct rpc_macaroon_svc *macaroons;
	double hold_time;    /* seconds a call waits for a signer; 3 */
	/* Seconds before the caller's grpc-timeout by which every call is
	 * answered; 0.25 */
	double margin;
	/* A caller that sent no grpc-timeout: answered within this; 4.5
	 * (lnd sends one: remotesigner.timeout, 5 s by default). */
	double default_deadline;
	size_t max_msg;      /* bytes per request; SV_MAX_FORWARD_MSG */
	size_t max_streams;  /* calls at once per connection; 2048 */
};
void signerproxy_config_default(struct signerproxy_config *cfg);

/**
 * signerproxy_new - listen and serve.
 * @loop, @sv: borrowed; must outlive the proxy (free it first).
 * @cfg: copied.  Returns NULL (logged) if it cannot listen.
 */
struct signerproxy *signerproxy_new(struct ev_loop *loop,
				    struct supervisor *sv,
				    const struct signerproxy_config *cfg);
/* Ends every call (the pending ones through the supervisor first) and
 * closes the listener.  NULL ok. */
void signerproxy_free(struct signerproxy *p);

/* The supervisor's state changed: health Watch streams get the news. */
void signerproxy_signer_changed(struct signerproxy *p);

/* Bound port of listener @idx (0 if none). */
uint16_t signerproxy_port(const struct signerproxy *p, size_t idx);
void signerproxy_get_stats(const struct signerproxy *p, struct spx_stats *out);
/* The listener's server, for its connection budget and per-status
 * counters; borrowed, owned by @p. */
struct rpc_server *signerproxy_server(struct signerproxy *p);

/* Write a macaroon for the watch-only lnd to @path (borrowed) unless the
 * file exists.  Permissions: lnd's docs/remote-signing.md list for a
 * signer (message:write signer:generate address:read onchain:write) plus
 * signer:read, which MuSig2GetCombinedNonce needs.  Logs; false on
 * failure. */
bool signerproxy_bake_macaroon(const struct rpc_macaroon_svc *macaroons,
			       const char *path);

#endif /* COLDNODE_SIGNERPROXY_H */
