/*~ BOLT 1 message codec: BigSize, TLV streams, feature bits, and the
 * init / ping / pong / warning / error messages.  Pure functions over byte
 * buffers, so the session code, the unit tests and the fuzzer share them.
 */
#include "peer/peer_wire.h"

#include "common/common.h"

#include <stdio.h>
#include <string.h>

const char *peer_wire_strerror(enum peer_wire_err err)
{
	switch (err) {
	case PEER_WIRE_OK:
		return "ok";
	case PEER_WIRE_ERR_SHORT:
		return "message truncated";
	case PEER_WIRE_ERR_BAD_TYPE:
		return "wrong message type";
	case PEER_WIRE_ERR_BIGSIZE:
		return "decoded bigsize is not canonical";
	case PEER_WIRE_ERR_TLV_ORDER:
		return "TLV types not strictly increasing";
	case PEER_WIRE_ERR_TLV_UNKNOWN_EVEN:
		return "unknown even TLV type";
	case PEER_WIRE_ERR_TLV_LENGTH:
		return "TLV record with a bad length";
	case PEER_WIRE_ERR_FEATURE_UNKNOWN_EVEN:
		return "unknown even feature bit";
	}
	return "?";
}

const char *peer_wire_type_name(uint16_t type)
{
	switch (type) {
	case 1: return "warning";
	case 7: return "peer_storage";
	case 9: return "peer_storage_retrieval";
	case 16: return "init";
	case 17: return "error";
	case 18: return "ping";
	case 19: return "pong";
	case 32: return "open_channel";
	case 33: return "accept_channel";
	case 34: return "funding_created";
	case 35: return "funding_signed";
	case 36: return "channel_ready";
	case 38: return "shutdown";
	case 39: return "closing_signed";
	case 128: return "update_add_htlc";
	case 130: return "update_fulfill_htlc";
	case 131: return "update_fail_htlc";
	case 132: return "commitment_signed";
	case 133: return "revoke_and_ack";
	case 134: return "update_fee";
	case 135: return "update_fail_malformed_htlc";
	case 136: return "channel_reestablish";
	case 256: return "channel_announcement";
	case 257: return "node_announcement";
	case 258: return "channel_update";
	case 259: return "announcement_signatures";
	case 261: return "query_short_channel_ids";
	case 262: return "reply_short_channel_ids_end";
	case 263: return "query_channel_range";
	case 264: return "reply_channel_range";
	case 265: return "gossip_timestamp_filter";
	}
	return "unknown";
}

/* ---- BigSize ---- */

size_t peer_wire_bigsize_put(uint8_t out[9], uint64_t v)
{
	if (v < 0xfd) {
		out[0] = (uint8_t)v;
		return 1;
	}
	if (v <= 0xffff) {
		out[0] = 0xfd;
		be16_put(out + 1, (uint16_t)v);
		return 3;
	}
	if (v <= 0xffffffff) {
		out[0] = 0xfe;
		be32_put(out + 1, (uint32_t)v);
		return 5;
	}
	out[0] = 0xff;
	be64_put(out + 1, v);
	return 9;
}

enum peer_wire_err peer_wire_bigsize_get(uint64_t *v, const uint8_t **p,
					 size_t *len)
{
	const uint8_t *b = *p;
	size_t need;
	uint64_t min;

	if (*len < 1)
		return PEER_WIRE_ERR_SHORT;
	switch (b[0]) {
	case 0xfd:
		need = 3;
		min = 0xfd;
		break;
	case 0xfe:
		need = 5;
		min = 0x10000;
		break;
	case 0xff:
		need = 9;
		min = 0x100000000ULL;
		break;
	default:
		*v = b[0];
		(*p)++;
		(*len)--;
		return PEER_WIRE_OK;
	}
	if (*len < need)
		return PEER_WIRE_ERR_SHORT;
	if (need == 3)
		*v = be16_get(b + 1);
	else if (need == 5)
		*v = be32_get(b + 1);
	else
		*v = be64_get(b + 1);
	/* BOLT #1: "decoded bigsize is not canonical" is a failure. */
	if (*v < min)
		return PEER_WIRE_ERR_BIGSIZE;
	*p += need;
	*len -= need;
	return PEER_WIRE_OK;
}

/* ---- TLV ---- */

