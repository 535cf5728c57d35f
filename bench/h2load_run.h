/* h2load (nghttp2-client) as a gRPC load generator for the benchmarks:
 * one TLS connection to 127.0.0.1, N unary calls with a macaroon, a fixed
 * number in flight; its summary and per-call latencies read back.  Shared
 * by bench_rpc and bench_signerproxy. */
#ifndef COLDNODE_BENCH_H2LOAD_RUN_H
#define COLDNODE_BENCH_H2LOAD_RUN_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct h2load_run {
	double rps;      /* h2load's "finished in ..., N req/s" */
	long done, ok;   /* calls done, and those that succeeded */
	double *lat;     /* malloc'd (caller frees): each call's seconds */
	size_t nlat;
};

/* Runs h2load: @n calls of @path on https://127.0.0.1:@port, @inflight at
 * a time, the gRPC headers, "macaroon: @mac_hex", @extra_hdr (NULL: none;
 * e.g. lnd's "grpc-timeout: 5S"), the framed request in file @body; the
 * per-call log goes to file @logf.  False (a line on stderr) if h2load
 * could not run or failed; @r is then zeroed. */
static bool h2load_run(struct h2load_run *r, uint16_t port, const char *path,
		       const char *mac_hex, const char *extra_hdr,
		       const char *body, const char *logf, int inflight, int n)
{
	char url[256], nbuf[16], mbuf[16], hdr[20000], logarg[300], line[512];
	const char *argv[32];
	int pfd[2], status, a = 0;
	size_t cap = 0;

	memset(r, 0, sizeof(*r));
	snprintf(url, sizeof(url), "https://127.0.0.1:%u%s", port, path);
	snprintf(nbuf, sizeof(nbuf), "%d", n);
	snprintf(mbuf, sizeof(mbuf), "%d", inflight);
	snprintf(hdr, sizeof(hdr), "macaroon: %s", mac_hex);
	snprintf(logarg, sizeof(logarg), "--log-file=%s", logf);
	argv[a++] = "h2load";
	argv[a++] = "-n"; argv[a++] = nbuf;
	argv[a++] = "-c"; argv[a++] = "1";
	argv[a++] = "-m"; argv[a++] = mbuf;
	argv[a++] = "-t"; argv[a++] = "1";
	argv[a++] = "-H"; argv[a++] = "content-type: application/grpc";
	argv[a++] = "-H"; argv[a++] = "te: trailers";
	if (extra_hdr) {
		argv[a++] = "-H";
		argv[a++] = extra_hdr;
	}
	argv[a++] = "-H"; argv[a++] = hdr;
	argv[a++] = "-d"; argv[a++] = body;
	argv[a++] = logarg;
	argv[a++] = url;
	argv[a] = NULL;
	if (pipe(pfd) != 0)
		return false;
	pid_t pid = fork();
	if (pid == 0) {
		dup2(pfd[1], 1);
		close(pfd[0]);
		execvp("h2load", (char *const *)argv);
		_exit(127);
	}
	close(pfd[1]);
	FILE *f = fdopen(pfd[0], "r");
	while (f && fgets(line, sizeof(line), f)) {
		double secs, rps;
		char unit[4];
		long tot, st, done, ok;
		/* "finished in 1.23s, 8000.00 req/s" (or "388.77ms, ...") */
		if (sscanf(line, "finished in %lf%3[mus], %lf req/s", &secs,
			   unit, &rps) == 3)
			r->rps = rps;
		if (sscanf(line, "requests: %ld total, %ld started, %ld done, "
			   "%ld succeeded", &tot, &st, &done, &ok) == 4) {
			r->done = done;
			r->ok = ok;
		}
	}
	if (f)
		fclose(f);
	waitpid(pid, &status, 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "h2load: exit status %d\n", status);
		memset(r, 0, sizeof(*r));
		return false;
	}
	/* --log-file: start (us), HTTP status, microseconds to the end */
	FILE *lf = fopen(logf, "r");
	while (lf && fgets(line, sizeof(line), lf)) {
		long t0, st, us;
		if (sscanf(line, "%ld %ld %ld", &t0, &st, &us) != 3)
			continue;
		if (r->nlat == cap) {
			cap = cap ? cap * 2 : 1024;
			double *nl = realloc(r->lat, cap * sizeof(*nl));
			if (!nl)
				abort();
			r->lat = nl;
		}
		r->lat[r->nlat++] = us / 1e6;
	}
	if (lf)
		fclose(lf);
	return r->rps > 0;
}

#endif
