/*~ addrdesc: turns --listen addresses into the BOLT 7 address descriptors
 * of our node_announcement.  Pure string and byte handling.
 */
#include "daemon/announce.h"

#include "common/common.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

/* BOLT 7 address descriptor types. */
#define ADDR_IPV4 1
#define ADDR_IPV6 2

/* Worth telling the network: not a wildcard, not this machine only. */
static bool v4_public(const uint8_t a[4])
{
	return !(a[0] == 0 && a[1] == 0 && a[2] == 0 && a[3] == 0) &&
	       a[0] != 127;
}

static bool v6_public(const uint8_t a[16])
{
	static const uint8_t any[16], loop[16] = { [15] = 1 };

	return memcmp(a, any, 16) != 0 && memcmp(a, loop, 16) != 0;
}

/* Descriptors of @type (1 or 2) only: BOLT 7 wants them in ascending
 * type order, so the caller makes one pass per type. */
static size_t add_type(uint8_t *out, size_t cap, size_t off, int type,
		       const char *const *listen, size_t num_listen,
		       uint16_t first_port)
{
	for (size_t i = 0; i < num_listen; i++) {
		uint8_t a[16];
		char host[64];
		uint16_t port;
		size_t alen = type == ADDR_IPV4 ? 4 : 16;

		if (!cn_split_hostport(host, sizeof(host), &port, listen[i]))
			continue;
		if (type == ADDR_IPV4 ? inet_pton(AF_INET, host, a) != 1 ||
						!v4_public(a)
				      : inet_pton(AF_INET6, host, a) != 1 ||
						!v6_public(a))
			continue;
		if (port == 0) {
			if (i != 0 || first_port == 0)
				continue;
			port = first_port;
		}
		if (off + 1 + alen + 2 > cap)
			break;
		out[off] = (uint8_t)type;
		memcpy(out + off + 1, a, alen);
		be16_put(out + off + 1 + alen, port);
		off += 1 + alen + 2;
	}
	return off;
}

size_t daemon_announce_addresses(uint8_t *out, size_t cap,
				 const char *const *listen, size_t num_listen,
				 uint16_t first_port)
{
	size_t off = add_type(out, cap, 0, ADDR_IPV4, listen, num_listen,
			      first_port);

	return add_type(out, cap, off, ADDR_IPV6, listen, num_listen,
			first_port);
}