void peer_wire_tlv_start(struct peer_wire_tlv_iter *it, const uint8_t *stream,
			 size_t len)
{
	it->p = stream;
	it->len = len;
	it->started = false;
	it->last_type = 0;
}

enum peer_wire_err peer_wire_tlv_next(struct peer_wire_tlv_iter *it,
				      bool *done, uint64_t *type,
				      const uint8_t **val, size_t *vlen)
{
	enum peer_wire_err err;
	uint64_t l;

	*done = (it->len == 0);
	if (*done)
		return PEER_WIRE_OK;
	err = peer_wire_bigsize_get(type, &it->p, &it->len);
	if (err != PEER_WIRE_OK)
		return err;
	/* BOLT #1: "if decoded `type`s are not strictly-increasing (including
	 * situations where two or more occurrences of the same `type` are
	 * encountered): MUST fail to parse the `tlv_stream`." */
	if (it->started && *type <= it->last_type)
		return PEER_WIRE_ERR_TLV_ORDER;
	it->started = true;
	it->last_type = *type;
	err = peer_wire_bigsize_get(&l, &it->p, &it->len);
	if (err != PEER_WIRE_OK)
		return err;
	/* BOLT #1: "if `length` exceeds the number of bytes remaining in the
	 * message: MUST fail to parse the `tlv_stream`." */
	if (l > it->len)
		return PEER_WIRE_ERR_SHORT;
	*val = it->p;
	*vlen = (size_t)l;
	it->p += l;
	it->len -= (size_t)l;
	return PEER_WIRE_OK;
}

enum peer_wire_err peer_wire_tlv_unknown(uint64_t type)
{
	/* BOLT #1: "if `type` is even: MUST fail to parse the `tlv_stream`.
	 * otherwise, if `type` is odd: MUST discard the next `length` bytes." */
	return (type & 1) ? PEER_WIRE_OK : PEER_WIRE_ERR_TLV_UNKNOWN_EVEN;
}

/* ---- Features ---- */

/* Even bits of the feature pairs assigned in BOLT #9 (and the deprecated
 * ones still seen on the network).  We understand what each means, so a
 * peer requiring one is not a reason to hang up on it at the transport
 * level; whoever runs channels decides the rest. */
static const unsigned known_even_features[] = {
	0,  /* option_data_loss_protect */
	4,  /* option_upfront_shutdown_script */
	6,  /* gossip_queries */
	8,  /* var_onion_optin */
	10, /* gossip_queries_ex */
	12, /* option_static_remotekey */
	14, /* payment_secret */
	16, /* basic_mpp */
	18, /* option_support_large_channel */
	20, /* option_anchor_outputs (deprecated) */
	22, /* option_anchors_zero_fee_htlc_tx */
	24, /* option_route_blinding */
	26, /* option_shutdown_anysegwit */
	28, /* option_dual_fund */
	34, /* option_quiesce */
	38, /* option_onion_messages */
	40, /* option_want_storage (was want_peer_backup_storage) */
	42, /* option_provide_storage */
	44, /* option_channel_type */
	46, /* option_scid_alias */
	48, /* option_payment_metadata */
	50, /* option_zeroconf */
	60, /* option_simple_close */
	62, /* option_splice */
};

bool peer_wire_feature_is_set(const uint8_t *bits, size_t len, unsigned bit)
{
	size_t byte = bit / 8;

	if (byte >= len)
		return false;
	return bits[len - 1 - byte] & (1u << (bit % 8));
}

static bool feature_known(unsigned bit)
{
	for (size_t i = 0; i < CN_ARRAY_SIZE(known_even_features); i++)
		if (known_even_features[i] == bit)
			return true;
	return false;
}

long peer_wire_feature_unknown_even(const uint8_t *bits, size_t len)
{
	for (size_t byte = 0; byte < len; byte++) {
		uint8_t b = bits[len - 1 - byte];
		/* Even bits only: 0x55 masks bits 0, 2, 4, 6 of each byte. */
		for (unsigned i = 0; i < 8 && (b & 0x55); i += 2) {
			unsigned bit = (unsigned)(byte * 8 + i);
			if ((b & (1u << i)) && !feature_known(bit))
				return (long)bit;
		}
	}
	return -1;
}

size_t peer_wire_features_from_u32(uint8_t out[4], uint32_t bits)
{
	size_t n = 0;

	while (n < 4 && (bits >> (8 * n)))
		n++;
	for (size_t i = 0; i < n; i++)
		out[n - 1 - i] = (uint8_t)(bits >> (8 * i));
	return n;
}

