/* rawblock.h: builds serialized blocks and transactions (legacy
 * serialization) for the wallet's tests and benchmark, to be read back by
 * the real parser (src/chain/block.c).  Test data only. */
#ifndef COLDNODE_TEST_RAWBLOCK_H
#define COLDNODE_TEST_RAWBLOCK_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct rb_buf {
	uint8_t *p;
	size_t len, cap;
};

static inline void rb_put(struct rb_buf *b, const void *d, size_t n)
{
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2 + 64;
		b->p = realloc(b->p, b->cap);
		if (!b->p)
			abort();
	}
	memcpy(b->p + b->len, d, n);
	b->len += n;
}

static inline void rb_le(struct rb_buf *b, uint64_t v, int n)
{
	for (int i = 0; i < n; i++) {
		uint8_t c = (uint8_t)(v >> (8 * i));
		rb_put(b, &c, 1);
	}
}

static inline void rb_varint(struct rb_buf *b, uint64_t v)
{
	uint8_t c;
	if (v < 0xfd) {
		c = (uint8_t)v;
		rb_put(b, &c, 1);
	} else if (v <= 0xffff) {
		c = 0xfd;
		rb_put(b, &c, 1);
		rb_le(b, v, 2);
	} else {
		c = 0xfe;
		rb_put(b, &c, 1);
		rb_le(b, v, 4);
	}
}

struct rb_in { uint8_t txid[32]; uint32_t vout; };
struct rb_out { uint64_t value; const uint8_t *script; size_t len; };

/* Appends one transaction; @nonce makes otherwise equal ones differ. */
static inline void rb_tx(struct rb_buf *b, const struct rb_in *in, size_t nin,
			 const struct rb_out *out, size_t nout, uint32_t nonce)
{
	static const uint8_t coinbase_prev[32];
	rb_le(b, 2, 4);
	if (nin == 0) { /* coinbase: null prevout, height-ish script */
		rb_varint(b, 1);
		rb_put(b, coinbase_prev, 32);
		rb_le(b, 0xffffffff, 4);
		rb_varint(b, 4);
		rb_le(b, nonce, 4);
		rb_le(b, 0xffffffff, 4);
	} else {
		rb_varint(b, nin);
		for (size_t i = 0; i < nin; i++) {
			rb_put(b, in[i].txid, 32);
			rb_le(b, in[i].vout, 4);
			rb_varint(b, 0);
			rb_le(b, 0xffffffff, 4);
		}
	}
	rb_varint(b, nout);
	for (size_t i = 0; i < nout; i++) {
		rb_le(b, out[i].value, 8);
		rb_varint(b, out[i].len);
		rb_put(b, out[i].script, out[i].len);
	}
	rb_le(b, nonce, 4); /* locktime */
}

/* Block header then @ntx (the transactions follow, appended by rb_tx). */
static inline void rb_header(struct rb_buf *b, const uint8_t prev[32],
			     uint32_t time, size_t ntx)
{
	static const uint8_t merkle[32];
	rb_le(b, 0x20000000, 4);
	rb_put(b, prev, 32);
	rb_put(b, merkle, 32);
	rb_le(b, time, 4);
	rb_le(b, 0x207fffff, 4);
	rb_le(b, 0, 4);
	rb_varint(b, ntx);
}

#endif
