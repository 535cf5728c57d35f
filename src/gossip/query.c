/*~ BOLT 7 query codec: gossip_timestamp_filter, query_channel_range /
 * reply_channel_range and query_short_channel_ids /
 * reply_short_channel_ids_end, with their TLV extensions.  Pure.
 *
 * BOLT 7: "encoding_type 1 (zlib) MUST NOT be used"; we refuse it on input
 * and never produce it. */
#include "common/common.h"
#include "gossip/gossip.h"

#include <stdlib.h>
#include <string.h>

enum { ENC_UNCOMPRESSED = 0, ENC_ZLIB = 1 };

/* BOLT 1 BigSize; false if truncated or not minimal ("decoded bigsize is
 * not canonical"). */
static bool bigsize_get(const uint8_t **p, size_t *left, uint64_t *v)
{
	uint8_t b;

	if (*left < 1)
		return false;
	b = **p;
	if (b < 0xfd) {
		*v = b;
		*p += 1, *left -= 1;
		return true;
	}
	if (b == 0xfd) {
		if (*left < 3)
			return false;
		*v = be16_get(*p + 1);
		*p += 3, *left -= 3;
		return *v >= 0xfd;
	}
	if (b == 0xfe) {
		if (*left < 5)
			return false;
		*v = be32_get(*p + 1);
		*p += 5, *left -= 5;
		return *v >= 0x10000;
	}
	if (*left < 9)
		return false;
	*v = be64_get(*p + 1);
	*p += 9, *left -= 9;
	return *v >= 0x100000000ULL;
}

static size_t bigsize_len(uint64_t v)
{
	return v < 0xfd ? 1 : v < 0x10000 ? 3 : v < 0x100000000ULL ? 5 : 9;
}

static size_t bigsize_put(uint8_t *p, uint64_t v)
{
	if (v < 0xfd) {
		p[0] = (uint8_t)v;
		return 1;
	}
	if (v < 0x10000) {
		p[0] = 0xfd;
		be16_put(p + 1, (uint16_t)v);
		return 3;
	}
	if (v < 0x100000000ULL) {
		p[0] = 0xfe;
		be32_put(p + 1, (uint32_t)v);
		return 5;
	}
	p[0] = 0xff;
	be64_put(p + 1, v);
	return 9;
}

/* One TLV record; the walk checks order and leaves known types to @cb.
 * Returns GOSSIP_OK or the reason the stream is bad. */
typedef enum gossip_reason (*tlv_cb)(void *arg, uint64_t type,
				     const uint8_t *val, size_t len,
				     bool *known);

static enum gossip_reason tlv_walk(const uint8_t *p, size_t left, tlv_cb cb,
				   void *arg)
{
	bool first = true;
	uint64_t prev = 0;

	while (left) {
		uint64_t type, len;
		bool known = false;
		enum gossip_reason r;

		if (!bigsize_get(&p, &left, &type) ||
		    !bigsize_get(&p, &left, &len) || len > left)
			return GOSSIP_REJ_BAD_ENCODING;
		/* BOLT 1: "if type is not strictly greater than the previous
		 * type: MUST fail to parse the tlv_stream." */
		if (!first && type <= prev)
			return GOSSIP_REJ_BAD_ENCODING;
		r = cb(arg, type, p, (size_t)len, &known);
		if (r != GOSSIP_OK)
			return r;
		/* BOLT 1: "if type is even: MUST fail to parse". */
		if (!known && !(type & 1))
			return GOSSIP_REJ_BAD_ENCODING;
		first = false;
		prev = type;
		p += len;
		left -= (size_t)len;
	}
	return GOSSIP_OK;
}

/* The encoding_type byte that starts @v (@len bytes): only uncompressed
 * is accepted. */
static enum gossip_reason check_encoding(const uint8_t *v, size_t len)
{
	if (len < 1)
		return GOSSIP_REJ_BAD_ENCODING;
	if (v[0] == ENC_ZLIB)
		return GOSSIP_REJ_ZLIB;
	if (v[0] != ENC_UNCOMPRESSED)
		return GOSSIP_REJ_BAD_ENCODING;
	return GOSSIP_OK;
}

/* encoded_short_ids: encoding byte then 8-byte scids.  Empty (len 0) is
 * accepted as no scids. */
