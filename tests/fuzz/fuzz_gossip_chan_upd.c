/* Fuzz the BOLT 7 channel_update parser: any bytes (the 2-byte type is
 * forced so every input exercises the parser).  A parse that succeeds must
 * re-serialize to the same bytes; the checksum must not crash on whatever
 * was parsed. */
#include "fuzz_gossip_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *msg = fuzz_gossip_msg(GOSSIP_CHANNEL_UPDATE, data, size);
	size_t len = size + 2;
	struct gossip_chan_upd m;

	if (gossip_chan_upd_parse(&m, msg, len) == GOSSIP_OK) {
		uint8_t *out = malloc(len);
		fuzz_gossip_same(out, gossip_chan_upd_write(out, len, &m), msg,
				 len);
		(void)gossip_chan_upd_checksum(msg, len);
	}
	free(msg);
	return 0;
}
