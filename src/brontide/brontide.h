/*~ brontide: BOLT 8 transport, Noise_XK_secp256k1_ChaChaPoly_SHA256.
 *
 * Two layers, as in Core Lightning's cryptomsg/handshake split:
 *  - a pure core (struct brontide_hs, struct brontide_cipher): bytes in,
 *    bytes out, no sockets, no clock;
 *  - a libev adapter (struct brontide_conn) that reads and writes a socket.
 *
 * brontide never sees the node's private key.  Each side of a handshake
 * needs exactly one ECDH with the node key (the responder in act one, the
 * initiator in act three); the core stops with BRONTIDE_NEED_ECDH and waits
 * until the caller hands back SHA256(compressed(node_priv * point)), which
 * may come much later from a remote signer.
 *
 * Argument order: object first, then outputs, then inputs; a length follows
 * its buffer.  Ownership is written next to each pointer: "borrowed" (caller
 * keeps it), "copied", or "takes" (callee frees it).
 */
#ifndef COLDNODE_BRONTIDE_H
#define COLDNODE_BRONTIDE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BRONTIDE_ACT1_SIZE 50
#define BRONTIDE_ACT2_SIZE 50
#define BRONTIDE_ACT3_SIZE 66
#define BRONTIDE_MAC_SIZE 16
/* BOLT #8: "The maximum size of any Lightning message MUST NOT exceed 65535 bytes." */
#define BRONTIDE_MAX_MSG 65535
/* Encrypted length prefix: 2 bytes + MAC. */
#define BRONTIDE_HDR_SIZE 18
/* Bytes on the wire for one message of @len bytes. */
#define BRONTIDE_WIRE_SIZE(len) (BRONTIDE_HDR_SIZE + (len) + BRONTIDE_MAC_SIZE)

enum brontide_role {
	BRONTIDE_INITIATOR,
	BRONTIDE_RESPONDER,
};

/* Results.  The ACT* names are the spec vectors' expected_error names. */
enum brontide_err {
	BRONTIDE_OK = 0,
	/* Not errors: what the core needs next. */
	BRONTIDE_NEED_ECDH,
	/* Handshake failures (the connection must be closed, nothing sent). */
	BRONTIDE_ERR_ACT1_READ_FAILED,
	BRONTIDE_ERR_ACT1_BAD_VERSION,
	BRONTIDE_ERR_ACT1_BAD_PUBKEY,
	BRONTIDE_ERR_ACT1_BAD_TAG,
	BRONTIDE_ERR_ACT2_READ_FAILED,
	BRONTIDE_ERR_ACT2_BAD_VERSION,
	BRONTIDE_ERR_ACT2_BAD_PUBKEY,
	BRONTIDE_ERR_ACT2_BAD_TAG,
	BRONTIDE_ERR_ACT3_READ_FAILED,
	BRONTIDE_ERR_ACT3_BAD_VERSION,
	BRONTIDE_ERR_ACT3_BAD_CIPHERTEXT,
	BRONTIDE_ERR_ACT3_BAD_PUBKEY,
	BRONTIDE_ERR_ACT3_BAD_TAG,
	/* The key source refused or was lost (e.g. signer gone). */
	BRONTIDE_ERR_ECDH_FAILED,
	BRONTIDE_ERR_HANDSHAKE_TIMEOUT,
	/* Transport failures. */
	BRONTIDE_ERR_BAD_LENGTH_TAG,
	BRONTIDE_ERR_BAD_BODY_TAG,
	BRONTIDE_ERR_MSG_TOO_LONG,
	BRONTIDE_ERR_IO,         /* read/write error or reset */
	BRONTIDE_ERR_EOF,        /* peer closed */
	BRONTIDE_ERR_BUFFER_FULL,/* send queue over its byte cap */
	BRONTIDE_ERR_NOMEM,
};

/* Human readable, static string: "ACT1_BAD_TAG: act one MAC check failed". */
const char *brontide_strerror(enum brontide_err err);
/* The spec vector name alone ("ACT1_BAD_TAG"), static string. */
const char *brontide_errname(enum brontide_err err);

