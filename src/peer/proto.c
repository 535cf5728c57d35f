/*~ The BOLT 1 session rules, without I/O: init first, ping/pong matching,
 * "it's OK to be odd", and sorting messages into control, gossip and
 * channel traffic.  session.c turns the verdicts into actions.
 */
#include "peer/peer_proto.h"

#include "common/common.h"

#include <stdio.h>
#include <string.h>

void peer_proto_init(struct peer_proto *pp, const uint8_t chain_hash[32])
{
	memset(pp, 0, sizeof(*pp));
	memcpy(pp->chain_hash, chain_hash, 32);
}

bool peer_proto_has_feature(const struct peer_proto *pp, unsigned bit)
{
	if (bit >= PEER_WIRE_MAX_FEATURE_BITS)
		return false;
	return pp->features[bit / 8] & (1u << (bit % 8));
}

void peer_proto_ping_sent(struct peer_proto *pp, uint16_t num_pong_bytes)
{
	pp->ping_outstanding = true;
	pp->ping_expect = num_pong_bytes;
}

static enum peer_proto_verdict close_why(struct peer_proto_out *out,
					 const char *fmt, ...) CN_PRINTF(2, 3);
static enum peer_proto_verdict close_why(struct peer_proto_out *out,
					 const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(out->why, sizeof(out->why), fmt, ap);
	va_end(ap);
	return PEER_PROTO_CLOSE;
}

/* BOLT #1: "The receiving node: ... MUST set feature bits as if they were
 * the logical OR of globalfeatures and features" -- kept as a bitmap. */
static void merge_features(struct peer_proto *pp, const uint8_t *bits,
			   size_t len)
{
	for (size_t byte = 0; byte < len && byte < sizeof(pp->features);
	     byte++)
		pp->features[byte] |= bits[len - 1 - byte];
}

static enum peer_proto_verdict recv_init(struct peer_proto *pp,
					 struct peer_proto_out *out,
					 const uint8_t *msg, size_t len)
{
	struct peer_wire_init init;
	enum peer_wire_err err;
	long bit;

	if (pp->got_init)
		return close_why(out, "second init message");
	err = peer_wire_parse_init(&init, msg, len);
	if (err != PEER_WIRE_OK)
		return close_why(out, "bad init: %s", peer_wire_strerror(err));
	/* BOLT #1: "upon receiving unknown even feature bits that are
	 * non-zero: MUST fail the connection." */
	bit = peer_wire_feature_unknown_even(init.globalfeatures, init.gflen);
	if (bit < 0)
		bit = peer_wire_feature_unknown_even(init.features, init.flen);
	if (bit >= 0)
		return close_why(out, "init requires unknown feature bit %ld",
				 bit);
	/* BOLT #1: "MAY close the connection if `networks` is present and
	 * does not contain any chain_hash it is interested in." */
	if (!peer_wire_init_has_chain(&init, pp->chain_hash)) {
		char first[65] = "none";
		if (init.num_networks)
			hex_encode(first, init.networks, 32);
		return close_why(out,
				 "init networks has no chain in common with "
				 "ours (%zu chains offered, first %s)",
				 init.num_networks, first);
	}
	merge_features(pp, init.globalfeatures, init.gflen);
	merge_features(pp, init.features, init.flen);
	pp->got_init = true;
	return PEER_PROTO_READY;
}

static enum peer_proto_verdict recv_ping(struct peer_proto *pp,
					 struct peer_proto_out *out,
					 const uint8_t *msg, size_t len,
					 double now)
{
	uint16_t num;

	if (peer_wire_parse_ping(&num, msg, len) != PEER_WIRE_OK)
		return close_why(out, "malformed ping");
	pp->pings_received++;
	/* Fixed windows: cheap, and no 30 s span holds more than twice the
	 * cap.  A clock going backwards also starts a new window. */
	if (pp->ping_window_count == 0 || now < pp->ping_window_start ||
	    now - pp->ping_window_start >= PEER_PROTO_PING_WINDOW) {
		pp->ping_window_start = now;
		pp->ping_window_count = 0;
	}
	/* BOLT #1: "SHOULD fail the channels if it has received
	 * significantly in excess of one `ping` per 30 seconds" -- we hold
	 * none, so we close: each ping may cost us a 65531-byte pong. */
	if (++pp->ping_window_count > PEER_PROTO_PING_MAX)
		return close_why(out, "ping flood: more than %d pings in %.0f s",
				 PEER_PROTO_PING_MAX, PEER_PROTO_PING_WINDOW);
	/* BOLT #1: "otherwise (`num_pong_bytes` is not less than 65532):
	 * MUST ignore the `ping`." */
	if (num >= PEER_WIRE_PONG_LIMIT)
		return PEER_PROTO_IGNORE;
	out->pong_len = num;
	return PEER_PROTO_PONG;
}

