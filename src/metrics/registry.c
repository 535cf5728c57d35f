/*~ The registry and the text exposition format (Prometheus "text format
 * 0.0.4"): "# HELP", "# TYPE", then one "name{labels} value" line per
 * sample.  Pure: no sockets, no loop.  Collectors write into a growing
 * buffer, so a page costs O(samples) and one allocation per doubling.
 */
#include "metrics/metrics.h"

#include <assert.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct collector {
	metrics_collect_fn fn;
	void *arg; /* borrowed */
};

struct metrics {
	struct collector *c; /* owned array */
	size_t n, cap;
	size_t last_len;     /* size hint for the next page */
};

struct metrics_page {
	char *buf; /* owned until handed to the caller */
	size_t len, cap;
	bool oom;
	const char *family; /* borrowed, the current family's name */
	enum metrics_type type;
};

struct metrics *metrics_new(void)
{
	return calloc(1, sizeof(struct metrics));
}

void metrics_free(struct metrics *m)
{
	if (!m)
		return;
	free(m->c);
	free(m);
}

bool metrics_add_collector(struct metrics *m, metrics_collect_fn fn, void *arg)
{
	if (m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 8;
		struct collector *c = realloc(m->c, cap * sizeof(*c));
		if (!c)
			return false;
		m->c = c;
		m->cap = cap;
	}
	m->c[m->n].fn = fn;
	m->c[m->n].arg = arg;
	m->n++;
	return true;
}

void metrics_remove_collector(struct metrics *m, void *arg)
{
	size_t j = 0;

	for (size_t i = 0; i < m->n; i++)
		if (m->c[i].arg != arg)
			m->c[j++] = m->c[i];
	m->n = j;
}

static bool reserve(struct metrics_page *pg, size_t more)
{
	size_t cap;
	char *b;

	if (pg->oom)
		return false;
	if (pg->len + more + 1 <= pg->cap)
		return true;
	cap = pg->cap ? pg->cap : 4096;
	while (cap < pg->len + more + 1)
		cap *= 2;
	b = realloc(pg->buf, cap);
	if (!b) {
		pg->oom = true;
		return false;
	}
	pg->buf = b;
	pg->cap = cap;
	return true;
}

static void put(struct metrics_page *pg, const char *s, size_t n)
{
	if (!reserve(pg, n))
		return;
	memcpy(pg->buf + pg->len, s, n);
	pg->len += n;
	pg->buf[pg->len] = '\0';
}

static void puts_(struct metrics_page *pg, const char *s)
{
	put(pg, s, strlen(s));
}

static void putf(struct metrics_page *pg, const char *fmt, ...) CN_PRINTF(2, 3);
static void putf(struct metrics_page *pg, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!reserve(pg, 64))
		return;
	va_start(ap, fmt);
	n = vsnprintf(pg->buf + pg->len, pg->cap - pg->len, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= pg->cap - pg->len) {
		if (!reserve(pg, (size_t)n))
			return;
		va_start(ap, fmt);
		vsnprintf(pg->buf + pg->len, pg->cap - pg->len, fmt, ap);
		va_end(ap);
	}
	pg->len += (size_t)n;
}

/* Text format: "label_value can be any sequence of UTF-8 characters, but
 * the backslash (\), double-quote ("), and line feed (\n) characters have
 * to be escaped as \\, \", and \n". */
static void put_label_value(struct metrics_page *pg, const char *v)
{
	for (; *v; v++) {
		switch (*v) {
		case '\\':
			puts_(pg, "\\\\");
			break;
		case '"':
			puts_(pg, "\\\"");
			break;
		case '\n':
			puts_(pg, "\\n");
			break;
		default:
			put(pg, v, 1);
		}
	}
}

/* HELP text escapes only backslash and line feed. */
static void put_help(struct metrics_page *pg, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\')
			puts_(pg, "\\\\");
		else if (*v == '\n')
			puts_(pg, "\\n");
		else
			put(pg, v, 1);
	}
}

