/* The registry and the text format, bytes only: families, label escaping,
 * cumulative histogram buckets, collector order and removal. */
#include "check.h"
#include "metrics/metrics.h"

#include <math.h>

static void coll_a(void *arg, struct metrics_page *pg)
{
	int *calls = arg;

	(*calls)++;
	metrics_family(pg, "coldnode_test_up", METRICS_GAUGE, "Help with \\ and\nnewline.");
	metrics_sample(pg, 1, NULL);
	metrics_family(pg, "coldnode_test_events_total", METRICS_COUNTER, "Events.");
	metrics_sample(pg, 3, "kind", "a\"b\\c\nd", NULL);
	metrics_sample(pg, 12345678901.0, "kind", "big", "x", "y", NULL);
	metrics_sample(pg, 0.25, "kind", "frac", NULL);
	metrics_sample(pg, NAN, "kind", "nan", NULL);
}

static void coll_b(void *arg, struct metrics_page *pg)
{
	struct cn_hist *h = arg;

	metrics_family(pg, "coldnode_test_duration_seconds", METRICS_HISTOGRAM,
		       "Latency.");
	metrics_histogram(pg, h, "method", "GetInfo", NULL);
}

int main(void)
{
	struct metrics *m = metrics_new();
	struct cn_hist h = { 0 };
	int calls = 0;
	size_t len;
	char *page;

	CHECK(m);
	cn_hist_observe(&h, 0.0001);  /* first bucket */
	cn_hist_observe(&h, 0.0007);  /* 0.001 */
	cn_hist_observe(&h, 0.001);   /* 0.001: le is inclusive */
	cn_hist_observe(&h, 3);       /* 5 */
	cn_hist_observe(&h, 100);     /* +Inf only */
	cn_hist_observe(&h, -1);      /* clamped to 0 */
	CHECK(h.count == 6);
	CHECK(metrics_add_collector(m, coll_a, &calls));
	CHECK(metrics_add_collector(m, coll_b, &h));
	page = metrics_render(m, &len);
	CHECK(page && strlen(page) == len);
	CHECK(calls == 1);
	fputs(page, stderr);
	CHECK(strstr(page, "# HELP coldnode_test_up Help with \\\\ and\\nnewline.\n"
			   "# TYPE coldnode_test_up gauge\ncoldnode_test_up 1\n"));
	CHECK(strstr(page, "# TYPE coldnode_test_events_total counter\n"));
	CHECK(strstr(page, "coldnode_test_events_total{kind=\"a\\\"b\\\\c\\nd\"} 3\n"));
	CHECK(strstr(page, "coldnode_test_events_total{kind=\"big\",x=\"y\"} 12345678901\n"));
	CHECK(strstr(page, "{kind=\"frac\"} 0.25\n"));
	CHECK(strstr(page, "{kind=\"nan\"} NaN\n"));
	CHECK(strstr(page, "# TYPE coldnode_test_duration_seconds histogram\n"));
	/* Cumulative, le inclusive, +Inf equals _count. */
	CHECK(strstr(page, "coldnode_test_duration_seconds_bucket{method=\"GetInfo\",le=\"0.0005\"} 2\n"));
	CHECK(strstr(page, "coldnode_test_duration_seconds_bucket{method=\"GetInfo\",le=\"0.001\"} 4\n"));
	CHECK(strstr(page, "coldnode_test_duration_seconds_bucket{method=\"GetInfo\",le=\"2.5\"} 4\n"));
	CHECK(strstr(page, "coldnode_test_duration_seconds_bucket{method=\"GetInfo\",le=\"5\"} 5\n"));
	CHECK(strstr(page, "coldnode_test_duration_seconds_bucket{method=\"GetInfo\",le=\"10\"} 5\n"));
	CHECK(strstr(page, "coldnode_test_duration_seconds_bucket{method=\"GetInfo\",le=\"+Inf\"} 6\n"));
	CHECK(strstr(page, "coldnode_test_duration_seconds_count{method=\"GetInfo\"} 6\n"));
	CHECK(strstr(page, "coldnode_test_duration_seconds_sum{method=\"GetInfo\"} 103.0018"));
	/* Collectors in the order added. */
	CHECK(strstr(page, "coldnode_test_up") < strstr(page, "coldnode_test_duration_seconds"));
	CHECK(page[len - 1] == '\n');
	free(page);

	/* Removing a module's collector drops its families. */
	metrics_remove_collector(m, &h);
	page = metrics_render(m, &len);
	CHECK(page && !strstr(page, "coldnode_test_duration_seconds"));
	CHECK(calls == 2);
	free(page);

	/* A large page (many samples) renders whole. */
	metrics_remove_collector(m, &calls);
	page = metrics_render(m, &len);
	CHECK(page && len == 0 && page[0] == '\0');
	free(page);
	metrics_free(m);
	metrics_free(NULL);
	return check_exit();
}
