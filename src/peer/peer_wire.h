/*~ peer_wire: BOLT 1 message codec (internal to src/peer; tests and fuzz
 * targets include it too).  Pure: bytes in, values out, no allocation.
 *
 * Every message starts with its u16 type.  Parsers take the whole message
 * (type included) and borrow pointers into it; builders write into a caller
 * buffer of @cap bytes and return the length written, or 0 if it does not fit.
 */
#ifndef COLDNODE_PEER_WIRE_H
#define COLDNODE_PEER_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum peer_wire_type {
	PEER_WIRE_WARNING = 1,
	PEER_WIRE_INIT = 16,
	PEER_WIRE_ERROR = 17,
	PEER_WIRE_PING = 18,
	PEER_WIRE_PONG = 19,
};

/* BOLT #1: "The receiving node: ... if `num_pong_bytes` is less than 65532:
 * MUST respond by sending a `pong` message, with `byteslen` equal to
 * `num_pong_bytes`. otherwise (`num_pong_bytes` is not less than 65532):
 * MUST ignore the `ping`." */
#define PEER_WIRE_PONG_LIMIT 65532

/* Feature bits we keep per peer: bits at or above this are checked (unknown
 * even -> close) but not stored. */
#define PEER_WIRE_MAX_FEATURE_BITS 512

enum peer_wire_err {
	PEER_WIRE_OK = 0,
	PEER_WIRE_ERR_SHORT,        /* message or field truncated */
	PEER_WIRE_ERR_BAD_TYPE,     /* not the message type asked for */
	PEER_WIRE_ERR_BIGSIZE,      /* BigSize not minimally encoded */
	PEER_WIRE_ERR_TLV_ORDER,    /* TLV types not strictly increasing */
	PEER_WIRE_ERR_TLV_UNKNOWN_EVEN,
	PEER_WIRE_ERR_TLV_LENGTH,   /* known TLV with a bad length */
	PEER_WIRE_ERR_FEATURE_UNKNOWN_EVEN,
};

const char *peer_wire_strerror(enum peer_wire_err err);

/* Name of a message type for logs ("init", "channel_announcement",
 * "unknown"); static string. */
const char *peer_wire_type_name(uint16_t type);

/* ---- BigSize (BOLT #1 Appendix A) ---- */

/* Writes 1, 3, 5 or 9 bytes into @out; returns the length. */
size_t peer_wire_bigsize_put(uint8_t out[9], uint64_t v);
/* Reads one BigSize from *@p (*@len bytes left), advancing both. */
enum peer_wire_err peer_wire_bigsize_get(uint64_t *v, const uint8_t **p,
					 size_t *len);

/* ---- TLV streams ---- */

struct peer_wire_tlv_iter {
	const uint8_t *p; /* borrowed: rest of the stream */
	size_t len;
	bool started;
	uint64_t last_type;
};

void peer_wire_tlv_start(struct peer_wire_tlv_iter *it, const uint8_t *stream,
			 size_t len);
/**
 * peer_wire_tlv_next - next record of the stream.
 * Sets *@done at the end of the stream.  Checks canonical BigSize, strictly
 * increasing types and that the value fits; the caller decides about
 * unknown types (see peer_wire_tlv_unknown).
 */
enum peer_wire_err peer_wire_tlv_next(struct peer_wire_tlv_iter *it,
				      bool *done, uint64_t *type,
				      const uint8_t **val, size_t *vlen);
/* BOLT #1: unknown even types fail the stream, unknown odd ones are skipped.
 * Returns OK to skip or TLV_UNKNOWN_EVEN. */
enum peer_wire_err peer_wire_tlv_unknown(uint64_t type);

/* ---- Feature bits ---- */

/* BOLT #9: big-endian bitfield, bit 0 is the least significant bit of the
 * last byte.  @bits borrowed. */
bool peer_wire_feature_is_set(const uint8_t *bits, size_t len, unsigned bit);
/* The lowest even bit set in @bits that we do not know, or -1 if none.
 * "Known" means assigned in BOLT #9 (see wire.c). */
