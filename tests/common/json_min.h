/* json_min: the test vectors' JSON reader, a thin adapter over jansson.
 * Parses a whole document into a tree; strings are unescaped and
 * NUL-terminated, numbers are doubles.  Test data only. */
#ifndef COLDNODE_TEST_JSON_MIN_H
#define COLDNODE_TEST_JSON_MIN_H

#include <stdbool.h>
#include <stddef.h>

enum json_min_type {
	JSON_MIN_NULL,
	JSON_MIN_BOOL,
	JSON_MIN_NUMBER,
	JSON_MIN_STRING,
	JSON_MIN_ARRAY,
	JSON_MIN_OBJECT,
};

struct json_min {
	enum json_min_type type;
	char *key;		/* member name when inside an object, else NULL */
	char *str;		/* JSON_MIN_STRING */
	double num;		/* JSON_MIN_NUMBER; JSON_MIN_BOOL: 0 or 1 */
	size_t len;		/* children of an array or object */
	struct json_min **kids;
};

/* Parse @len bytes of @text; NULL on any syntax error or trailing junk. */
struct json_min *json_min_parse(const char *text, size_t len);
/* Read and parse a whole file; NULL if unreadable or invalid. */
struct json_min *json_min_load(const char *path);
void json_min_free(struct json_min *j);

/* Object member by name, or NULL (also NULL if @j is NULL or no object). */
const struct json_min *json_min_get(const struct json_min *j, const char *key);
/* Array element or object member by index, or NULL. */
const struct json_min *json_min_at(const struct json_min *j, size_t i);
/* String value of member @key, or NULL if absent or not a string. */
const char *json_min_str(const struct json_min *j, const char *key);

#endif
