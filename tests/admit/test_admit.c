/* admit: per-source refusal, eviction from the most crowded source and
 * group, authenticated connections never evicted, counters. */
#include "admit/admit.h"

#include "check.h"
#include "common/common.h"

#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#define MAXC 64

struct conn {
	struct admit_slot *slot;
	bool evicted;
	int id;
};
static struct conn conns[8192];
static int nconns;

static void on_evict(void *arg, void *owner)
{
	struct conn *c = owner;
	(void)arg;
	CHECK(!c->evicted);
	c->evicted = true;
}

static struct conn *open4(struct admit *a, const char *ip)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	inet_pton(AF_INET, ip, &sin.sin_addr);
	struct conn *c = &conns[nconns];
	c->id = nconns++;
	c->slot = admit_accept(a, (struct sockaddr *)&sin, c, ip, 0);
	return c->slot ? c : NULL;
}

static struct conn *open6(struct admit *a, const char *ip)
{
	struct sockaddr_in6 sin = { .sin6_family = AF_INET6 };
	inet_pton(AF_INET6, ip, &sin.sin6_addr);
	struct conn *c = &conns[nconns];
	c->id = nconns++;
	c->slot = admit_accept(a, (struct sockaddr *)&sin, c, ip, 0);
	return c->slot ? c : NULL;
}

/* Release every evicted connection, as an owner's close does. */
static void reap(struct admit *a)
{
	for (int i = 0; i < nconns; i++)
		if (conns[i].evicted && conns[i].slot) {
			admit_release(a, conns[i].slot);
			conns[i].slot = NULL;
		}
}

static void close_all(struct admit *a)
{
	for (int i = 0; i < nconns; i++) {
		admit_release(a, conns[i].slot);
		conns[i].slot = NULL;
	}
	nconns = 0;
	memset(conns, 0, sizeof(conns));
}