static enum peer_proto_verdict recv_pong(struct peer_proto *pp,
					 struct peer_proto_out *out,
					 const uint8_t *msg, size_t len)
{
	uint16_t n;

	if (peer_wire_parse_pong(&n, msg, len) != PEER_WIRE_OK)
		return close_why(out, "malformed pong");
	/* BOLT #1: "if `byteslen` does not correspond to any `ping`'s
	 * `num_pong_bytes` value it has sent: MAY close the connection." */
	if (!pp->ping_outstanding)
		return close_why(out, "unsolicited pong");
	if (n != pp->ping_expect)
		return close_why(out, "pong of %u bytes, we asked for %u", n,
				 pp->ping_expect);
	pp->ping_outstanding = false;
	return PEER_PROTO_PONG_OK;
}

static enum peer_proto_verdict recv_errmsg(struct peer_proto_out *out,
					   const uint8_t *msg, size_t len)
{
	struct peer_wire_errmsg e;
	char text[120];
	static const uint8_t zero[32];
	char cid[65];

	if (peer_wire_parse_errmsg(&e, msg, len) != PEER_WIRE_OK)
		return close_why(out, "malformed %s",
				 peer_wire_type_name(out->type));
	peer_wire_printable(text, sizeof(text), e.data, e.dlen);
	if (e.type == PEER_WIRE_WARNING) {
		/* BOLT #1: a warning is only logged. */
		log_unusual("PEER", "peer warning (channel %s): %s",
			    memcmp(e.channel_id, zero, 32) == 0
				    ? "all"
				    : hex_encode(cid, e.channel_id, 32),
			    text);
		return PEER_PROTO_IGNORE;
	}
	/* We hold no channels with a gossip-only peer, and an error about all
	 * channels ends the relationship: close, keeping its text. */
	return close_why(out, "peer sent error (channel %s): %s",
			 memcmp(e.channel_id, zero, 32) == 0
				 ? "all"
				 : hex_encode(cid, e.channel_id, 32),
			 text);
}

enum peer_proto_verdict peer_proto_recv(struct peer_proto *pp,
					struct peer_proto_out *out,
					const uint8_t *msg, size_t len,
					double now)
{
	uint16_t type;

	out->why[0] = '\0';
	out->pong_len = 0;
	out->type = 0;
	/* BOLT #8: a message carries at least its 2-byte type. */
	if (len < 2)
		return close_why(out, "message of %zu bytes has no type", len);
	type = be16_get(msg);
	out->type = type;

	/* BOLT #1: "MUST wait to receive `init` before sending any other
	 * messages" -- and the peer must send init first. */
	if (!pp->got_init && type != PEER_WIRE_INIT)
		return close_why(out, "first message was %s (%u), not init",
				 peer_wire_type_name(type), type);

	switch (type) {
	case PEER_WIRE_INIT:
		return recv_init(pp, out, msg, len);
	case PEER_WIRE_PING:
		return recv_ping(pp, out, msg, len, now);
	case PEER_WIRE_PONG:
		return recv_pong(pp, out, msg, len);
	case PEER_WIRE_WARNING:
	case PEER_WIRE_ERROR:
		return recv_errmsg(out, msg, len);
	}
	/* BOLT #1: "32-127: channel, 128-255: commitment". */
	if (type >= 32 && type <= 255)
		return PEER_PROTO_CHANNEL;
	/* BOLT #7 gossip and gossip queries. */
	if (type >= 256 && type <= 265)
		return PEER_PROTO_GOSSIP;
	/* BOLT #1: "upon receiving a message of odd, unknown type: MUST
	 * ignore the received message.  upon receiving a message of even,
	 * unknown type: MUST close the connection." */
	if (type & 1)
		return PEER_PROTO_IGNORE;
	return close_why(out, "unknown even message type %u", type);
}
