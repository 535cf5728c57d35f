/*~ Address strings: "PUBKEY@host:port" as given on the command line, and
 * socket addresses back to text for logs.
 * Pure string handling; name resolution is done by the caller.
 */
#include "peer/peer_internal.h"

#include "common/common.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool peer_addr_parse_uri(uint8_t node_id[33], char *host, size_t hostcap,
			 uint16_t *port, const char *uri)
{
	const char *at = strchr(uri, '@');
	char hex[67];

	if (!at || at - uri != 66)
		return false;
	memcpy(hex, uri, 66);
	hex[66] = '\0';
	if (!hex_decode(node_id, 33, hex))
		return false;
	if (node_id[0] != 2 && node_id[0] != 3)
		return false;
	return cn_split_hostport(host, hostcap, port, at + 1);
}

const char *peer_addr_str(char *out, size_t cap, const struct sockaddr *sa)
{
	char ip[INET6_ADDRSTRLEN];

	switch (sa->sa_family) {
	case AF_INET: {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
		snprintf(out, cap, "%s:%u", ip, ntohs(in->sin_port));
		return out;
	}
	case AF_INET6: {
		const struct sockaddr_in6 *in6 =
			(const struct sockaddr_in6 *)sa;
		inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
		snprintf(out, cap, "[%s]:%u", ip, ntohs(in6->sin6_port));
		return out;
	}
	}
	snprintf(out, cap, "?");
	return out;
}