int main(void)
{
	struct admit_config cfg = { .name = "test", .subsys = "TEST",
				    .max_unauth = 8, .max_auth = 2,
				    .max_per_source = 3 };
	struct admit_cbs cbs = { .evict = on_evict };
	struct admit *a = admit_new(&cfg, &cbs);
	struct admit_stats st;

	/* Per source: the fourth pre-auth connection of 10.0.0.1 is refused,
	 * another address is not. */
	CHECK(open4(a, "10.0.0.1") && open4(a, "10.0.0.1") &&
	      open4(a, "10.0.0.1"));
	CHECK(!open4(a, "10.0.0.1"));
	CHECK(open4(a, "10.0.0.2"));
	/* IPv6: one /64 is one source. */
	CHECK(open6(a, "2001:db8::1") && open6(a, "2001:db8::2") &&
	      open6(a, "2001:db8::3"));
	CHECK(!open6(a, "2001:db8::ffff:4"));
	CHECK(open6(a, "2001:db8:0:1::1"));
	admit_get_stats(a, &st);
	CHECK(st.unauthenticated == 8);
	CHECK(st.count[ADMIT_REFUSED_SOURCE] == 2);
	CHECK(st.count[ADMIT_EVICTED] == 0);
	close_all(a);

	/* A flood from 50 loopback sources (one group) holds the budget; a
	 * client from its own address keeps its slot through 2000 more
	 * arrivals: eviction always takes from a source holding more.  (With
	 * more flooding sources than the budget every source holds one and
	 * the oldest goes: admit.h.) */
	struct admit_config big = { .name = "big", .subsys = "TEST",
				    .max_unauth = 64, .max_auth = 2,
				    .max_per_source = 8 };
	struct admit *b = admit_new(&big, &cbs);
	for (int i = 0; i < 200; i++) {
		char ip[32];
		snprintf(ip, sizeof(ip), "127.0.0.%d", 2 + i % 50);
		open4(b, ip);
		reap(b);
	}
	struct conn *honest = open4(b, "127.0.0.1");
	CHECK(honest != NULL);
	reap(b);
	for (int i = 0; i < 2000; i++) {
		char ip[32];
		snprintf(ip, sizeof(ip), "127.0.0.%d", 2 + i % 50);
		open4(b, ip);
		reap(b);
	}
	CHECK(honest && honest->slot && !honest->evicted);
	admit_get_stats(b, &st);
	CHECK(st.unauthenticated == 64);
	CHECK(st.count[ADMIT_EVICTED] > 1900);
	/* Authenticated: moves out of the pre-auth class; never evicted. */
	if (honest && honest->slot) {
		CHECK(admit_authenticated(b, honest->slot, "x"));
		CHECK(admit_is_authenticated(honest->slot));
	}
	for (int i = 0; i < 100; i++) {
		open4(b, "127.0.0.9");
		reap(b);
	}
	CHECK(honest && honest->slot && !honest->evicted);
	admit_get_stats(b, &st);
	CHECK(st.authenticated == 1 && st.unauthenticated == 64);
	close_all(b);
	admit_free(b);

	/* Most crowded network group first: 10.1/16 holds 6, 10.2/16 two
	 * sources; the victim comes from 10.1/16's most crowded source, oldest
	 * first. */
	struct conn *b1 = open4(a, "10.2.0.1");
	struct conn *b2 = open4(a, "10.2.0.2");
	struct conn *g1 = open4(a, "10.1.0.1");
	struct conn *g2 = open4(a, "10.1.0.2");
	struct conn *g3 = open4(a, "10.1.0.2");
	struct conn *g4 = open4(a, "10.1.0.3");
	struct conn *g5 = open4(a, "10.1.0.4");
	struct conn *g6 = open4(a, "10.1.0.5");
	CHECK(b1 && b2 && g1 && g2 && g3 && g4 && g5 && g6);
	CHECK(open4(a, "192.168.0.1"));
	CHECK(g2->evicted && !g3->evicted && !b1->evicted && !b2->evicted &&
	      !g1->evicted);
	reap(a);
	/* Authenticated cap: the third proven connection stays pre-auth. */
	CHECK(admit_authenticated(a, b1->slot, "x"));
	CHECK(admit_authenticated(a, b2->slot, "x"));
	CHECK(!admit_authenticated(a, g1->slot, "x"));
	CHECK(!admit_is_authenticated(g1->slot));
	admit_get_stats(a, &st);
	CHECK(st.count[ADMIT_AUTH_FULL] == 1 && st.authenticated == 2);
	admit_note(a, ADMIT_TIMED_OUT, "10.1.0.1:1", NULL, 0);
	admit_get_stats(a, &st);
	CHECK(st.count[ADMIT_TIMED_OUT] == 1);
	close_all(a);

	/* Log lines: at most one per second per reason, the rest counted in
	 * the next line. */
	{
		char path[] = "/tmp/test_admit_logXXXXXX";
		int fd = mkstemp(path);
		FILE *f = fdopen(fd, "w+");
		log_set_stream(f);
		for (int i = 0; i < 100; i++)
			admit_note(a, ADMIT_TIMED_OUT, "p", "late", 10.0 + i * 0.001);
		admit_note(a, ADMIT_TIMED_OUT, "p", "late", 11.5);
		log_set_stream(stderr);
		fflush(f);
		rewind(f);
		char line[512];
		int lines = 0, more = 0;
		while (fgets(line, sizeof(line), f)) {
			lines += strstr(line, "closing connection from p: late") != NULL;
			more += strstr(line, "99 more since the last such line") != NULL;
		}
		CHECK(lines == 2);
		CHECK(more == 1);
		fclose(f);
		unlink(path);
		admit_get_stats(a, &st);
		CHECK(st.count[ADMIT_TIMED_OUT] == 102);
	}

	/* Local (unix) connections: no source cap, oldest evicted. */
	struct conn *l[10];
	for (int i = 0; i < 10; i++) {
		l[i] = &conns[nconns];
		l[i]->id = nconns++;
		l[i]->slot = admit_accept(a, NULL, l[i], "unix", 0);
		CHECK(l[i]->slot != NULL);
	}
	CHECK(l[0]->evicted && l[1]->evicted && !l[2]->evicted);
	close_all(a);
	admit_free(a);
	return check_exit();
}
