/*~ Process metrics, as the Prometheus client libraries define them
 * (process_cpu_seconds_total, process_resident_memory_bytes, ...), under
 * our coldnode_ prefix.  Read from /proc/self at scrape time; counting
 * open descriptors walks /proc/self/fd, O(open fds), as theirs does.
 */
#include "metrics/metrics.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

/* Fields 14 (utime), 15 (stime), 22 (starttime, ticks after boot) and 23
 * (vsize) of /proc/self/stat; the comm field may hold spaces, so parse
 * after its closing parenthesis. */
static bool read_stat(double *cpu, double *start_ticks, double *vsize)
{
	char buf[1024], *p;
	unsigned long long utime, stime, start, vsz;
	FILE *f = fopen("/proc/self/stat", "r");
	size_t n;

	if (!f)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (!p)
		return false;
	/* After ") ": field 3 (state) onwards. */
	if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu "
		   "%*d %*d %*d %*d %*d %*d %llu %llu",
		   &utime, &stime, &start, &vsz) != 4)
		return false;
	*cpu = (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
	*start_ticks = (double)start;
	*vsize = (double)vsz;
	return true;
}

/* Wall-clock time of boot: now minus CLOCK_BOOTTIME, so /proc/stat is not
 * needed (systemd's ProcSubset=pid hides it). */
static double boot_time(void)
{
	struct timespec real, boot;

	clock_gettime(CLOCK_REALTIME, &real);
	clock_gettime(CLOCK_BOOTTIME, &boot);
	return (double)(real.tv_sec - boot.tv_sec) +
	       (double)(real.tv_nsec - boot.tv_nsec) / 1e9;
}

static double rss_bytes(void)
{
	unsigned long long size, rss;
	FILE *f = fopen("/proc/self/statm", "r");
	int n;

	if (!f)
		return 0;
	n = fscanf(f, "%llu %llu", &size, &rss);
	fclose(f);
	return n == 2 ? (double)rss * (double)sysconf(_SC_PAGESIZE) : 0;
}

static double open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	double n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the directory's own descriptor */
}

void metrics_collect_process(void *arg, struct metrics_page *pg)
{
	double cpu = 0, start = 0, vsize = 0;
	struct rlimit rl;

	(void)arg;
	if (read_stat(&cpu, &start, &vsize)) {
		metrics_family(pg, "coldnode_process_cpu_seconds_total",
			       METRICS_COUNTER,
			       "User and system CPU time spent in seconds.");
		metrics_sample(pg, cpu, NULL);
		metrics_family(pg, "coldnode_process_start_time_seconds",
			       METRICS_GAUGE,
			       "Start time of the process since unix epoch in "
			       "seconds.");
		metrics_sample(pg, boot_time() +
					   start / (double)sysconf(_SC_CLK_TCK),
			       NULL);
		metrics_family(pg, "coldnode_process_virtual_memory_bytes",
			       METRICS_GAUGE, "Virtual memory size in bytes.");
		metrics_sample(pg, vsize, NULL);
	}
	metrics_family(pg, "coldnode_process_resident_memory_bytes",
		       METRICS_GAUGE, "Resident memory size in bytes.");
	metrics_sample(pg, rss_bytes(), NULL);
	metrics_family(pg, "coldnode_process_open_fds", METRICS_GAUGE,
		       "Number of open file descriptors.");
	metrics_sample(pg, open_fds(), NULL);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		metrics_family(pg, "coldnode_process_max_fds", METRICS_GAUGE,
			       "Maximum number of open file descriptors.");
		metrics_sample(pg, rl.rlim_cur == RLIM_INFINITY
					   ? -1 : (double)rl.rlim_cur, NULL);
	}
}
