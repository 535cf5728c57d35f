/* secmem: slots are distinct, aligned, survive slab growth and shrinkage,
 * and come back wiped. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "brontide/brontide_internal.h"
#include "check.h"
#include "common/common.h"

#define N 500

static void run(size_t size)
{
	static uint8_t *p[N];

	for (int i = 0; i < N; i++) {
		p[i] = brontide_secmem_alloc(size);
		CHECK(p[i] != NULL);
		CHECK(((uintptr_t)p[i] & 15) == 0);
		for (size_t j = 0; j < size; j++) {
			if (p[i][j] != 0) {
				CHECK(!"fresh slot not zeroed");
				break;
			}
		}
		memset(p[i], (uint8_t)i, size);
	}
	/* No two slots overlap: every pattern is intact. */
	for (int i = 0; i < N; i++) {
		for (size_t j = 0; j < size; j++) {
			if (p[i][j] != (uint8_t)i) {
				CHECK(!"slot overwritten");
				break;
			}
		}
	}
	/* Free every other one, then all: empty slabs are returned. */
	for (int i = 0; i < N; i += 2)
		brontide_secmem_free(p[i]);
	for (int i = 0; i < N; i += 2) {
		p[i] = brontide_secmem_alloc(size);
		/* Released slots come back zeroed. */
		for (size_t j = 0; j < size; j++) {
			if (p[i][j] != 0) {
				CHECK(!"slot not wiped");
				break;
			}
		}
	}
	for (int i = N - 1; i >= 0; i--)
		brontide_secmem_free(p[i]);
	brontide_secmem_free(NULL);
}

int main(void)
{
	cn_crypto_init();
	run(1);
	run(144);
	run(192);
	run(193);
	run(640);
	run(100);
	return check_exit();
}
