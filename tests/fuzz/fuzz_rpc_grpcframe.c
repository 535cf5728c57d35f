/* Fuzz the gRPC message framer (and grpc-timeout / grpc-message parsing).
 * The first byte picks the chunk size, so every split of the input into
 * DATA frames is explored; the framer must deliver exactly the messages
 * the prefixes describe, never more bytes than the cap. */
#include "rpc/rpc_internal.h"

#include <stdlib.h>
#include <string.h>

#define MAX_MSG 4096

struct seen {
	size_t n, bytes;
	uint8_t xor;
};

static bool on_msg(void *arg, const uint8_t *msg, size_t len)
{
	struct seen *s = arg;
	if (len > MAX_MSG)
		abort();
	/* touch every byte: ASan checks the buffer is really that long */
	uint8_t x = 0;
	for (size_t i = 0; i < len; i++)
		x ^= msg[i];
	s->xor ^= x;
	s->n++;
	s->bytes += len;
	return s->n < 64;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rpc_framer f;
	struct seen s = { 0 };
	size_t chunk;

	if (size == 0)
		return 0;
	chunk = (size_t)data[0] % 17 + 1;
	data++;
	size--;
	rpc_framer_init(&f, MAX_MSG);
	for (size_t off = 0; off < size; off += chunk) {
		size_t n = size - off < chunk ? size - off : chunk;
		if (rpc_framer_feed(&f, data + off, n, on_msg, &s) !=
		    RPC_FRAME_OK)
			break;
	}
	(void)rpc_framer_at_boundary(&f);
	rpc_framer_clear(&f);

	/* the same bytes as header values */
	double secs;
	(void)rpc_parse_grpc_timeout(&secs, (const char *)data,
				     size < 16 ? size : 16);
	char *str = malloc(size + 1);
	if (str) {
		memcpy(str, data, size);
		str[size] = '\0';
		char *enc = rpc_percent_encode(str);
		if (enc) {
			rpc_percent_decode(enc);
			if (strcmp(enc, str) != 0)
				abort(); /* encode/decode must round-trip */
			free(enc);
		}
		rpc_percent_decode(str);
		int64_t t;
		(void)rpc_parse_rfc3339(&t, str);
		free(str);
	}
	return 0;
}