static void put_value(struct metrics_page *pg, double v)
{
	if (isnan(v))
		puts_(pg, " NaN\n");
	else if (isinf(v))
		puts_(pg, v > 0 ? " +Inf\n" : " -Inf\n");
	/* Whole numbers below 2^53 print as integers; test the range first:
	 * casting a larger double to an integer is undefined. */
	else if (fabs(v) < 9e15 && v == (double)(int64_t)v)
		putf(pg, " %lld\n", (long long)v);
	else
		putf(pg, " %.17g\n", v);
}

void metrics_family(struct metrics_page *pg, const char *name,
		    enum metrics_type type, const char *help)
{
	static const char *const tn[] = { "gauge", "counter", "histogram" };

	/* Our own names: a missing prefix is a programmer error. */
	assert(strncmp(name, "coldnode_", 9) == 0);
	pg->family = name;
	pg->type = type;
	putf(pg, "# HELP %s ", name);
	put_help(pg, help);
	putf(pg, "\n# TYPE %s %s\n", name, tn[type]);
}

/* "{k="v",...,extra_k="extra_v"}" or nothing. */
static void put_labels(struct metrics_page *pg, va_list ap,
		       const char *extra_k, const char *extra_v)
{
	const char *k;
	bool any = false;

	while ((k = va_arg(ap, const char *))) {
		const char *v = va_arg(ap, const char *);
		put(pg, any ? "," : "{", 1);
		any = true;
		putf(pg, "%s=\"", k);
		put_label_value(pg, v);
		put(pg, "\"", 1);
	}
	if (extra_k) {
		put(pg, any ? "," : "{", 1);
		any = true;
		putf(pg, "%s=\"%s\"", extra_k, extra_v);
	}
	if (any)
		put(pg, "}", 1);
}

void metrics_sample(struct metrics_page *pg, double v, ...)
{
	va_list ap;

	assert(pg->family && pg->type != METRICS_HISTOGRAM);
	puts_(pg, pg->family);
	va_start(ap, v);
	put_labels(pg, ap, NULL, NULL);
	va_end(ap);
	put_value(pg, v);
}

void metrics_histogram(struct metrics_page *pg, const struct cn_hist *h, ...)
{
	va_list ap;
	uint64_t cum = 0;
	char le[32];

	assert(pg->family && pg->type == METRICS_HISTOGRAM);
	for (size_t i = 0; i <= CN_HIST_BUCKETS; i++) {
		if (i < CN_HIST_BUCKETS) {
			cum += h->bucket[i];
			snprintf(le, sizeof(le), "%g", cn_hist_bounds[i]);
		} else {
			cum = h->count;
			strcpy(le, "+Inf");
		}
		putf(pg, "%s_bucket", pg->family);
		va_start(ap, h);
		put_labels(pg, ap, "le", le);
		va_end(ap);
		put_value(pg, (double)cum);
	}
	putf(pg, "%s_sum", pg->family);
	va_start(ap, h);
	put_labels(pg, ap, NULL, NULL);
	va_end(ap);
	put_value(pg, h->sum);
	putf(pg, "%s_count", pg->family);
	va_start(ap, h);
	put_labels(pg, ap, NULL, NULL);
	va_end(ap);
	put_value(pg, (double)h->count);
}

char *metrics_render(struct metrics *m, size_t *len)
{
	struct metrics_page pg = { 0 };

	/* Start near the last page's size: one allocation per scrape. */
	if (m->last_len && !reserve(&pg, m->last_len + m->last_len / 8))
		return NULL;
	for (size_t i = 0; i < m->n; i++) {
		pg.family = NULL;
		m->c[i].fn(m->c[i].arg, &pg);
	}
	if (!reserve(&pg, 0) || pg.oom) {
		free(pg.buf);
		return NULL;
	}
	pg.buf[pg.len] = '\0';
	m->last_len = pg.len;
	*len = pg.len;
	return pg.buf;
}