long peer_wire_feature_unknown_even(const uint8_t *bits, size_t len);
/* Minimal big-endian encoding of a 32-bit feature set; returns the length
 * (0..4) written to @out. */
size_t peer_wire_features_from_u32(uint8_t out[4], uint32_t bits);

/* ---- init (16) ---- */

struct peer_wire_init {
	const uint8_t *globalfeatures; /* borrowed from the message */
	size_t gflen;
	const uint8_t *features;
	size_t flen;
	/* TLV 1 `networks`: @num_networks chain hashes of 32 bytes. */
	bool has_networks;
	const uint8_t *networks;
	size_t num_networks;
	/* TLV 3 `remote_addr`: a BOLT 7 address descriptor, unchecked. */
	const uint8_t *remote_addr;
	size_t remote_addr_len;
};

enum peer_wire_err peer_wire_parse_init(struct peer_wire_init *init,
					const uint8_t *msg, size_t len);
/* Does the init's networks TLV include @chain (or is it absent)? */
bool peer_wire_init_has_chain(const struct peer_wire_init *init,
			      const uint8_t chain[32]);
/**
 * peer_wire_build_init - build our init.
 * @features: our feature bits, sent in `features` (globalfeatures empty:
 *   BOLT #1 "SHOULD NOT set features greater than 13 in globalfeatures").
 * @chain: sent as the only `networks` entry (32 bytes, borrowed).
 * @remote_addr: descriptor of the peer's address as we see it, or NULL.
 */
size_t peer_wire_build_init(uint8_t *out, size_t cap, uint32_t features,
			    const uint8_t chain[32],
			    const uint8_t *remote_addr, size_t remote_addr_len);
/* BOLT 7 address descriptor for an IPv4 (@family 4, 4 bytes) or IPv6
 * (@family 6, 16 bytes) address; returns the length (7 or 19), 0 if
 * @family is neither. */
size_t peer_wire_addr_descriptor(uint8_t out[19], int family,
				 const uint8_t *addr, uint16_t port);

/* ---- ping (18) / pong (19) ---- */

enum peer_wire_err peer_wire_parse_ping(uint16_t *num_pong_bytes,
					const uint8_t *msg, size_t len);
enum peer_wire_err peer_wire_parse_pong(uint16_t *byteslen,
					const uint8_t *msg, size_t len);
/* Zero-filled `ignored` bytes: BOLT #1 "MUST NOT set ignored to sensitive
 * data such as secrets or portions of initialized memory." */
size_t peer_wire_build_ping(uint8_t *out, size_t cap, uint16_t num_pong_bytes,
			    uint16_t byteslen);
size_t peer_wire_build_pong(uint8_t *out, size_t cap, uint16_t byteslen);

/* ---- warning (1) / error (17) ---- */

struct peer_wire_errmsg {
	uint16_t type; /* PEER_WIRE_WARNING or PEER_WIRE_ERROR */
	const uint8_t *channel_id; /* 32 bytes, borrowed */
	const uint8_t *data;       /* borrowed */
	size_t dlen;
};

enum peer_wire_err peer_wire_parse_errmsg(struct peer_wire_errmsg *e,
					  const uint8_t *msg, size_t len);
/* @channel_id NULL means all zeroes (all channels). */
size_t peer_wire_build_errmsg(uint8_t *out, size_t cap, uint16_t type,
			      const uint8_t *channel_id, const uint8_t *data,
			      size_t dlen);
/**
 * peer_wire_printable - render error data for a log line.
 * BOLT #1: "if `data` is not composed solely of printable ASCII characters
 * (For reference: the printable character set includes byte values 32
 * through 126, inclusive): SHOULD NOT print out `data` verbatim."
 * Printable data is copied as is; anything else becomes "hex:..." (cut to
 * fit @cap, which must be at least 16).  Returns @out.
 */
char *peer_wire_printable(char *out, size_t cap, const uint8_t *data,
			  size_t dlen);

#endif /* COLDNODE_PEER_WIRE_H */
