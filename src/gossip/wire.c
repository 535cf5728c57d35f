/*~ BOLT 7 announcement codec: channel_announcement, node_announcement and
 * channel_update, bytes to structs and back.  Pure; fields borrowed from the
 * message are only pointers into it, so a parse then write reproduces the
 * message byte for byte, trailing (unknown, but signed) bytes included. */
#include "common/common.h"
#include "gossip/gossip.h"

#include <string.h>

/* A cursor over the message; any read past the end marks it failed. */
struct rd {
	const uint8_t *p;
	size_t left;
	bool fail;
};

static const uint8_t *take(struct rd *r, size_t n)
{
	const uint8_t *p = r->p;

	if (r->fail || r->left < n) {
		r->fail = true;
		return NULL;
	}
	r->p += n;
	r->left -= n;
	return p;
}

static void take_mem(struct rd *r, void *out, size_t n)
{
	const uint8_t *p = take(r, n);

	if (p)
		memcpy(out, p, n);
	else
		memset(out, 0, n);
}

static uint16_t take16(struct rd *r)
{
	const uint8_t *p = take(r, 2);
	return p ? be16_get(p) : 0;
}

static uint32_t take32(struct rd *r)
{
	const uint8_t *p = take(r, 4);
	return p ? be32_get(p) : 0;
}

static uint64_t take64(struct rd *r)
{
	const uint8_t *p = take(r, 8);
	return p ? be64_get(p) : 0;
}

static bool start(struct rd *r, const uint8_t *msg, size_t len,
		  enum gossip_type type)
{
	r->p = msg;
	r->left = len;
	r->fail = false;
	return take16(r) == type && !r->fail;
}

/* BOLT 1: "a known message with too few bytes means close"; a wrong type
 * here is a caller bug, reported as truncation so fuzzers stay quiet. */
enum gossip_reason gossip_chan_ann_parse(struct gossip_chan_ann *out,
					 const uint8_t *msg, size_t len)
{
	struct rd r;

	memset(out, 0, sizeof(*out));
	if (!start(&r, msg, len, GOSSIP_CHANNEL_ANNOUNCEMENT))
		return GOSSIP_REJ_TRUNCATED;
	take_mem(&r, out->node_sig_1, 64);
	take_mem(&r, out->node_sig_2, 64);
	take_mem(&r, out->btc_sig_1, 64);
	take_mem(&r, out->btc_sig_2, 64);
	out->features_len = take16(&r);
	out->features = take(&r, out->features_len);
	take_mem(&r, out->chain_hash, 32);
	out->scid = take64(&r);
	take_mem(&r, out->node_id_1, 33);
	take_mem(&r, out->node_id_2, 33);
	take_mem(&r, out->btc_key_1, 33);
	take_mem(&r, out->btc_key_2, 33);
	if (r.fail)
		return GOSSIP_REJ_TRUNCATED;
	out->extra = r.p;
	out->extra_len = r.left;
	return GOSSIP_OK;
}

/* A writer cursor that only counts once the buffer is too small. */
struct wr {
	uint8_t *p;
	size_t cap, len;
};

static void put(struct wr *w, const void *src, size_t n)
{
	if (w->len + n <= w->cap && n)
		memcpy(w->p + w->len, src, n);
	w->len += n;
}

static void put16(struct wr *w, uint16_t v)
{
	uint8_t b[2];
	be16_put(b, v);
	put(w, b, 2);
}

static void put32(struct wr *w, uint32_t v)
{
	uint8_t b[4];
	be32_put(b, v);
	put(w, b, 4);
}

static void put64(struct wr *w, uint64_t v)
{
	uint8_t b[8];
	be64_put(b, v);
	put(w, b, 8);
}

size_t gossip_chan_ann_write(uint8_t *out, size_t cap,
			     const struct gossip_chan_ann *ca)
{
	size_t need = 2 + 4 * 64 + 2 + ca->features_len + 32 + 8 + 4 * 33 +
		      ca->extra_len;
	struct wr w = { out, need <= cap ? cap : 0, 0 };

	put16(&w, GOSSIP_CHANNEL_ANNOUNCEMENT);
	put(&w, ca->node_sig_1, 64);
	put(&w, ca->node_sig_2, 64);
	put(&w, ca->btc_sig_1, 64);
	put(&w, ca->btc_sig_2, 64);
	put16(&w, ca->features_len);
	put(&w, ca->features, ca->features_len);
	put(&w, ca->chain_hash, 32);
	put64(&w, ca->scid);
	put(&w, ca->node_id_1, 33);
	put(&w, ca->node_id_2, 33);
	put(&w, ca->btc_key_1, 33);
	put(&w, ca->btc_key_2, 33);
	put(&w, ca->extra, ca->extra_len);
	return need;
}

enum gossip_reason gossip_node_ann_parse(struct gossip_node_ann *out,
					 const uint8_t *msg, size_t len)
{
	struct rd r;

	memset(out, 0, sizeof(*out));
	if (!start(&r, msg, len, GOSSIP_NODE_ANNOUNCEMENT))
		return GOSSIP_REJ_TRUNCATED;
	take_mem(&r, out->sig, 64);
	out->features_len = take16(&r);
	out->features = take(&r, out->features_len);
	out->timestamp = take32(&r);
	take_mem(&r, out->node_id, 33);
	take_mem(&r, out->rgb, 3);
	take_mem(&r, out->alias, 32);
	out->addresses_len = take16(&r);
	out->addresses = take(&r, out->addresses_len);
	if (r.fail)
		return GOSSIP_REJ_TRUNCATED;
	out->extra = r.p;
	out->extra_len = r.left;
	return GOSSIP_OK;
}

