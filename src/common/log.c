/*~ Logging: one line per event on stderr (journald keeps it under
 * systemd), levels per subsystem, set with lnd's --debuglevel syntax, and
 * optionally a copy in <logdir>/coldnode.log, rotated by size as lnd's
 * --maxlogfiles/--maxlogfilesize do (lnd gzips its rolled files; we keep
 * them plain, so `grep` and `tail` work on them).  Each line is one
 * write(2) to each destination, so concurrent readers never see half a
 * line, and rotation happens between lines.  Never pass secrets here. */
#include "common/common.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define MAX_SUBSYS 32

static struct {
	char name[8];
	enum log_level level;
} subsys_levels[MAX_SUBSYS];
static size_t num_subsys;
static enum log_level default_level = LOG_INFO;
static FILE *log_out;

/* The log file, if any. */
static struct {
	int fd;            /* -1: none */
	char *path;        /* <dir>/coldnode.log, owned */
	uint64_t size;     /* bytes in the current file */
	uint64_t max_bytes;
	unsigned max_files;
} lf = { .fd = -1 };

static const char *const level_names[] = { "trace", "debug", "info",
					   "unusual", "broken" };
static const char *const level_tags[] = { "TRC", "DBG", "INF", "UNU",
					  "BRK" };

bool log_level_from_str(const char *s, enum log_level *out)
{
	for (size_t i = 0; i < CN_ARRAY_SIZE(level_names); i++) {
		if (strcasecmp(s, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return true;
		}
	}
	/* lnd spellings */
	if (strcasecmp(s, "warn") == 0) {
		*out = LOG_UNUSUAL;
		return true;
	}
	if (strcasecmp(s, "error") == 0 || strcasecmp(s, "critical") == 0) {
		*out = LOG_BROKEN;
		return true;
	}
	return false;
}

bool log_set_level(const char *subsys, enum log_level level)
{
	if (!subsys) {
		default_level = level;
		return true;
	}
	if (strlen(subsys) >= sizeof(subsys_levels[0].name))
		return false;
	for (size_t i = 0; i < num_subsys; i++) {
		if (strcasecmp(subsys_levels[i].name, subsys) == 0) {
			subsys_levels[i].level = level;
			return true;
		}
	}
	if (num_subsys == MAX_SUBSYS)
		return false;
	strcpy(subsys_levels[num_subsys].name, subsys);
	subsys_levels[num_subsys++].level = level;
	return true;
}

bool log_parse_debuglevel(const char *spec)
{
	char buf[512];
	enum log_level lv;

	if (strlen(spec) >= sizeof(buf))
		return false;
	/* Validate everything first so a bad spec changes nothing. */
	for (int pass = 0; pass < 2; pass++) {
		char *save = NULL;
		strcpy(buf, spec);
		for (char *tok = strtok_r(buf, ",", &save); tok;
		     tok = strtok_r(NULL, ",", &save)) {
			char *eq = strchr(tok, '=');
			if (!eq) {
				if (!log_level_from_str(tok, &lv))
					return false;
				if (pass)
					log_set_level(NULL, lv);
				continue;
			}
			*eq = '\0';
			if (!*tok || !log_level_from_str(eq + 1, &lv) ||
			    strlen(tok) >= sizeof(subsys_levels[0].name))
				return false;
			if (pass && !log_set_level(tok, lv))
				return false;
		}
	}
	return true;
}

bool log_enabled(const char *subsys, enum log_level level)
{
	for (size_t i = 0; i < num_subsys; i++)
		if (strcasecmp(subsys_levels[i].name, subsys) == 0)
			return level >= subsys_levels[i].level;
	return level >= default_level;
}

void log_set_stream(void *file)
{
	log_out = file;
}

static int open_log(const char *path, uint64_t *size)
{
	struct stat st;
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);

	*size = 0;
	if (fd >= 0 && fstat(fd, &st) == 0)
		*size = (uint64_t)st.st_size;
	return fd;
}

