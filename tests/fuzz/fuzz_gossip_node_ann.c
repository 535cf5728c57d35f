/* Fuzz the BOLT 7 node_announcement parser: any bytes (the 2-byte type is
 * forced so every input exercises the parser).  A parse that succeeds must
 * re-serialize to the same bytes; the signature and address checks and
 * the dial target (gossip_addr_dial_uri) must not crash on whatever was
 * parsed. */
#include "fuzz_gossip_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *msg = fuzz_gossip_msg(GOSSIP_NODE_ANNOUNCEMENT, data, size);
	size_t len = size + 2;
	struct gossip_node_ann m;
	uint8_t h[32];

	if (gossip_node_ann_parse(&m, msg, len) == GOSSIP_OK) {
		uint8_t *out = malloc(len);
		fuzz_gossip_same(out, gossip_node_ann_write(out, len, &m), msg,
				 len);
		enum gossip_reason r = gossip_addresses_check(m.addresses,
							      m.addresses_len);
		/* The origin's rules only add to the receiver's. */
		if (gossip_addresses_check_origin(m.addresses,
						  m.addresses_len) == GOSSIP_OK &&
		    r != GOSSIP_OK)
			abort();
		(void)gossip_addresses_dns_count(m.addresses, m.addresses_len);
		/* A dial target (targets.c): "<66 hex>@host:port", NUL-ended
		 * within its buffer, whatever the descriptors. */
		for (int sc = 0; sc < 2; sc++) {
			char uri[GOSSIP_DIAL_URI_MAX];
			if (gossip_addr_dial_uri(uri, m.node_id, m.addresses,
						 m.addresses_len,
						 (enum gossip_dial_scope)sc) &&
			    (strnlen(uri, sizeof(uri)) >= sizeof(uri) ||
			     uri[66] != '@' || !strchr(uri + 67, ':')))
				abort();
		}
		gossip_sighash(h, msg, len);
		(void)gossip_sig_ok(h, m.sig, m.node_id);
	}
	free(msg);
	return 0;
}
