/* Unit tests for the address strings of src/peer/addr.c: "PUBKEY@host:port"
 * and socket addresses back to text ("host:port" itself: test_common). */
#include "check.h"

#include "common/common.h"
#include "peer/peer_internal.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#define ID "028d7500dd4c12685d1f568b4c2b5048e8534b873319f3a8daa612b469132ec7f7"

int main(void)
{
	char host[64], out[80];
	uint16_t port;
	uint8_t id[33];
	struct sockaddr_in in = { .sin_family = AF_INET };
	struct sockaddr_in6 in6 = { .sin6_family = AF_INET6 };

	CHECK(peer_addr_parse_uri(id, host, sizeof(host), &port,
				  ID "@10.0.0.1:9735"));
	CHECK(id[0] == 0x02 && id[32] == 0xf7 && port == 9735);
	CHECK(strcmp(host, "10.0.0.1") == 0);
	/* Not a compressed key, short key, no @. */
	CHECK(!peer_addr_parse_uri(id, host, sizeof(host), &port,
				   "048d7500dd4c12685d1f568b4c2b5048e8534b873319"
				   "f3a8daa612b469132ec7f7@10.0.0.1:9735"));
	CHECK(!peer_addr_parse_uri(id, host, sizeof(host), &port,
				   "02abcd@10.0.0.1:9735"));
	CHECK(!peer_addr_parse_uri(id, host, sizeof(host), &port,
				   ID "10.0.0.1:9735"));
	CHECK(!peer_addr_parse_uri(id, host, sizeof(host), &port, ID "@x"));

	inet_pton(AF_INET, "192.168.1.2", &in.sin_addr);
	in.sin_port = htons(9735);
	CHECK(strcmp(peer_addr_str(out, sizeof(out), (struct sockaddr *)&in),
		     "192.168.1.2:9735") == 0);
	inet_pton(AF_INET6, "2001:db8::1", &in6.sin6_addr);
	in6.sin6_port = htons(1);
	CHECK(strcmp(peer_addr_str(out, sizeof(out), (struct sockaddr *)&in6),
		     "[2001:db8::1]:1") == 0);
	return check_exit();
}
