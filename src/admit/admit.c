/*~ admit: the connection budget of one listener (see admit.h).
 *
 * Pre-auth slots live in one list, oldest first; authenticated ones are
 * only counted.  Budgets are small (tens to a few hundred), so the
 * per-source count at accept is a scan of the list and choosing a victim
 * sorts a copy of it: both cost microseconds, far below one TLS handshake.
 */
#include "admit/admit.h"

#include "common/common.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

struct admit_slot {
	struct admit_slot *next, *prev; /* pre-auth list, oldest first */
	void *owner;                    /* borrowed */
	uint64_t seq;                   /* accept order */
	uint8_t source[16];             /* IPv4 address or IPv6 /64 */
	uint8_t group[16];              /* network group */
	bool listed, authenticated;
};

struct admit {
	struct admit_config cfg;
	struct admit_cbs cbs;
	struct admit_slot *head, *tail;
	size_t num_unauth, num_auth;
	uint64_t next_seq, accepted;
	uint64_t count[ADMIT_NUM_REASONS];
	/* Log rate limit: one line per second per reason. */
	double last_log[ADMIT_NUM_REASONS];
	uint64_t unlogged[ADMIT_NUM_REASONS];
	struct admit_slot **scratch; /* for eviction; grown on first use */
	size_t scratch_cap;
};

const char *admit_reason_str(enum admit_reason r)
{
	switch (r) {
	case ADMIT_REFUSED_SOURCE: return "refused_source";
	case ADMIT_EVICTED: return "evicted";
	case ADMIT_AUTH_FULL: return "auth_full";
	case ADMIT_TIMED_OUT: return "timed_out";
	case ADMIT_NUM_REASONS: break;
	}
	return "unknown";
}

struct admit *admit_new(const struct admit_config *cfg,
			const struct admit_cbs *cbs)
{
	if (!cfg->name || !cfg->subsys || cfg->max_unauth == 0 ||
	    cfg->max_auth == 0 || !cbs || !cbs->evict)
		abort();
	struct admit *a = calloc(1, sizeof(*a));
	if (!a)
		abort();
	a->cfg = *cfg;
	a->cbs = *cbs;
	for (size_t i = 0; i < ADMIT_NUM_REASONS; i++)
		a->last_log[i] = -1e9;
	return a;
}

void admit_free(struct admit *a)
{
	if (!a)
		return;
	if (a->head || a->num_auth)
		abort(); /* owner still holds slots */
	free(a->scratch);
	free(a);
}

/* Source and group keys.  Bitcoin Core (netaddress.cpp GetGroup): IPv4
 * /16, IPv6 /32, "all local addresses belong to the same group"; OpenSSH
 * PerSourceNetBlockSize defaults to 32:128, we take an IPv6 /64 as one
 * source since that is what one host (or one customer) gets. */
static void keys(uint8_t source[16], uint8_t group[16],
		 const struct sockaddr *sa)
{
	memset(source, 0, 16);
	memset(group, 0, 16);
	if (!sa || sa->sa_family == AF_UNIX) {
		group[0] = 1; /* local */
		return;
	}
	if (sa->sa_family == AF_INET6) {
		const uint8_t *b = ((const struct sockaddr_in6 *)sa)
					   ->sin6_addr.s6_addr;
		static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0,
						      0, 0, 0, 0, 0xff, 0xff };
		static const uint8_t loop6[16] = { [15] = 1 };
		if (memcmp(b, v4mapped, 12) != 0) {
			source[0] = 6;
			memcpy(source + 1, b, 8);
			if (memcmp(b, loop6, 16) == 0) {
				group[0] = 1;
			} else {
				group[0] = 6;
				memcpy(group + 1, b, 4);
			}
			return;
		}
		source[0] = 4;
		memcpy(source + 1, b + 12, 4);
	} else if (sa->sa_family == AF_INET) {
		source[0] = 4;
		memcpy(source + 1,
		       &((const struct sockaddr_in *)sa)->sin_addr.s_addr, 4);
	} else {
		group[0] = 1;
		return;
	}
	if (source[1] == 127) {
		group[0] = 1; /* 127/8 is local */
	} else {
		group[0] = 4;
		memcpy(group + 1, source + 1, 2);
	}
}

static void note(struct admit *a, enum admit_reason r, const char *peer,
		 double now, size_t detail, const char *why)
{
	a->count[r]++;
	if (now - a->last_log[r] < 1.0) {
		a->unlogged[r]++;
		return;
	}
	char more[64] = "";
	if (a->unlogged[r])
		snprintf(more, sizeof(more), "; %llu more since the last such "
			 "line", (unsigned long long)a->unlogged[r]);
	a->last_log[r] = now;
	a->unlogged[r] = 0;
	const char *sub = a->cfg.subsys, *n = a->cfg.name;
	switch (r) {
	case ADMIT_REFUSED_SOURCE:
		log_unusual(sub, "%s: refusing connection from %s: %zu from "
			    "that source not yet authenticated (max %zu%s%s)%s",
			    n, peer, detail, a->cfg.max_per_source,
			    a->cfg.per_source_flag ? ", " : "",
			    a->cfg.per_source_flag ? a->cfg.per_source_flag
						   : "", more);
		break;
	case ADMIT_EVICTED:
		log_unusual(sub, "%s: pre-auth budget (%zu%s%s) full: evicted "
			    "an unauthenticated connection of the most crowded "
			    "source to admit %s%s", n, a->cfg.max_unauth,
			    a->cfg.unauth_flag ? ", " : "",
			    a->cfg.unauth_flag ? a->cfg.unauth_flag : "", peer,
			    more);
		break;
	case ADMIT_AUTH_FULL:
		log_unusual(sub, "%s: %s authenticated while %zu authenticated "
			    "connections are open: kept as unauthenticated%s",
			    n, peer, a->cfg.max_auth, more);
		break;
	case ADMIT_TIMED_OUT:
		log_unusual(sub, "%s: closing connection from %s: %s%s", n,
			    peer, why ? why : "not authenticated in time",
			    more);
		break;
	case ADMIT_NUM_REASONS:
		abort();
	}
}

