/*~ Secret memory for brontide: fixed-size slots carved from sodium_malloc'd
 * slabs.  One sodium_malloc costs several system calls (mmap, mprotect,
 * mlock) and at least two resident pages, while a handshake state is ~600
 * bytes and a session's keys ~150: one sodium_malloc per object made
 * handshakes ~20% slower and idle sessions ~10 KiB each bigger.  Slabs
 * keep sodium's guard pages, canary and mlock; every slot is wiped when
 * released.  Not thread-safe: brontide runs on the daemon's loop thread. */
#include "brontide/brontide_internal.h"
#include "common/common.h"

struct slab;

/* Each slot starts with this header; the payload follows, 16-aligned. */
struct slot_hdr {
	struct slab *slab;
	void *next_free; /* only while the slot is free */
};

struct pool {
	size_t slot;	  /* header + payload, multiple of 16 */
	unsigned per_slab;
	struct slab *slabs;
};

struct slab {
	struct pool *pool;
	struct slab *next;
	struct slot_hdr *free_list;
	unsigned used;
	uint8_t *mem; /* sodium_malloc'd, per_slab * slot bytes */
};

#define PAYLOAD(h) ((uint8_t *)(h) + sizeof(struct slot_hdr))

/* Two sizes cover brontide: cipher state and handshake state. */
static struct pool pools[] = {
	{ .slot = 16 + 192, .per_slab = 78 },  /* ~16 KiB slabs */
	{ .slot = 16 + 640, .per_slab = 24 },
};

static struct slab *slab_new(struct pool *p)
{
	struct slab *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->mem = sodium_malloc(p->slot * p->per_slab);
	if (!s->mem) {
		free(s);
		return NULL;
	}
	/* sodium_malloc fills with junk; hand out zeroed slots, always. */
	sodium_memzero(s->mem, p->slot * p->per_slab);
	s->pool = p;
	for (unsigned i = 0; i < p->per_slab; i++) {
		struct slot_hdr *h = (struct slot_hdr *)(s->mem + i * p->slot);
		h->slab = s;
		h->next_free = s->free_list;
		s->free_list = h;
	}
	s->next = p->slabs;
	p->slabs = s;
	return s;
}

void *brontide_secmem_alloc(size_t size)
{
	struct pool *p = NULL;
	struct slab *s;
	struct slot_hdr *h;

	for (size_t i = 0; i < CN_ARRAY_SIZE(pools) && !p; i++)
		if (size <= pools[i].slot - sizeof(struct slot_hdr))
			p = &pools[i];
	BRONTIDE_ASSERT(p != NULL);

	for (s = p->slabs; s && !s->free_list; s = s->next)
		;
	if (!s && !(s = slab_new(p)))
		return NULL;
	h = s->free_list;
	s->free_list = h->next_free;
	h->next_free = NULL;
	s->used++;
	return PAYLOAD(h);
}

void brontide_secmem_free(void *ptr)
{
	struct slot_hdr *h;
	struct slab *s, **pp;
	struct pool *p;

	if (!ptr)
		return;
	h = (struct slot_hdr *)((uint8_t *)ptr - sizeof(struct slot_hdr));
	s = h->slab;
	p = s->pool;
	sodium_memzero(ptr, p->slot - sizeof(struct slot_hdr));
	h->next_free = s->free_list;
	s->free_list = h;
	BRONTIDE_ASSERT(s->used > 0);
	if (--s->used != 0)
		return;
	/* Return an empty slab unless it is the pool's last one, so a lone
	 * connection does not pay sodium_malloc on every handshake. */
	if (p->slabs == s && !s->next)
		return;
	for (pp = &p->slabs; *pp != s; pp = &(*pp)->next)
		;
	*pp = s->next;
	sodium_free(s->mem);
	free(s);
}