/* ---- init ---- */

/* init TLV types. */
#define INIT_TLV_NETWORKS 1
#define INIT_TLV_REMOTE_ADDR 3

enum peer_wire_err peer_wire_parse_init(struct peer_wire_init *init,
					const uint8_t *msg, size_t len)
{
	struct peer_wire_tlv_iter it;
	enum peer_wire_err err;
	size_t off = 2;

	memset(init, 0, sizeof(*init));
	if (len < 2)
		return PEER_WIRE_ERR_SHORT;
	if (be16_get(msg) != PEER_WIRE_INIT)
		return PEER_WIRE_ERR_BAD_TYPE;
	if (len < off + 2)
		return PEER_WIRE_ERR_SHORT;
	init->gflen = be16_get(msg + off);
	off += 2;
	if (len - off < init->gflen)
		return PEER_WIRE_ERR_SHORT;
	init->globalfeatures = msg + off;
	off += init->gflen;
	if (len - off < 2)
		return PEER_WIRE_ERR_SHORT;
	init->flen = be16_get(msg + off);
	off += 2;
	if (len - off < init->flen)
		return PEER_WIRE_ERR_SHORT;
	init->features = msg + off;
	off += init->flen;

	peer_wire_tlv_start(&it, msg + off, len - off);
	for (;;) {
		bool done;
		uint64_t type;
		const uint8_t *val;
		size_t vlen;

		err = peer_wire_tlv_next(&it, &done, &type, &val, &vlen);
		if (err != PEER_WIRE_OK)
			return err;
		if (done)
			break;
		switch (type) {
		case INIT_TLV_NETWORKS:
			/* [...*chain_hash:chains] */
			if (vlen % 32)
				return PEER_WIRE_ERR_TLV_LENGTH;
			init->has_networks = true;
			init->networks = val;
			init->num_networks = vlen / 32;
			break;
		case INIT_TLV_REMOTE_ADDR:
			init->remote_addr = val;
			init->remote_addr_len = vlen;
			break;
		default:
			err = peer_wire_tlv_unknown(type);
			if (err != PEER_WIRE_OK)
				return err;
		}
	}
	return PEER_WIRE_OK;
}

bool peer_wire_init_has_chain(const struct peer_wire_init *init,
			      const uint8_t chain[32])
{
	if (!init->has_networks)
		return true;
	for (size_t i = 0; i < init->num_networks; i++)
		if (memcmp(init->networks + 32 * i, chain, 32) == 0)
			return true;
	return false;
}

size_t peer_wire_build_init(uint8_t *out, size_t cap, uint32_t features,
			    const uint8_t chain[32],
			    const uint8_t *remote_addr, size_t remote_addr_len)
{
	uint8_t fbytes[4];
	size_t flen = peer_wire_features_from_u32(fbytes, features);
	size_t off = 0;
	size_t need = 2 + 2 + 2 + flen + 2 + 32;

	/* A remote_addr this long would need a multi-byte BigSize length; we
	 * only ever send 7 or 19 bytes. */
	if (remote_addr && remote_addr_len >= 0xfd)
		return 0;
	if (remote_addr)
		need += 2 + remote_addr_len;
	if (cap < need)
		return 0;
	be16_put(out, PEER_WIRE_INIT);
	off = 2;
	be16_put(out + off, 0); /* globalfeatures */
	off += 2;
	be16_put(out + off, (uint16_t)flen);
	off += 2;
	memcpy(out + off, fbytes, flen);
	off += flen;
	out[off++] = INIT_TLV_NETWORKS;
	out[off++] = 32;
	memcpy(out + off, chain, 32);
	off += 32;
	if (remote_addr) {
		out[off++] = INIT_TLV_REMOTE_ADDR;
		out[off++] = (uint8_t)remote_addr_len;
		memcpy(out + off, remote_addr, remote_addr_len);
		off += remote_addr_len;
	}
	return off;
}

size_t peer_wire_addr_descriptor(uint8_t out[19], int family,
				 const uint8_t *addr, uint16_t port)
{
	switch (family) {
	case 4:
		out[0] = 1;
		memcpy(out + 1, addr, 4);
		be16_put(out + 5, port);
		return 7;
	case 6:
		out[0] = 2;
		memcpy(out + 1, addr, 16);
		be16_put(out + 17, port);
		return 19;
	}
	return 0;
}

