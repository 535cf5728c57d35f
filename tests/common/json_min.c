/* json_min: the test-vector reader (see header), on jansson: jansson
 * parses, this file only turns its tree into struct json_min so the tests
 * keep their small API. */
#include "common/common.h"
#include "json_min.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct json_min *convert(const json_t *v, const char *key)
{
	struct json_min *j = calloc(1, sizeof(*j));
	if (!j)
		return NULL;
	if (key && !(j->key = strdup(key)))
		goto bad;
	switch (json_typeof(v)) {
	case JSON_NULL:
		j->type = JSON_MIN_NULL;
		break;
	case JSON_TRUE:
	case JSON_FALSE:
		j->type = JSON_MIN_BOOL;
		j->num = json_is_true(v);
		break;
	case JSON_INTEGER:
	case JSON_REAL:
		j->type = JSON_MIN_NUMBER;
		j->num = json_number_value(v);
		break;
	case JSON_STRING:
		j->type = JSON_MIN_STRING;
		if (!(j->str = strdup(json_string_value(v))))
			goto bad;
		break;
	case JSON_ARRAY: {
		j->type = JSON_MIN_ARRAY;
		j->len = json_array_size(v);
		j->kids = calloc(j->len + 1, sizeof(*j->kids));
		if (!j->kids)
			goto bad;
		for (size_t i = 0; i < j->len; i++)
			if (!(j->kids[i] = convert(json_array_get(v, i), NULL)))
				goto bad;
		break;
	}
	case JSON_OBJECT: {
		const char *k;
		json_t *val;
		size_t i = 0;
		j->type = JSON_MIN_OBJECT;
		j->len = json_object_size(v);
		j->kids = calloc(j->len + 1, sizeof(*j->kids));
		if (!j->kids)
			goto bad;
		/* jansson iterates in insertion order: document order. */
		json_object_foreach((json_t *)v, k, val)
			if (!(j->kids[i++] = convert(val, k)))
				goto bad;
		break;
	}
	}
	return j;
bad:
	json_min_free(j);
	return NULL;
}

struct json_min *json_min_parse(const char *text, size_t len)
{
	json_error_t err;
	json_t *root = json_loadb(text, len, JSON_DECODE_ANY, &err);
	struct json_min *j;
	if (!root)
		return NULL;
	j = convert(root, NULL);
	json_decref(root);
	return j;
}
struct json_min *json_min_load(const char *path)
{
	FILE *f = fopen(path, "rb");
	struct json_min *j = NULL;
	char *buf = NULL;
	long len;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) >= 0 &&
	    fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)len + 1)) &&
	    fread(buf, 1, (size_t)len, f) == (size_t)len)
		j = json_min_parse(buf, (size_t)len);
	free(buf);
	fclose(f);
	return j;
}

void json_min_free(struct json_min *j)
{
	if (!j)
		return;
	for (size_t i = 0; i < j->len; i++)
		json_min_free(j->kids[i]);
	free(j->kids);
	free(j->key);
	free(j->str);
	free(j);
}

const struct json_min *json_min_get(const struct json_min *j, const char *key)
{
	if (!j || j->type != JSON_MIN_OBJECT)
		return NULL;
	for (size_t i = 0; i < j->len; i++)
		if (strcmp(j->kids[i]->key, key) == 0)
			return j->kids[i];
	return NULL;
}

const struct json_min *json_min_at(const struct json_min *j, size_t i)
{
	if (!j || (j->type != JSON_MIN_ARRAY && j->type != JSON_MIN_OBJECT) ||
	    i >= j->len)
		return NULL;
	return j->kids[i];
}

const char *json_min_str(const struct json_min *j, const char *key)
{
	const struct json_min *v = json_min_get(j, key);

	return v && v->type == JSON_MIN_STRING ? v->str : NULL;
}
