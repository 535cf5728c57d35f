/* Log files (lnd's --logdir, --maxlogfiles, --maxlogfilesize): rotation
 * by size never splits or loses a line, keeps at most N rotated files,
 * and each file stays under the limit.  Lines are numbered; the files read
 * oldest to newest must give consecutive numbers ending at the last one. */
#include "check.h"
#include "common/common.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_BYTES 4096
#define KEEP 3
#define LINES 3000

/* Check every line of @buf is whole; returns the numbers seen, in order,
 * appended to @nums. */
static void scan(const char *buf, long *nums, size_t *n)
{
	for (const char *p = buf; *p;) {
		const char *nl = strchr(p, '\n');
		long v, pad;
		int used = 0;
		CHECK(nl != NULL); /* a line cut at the end of a file */
		if (!nl)
			return;
		/* "... [INF] TEST: line 123 xxxx...x end" */
		const char *t = strstr(p, "TEST: line ");
		CHECK(t && t < nl);
		if (!t || sscanf(t, "TEST: line %ld pad %ld%n", &v, &pad, &used) < 2) {
			CHECK(false);
			return;
		}
		/* The padding is whole: exactly @pad x's then " end". */
		const char *x = t + used + 1;
		CHECK(nl - x == pad + 4 && memcmp(nl - 4, " end", 4) == 0);
		nums[(*n)++] = v;
		p = nl + 1;
	}
}

int main(void)
{
	char dir[] = "/tmp/coldnode-logrot-XXXXXX";
	char path[256], pad[400];
	long *nums = calloc(LINES, sizeof(long));
	size_t n = 0, len;
	FILE *devnull = fopen("/dev/null", "w");

	CHECK(mkdtemp(dir) != NULL);
	log_set_stream(devnull);
	CHECK(log_open_file(dir, MAX_BYTES, KEEP));
	memset(pad, 'x', sizeof(pad));
	for (long i = 0; i < LINES; i++) {
		int w = (int)((i * 37) % 300); /* lines of varied length */
		log_info("TEST", "line %ld pad %d %.*s end", i, w, w, pad);
	}
	log_close_file();
	log_set_stream(NULL);

	/* Oldest first: coldnode.log.3, .2, .1, then coldnode.log. */
	for (int k = KEEP; k >= 0; k--) {
		struct stat st;
		char *buf;
		if (k)
			snprintf(path, sizeof(path), "%s/coldnode.log.%d", dir, k);
		else
			snprintf(path, sizeof(path), "%s/coldnode.log", dir);
		CHECK(stat(path, &st) == 0);
		CHECK(st.st_size <= MAX_BYTES);
		CHECK((st.st_mode & 077) == 0);
		buf = check_slurp(path, &len);
		CHECK(buf != NULL);
		if (buf)
			scan(buf, nums, &n);
		free(buf);
	}
	/* Nothing beyond KEEP rotated files. */
	snprintf(path, sizeof(path), "%s/coldnode.log.%d", dir, KEEP + 1);
	CHECK(access(path, F_OK) != 0);
	/* Consecutive, ending with the last line written: nothing lost
	 * between the files kept. */
	CHECK(n > 30);
	for (size_t i = 1; i < n; i++)
		CHECK(nums[i] == nums[i - 1] + 1);
	CHECK(n && nums[n - 1] == LINES - 1);

	/* Reopening appends to the current file; maxlogfiles 0 never
	 * rotates. */
	n = 0;
	CHECK(log_open_file(dir, 100, 0));
	log_set_stream(devnull);
	for (long i = 0; i < 50; i++)
		log_info("TEST", "line %ld pad 0  end", LINES + i);
	log_close_file();
	log_set_stream(NULL);
	snprintf(path, sizeof(path), "%s/coldnode.log", dir);
	char *buf = check_slurp(path, &len);
	CHECK(buf && len > 100);
	if (buf)
		scan(buf, nums, &n);
	free(buf);
	CHECK(n && nums[n - 1] == LINES + 49);
	for (size_t i = 1; i < n; i++)
		CHECK(nums[i] == nums[i - 1] + 1);

	/* Clean up. */
	for (int k = 0; k <= KEEP; k++) {
		if (k)
			snprintf(path, sizeof(path), "%s/coldnode.log.%d", dir, k);
		else
			snprintf(path, sizeof(path), "%s/coldnode.log", dir);
		unlink(path);
	}
	rmdir(dir);
	fclose(devnull);
	free(nums);
	return check_exit();
}
