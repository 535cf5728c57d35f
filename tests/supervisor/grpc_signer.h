/* The signer side of coldnode's signer port over real TLS + gRPC, for
 * tests and benchmarks (test_server, test_flap, bench_supervisor): the
 * macaroon, the dial, and a well-behaved signer's registration and answers
 * (coldsigner's pure core).  Also ECDH from a local secret, for the peer
 * managers those programs run beside the supervisor. */
#ifndef COLDNODE_TEST_GRPC_SIGNER_H
#define COLDNODE_TEST_GRPC_SIGNER_H

#include <ev.h>
#include <secp256k1.h>
#include <secp256k1_ecdh.h>
#include <stdlib.h>

#include "coldsigner/coldsigner.h"
#include "peer/peer.h"
#include "rpc/rpc.h"
#include "supervisor/supervisor.h"

/* A macaroon granting @entity:@action (borrowed), hex, baked by @svc.
 * malloc'd (caller frees); NULL if baking failed. */
static inline char *signer_macaroon_hex(struct rpc_macaroon_svc *svc,
					const char *entity,
					const char *action)
{
	struct rpc_perm p = { entity, action };
	uint8_t *mac;
	size_t len;
	char *hex;

	if (!rpc_macaroon_bake(svc, &mac, &len, &p, 1, NULL, 0))
		return NULL;
	hex = malloc(2 * len + 1);
	if (hex)
		hex_encode(hex, mac, len);
	free(mac);
	return hex;
}

/* Opens the signer stream to @target with the pinned @cert and @mac_hex
 * (all borrowed; the client copies them).  NULL on failure. */
static inline struct rpc_client_stream *
signer_dial_stream(struct ev_loop *loop, const char *target, const char *cert,
		   const char *mac_hex, const struct rpc_client_stream_cbs *cbs,
		   void *arg)
{
	struct rpc_client_config cfg;

	rpc_client_config_default(&cfg);
	cfg.target = target;
	cfg.tls_cert_path = cert;
	cfg.macaroon_hex = mac_hex;
	return rpc_client_stream_open(loop, &cfg, SV_GRPC_PATH, cbs, arg);
}

/* Registers the way lnd's outbound signer does. */
static inline void signer_register(struct rpc_client_stream *s)
{
	size_t len;
	uint8_t *b = cs_registration(&len);

	rpc_client_stream_send(s, b, len);
	free(b);
}

/* Answers one request from the node with @key (borrowed), if it has an
 * answer. */
static inline void signer_answer(struct rpc_client_stream *s,
				 const struct cn_nodekey *key,
				 const uint8_t *msg, size_t len)
{
	uint8_t *out;
	size_t outlen;
	char err[128];

	if (cs_handle(key, &out, &outlen, err, sizeof(err), msg, len) ==
	    CS_REPLY)
		rpc_client_stream_send(s, out, outlen);
	free(out);
}

/* A peer manager's ECDH request @id answered at once from the local
 * secret @priv (borrowed), as a node with a hot key would. */
static inline void local_ecdh_answer(struct peer_mgr *mgr,
				     const uint8_t priv[32], uint64_t id,
				     const uint8_t point[33])
{
	secp256k1_pubkey pk;
	uint8_t secret[32] = { 0 };
	bool ok = secp256k1_ec_pubkey_parse(cn_secp(), &pk, point, 33) &&
		  secp256k1_ecdh(cn_secp(), secret, &pk, priv, NULL, NULL);

	peer_mgr_ecdh_done(mgr, id, ok, secret);
}

#endif /* COLDNODE_TEST_GRPC_SIGNER_H */
