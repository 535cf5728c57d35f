/*~ How long the one event loop is busy per iteration: an ev_check watcher
 * fires when the poll returns (work starts), an ev_prepare watcher just
 * before the next poll (work done).  The difference is the time every
 * other event may have waited; a scrape adds its render to one of them.
 */
#include "metrics/metrics.h"

#include <ev.h>
#include <stdlib.h>

struct metrics_loop {
	struct ev_loop *loop; /* borrowed */
	ev_check check;
	ev_prepare prepare;
	double start;         /* cn_now() at the last check, 0: none */
	double max;           /* longest iteration since the last render */
	struct cn_hist busy;
	uint64_t iterations;
};

static void on_check(struct ev_loop *loop, ev_check *w, int revents)
{
	struct metrics_loop *ml = w->data;

	(void)loop;
	(void)revents;
	ml->start = cn_now();
}

static void on_prepare(struct ev_loop *loop, ev_prepare *w, int revents)
{
	struct metrics_loop *ml = w->data;
	double d;

	(void)loop;
	(void)revents;
	if (ml->start <= 0)
		return; /* the first prepare, before any poll */
	d = cn_now() - ml->start;
	ml->start = 0;
	ml->iterations++;
	cn_hist_observe(&ml->busy, d);
	if (d > ml->max)
		ml->max = d;
}

struct metrics_loop *metrics_loop_new(struct ev_loop *loop)
{
	struct metrics_loop *ml = calloc(1, sizeof(*ml));

	if (!ml)
		return NULL;
	ml->loop = loop;
	ev_check_init(&ml->check, on_check);
	ml->check.data = ml;
	ev_check_start(loop, &ml->check);
	ev_prepare_init(&ml->prepare, on_prepare);
	ml->prepare.data = ml;
	ev_prepare_start(loop, &ml->prepare);
	/* Neither watcher should keep the loop alive on its own. */
	ev_unref(loop);
	ev_unref(loop);
	return ml;
}

void metrics_loop_free(struct metrics_loop *ml)
{
	if (!ml)
		return;
	ev_ref(ml->loop);
	ev_ref(ml->loop);
	ev_check_stop(ml->loop, &ml->check);
	ev_prepare_stop(ml->loop, &ml->prepare);
	free(ml);
}

void metrics_collect_loop(void *arg, struct metrics_page *pg)
{
	struct metrics_loop *ml = arg;

	metrics_family(pg, "coldnode_loop_iterations_total", METRICS_COUNTER,
		       "Event loop iterations (one poll and its callbacks).");
	metrics_sample(pg, (double)ml->iterations, NULL);
	metrics_family(pg, "coldnode_loop_busy_seconds", METRICS_HISTOGRAM,
		       "Time each loop iteration spent in callbacks, poll "
		       "excluded: how long any event may wait behind others.");
	metrics_histogram(pg, &ml->busy, NULL);
	metrics_family(pg, "coldnode_loop_busy_max_seconds", METRICS_GAUGE,
		       "Longest loop iteration since the previous scrape "
		       "(reset by each scrape; the scrape's own iteration "
		       "counts in the next one).");
	metrics_sample(pg, ml->max, NULL);
	ml->max = 0;
}
