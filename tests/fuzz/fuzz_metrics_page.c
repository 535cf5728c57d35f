/* Fuzz the text exposition writer: arbitrary bytes become HELP texts,
 * label values and sample values (NaN, infinities, huge, negative), and
 * histogram observations.  The page must stay well formed whatever the
 * input: every line a "# HELP"/"# TYPE" line or
 *   name{key="value",...} number
 * with each value's quotes, backslashes and line feeds escaped, and each
 * histogram's buckets cumulative up to +Inf == _count.  A checker here
 * (not in coldnode) reads it back; it aborts on a malformed line. */
#include "metrics/metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct input {
	const uint8_t *p;
	size_t n;
};

/* Next NUL-free chunk of up to 40 bytes as a C string (bytes kept raw:
 * quotes, backslashes, newlines, high bytes). */
static void take_str(struct input *in, char *out, size_t cap)
{
	size_t len = in->n ? in->p[0] % 41 : 0, j = 0;

	if (in->n) {
		in->p++;
		in->n--;
	}
	for (size_t i = 0; i < len && in->n && j + 1 < cap; i++) {
		if (in->p[0])
			out[j++] = (char)in->p[0];
		in->p++;
		in->n--;
	}
	out[j] = '\0';
}

static double take_double(struct input *in)
{
	double d = 0;

	if (in->n >= sizeof(d)) {
		memcpy(&d, in->p, sizeof(d));
		in->p += sizeof(d);
		in->n -= sizeof(d);
	}
	return d;
}

static void collect(void *arg, struct metrics_page *pg)
{
	struct input in = *(struct input *)arg;
	/* v1 is read after the loop even when the input had no sample. */
	char help[64], v1[64] = "", v2[64] = "";
	struct cn_hist h = { 0 };

	take_str(&in, help, sizeof(help));
	metrics_family(pg, "coldnode_fuzz_total", METRICS_COUNTER, help);
	while (in.n > 8) {
		take_str(&in, v1, sizeof(v1));
		take_str(&in, v2, sizeof(v2));
		metrics_sample(pg, take_double(&in), "a", v1, "b", v2, NULL);
		cn_hist_observe(&h, take_double(&in));
	}
	metrics_family(pg, "coldnode_fuzz_seconds", METRICS_HISTOGRAM, help);
	metrics_histogram(pg, &h, "a", v1, NULL);
}

/* name{k="v",...} value */
static void check_sample(const char *l, const char *end)
{
	const char *p = l;

	while (p < end && (*p == '_' || (*p >= 'a' && *p <= 'z') ||
			   (*p >= '0' && *p <= '9')))
		p++;
	if (p == l)
		abort();
	if (p < end && *p == '{') {
		p++;
		for (;;) {
			while (p < end && *p >= 'a' && *p <= 'z')
				p++;
			if (p + 1 >= end || p[0] != '=' || p[1] != '"')
				abort();
			p += 2;
			while (p < end && *p != '"') {
				if (*p == '\\') {
					if (p + 1 >= end ||
					    !strchr("\\\"n", p[1]))
						abort();
					p++;
				}
				p++;
			}
			if (p >= end)
				abort();
			p++;
			if (p < end && *p == ',') {
				p++;
				continue;
			}
			if (p >= end || *p != '}')
				abort();
			p++;
			break;
		}
	}
	if (p >= end || *p != ' ')
		abort();
	p++;
	char num[64];
	size_t n = (size_t)(end - p);
	if (n == 0 || n >= sizeof(num))
		abort();
	memcpy(num, p, n);
	num[n] = '\0';
	if (strcmp(num, "NaN") && strcmp(num, "+Inf") && strcmp(num, "-Inf")) {
		char *e;
		strtod(num, &e);
		if (*e)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { data, size };
	struct metrics *m = metrics_new();
	double last_bucket = -1, count = -2;
	size_t len;
	char *page;

	if (!m || !metrics_add_collector(m, collect, &in))
		abort();
	page = metrics_render(m, &len);
	if (!page || strlen(page) != len)
		abort();
	for (char *l = page; *l;) {
		char *nl = strchr(l, '\n');
		if (!nl)
			abort(); /* every line ends with a line feed */
		if (!strncmp(l, "# HELP ", 7) || !strncmp(l, "# TYPE ", 7)) {
			/* HELP escapes line feeds: one line each. */
		} else {
			check_sample(l, nl);
			double v = strtod(strrchr(l, ' ') + 1, NULL);
			if (!strncmp(l, "coldnode_fuzz_seconds_bucket", 28)) {
				if (v < last_bucket)
					abort(); /* not cumulative */
				last_bucket = v;
			} else if (!strncmp(l, "coldnode_fuzz_seconds_count", 27)) {
				count = v;
			}
		}
		l = nl + 1;
	}
	if (last_bucket != count)
		abort(); /* +Inf bucket != _count */
	free(page);
	metrics_free(m);
	return 0;
}