/* ------------------------------------------------------------------------
 * Pure handshake state machine.
 *
 * Initiator:  brontide_hs_act1 -> brontide_hs_recv_act2 (NEED_ECDH)
 *             -> brontide_hs_ecdh_done -> brontide_hs_act3 -> split
 * Responder:  brontide_hs_recv_act1 (NEED_ECDH) -> brontide_hs_ecdh_done
 *             -> brontide_hs_act2 -> brontide_hs_recv_act3 -> split
 * Any call out of order is a programmer error and aborts.
 */
struct brontide_hs;

/**
 * brontide_hs_new - start a handshake.
 * @role: initiator or responder.
 * @ls_pub: our static (node) public key, 33 bytes, copied.
 * @rs_pub: initiator: the responder's node id, 33 bytes, copied;
 *          responder: NULL.
 * @e_priv: ephemeral private key, copied; NULL picks a fresh random one.
 *          Only tests pass a fixed key (to replay the spec vectors).
 * Returns NULL if a key is invalid or on allocation failure.
 */
struct brontide_hs *brontide_hs_new(enum brontide_role role,
				    const uint8_t ls_pub[33],
				    const uint8_t *rs_pub,
				    const uint8_t *e_priv);
/* Wipes and frees every secret; NULL is fine. */
void brontide_hs_free(struct brontide_hs *hs);

/* Initiator: write act one (50 bytes) into @out. */
enum brontide_err brontide_hs_act1(struct brontide_hs *hs, uint8_t out[50]);
/* Responder: check act one.  @len other than 50 gives ACT1_READ_FAILED.
 * Returns NEED_ECDH on success. */
enum brontide_err brontide_hs_recv_act1(struct brontide_hs *hs,
					const uint8_t *in, size_t len);
/* Initiator: check act two; returns NEED_ECDH on success. */
enum brontide_err brontide_hs_recv_act2(struct brontide_hs *hs,
					const uint8_t *in, size_t len);
/* After NEED_ECDH: the 33-byte point the node key must multiply
 * (borrowed, valid until the next call on @hs). */
const uint8_t *brontide_hs_ecdh_point(const struct brontide_hs *hs);
/* Hand in SHA256(compressed(node_priv * point)); @secret is copied and the
 * caller should wipe its own copy. */
void brontide_hs_ecdh_done(struct brontide_hs *hs, const uint8_t secret[32]);
/* Responder: write act two. */
enum brontide_err brontide_hs_act2(struct brontide_hs *hs, uint8_t out[50]);
/* Initiator: write act three; the handshake is then complete. */
enum brontide_err brontide_hs_act3(struct brontide_hs *hs, uint8_t out[66]);
/* Responder: check act three; the handshake is then complete. */
enum brontide_err brontide_hs_recv_act3(struct brontide_hs *hs,
					const uint8_t *in, size_t len);
/* Complete handshake only: the remote node id (33 bytes, borrowed). */
const uint8_t *brontide_hs_remote_pub(const struct brontide_hs *hs);

struct brontide_cipher;
/**
 * brontide_hs_split - turn a complete handshake into transport keys.
 * Does not free @hs.  Returns NULL on allocation failure.
 */
struct brontide_cipher *brontide_hs_split(struct brontide_hs *hs);

/* ------------------------------------------------------------------------
 * Pure transport cipher (one per session; both directions).
 * Keys live in sodium_malloc memory and are wiped by brontide_cipher_free.
 */

/* From raw keys (tests, benchmarks): @sk, @rk, @ck copied. */
struct brontide_cipher *brontide_cipher_new(const uint8_t sk[32],
					    const uint8_t rk[32],
					    const uint8_t ck[32]);
void brontide_cipher_free(struct brontide_cipher *c);

/**
 * brontide_cipher_encrypt - frame one message.
 * @out: receives BRONTIDE_WIRE_SIZE(@len) bytes.
 * Returns MSG_TOO_LONG if @len > 65535 (nothing written, no nonce used).
 */
enum brontide_err brontide_cipher_encrypt(struct brontide_cipher *c,
					  uint8_t *out, const uint8_t *msg,
					  size_t len);
/* Decrypt an 18-byte header into the body length (without MAC). */
enum brontide_err brontide_cipher_decrypt_len(struct brontide_cipher *c,
					      uint16_t *len,
					      const uint8_t hdr[18]);
