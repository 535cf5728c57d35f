/*~ Dial targets from the graph: where a node with fewer persistent peers
 * than --gossip.minsessions finds more peers for its gossip-only sessions
 * with a local key (safe mode, a cluster standby; docs/gossip.md, "More
 * peers than the persistent ones").
 *
 * gossip_addr_dial_uri is the decision, pure and tested by table: the
 * first usable address of a node_announcement.  gossip_dial_targets reads
 * the freshest announcements from the store and applies it.
 */
#include "gossip/gossip_internal.h"
#include "gossip/store.h"

#include "common/common.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Loopback, private, link-local, unspecified, CGNAT, multicast and
 * reserved IPv4: somebody else's announcement of such an address is not a
 * peer on the Internet, it is a way to make us connect to our own LAN. */
static bool ipv4_routable(const uint8_t a[4])
{
	if (a[0] == 0 || a[0] == 10 || a[0] == 127 || a[0] >= 224)
		return false;
	if (a[0] == 169 && a[1] == 254)
		return false;
	if (a[0] == 172 && (a[1] & 0xf0) == 16)
		return false;
	if (a[0] == 192 && a[1] == 168)
		return false;
	if (a[0] == 100 && (a[1] & 0xc0) == 64)
		return false;
	return true;
}

/* Only global unicast (2000::/3) is dialed. */
static bool ipv6_routable(const uint8_t a[16])
{
	return (a[0] & 0xe0) == 0x20;
}

static bool ipv6_loopback(const uint8_t a[16])
{
	static const uint8_t lo[16] = { [15] = 1 };
	return !memcmp(a, lo, 16);
}

bool gossip_addr_dial_uri(char out[GOSSIP_DIAL_URI_MAX],
			  const uint8_t node_id[33], const uint8_t *addr,
			  size_t len, enum gossip_dial_scope scope)
{
	const bool lo = scope == GOSSIP_DIAL_LOOPBACK;
	char hex[67], ip[INET6_ADDRSTRLEN];
	size_t off = 0;

	hex_encode(hex, node_id, 33);
	while (off < len) {
		const uint8_t type = addr[off], *d = addr + off + 1;
		size_t body;
		uint16_t port;

		switch (type) {
		case 1: body = 6; break;
		case 2: body = 18; break;
		case 3: body = 12; break; /* Tor v2: no Tor here */
		case 4: body = 37; break; /* Tor v3: no Tor here */
		case 5:
			/* A name would block the loop in getaddrinfo. */
			if (off + 1 >= len)
				return false;
			body = 1 + (size_t)addr[off + 1] + 2;
			break;
		default:
			/* BOLT 7: "SHOULD ignore the first `address
			 * descriptor` that does NOT match the types defined
			 * above" and what follows (lengths unknown). */
			return false;
		}
		if (off + 1 + body > len)
			return false;
		off += 1 + body;
		if (type == 1) {
			port = (uint16_t)(d[4] << 8 | d[5]);
			if (!port || (lo ? d[0] != 127 : !ipv4_routable(d)))
				continue;
			inet_ntop(AF_INET, d, ip, sizeof(ip));
			snprintf(out, GOSSIP_DIAL_URI_MAX, "%s@%s:%u", hex, ip,
				 port);
			return true;
		}
		if (type == 2) {
			port = (uint16_t)(d[16] << 8 | d[17]);
			if (!port ||
			    (lo ? !ipv6_loopback(d) : !ipv6_routable(d)))
				continue;
			inet_ntop(AF_INET6, d, ip, sizeof(ip));
			snprintf(out, GOSSIP_DIAL_URI_MAX, "%s@[%s]:%u", hex,
				 ip, port);
			return true;
		}
	}
	return false;
}

/* Announcements read per target wanted: many nodes announce no address. */
#define READ_FACTOR 4
#define READ_MAX 1024

size_t gossip_dial_targets(struct gossip *g, char (*out)[GOSSIP_DIAL_URI_MAX],
			   size_t max, const uint8_t (*skip)[33],
			   size_t num_skip, enum gossip_dial_scope scope)
{
	uint8_t(*ids)[33];
	size_t want = max * READ_FACTOR, n, k = 0, cap = 65535;
	uint8_t *raw;

	if (!g->store || !max)
		return 0;
	if (want > READ_MAX || want / READ_FACTOR != max)
		want = READ_MAX;
	ids = calloc(want, 33);
	raw = malloc(cap);
	if (!ids || !raw) {
		free(ids);
		free(raw);
		return 0;
	}
	n = gossip_store_nodes_newest(g->store, ids, want);
	for (size_t i = 0; i < n && k < max; i++) {
		struct gossip_node_ann na;
		size_t len;
		bool skipped = false;

		for (size_t j = 0; j < num_skip && !skipped; j++)
			skipped = memcmp(ids[i], skip[j], 33) == 0;
		if (skipped || gossip_store_node_raw(g->store, raw, cap,
						     &len, ids[i]) != 1)
			continue;
		if (gossip_node_ann_parse(&na, raw, len) != GOSSIP_OK)
			continue;
		if (gossip_addr_dial_uri(out[k], na.node_id, na.addresses,
					 na.addresses_len, scope))
			k++;
	}
	free(ids);
	free(raw);
	return k;
}