static enum gossip_reason decode_scids(const uint8_t *p, size_t len,
				       uint64_t **out, size_t *n)
{
	enum gossip_reason r;

	*out = NULL;
	*n = 0;
	if (len == 0)
		return GOSSIP_OK;
	r = check_encoding(p, len);
	if (r != GOSSIP_OK)
		return r;
	if ((len - 1) % 8)
		return GOSSIP_REJ_BAD_ENCODING;
	*n = (len - 1) / 8;
	if (*n == 0)
		return GOSSIP_OK;
	*out = malloc(*n * sizeof(**out));
	if (!*out)
		abort();
	for (size_t i = 0; i < *n; i++)
		(*out)[i] = be64_get(p + 1 + 8 * i);
	return GOSSIP_OK;
}

/* The tail both scid messages share: "u16 len, len*byte
 * encoded_short_ids", then a TLV stream whose known records @cb takes. */
static enum gossip_reason decode_scids_tlvs(const uint8_t *p, size_t left,
					    uint64_t **scids, size_t *n,
					    tlv_cb cb, void *arg)
{
	size_t elen;
	enum gossip_reason r;

	if (left < 2)
		return GOSSIP_REJ_TRUNCATED;
	elen = be16_get(p);
	if (left - 2 < elen)
		return GOSSIP_REJ_TRUNCATED;
	r = decode_scids(p + 2, elen, scids, n);
	if (r != GOSSIP_OK)
		return r;
	return tlv_walk(p + 2 + elen, left - 2 - elen, cb, arg);
}

/* Writes "u16 len, encoded_short_ids" (uncompressed); returns its size.
 * The caller checked that 1 + 8 * @n fits the u16. */
static size_t put_scids(uint8_t *p, const uint64_t *scids, size_t n)
{
	size_t off = 3;

	be16_put(p, (uint16_t)(1 + 8 * n));
	p[2] = ENC_UNCOMPRESSED;
	for (size_t i = 0; i < n; i++, off += 8)
		be64_put(p + off, scids[i]);
	return off;
}

/* Writes @n (u32, u32) pairs (only read: no const, as ISO C before C2x
 * does not convert pointers to arrays of const); returns their size. */
static size_t put_pairs(uint8_t *p, uint32_t (*pairs)[2], size_t n)
{
	for (size_t i = 0; i < n; i++) {
		be32_put(p + 8 * i, pairs[i][0]);
		be32_put(p + 8 * i + 4, pairs[i][1]);
	}
	return 8 * n;
}

/* ---- gossip_timestamp_filter --------------------------------------- */

enum gossip_reason gossip_ts_filter_parse(struct gossip_ts_filter *out,
					  const uint8_t *msg, size_t len)
{
	memset(out, 0, sizeof(*out));
	if (len < 2 + 32 + 8 || be16_get(msg) != GOSSIP_TIMESTAMP_FILTER)
		return GOSSIP_REJ_TRUNCATED;
	memcpy(out->chain_hash, msg + 2, 32);
	out->first_timestamp = be32_get(msg + 34);
	out->timestamp_range = be32_get(msg + 38);
	return GOSSIP_OK;
}

size_t gossip_ts_filter_write(uint8_t *out, size_t cap,
			      const struct gossip_ts_filter *f)
{
	if (cap < 42)
		return 42;
	be16_put(out, GOSSIP_TIMESTAMP_FILTER);
	memcpy(out + 2, f->chain_hash, 32);
	be32_put(out + 34, f->first_timestamp);
	be32_put(out + 38, f->timestamp_range);
	return 42;
}

/* ---- query_channel_range ------------------------------------------- */

static enum gossip_reason qcr_tlv(void *arg, uint64_t type, const uint8_t *v,
				  size_t len, bool *known)
{
	struct gossip_query_range *q = arg;
	const uint8_t *p = v;
	size_t left = len;

	if (type != 1)
		return GOSSIP_OK;
	*known = true;
	/* query_option: one bigsize filling the record. */
	if (!bigsize_get(&p, &left, &q->query_option) || left)
		return GOSSIP_REJ_BAD_ENCODING;
	q->has_query_option = true;
	return GOSSIP_OK;
}