size_t gossip_node_ann_write(uint8_t *out, size_t cap,
			     const struct gossip_node_ann *na)
{
	size_t need = 2 + 64 + 2 + na->features_len + 4 + 33 + 3 + 32 + 2 +
		      na->addresses_len + na->extra_len;
	struct wr w = { out, need <= cap ? cap : 0, 0 };

	put16(&w, GOSSIP_NODE_ANNOUNCEMENT);
	put(&w, na->sig, 64);
	put16(&w, na->features_len);
	put(&w, na->features, na->features_len);
	put32(&w, na->timestamp);
	put(&w, na->node_id, 33);
	put(&w, na->rgb, 3);
	put(&w, na->alias, 32);
	put16(&w, na->addresses_len);
	put(&w, na->addresses, na->addresses_len);
	put(&w, na->extra, na->extra_len);
	return need;
}

enum gossip_reason gossip_chan_upd_parse(struct gossip_chan_upd *out,
					 const uint8_t *msg, size_t len)
{
	struct rd r;

	memset(out, 0, sizeof(*out));
	if (!start(&r, msg, len, GOSSIP_CHANNEL_UPDATE))
		return GOSSIP_REJ_TRUNCATED;
	take_mem(&r, out->sig, 64);
	take_mem(&r, out->chain_hash, 32);
	out->scid = take64(&r);
	out->timestamp = take32(&r);
	take_mem(&r, &out->message_flags, 1);
	take_mem(&r, &out->channel_flags, 1);
	out->cltv_expiry_delta = take16(&r);
	out->htlc_minimum_msat = take64(&r);
	out->fee_base_msat = take32(&r);
	out->fee_proportional_millionths = take32(&r);
	/* BOLT 7: "htlc_maximum_msat is now mandatory" (must_be_one). */
	out->htlc_maximum_msat = take64(&r);
	if (r.fail)
		return GOSSIP_REJ_TRUNCATED;
	out->extra = r.p;
	out->extra_len = r.left;
	return GOSSIP_OK;
}

size_t gossip_chan_upd_write(uint8_t *out, size_t cap,
			     const struct gossip_chan_upd *cu)
{
	size_t need = 138 + cu->extra_len;
	struct wr w = { out, need <= cap ? cap : 0, 0 };

	put16(&w, GOSSIP_CHANNEL_UPDATE);
	put(&w, cu->sig, 64);
	put(&w, cu->chain_hash, 32);
	put64(&w, cu->scid);
	put32(&w, cu->timestamp);
	put(&w, &cu->message_flags, 1);
	put(&w, &cu->channel_flags, 1);
	put16(&w, cu->cltv_expiry_delta);
	put64(&w, cu->htlc_minimum_msat);
	put32(&w, cu->fee_base_msat);
	put32(&w, cu->fee_proportional_millionths);
	put64(&w, cu->htlc_maximum_msat);
	put(&w, cu->extra, cu->extra_len);
	return need;
}

/* Walks the descriptors; @strict adds the sender's rules (ascending type,
 * one DNS name).  Parsing stops at the first unknown type. */
static enum gossip_reason addresses_walk(const uint8_t *addr, size_t len,
					 bool strict)
{
	size_t off = 0;
	unsigned last_type = 0;

	while (off < len) {
		unsigned type = addr[off];
		size_t body;

		switch (type) {
		case 1: body = 6; break;
		case 2: body = 18; break;
		case 3: body = 12; break;
		case 4: body = 37; break;
		case 5:
			if (off + 1 >= len)
				return GOSSIP_REJ_BAD_ADDRESS;
			body = 1 + (size_t)addr[off + 1] + 2;
			break;
		default:
			/* BOLT 7: "SHOULD ignore the first address descriptor
			 * that does NOT match the types defined above" — and,
			 * lengths being unknown, everything after it. */
			return GOSSIP_OK;
		}
		/* BOLT 7 puts these on the origin node only: "MUST place
		 * address descriptors in ascending order", "MUST NOT include
		 * more than one address descriptor of type 5".  A receiver of
		 * a second DNS name "SHOULD ignore the additional data", and
		 * nothing tells it to refuse an unsorted list: lnd appends
		 * without sorting, and LDK dropped this check (PR 797) after
		 * it closed connections to real peers. */
		if (strict && (type < last_type || (type == 5 && last_type == 5)))
			return GOSSIP_REJ_BAD_ADDRESS;
		/* BOLT 7: "SHOULD fail the connection if addrlen is
		 * insufficient to hold the address descriptors of the known
		 * types". */
		if (len - off - 1 < body)
			return GOSSIP_REJ_BAD_ADDRESS;
		if (type > last_type)
			last_type = type;
		off += 1 + body;
	}
	return GOSSIP_OK;
}

enum gossip_reason gossip_addresses_check(const uint8_t *addr, size_t len)
{
	return addresses_walk(addr, len, false);
}

enum gossip_reason gossip_addresses_check_origin(const uint8_t *addr,
						 size_t len)
{
	return addresses_walk(addr, len, true);
}

size_t gossip_addresses_dns_count(const uint8_t *addr, size_t len)
{
	size_t off = 0, n = 0;

	/* Walks as addresses_walk does; stops at what it cannot read. */
	while (off < len) {
		size_t body;
		switch (addr[off]) {
		case 1: body = 6; break;
		case 2: body = 18; break;
		case 3: body = 12; break;
		case 4: body = 37; break;
		case 5:
			if (off + 1 >= len)
				return n;
			body = 1 + (size_t)addr[off + 1] + 2;
			n++;
			break;
		default:
			return n;
		}
		off += 1 + body;
	}
	return n;
}
