/* curlev_body_append by table: every split of a body into chunks around
 * the cap (the chain's bitcoind answers and the cluster's etcd answers are
 * both read through it), the growth past the first 4 KiB, and sizes whose
 * sum would overflow. */
#include "curlev/curlev.h"

#include <stdint.h>
#include <stdlib.h>
#include "check.h"

/* Feeds @total bytes in chunks of @chunk under cap @max; true if every
 * chunk was taken and the body is exactly what was fed. */
static bool feed(size_t total, size_t chunk, size_t max, size_t *refused_at)
{
	struct curlev_body b = { 0 };
	char *src = malloc(total + 1);
	bool ok = true;

	if (!src)
		abort();
	for (size_t i = 0; i < total; i++)
		src[i] = (char)('a' + i % 26);
	*refused_at = SIZE_MAX;
	for (size_t off = 0; off < total; off += chunk) {
		size_t n = total - off < chunk ? total - off : chunk;
		size_t before = b.len;
		if (!curlev_body_append(&b, src + off, n, max)) {
			/* Nothing appended by a refused chunk. */
			ok = b.len == before;
			*refused_at = off;
			break;
		}
	}
	if (*refused_at == SIZE_MAX)
		ok = b.len == total && (total == 0 ? b.data == NULL :
			memcmp(b.data, src, total) == 0 && b.data[total] == '\0');
	curlev_body_free(&b);
	ok = ok && b.data == NULL && b.len == 0 && b.cap == 0;
	free(src);
	return ok;
}

int main(void)
{
	static const size_t sizes[] = { 0, 1, 2, 4095, 4096, 4097, 8191,
					8192, 8193, 100000 };
	static const size_t chunks[] = { 1, 7, 4096, 16384, 200000 };
	size_t at;

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		for (size_t j = 0; j < sizeof(chunks) / sizeof(chunks[0]); j++) {
			size_t t = sizes[i], c = chunks[j];
			/* At the cap: taken whole. */
			CHECK(feed(t, c, t, &at) && at == SIZE_MAX);
			/* One byte over: the chunk holding byte t-1 is
			 * refused, everything before it kept. */
			if (t > 0) {
				CHECK(feed(t, c, t - 1, &at));
				CHECK(at == (t - 1) / c * c);
			}
		}

	/* Sizes whose sum overflows size_t are refused, not wrapped. */
	struct curlev_body b = { 0 };
	CHECK(curlev_body_append(&b, "abc", 3, 10));
	CHECK(!curlev_body_append(&b, "x", SIZE_MAX, SIZE_MAX));
	CHECK(!curlev_body_append(&b, "x", SIZE_MAX - 1, SIZE_MAX));
	CHECK(!curlev_body_append(&b, "x", 8, 10));
	CHECK(curlev_body_append(&b, "1234567", 7, 10));
	CHECK(b.len == 10 && strcmp(b.data, "abc1234567") == 0);
	CHECK(!curlev_body_append(&b, "x", 1, 10));
	/* Emptied (len 0, as a watch stream does after a whole line): the
	 * cap counts from there. */
	b.len = 0;
	CHECK(curlev_body_append(&b, "0123456789", 10, 10));
	curlev_body_free(&b);
	CHECK(b.data == NULL);
	return check_exit();
}
