/*~ Token-bucket rate limiting for channel_update, per channel direction
 * (lnd: a burst of 10, then one a minute).  Buckets live in an open
 * addressing table; full buckets are swept out, so memory follows the
 * number of recently active channel directions, not the graph size. */
#include "gossip/ratelimit.h"

#include <stdlib.h>
#include <string.h>

struct bucket {
	uint64_t key;
	double last;  /* time tokens were last computed */
	float tokens;
	bool used;
};

struct gossip_rl {
	struct bucket *tab;
	size_t cap, n; /* cap: power of two */
	unsigned burst;
	double interval;
};

static size_t slot(uint64_t key, size_t cap)
{
	/* Fibonacci hashing: scids are not random in their low bits. */
	return (size_t)((key * 0x9E3779B97F4A7C15ULL) >> 32) & (cap - 1);
}

static void table_alloc(struct gossip_rl *rl, size_t cap)
{
	rl->tab = calloc(cap, sizeof(*rl->tab));
	if (!rl->tab)
		abort();
	rl->cap = cap;
	rl->n = 0;
}

static struct bucket *find(struct gossip_rl *rl, uint64_t key, bool add)
{
	size_t i = slot(key, rl->cap);

	while (rl->tab[i].used) {
		if (rl->tab[i].key == key)
			return &rl->tab[i];
		i = (i + 1) & (rl->cap - 1);
	}
	if (!add)
		return NULL;
	rl->tab[i].used = true;
	rl->tab[i].key = key;
	rl->n++;
	return &rl->tab[i];
}

/* Rehash the live buckets into a table of @cap (dropping @drop ones). */
static void rebuild(struct gossip_rl *rl, size_t cap, double now, bool drop)
{
	struct bucket *old = rl->tab;
	size_t oldcap = rl->cap;

	table_alloc(rl, cap);
	for (size_t i = 0; i < oldcap; i++) {
		struct bucket *b;
		if (!old[i].used)
			continue;
		if (drop && now - old[i].last >=
				    (rl->burst - old[i].tokens) * rl->interval)
			continue;
		b = find(rl, old[i].key, true);
		*b = old[i];
	}
	free(old);
}

struct gossip_rl *gossip_rl_new(unsigned burst, double interval)
{
	struct gossip_rl *rl = calloc(1, sizeof(*rl));

	if (!rl)
		abort();
	rl->burst = burst ? burst : 1;
	rl->interval = interval;
	table_alloc(rl, 1024);
	return rl;
}

void gossip_rl_free(struct gossip_rl *rl)
{
	if (!rl)
		return;
	free(rl->tab);
	free(rl);
}

bool gossip_rl_take(struct gossip_rl *rl, uint64_t key, double now)
{
	struct bucket *b;

	if ((rl->n + 1) * 4 > rl->cap * 3)
		rebuild(rl, rl->cap * 2, now, false);
	b = find(rl, key, false);
	if (!b) {
		b = find(rl, key, true);
		b->tokens = (float)rl->burst;
		b->last = now;
	} else if (now > b->last) {
		double t = b->tokens + (now - b->last) / rl->interval;
		b->tokens = (float)(t > rl->burst ? rl->burst : t);
		b->last = now;
	}
	if (b->tokens < 1)
		return false;
	b->tokens -= 1;
	return true;
}

void gossip_rl_sweep(struct gossip_rl *rl, double now)
{
	size_t cap = rl->cap;

	/* Shrink when mostly empty, but keep a floor. */
	while (cap > 1024 && rl->n * 8 < cap)
		cap /= 2;
	rebuild(rl, cap, now, true);
	/* A sweep that kept most buckets may need room again. */
	if ((rl->n + 1) * 4 > rl->cap * 3)
		rebuild(rl, rl->cap * 2, now, false);
}