bool log_open_file(const char *dir, uint64_t max_bytes, unsigned max_files)
{
	char *path;

	log_close_file();
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		fprintf(stderr, "coldnode: cannot create log directory %s: %s\n",
			dir, strerror(errno));
		return false;
	}
	if (asprintf(&path, "%s/coldnode.log", dir) < 0)
		return false;
	lf.fd = open_log(path, &lf.size);
	if (lf.fd < 0) {
		fprintf(stderr, "coldnode: cannot open log file %s: %s\n", path,
			strerror(errno));
		free(path);
		return false;
	}
	lf.path = path;
	lf.max_bytes = max_bytes;
	lf.max_files = max_files;
	return true;
}

void log_close_file(void)
{
	if (lf.fd >= 0)
		close(lf.fd);
	lf.fd = -1;
	free(lf.path);
	lf.path = NULL;
}

/* coldnode.log.(N-1) -> .N, ..., coldnode.log -> .1, then a new file.  The
 * oldest beyond max_files is overwritten by the first rename. */
static void rotate(void)
{
	size_t n = strlen(lf.path) + 16;
	char *from = malloc(n), *to = malloc(n);

	if (!from || !to)
		goto out;
	for (unsigned i = lf.max_files; i > 1; i--) {
		snprintf(from, n, "%s.%u", lf.path, i - 1);
		snprintf(to, n, "%s.%u", lf.path, i);
		if (rename(from, to) != 0 && errno != ENOENT)
			goto out;
	}
	snprintf(to, n, "%s.1", lf.path);
	if (rename(lf.path, to) != 0)
		goto out; /* keep appending to the one we have */
	close(lf.fd);
	lf.fd = open_log(lf.path, &lf.size);
out:
	free(from);
	free(to);
}

static void write_file(const char *line, size_t len)
{
	ssize_t w;

	if (lf.fd < 0)
		return;
	if (lf.max_files && lf.size && lf.size + len > lf.max_bytes)
		rotate();
	if (lf.fd < 0)
		return;
	/* O_APPEND and one write: the line lands whole. */
	do {
		w = write(lf.fd, line, len);
	} while (w < 0 && errno == EINTR);
	if (w > 0)
		lf.size += (uint64_t)w;
}

void log_vmsg(const char *subsys, enum log_level level, const char *fmt,
	      va_list ap)
{
	struct timespec ts;
	struct tm tm;
	char line[1024];
	size_t len;
	int n;
	FILE *out = log_out ? log_out : stderr;

	if (!log_enabled(subsys, level))
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	len = strftime(line, sizeof(line), "%Y-%m-%d %H:%M:%S", &tm);
	n = snprintf(line + len, sizeof(line) - len, ".%03ld [%s] %s: ",
		     ts.tv_nsec / 1000000, level_tags[level], subsys);
	len += (size_t)n;
	n = vsnprintf(line + len, sizeof(line) - len, fmt, ap);
	if (n < 0)
		n = 0;
	len += (size_t)n;
	/* One write per line (stderr is unbuffered): lines from a busy loop
	 * stay whole and cheap.  Overlong lines are cut, marked "...". */
	if (len > sizeof(line) - 2) {
		len = sizeof(line) - 2;
		memcpy(line + len - 3, "...", 3);
	}
	line[len++] = '\n';
	write_file(line, len);
	/* stderr: one write(2) too, not stdio's buffering (a memory
	 * stream, in tests, has no descriptor). */
	fflush(out);
	if (fileno(out) < 0) {
		fwrite(line, 1, len, out);
		fflush(out);
	} else if (write(fileno(out), line, len) < 0) {
		/* Nowhere left to say it. */
	}
}

void log_msg(const char *subsys, enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(subsys, level, fmt, ap);
	va_end(ap);
}

bool log_burst_allow(struct log_burst *b, double now, const char *subsys,
		     const char *what)
{
	if (b->lines == 0 || now - b->window >= 1.0) {
		if (b->dropped)
			log_info(subsys, "%llu more %s not logged (at most %d "
				 "lines a second)",
				 (unsigned long long)b->dropped, what,
				 LOG_BURST_PER_SEC);
		b->window = now;
		b->lines = 0;
		b->dropped = 0;
	}
	if (b->lines < LOG_BURST_PER_SEC) {
		b->lines++;
		return true;
	}
	b->dropped++;
	return false;
}