enum gossip_reason gossip_query_range_parse(struct gossip_query_range *out,
					    const uint8_t *msg, size_t len)
{
	memset(out, 0, sizeof(*out));
	if (len < 42 || be16_get(msg) != GOSSIP_QUERY_CHANNEL_RANGE)
		return GOSSIP_REJ_TRUNCATED;
	memcpy(out->chain_hash, msg + 2, 32);
	out->first_blocknum = be32_get(msg + 34);
	out->number_of_blocks = be32_get(msg + 38);
	return tlv_walk(msg + 42, len - 42, qcr_tlv, out);
}

size_t gossip_query_range_write(uint8_t *out, size_t cap,
				const struct gossip_query_range *q)
{
	size_t need = 42;

	if (q->has_query_option)
		need += 2 + bigsize_len(q->query_option);
	if (cap < need)
		return need;
	be16_put(out, GOSSIP_QUERY_CHANNEL_RANGE);
	memcpy(out + 2, q->chain_hash, 32);
	be32_put(out + 34, q->first_blocknum);
	be32_put(out + 38, q->number_of_blocks);
	if (q->has_query_option) {
		out[42] = 1;
		out[43] = (uint8_t)bigsize_len(q->query_option);
		bigsize_put(out + 44, q->query_option);
	}
	return need;
}

/* ---- reply_channel_range ------------------------------------------- */

static enum gossip_reason rcr_tlv(void *arg, uint64_t type, const uint8_t *v,
				  size_t len, bool *known)
{
	struct gossip_reply_range *r = arg;
	uint32_t(**arr)[2];
	size_t off = 0;

	if (type == 1) {
		/* timestamps_tlv: encoding_type then (u32, u32) pairs. */
		enum gossip_reason enc = check_encoding(v, len);
		if (enc != GOSSIP_OK)
			return enc;
		arr = &r->timestamps;
		off = 1;
	} else if (type == 3) {
		arr = &r->checksums;
	} else {
		return GOSSIP_OK;
	}
	*known = true;
	/* One pair per scid, no more, no less. */
	if (len - off != r->num_scids * 8)
		return GOSSIP_REJ_BAD_ENCODING;
	*arr = malloc((r->num_scids ? r->num_scids : 1) * sizeof(**arr));
	if (!*arr)
		abort();
	for (size_t i = 0; i < r->num_scids; i++) {
		(*arr)[i][0] = be32_get(v + off + 8 * i);
		(*arr)[i][1] = be32_get(v + off + 8 * i + 4);
	}
	return GOSSIP_OK;
}

enum gossip_reason gossip_reply_range_parse(struct gossip_reply_range *out,
					    const uint8_t *msg, size_t len)
{
	enum gossip_reason r;

	memset(out, 0, sizeof(*out));
	if (len < 45 || be16_get(msg) != GOSSIP_REPLY_CHANNEL_RANGE)
		return GOSSIP_REJ_TRUNCATED;
	memcpy(out->chain_hash, msg + 2, 32);
	out->first_blocknum = be32_get(msg + 34);
	out->number_of_blocks = be32_get(msg + 38);
	out->sync_complete = msg[42];
	r = decode_scids_tlvs(msg + 43, len - 43, &out->scids,
			      &out->num_scids, rcr_tlv, out);
	if (r != GOSSIP_OK)
		gossip_reply_range_clear(out);
	return r;
}

size_t gossip_reply_range_write(uint8_t *out, size_t cap,
				const struct gossip_reply_range *r)
{
	size_t elen = 1 + 8 * r->num_scids, need = 45 + elen, off;
	size_t tlen = 1 + 8 * r->num_scids, clen = 8 * r->num_scids;

	if (elen > 0xffff)
		return SIZE_MAX;
	if (r->timestamps)
		need += 1 + bigsize_len(tlen) + tlen;
	if (r->checksums)
		need += 1 + bigsize_len(clen) + clen;
	if (cap < need)
		return need;
	be16_put(out, GOSSIP_REPLY_CHANNEL_RANGE);
	memcpy(out + 2, r->chain_hash, 32);
	be32_put(out + 34, r->first_blocknum);
	be32_put(out + 38, r->number_of_blocks);
	out[42] = r->sync_complete;
	off = 43 + put_scids(out + 43, r->scids, r->num_scids);
	if (r->timestamps) {
		out[off++] = 1;
		off += bigsize_put(out + off, tlen);
		out[off++] = ENC_UNCOMPRESSED;
		off += put_pairs(out + off, r->timestamps, r->num_scids);
	}
	if (r->checksums) {
		out[off++] = 3;
		off += bigsize_put(out + off, clen);
		off += put_pairs(out + off, r->checksums, r->num_scids);
	}
	return need;
}

