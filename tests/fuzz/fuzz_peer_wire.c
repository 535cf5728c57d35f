/* Fuzz the BOLT 1 parsers (init with its TLV stream, ping, pong,
 * warning/error) and the session rules that sit on them.  The first input
 * byte picks the target; the rest is the message. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "peer/peer_proto.h"
#include "peer/peer_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t chain[32] = { 0x06, 0x22, 0x6e, 0x46 };
	struct peer_wire_init init;
	struct peer_wire_errmsg e;
	struct peer_proto pp;
	struct peer_proto_out out;
	uint16_t v;
	char text[64];

	if (size < 1)
		return 0;
	log_set_level(NULL, LOG_BROKEN);
	switch (data[0] % 4) {
	case 0:
		if (peer_wire_parse_init(&init, data + 1, size - 1) ==
		    PEER_WIRE_OK) {
			(void)peer_wire_init_has_chain(&init, chain);
			(void)peer_wire_feature_unknown_even(init.features,
							     init.flen);
			/* Every borrowed pointer stays inside the input
			 * (and no arithmetic on NULL: that is UB). */
			if ((init.flen && init.features + init.flen >
						  data + size) ||
			    (init.num_networks &&
			     init.networks + 32 * init.num_networks >
				     data + size) ||
			    (init.remote_addr &&
			     init.remote_addr + init.remote_addr_len >
				     data + size))
				abort();
		}
		break;
	case 1:
		(void)peer_wire_parse_ping(&v, data + 1, size - 1);
		(void)peer_wire_parse_pong(&v, data + 1, size - 1);
		break;
	case 2:
		if (peer_wire_parse_errmsg(&e, data + 1, size - 1) ==
		    PEER_WIRE_OK) {
			if (e.data + e.dlen > data + size)
				abort();
			peer_wire_printable(text, sizeof(text), e.data,
					    e.dlen);
		}
		break;
	case 3: {
		/* A stream of messages, each prefixed by a 1-byte length,
		 * through the session rules. */
		size_t off = 1;
		peer_proto_init(&pp, chain);
		while (off < size) {
			size_t len = data[off++];
			if (len > size - off)
				len = size - off;
			/* One window: a long stream of pings meets the
			 * flood limit too. */
			if (peer_proto_recv(&pp, &out, data + off, len, 0) ==
			    PEER_PROTO_CLOSE)
				break;
			off += len;
		}
		break;
	}
	}
	return 0;
}
