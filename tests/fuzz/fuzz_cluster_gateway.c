/* Fuzz the cluster module's etcd gateway codec (cluster/gateway.c): any
 * body an etcd member (or something posing as one) sends, read as each
 * answer the session parses, and as a watch line. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/cluster.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct cl_gw_range r;
	struct cl_gw_answer a;
	const char *s = (const char *)data;

	cl_gw_parse(&a, s, size, NULL);
	if (strnlen(a.error, sizeof(a.error)) == sizeof(a.error) ||
	    strnlen(a.token, sizeof(a.token)) == sizeof(a.token))
		abort();
	cl_gw_parse(&a, s, size, "/coldnode/leader/1");
	cl_gw_parse_range(&r, s, size);
	if (r.n > CL_GW_MAX_KEYS)
		abort();
	for (size_t i = 0; i < r.n; i++)
		if (strnlen(r.kv[i].key, sizeof(r.kv[i].key)) ==
			    sizeof(r.kv[i].key) ||
		    strnlen(r.kv[i].id, sizeof(r.kv[i].id)) ==
			    sizeof(r.kv[i].id))
			abort();
	(void)cl_gw_parse_watch(s, size);
	return 0;
}
