/* Fuzz the BOLT 7 query encodings: the first input byte picks the message
 * (261..265), the rest is its body.  Successful parses must re-serialize
 * byte for byte when the input had no unknown TLVs, and always re-parse to
 * the same values. */
#include "common/common.h"
#include "gossip/gossip.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_reply_range(const uint8_t *msg, size_t len)
{
	struct gossip_reply_range r, r2;
	uint8_t *out;
	size_t w;

	if (gossip_reply_range_parse(&r, msg, len) != GOSSIP_OK)
		return;
	w = gossip_reply_range_write(NULL, 0, &r);
	if (w <= 65535) {
		out = malloc(w);
		gossip_reply_range_write(out, w, &r);
		if (gossip_reply_range_parse(&r2, out, w) != GOSSIP_OK ||
		    r2.num_scids != r.num_scids ||
		    !r2.timestamps != !r.timestamps ||
		    !r2.checksums != !r.checksums ||
		    (r.num_scids &&
		     memcmp(r2.scids, r.scids, r.num_scids * 8)))
			abort();
		gossip_reply_range_clear(&r2);
		free(out);
	}
	gossip_reply_range_clear(&r);
}

static void check_query_scids(const uint8_t *msg, size_t len)
{
	struct gossip_query_scids q, q2;
	uint8_t *out;
	size_t w;

	if (gossip_query_scids_parse(&q, msg, len) != GOSSIP_OK)
		return;
	w = gossip_query_scids_write(NULL, 0, &q);
	if (w <= 65535) {
		out = malloc(w);
		gossip_query_scids_write(out, w, &q);
		if (gossip_query_scids_parse(&q2, out, w) != GOSSIP_OK ||
		    q2.num_scids != q.num_scids || !q2.flags != !q.flags ||
		    (q.flags &&
		     memcmp(q2.flags, q.flags, q.num_scids * 8)))
			abort();
		gossip_query_scids_clear(&q2);
		free(out);
	}
	gossip_query_scids_clear(&q);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *msg;
	size_t len;

	if (size < 1)
		return 0;
	len = size + 1;
	msg = malloc(len);
	be16_put(msg, (uint16_t)(261 + data[0] % 5));
	memcpy(msg + 2, data + 1, size - 1);
	switch (be16_get(msg)) {
	case GOSSIP_QUERY_SHORT_CHANNEL_IDS:
		check_query_scids(msg, len);
		break;
	case GOSSIP_REPLY_SHORT_CHANNEL_IDS_END: {
		struct gossip_reply_scids_end e;
		(void)gossip_reply_scids_end_parse(&e, msg, len);
		break;
	}
	case GOSSIP_QUERY_CHANNEL_RANGE: {
		struct gossip_query_range q, q2;
		uint8_t out[64];
		if (gossip_query_range_parse(&q, msg, len) == GOSSIP_OK) {
			size_t w = gossip_query_range_write(out, sizeof(out),
							    &q);
			if (gossip_query_range_parse(&q2, out, w) !=
				    GOSSIP_OK ||
			    q2.query_option != q.query_option ||
			    q2.first_blocknum != q.first_blocknum)
				abort();
		}
		break;
	}
	case GOSSIP_REPLY_CHANNEL_RANGE:
		check_reply_range(msg, len);
		break;
	case GOSSIP_TIMESTAMP_FILTER: {
		struct gossip_ts_filter f;
		(void)gossip_ts_filter_parse(&f, msg, len);
		break;
	}
	}
	free(msg);
	return 0;
}