void admit_note(struct admit *a, enum admit_reason r, const char *peer,
		const char *why, double now)
{
	if (r >= ADMIT_NUM_REASONS)
		abort();
	note(a, r, peer, now, 0, why);
}

static void unlink_slot(struct admit *a, struct admit_slot *s)
{
	if (!s->listed)
		return;
	if (s->prev)
		s->prev->next = s->next;
	else
		a->head = s->next;
	if (s->next)
		s->next->prev = s->prev;
	else
		a->tail = s->prev;
	s->next = s->prev = NULL;
	s->listed = false;
	a->num_unauth--;
}

static int by_group_source_age(const void *x, const void *y)
{
	const struct admit_slot *p = *(struct admit_slot *const *)x;
	const struct admit_slot *q = *(struct admit_slot *const *)y;
	int c = memcmp(p->group, q->group, 16);
	if (c)
		return c;
	c = memcmp(p->source, q->source, 16);
	if (c)
		return c;
	return p->seq < q->seq ? -1 : p->seq > q->seq;
}

/* The oldest pre-auth connection of the most crowded source within the
 * most crowded group (ties: the run holding the older connection). */
static struct admit_slot *pick_victim(struct admit *a)
{
	size_t n = 0;
	if (a->scratch_cap < a->num_unauth) {
		free(a->scratch);
		a->scratch = calloc(a->num_unauth, sizeof(*a->scratch));
		if (!a->scratch)
			abort(); /* a few KiB: nothing sensible to do without */
		a->scratch_cap = a->num_unauth;
	}
	for (struct admit_slot *s = a->head; s; s = s->next)
		a->scratch[n++] = s;
	if (n == 0)
		return NULL;
	qsort(a->scratch, n, sizeof(*a->scratch), by_group_source_age);
	/* Most crowded group. */
	size_t gbest = 0, gbest_len = 0;
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j < n && memcmp(a->scratch[j]->group,
				       a->scratch[i]->group, 16) == 0)
			j++;
		if (j - i > gbest_len) {
			gbest = i;
			gbest_len = j - i;
		}
		i = j;
	}
	/* Most crowded source in it; its first entry is its oldest. */
	struct admit_slot *victim = NULL;
	size_t sbest_len = 0;
	for (size_t i = gbest; i < gbest + gbest_len;) {
		size_t j = i;
		while (j < gbest + gbest_len &&
		       memcmp(a->scratch[j]->source, a->scratch[i]->source,
			      16) == 0)
			j++;
		if (j - i > sbest_len ||
		    (j - i == sbest_len && a->scratch[i]->seq < victim->seq)) {
			victim = a->scratch[i];
			sbest_len = j - i;
		}
		i = j;
	}
	return victim;
}

struct admit_slot *admit_accept(struct admit *a, const struct sockaddr *sa,
				void *owner, const char *peer, double now)
{
	uint8_t source[16], group[16];
	keys(source, group, sa);
	/* PerSourceMaxStartups: refused before any handshake work. */
	if (a->cfg.max_per_source && source[0]) {
		size_t same = 0;
		for (struct admit_slot *s = a->head; s; s = s->next)
			same += memcmp(s->source, source, 16) == 0;
		if (same >= a->cfg.max_per_source) {
			note(a, ADMIT_REFUSED_SOURCE, peer, now, same, NULL);
			return NULL;
		}
	}
	struct admit_slot *ns = calloc(1, sizeof(*ns));
	if (!ns)
		return NULL;
	if (a->num_unauth >= a->cfg.max_unauth) {
		struct admit_slot *victim = pick_victim(a);
		unlink_slot(a, victim);
		note(a, ADMIT_EVICTED, peer, now, 0, NULL);
		a->cbs.evict(a->cbs.arg, victim->owner);
	}
	ns->owner = owner;
	ns->seq = a->next_seq++;
	memcpy(ns->source, source, 16);
	memcpy(ns->group, group, 16);
	ns->listed = true;
	ns->prev = a->tail;
	if (a->tail)
		a->tail->next = ns;
	else
		a->head = ns;
	a->tail = ns;
	a->num_unauth++;
	a->accepted++;
	return ns;
}

bool admit_authenticated(struct admit *a, struct admit_slot *s,
			 const char *peer)
{
	if (s->authenticated)
		return true;
	if (!s->listed)
		return false; /* evicted already: on its way out */
	if (a->num_auth >= a->cfg.max_auth) {
		note(a, ADMIT_AUTH_FULL, peer, cn_now(), 0, NULL);
		return false;
	}
	unlink_slot(a, s);
	s->authenticated = true;
	a->num_auth++;
	return true;
}

bool admit_is_authenticated(const struct admit_slot *s)
{
	return s->authenticated;
}

void admit_release(struct admit *a, struct admit_slot *s)
{
	if (!s)
		return;
	if (s->authenticated)
		a->num_auth--;
	else
		unlink_slot(a, s);
	free(s);
}

void admit_get_stats(const struct admit *a, struct admit_stats *out)
{
	memset(out, 0, sizeof(*out));
	out->name = a->cfg.name;
	out->unauthenticated = (uint32_t)a->num_unauth;
	out->authenticated = (uint32_t)a->num_auth;
	out->accepted = a->accepted;
	memcpy(out->count, a->count, sizeof(out->count));
}
