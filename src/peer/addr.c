/*~ Address strings: "host:port", "[v6]:port" and "PUBKEY@host:port" as
 * given on the command line, and socket addresses back to text for logs.
 * Pure string handling; name resolution is done by the caller.
 */
#include "peer/peer_internal.h"

#include "common/common.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool peer_addr_split(char *host, size_t hostcap, uint16_t *port,
		     const char *hostport)
{
	const char *colon, *h = hostport;
	size_t hlen;
	char *end;
	unsigned long p;

	if (hostport[0] == '[') {
		const char *close = strchr(hostport, ']');
		if (!close || close[1] != ':')
			return false;
		h = hostport + 1;
		hlen = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(hostport, ':');
		if (!colon)
			return false;
		hlen = (size_t)(colon - hostport);
		/* A bare IPv6 address needs brackets. */
		if (memchr(hostport, ':', hlen))
			return false;
	}
	if (hlen == 0 || hlen >= hostcap)
		return false;
	if (!colon[1])
		return false;
	p = strtoul(colon + 1, &end, 10);
	if (*end || p > 65535 || colon[1] == '-' || colon[1] == '+')
		return false;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	*port = (uint16_t)p;
	return true;
}

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
	return peer_addr_split(host, hostcap, port, at + 1);
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