void gossip_reply_range_clear(struct gossip_reply_range *r)
{
	if (!r)
		return;
	free(r->scids);
	free(r->timestamps);
	free(r->checksums);
	r->scids = NULL;
	r->timestamps = r->checksums = NULL;
	r->num_scids = 0;
}

/* ---- query_short_channel_ids --------------------------------------- */

static enum gossip_reason qsi_tlv(void *arg, uint64_t type, const uint8_t *v,
				  size_t len, bool *known)
{
	struct gossip_query_scids *q = arg;
	const uint8_t *p = v + 1;
	enum gossip_reason r;
	size_t left;

	if (type != 1)
		return GOSSIP_OK;
	*known = true;
	r = check_encoding(v, len);
	if (r != GOSSIP_OK)
		return r;
	left = len - 1;
	q->flags = malloc((q->num_scids ? q->num_scids : 1) *
			  sizeof(*q->flags));
	if (!q->flags)
		abort();
	/* BOLT 7: "MUST encode ... as many query flags as there are
	 * short_channel_ids", each a minimal bigsize. */
	for (size_t i = 0; i < q->num_scids; i++)
		if (!bigsize_get(&p, &left, &q->flags[i]))
			return GOSSIP_REJ_BAD_ENCODING;
	return left ? GOSSIP_REJ_BAD_ENCODING : GOSSIP_OK;
}

enum gossip_reason gossip_query_scids_parse(struct gossip_query_scids *out,
					    const uint8_t *msg, size_t len)
{
	enum gossip_reason r;

	memset(out, 0, sizeof(*out));
	if (len < 36 || be16_get(msg) != GOSSIP_QUERY_SHORT_CHANNEL_IDS)
		return GOSSIP_REJ_TRUNCATED;
	memcpy(out->chain_hash, msg + 2, 32);
	r = decode_scids_tlvs(msg + 34, len - 34, &out->scids,
			      &out->num_scids, qsi_tlv, out);
	if (r != GOSSIP_OK)
		gossip_query_scids_clear(out);
	return r;
}

size_t gossip_query_scids_write(uint8_t *out, size_t cap,
				const struct gossip_query_scids *q)
{
	size_t elen = 1 + 8 * q->num_scids, need = 36 + elen, flen = 1, off;

	if (elen > 0xffff)
		return SIZE_MAX;
	if (q->flags) {
		for (size_t i = 0; i < q->num_scids; i++)
			flen += bigsize_len(q->flags[i]);
		need += 1 + bigsize_len(flen) + flen;
	}
	if (cap < need)
		return need;
	be16_put(out, GOSSIP_QUERY_SHORT_CHANNEL_IDS);
	memcpy(out + 2, q->chain_hash, 32);
	off = 34 + put_scids(out + 34, q->scids, q->num_scids);
	if (q->flags) {
		out[off++] = 1;
		off += bigsize_put(out + off, flen);
		out[off++] = ENC_UNCOMPRESSED;
		for (size_t i = 0; i < q->num_scids; i++)
			off += bigsize_put(out + off, q->flags[i]);
	}
	return need;
}

void gossip_query_scids_clear(struct gossip_query_scids *q)
{
	if (!q)
		return;
	free(q->scids);
	free(q->flags);
	q->scids = NULL;
	q->flags = NULL;
	q->num_scids = 0;
}

/* ---- reply_short_channel_ids_end ----------------------------------- */

enum gossip_reason gossip_reply_scids_end_parse(
	struct gossip_reply_scids_end *out, const uint8_t *msg, size_t len)
{
	memset(out, 0, sizeof(*out));
	if (len < 35 || be16_get(msg) != GOSSIP_REPLY_SHORT_CHANNEL_IDS_END)
		return GOSSIP_REJ_TRUNCATED;
	memcpy(out->chain_hash, msg + 2, 32);
	out->full_information = msg[34];
	return GOSSIP_OK;
}

size_t gossip_reply_scids_end_write(uint8_t *out, size_t cap,
				    const struct gossip_reply_scids_end *r)
{
	if (cap < 35)
		return 35;
	be16_put(out, GOSSIP_REPLY_SHORT_CHANNEL_IDS_END);
	memcpy(out + 2, r->chain_hash, 32);
	out[34] = r->full_information;
	return 35;
}
