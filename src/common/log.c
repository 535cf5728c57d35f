/*~ Logging: one line per event on stderr, levels per subsystem, set with
 * lnd's --debuglevel syntax.  Never pass secrets here. */
#include "common/common.h"

#include <stdio.h>
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
	fwrite(line, 1, len, out);
	fflush(out);
}

void log_msg(const char *subsys, enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(subsys, level, fmt, ap);
	va_end(ap);
}
