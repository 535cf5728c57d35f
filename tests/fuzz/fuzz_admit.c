/* Fuzz the connection budget (src/admit) with a script of operations:
 * each input byte pair is one op (accept from an IPv4/IPv6/local source
 * built from the bytes, authenticate, release, note).  After every op the
 * invariants must hold: pre-auth connections never exceed the budget,
 * never more than max_per_source from one source, an authenticated
 * connection is never evicted, and every eviction names a live pre-auth
 * connection. */
#include "admit/admit.h"
#include "common/common.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define MAXC 256

struct fc {
	struct admit_slot *slot;
	bool live, evicted, authed;
	uint8_t src[17];
};
static struct fc conns[MAXC];

static void on_evict(void *arg, void *owner)
{
	struct fc *c = owner;
	(void)arg;
	if (!c->live || c->evicted || c->authed)
		abort(); /* evicted twice, a dead one, or an authenticated one */
	c->evicted = true;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	log_set_level(NULL, LOG_BROKEN);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	struct admit_config cfg = { .name = "fuzz", .subsys = "FUZZ",
				    .max_unauth = 1 + data[0] % 16,
				    .max_auth = 1 + data[1] % 8,
				    .max_per_source = data[1] % 5 };
	struct admit_cbs cbs = { .evict = on_evict };
	struct admit *a = admit_new(&cfg, &cbs);
	memset(conns, 0, sizeof(conns));
	double now = 0;
	for (size_t i = 2; i + 1 < size; i += 2) {
		uint8_t op = data[i], arg = data[i + 1];
		struct fc *c = &conns[arg % MAXC];
		now += 0.3;
		switch (op % 4) {
		case 0: { /* accept */
			if (c->live)
				break;
			struct sockaddr_storage ss;
			memset(&ss, 0, sizeof(ss));
			int kind = op >> 6;
			if (kind == 0) {
				struct sockaddr_in *in = (void *)&ss;
				in->sin_family = AF_INET;
				in->sin_addr.s_addr =
					htonl(((op & 0x3c) == 0 ? 0x7f000000u
					       : 0x0a000000u) | (arg & 7) |
					      ((uint32_t)(op & 0x30) << 12));
			} else if (kind == 1) {
				struct sockaddr_in6 *in6 = (void *)&ss;
				in6->sin6_family = AF_INET6;
				in6->sin6_addr.s6_addr[0] = 0x20;
				in6->sin6_addr.s6_addr[7] = arg & 3;
				in6->sin6_addr.s6_addr[15] = arg;
			} else if (kind == 2) {
				struct sockaddr_in6 *in6 = (void *)&ss;
				in6->sin6_family = AF_INET6;
				in6->sin6_addr.s6_addr[10] = 0xff;
				in6->sin6_addr.s6_addr[11] = 0xff;
				in6->sin6_addr.s6_addr[12] = 10;
				in6->sin6_addr.s6_addr[15] = arg & 7;
			} else {
				ss.ss_family = AF_UNIX;
			}
			c->slot = admit_accept(a, (struct sockaddr *)&ss, c,
					       "fuzz", now);
			if (c->slot) {
				c->live = true;
				c->evicted = c->authed = false;
			}
			break;
		}
		case 1: /* authenticate */
			if (c->live && !c->evicted)
				c->authed = admit_authenticated(a, c->slot,
								"fuzz");
			break;
		case 2: /* close */
			if (c->live) {
				admit_release(a, c->slot);
				c->live = false;
			}
			break;
		case 3:
			admit_note(a, ADMIT_TIMED_OUT, "fuzz", NULL, now);
			break;
		}
		/* Owners close what was evicted. */
		for (int j = 0; j < MAXC; j++)
			if (conns[j].live && conns[j].evicted) {
				admit_release(a, conns[j].slot);
				conns[j].live = false;
			}
		struct admit_stats st;
		admit_get_stats(a, &st);
		size_t unauth = 0, auth = 0;
		for (int j = 0; j < MAXC; j++) {
			unauth += conns[j].live && !conns[j].authed;
			auth += conns[j].live && conns[j].authed;
		}
		if (st.unauthenticated != unauth || st.authenticated != auth ||
		    unauth > cfg.max_unauth || auth > cfg.max_auth)
			abort();
	}
	for (int j = 0; j < MAXC; j++)
		if (conns[j].live)
			admit_release(a, conns[j].slot);
	admit_free(a);
	return 0;
}
