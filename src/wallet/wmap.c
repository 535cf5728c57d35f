/*~ wmap: the wallet's in-memory lookup tables (watched scripts, our
 * outpoints): open addressing, linear probing, backward-shift deletion,
 * keys hashed with libsodium's SipHash under a random key so that outputs
 * crafted by others cannot pile into one probe chain. */
#include "wallet/wmap.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

static size_t slot(const struct wmap *m, const uint8_t *key, size_t klen)
{
	uint8_t h[crypto_shorthash_BYTES];
	uint64_t v;
	crypto_shorthash(h, key, klen, m->k);
	memcpy(&v, h, sizeof(v));
	return (size_t)(v & (m->cap - 1));
}

bool wmap_init(struct wmap *m)
{
	memset(m, 0, sizeof(*m));
	m->e = calloc(64, sizeof(*m->e));
	if (!m->e)
		return false; /* cap 0: lookups find nothing, never touch e */
	m->cap = 64;
	randombytes_buf(m->k, sizeof(m->k));
	return true;
}

void wmap_clear(struct wmap *m)
{
	free(m->e);
	memset(m, 0, sizeof(*m));
}

static struct wmap_entry *find(const struct wmap *m, const uint8_t *key,
			       size_t klen)
{
	for (size_t i = slot(m, key, klen);; i = (i + 1) & (m->cap - 1)) {
		struct wmap_entry *e = &m->e[i];
		if (!e->klen)
			return e;
		if (e->klen == klen && memcmp(e->key, key, klen) == 0)
			return e;
	}
}

static bool grow(struct wmap *m)
{
	struct wmap old = *m;
	m->cap *= 2;
	m->n = 0;
	m->e = calloc(m->cap, sizeof(*m->e));
	if (!m->e) {
		*m = old;
		return false;
	}
	for (size_t i = 0; i < old.cap; i++)
		if (old.e[i].klen)
			*find(m, old.e[i].key, old.e[i].klen) = old.e[i], m->n++;
	free(old.e);
	return true;
}

bool wmap_put(struct wmap *m, const uint8_t *key, size_t klen, uint64_t val)
{
	struct wmap_entry *e;
	if (klen == 0 || klen > WMAP_MAX_KEY)
		abort(); /* programmer error: keys are scripts and outpoints */
	if (!m->cap)
		return false; /* wmap_init ran out of memory */
	if ((m->n + 1) * 2 > m->cap && !grow(m))
		return false;
	e = find(m, key, klen);
	if (!e->klen) {
		memcpy(e->key, key, klen);
		e->klen = (uint8_t)klen;
		m->n++;
	}
	e->val = val;
	return true;
}

bool wmap_get(const struct wmap *m, const uint8_t *key, size_t klen,
	      uint64_t *val)
{
	if (klen == 0 || klen > WMAP_MAX_KEY || !m->cap)
		return false;
	const struct wmap_entry *e = find(m, key, klen);
	if (!e->klen)
		return false;
	if (val)
		*val = e->val;
	return true;
}

bool wmap_del(struct wmap *m, const uint8_t *key, size_t klen)
{
	if (klen == 0 || klen > WMAP_MAX_KEY || !m->cap)
		return false;
	struct wmap_entry *e = find(m, key, klen);
	if (!e->klen)
		return false;
	size_t i = (size_t)(e - m->e);
	e->klen = 0;
	m->n--;
	/* Backward shift: move later entries of the run into the hole when
	 * their home slot is not between the hole and them. */
	for (size_t j = (i + 1) & (m->cap - 1); m->e[j].klen;
	     j = (j + 1) & (m->cap - 1)) {
		size_t home = slot(m, m->e[j].key, m->e[j].klen);
		if (((j - home) & (m->cap - 1)) >= ((j - i) & (m->cap - 1))) {
			m->e[i] = m->e[j];
			m->e[j].klen = 0;
			i = j;
		}
	}
	return true;
}