/* Decrypt @len+16 bytes of body into @out (@len bytes).  In place is fine
 * (@out == @in). */
enum brontide_err brontide_cipher_decrypt_body(struct brontide_cipher *c,
					       uint8_t *out, const uint8_t *in,
					       size_t len);

/* Test and bench hooks: current send key and chaining key (borrowed). */
const uint8_t *brontide_cipher_sk(const struct brontide_cipher *c);
const uint8_t *brontide_cipher_sck(const struct brontide_cipher *c);

/* ------------------------------------------------------------------------
 * libev adapter: one TCP (or unix) connection.
 */
struct ev_loop;
struct brontide_conn;

struct brontide_conn_cbs {
	/* The handshake needs ECDH with the node key on @point (33 bytes,
	 * borrowed for the duration of the call).  Answer now or later with
	 * brontide_conn_ecdh_done. */
	void (*ecdh)(void *arg, struct brontide_conn *c, const uint8_t point[33]);
	/* A pending ECDH will never be answered because @c is going away:
	 * forget it.  Called from inside brontide_conn_free. */
	void (*ecdh_cancel)(void *arg, struct brontide_conn *c);
	/* Handshake complete; @remote_pub (33 bytes) borrowed. */
	void (*ready)(void *arg, struct brontide_conn *c,
		      const uint8_t remote_pub[33]);
	/* One decrypted message; @msg borrowed until return.  The callee may
	 * call brontide_conn_free(@c) here. */
	void (*recv)(void *arg, struct brontide_conn *c, const uint8_t *msg,
		     size_t len);
	/* The connection failed (@err says why, @detail may be NULL).  After
	 * this returns brontide frees @c: do not touch it again. */
	void (*closed)(void *arg, struct brontide_conn *c,
		       enum brontide_err err, const char *detail);
};

/**
 * brontide_conn_new - run a handshake, then a transport, on @fd.
 * @loop: the daemon's loop (borrowed).
 * @fd: a connected, non-blocking socket (takes: closed by free).
 * @rs_pub: initiator only, the node id we dial (copied); NULL otherwise.
 * @handshake_timeout: seconds until an unfinished handshake is dropped,
 *   including time spent waiting for the ECDH answer.
 * @cbs: borrowed, must outlive the connection.
 * @arg: handed to every callback.
 */
struct brontide_conn *brontide_conn_new(struct ev_loop *loop, int fd,
					enum brontide_role role,
					const uint8_t ls_pub[33],
					const uint8_t *rs_pub,
					double handshake_timeout,
					const struct brontide_conn_cbs *cbs,
					void *arg);
/* Answer a pending ECDH.  @ok false (signer gone) fails the handshake with
 * ECDH_FAILED.  @secret copied. */
void brontide_conn_ecdh_done(struct brontide_conn *c, bool ok,
			     const uint8_t secret[32]);
/* Queue one message (copied).  MSG_TOO_LONG for > 65535; BUFFER_FULL when
 * the queued bytes would pass the cap (the caller decides to drop). */
enum brontide_err brontide_conn_send(struct brontide_conn *c,
				     const uint8_t *msg, size_t len);
/* Bytes queued but not yet written. */
size_t brontide_conn_queued(const struct brontide_conn *c);
/* Those plus the bytes in the kernel's send queue not yet acknowledged by
 * the remote: what a bulk sender paces itself by (on loopback the kernel
 * alone holds megabytes). */
size_t brontide_conn_unsent(const struct brontide_conn *c);
/* Cap on queued bytes (default 4 MiB). */
void brontide_conn_set_send_cap(struct brontide_conn *c, size_t cap);
bool brontide_conn_is_ready(const struct brontide_conn *c);
/* Remote node id (33 bytes, borrowed) once ready, else NULL. */
const uint8_t *brontide_conn_remote_pub(const struct brontide_conn *c);
/* Close now (no callback), wipe keys, free.  NULL is fine.  Safe to call
 * from inside any callback of @c except closed. */
void brontide_conn_free(struct brontide_conn *c);

/* Opaque test hook: set a fixed ephemeral key for the next brontide_conn_new
 * (NULL resets to random).  Tests only. */
void brontide_conn_test_set_ephemeral(const uint8_t *e_priv);

#endif /* COLDNODE_BRONTIDE_H */