/* ---- ping / pong ---- */

enum peer_wire_err peer_wire_parse_ping(uint16_t *num_pong_bytes,
					const uint8_t *msg, size_t len)
{
	if (len < 2)
		return PEER_WIRE_ERR_SHORT;
	if (be16_get(msg) != PEER_WIRE_PING)
		return PEER_WIRE_ERR_BAD_TYPE;
	/* [u16:num_pong_bytes] [u16:byteslen] [byteslen*byte:ignored] */
	if (len < 6 || len - 6 < be16_get(msg + 4))
		return PEER_WIRE_ERR_SHORT;
	*num_pong_bytes = be16_get(msg + 2);
	return PEER_WIRE_OK;
}

enum peer_wire_err peer_wire_parse_pong(uint16_t *byteslen,
					const uint8_t *msg, size_t len)
{
	if (len < 2)
		return PEER_WIRE_ERR_SHORT;
	if (be16_get(msg) != PEER_WIRE_PONG)
		return PEER_WIRE_ERR_BAD_TYPE;
	/* [u16:byteslen] [byteslen*byte:ignored] */
	if (len < 4 || len - 4 < be16_get(msg + 2))
		return PEER_WIRE_ERR_SHORT;
	*byteslen = be16_get(msg + 2);
	return PEER_WIRE_OK;
}

size_t peer_wire_build_ping(uint8_t *out, size_t cap, uint16_t num_pong_bytes,
			    uint16_t byteslen)
{
	size_t need = 6 + (size_t)byteslen;

	if (cap < need)
		return 0;
	be16_put(out, PEER_WIRE_PING);
	be16_put(out + 2, num_pong_bytes);
	be16_put(out + 4, byteslen);
	memset(out + 6, 0, byteslen);
	return need;
}

size_t peer_wire_build_pong(uint8_t *out, size_t cap, uint16_t byteslen)
{
	size_t need = 4 + (size_t)byteslen;

	if (cap < need)
		return 0;
	be16_put(out, PEER_WIRE_PONG);
	be16_put(out + 2, byteslen);
	memset(out + 4, 0, byteslen);
	return need;
}

/* ---- warning / error ---- */

enum peer_wire_err peer_wire_parse_errmsg(struct peer_wire_errmsg *e,
					  const uint8_t *msg, size_t len)
{
	uint16_t type;

	if (len < 2)
		return PEER_WIRE_ERR_SHORT;
	type = be16_get(msg);
	if (type != PEER_WIRE_WARNING && type != PEER_WIRE_ERROR)
		return PEER_WIRE_ERR_BAD_TYPE;
	/* [channel_id:channel_id] [u16:len] [len*byte:data] */
	if (len < 2 + 32 + 2 || len - 36 < be16_get(msg + 34))
		return PEER_WIRE_ERR_SHORT;
	e->type = type;
	e->channel_id = msg + 2;
	e->dlen = be16_get(msg + 34);
	e->data = msg + 36;
	return PEER_WIRE_OK;
}

size_t peer_wire_build_errmsg(uint8_t *out, size_t cap, uint16_t type,
			      const uint8_t *channel_id, const uint8_t *data,
			      size_t dlen)
{
	size_t need = 36 + dlen;

	if (dlen > 0xffff || cap < need)
		return 0;
	be16_put(out, type);
	if (channel_id)
		memcpy(out + 2, channel_id, 32);
	else
		memset(out + 2, 0, 32);
	be16_put(out + 34, (uint16_t)dlen);
	if (dlen)
		memcpy(out + 36, data, dlen);
	return need;
}

char *peer_wire_printable(char *out, size_t cap, const uint8_t *data,
			  size_t dlen)
{
	bool printable = true;
	size_t n;

	for (size_t i = 0; i < dlen; i++)
		if (data[i] < 32 || data[i] > 126)
			printable = false;
	if (printable && dlen < cap) {
		memcpy(out, data, dlen);
		out[dlen] = '\0';
		return out;
	}
	if (printable) {
		/* Cut long text and say so. */
		memcpy(out, data, cap - 4);
		strcpy(out + cap - 4, "...");
		return out;
	}
	strcpy(out, "hex:");
	n = (cap - 5) / 2;
	if (n > dlen)
		n = dlen;
	hex_encode(out + 4, data, n);
	return out;
}
