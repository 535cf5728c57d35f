/* json_min: recursive-descent JSON parser for test vectors (see header). */
#include "common/common.h"
#include "json_min.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 64

struct parser {
	const char *p, *end;
	int depth;
};

static void skip_ws(struct parser *ps)
{
	while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' ||
				   *ps->p == '\n' || *ps->p == '\r'))
		ps->p++;
}

static bool lit(struct parser *ps, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
		return false;
	ps->p += n;
	return true;
}

static bool hex4(struct parser *ps, uint32_t *out)
{
	*out = 0;
	if (ps->end - ps->p < 4)
		return false;
	for (int i = 0; i < 4; i++) {
		int v = hex_digit(ps->p[i]);
		if (v < 0)
			return false;
		*out = (*out << 4) | (uint32_t)v;
	}
	ps->p += 4;
	return true;
}

static size_t put_utf8(char *o, uint32_t cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | (cp >> 6));
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | (cp >> 12));
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | (cp >> 18));
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* At the opening quote: returns a malloc'd unescaped string and leaves
 * @ps after the closing quote. */
static char *parse_string(struct parser *ps)
{
	struct parser in;
	char *out, *o;

	if (ps->p >= ps->end || *ps->p != '"')
		return NULL;
	in.p = ++ps->p;
	in.depth = 0;
	while (ps->p < ps->end && *ps->p != '"') {
		if (*ps->p == '\\' && ps->end - ps->p > 1)
			ps->p++;
		ps->p++;
	}
	if (ps->p >= ps->end)
		return NULL;
	in.end = ps->p++;
	/* Unescaped text is never longer than the escaped text. */
	out = o = malloc((size_t)(in.end - in.p) + 1);
	if (!out)
		return NULL;
	while (in.p < in.end) {
		char ch = *in.p++;
		uint32_t cp, lo;

		if ((unsigned char)ch < 0x20)
			goto bad;
		if (ch != '\\') {
			*o++ = ch;
			continue;
		}
		if (in.p >= in.end)
			goto bad;
		switch (*in.p++) {
		case '"': *o++ = '"'; break;
		case '\\': *o++ = '\\'; break;
		case '/': *o++ = '/'; break;
		case 'b': *o++ = '\b'; break;
		case 'f': *o++ = '\f'; break;
		case 'n': *o++ = '\n'; break;
		case 'r': *o++ = '\r'; break;
		case 't': *o++ = '\t'; break;
		case 'u':
			if (!hex4(&in, &cp))
				goto bad;
			if (cp >= 0xd800 && cp < 0xdc00) {
				if (!lit(&in, "\\u") || !hex4(&in, &lo) ||
				    lo < 0xdc00 || lo >= 0xe000)
					goto bad;
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			} else if (cp >= 0xdc00 && cp < 0xe000) {
				goto bad;
			}
			/* A 6-byte escape gives at most 3 UTF-8 bytes, a
			 * 12-byte surrogate pair 4. */
			o += put_utf8(o, cp);
			break;
		default:
			goto bad;
		}
	}
	*o = '\0';
	return out;
bad:
	free(out);
	return NULL;
}

static struct json_min *parse_value(struct parser *ps);

static bool add_kid(struct json_min *j, struct json_min *kid)
{
	struct json_min **k = realloc(j->kids, (j->len + 1) * sizeof(*k));

	if (!k)
		return false;
	j->kids = k;
	j->kids[j->len++] = kid;
	return true;
}

/* Array or object after its opening bracket. */
static bool parse_members(struct parser *ps, struct json_min *j, char close)
{
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == close) {
		ps->p++;
		return true;
	}
	for (;;) {
		char *key = NULL;
		struct json_min *kid;

		skip_ws(ps);
		if (close == '}') {
			key = parse_string(ps);
			if (!key)
				return false;
			skip_ws(ps);
			if (ps->p >= ps->end || *ps->p != ':') {
				free(key);
				return false;
			}
			ps->p++;
		}
		kid = parse_value(ps);
		if (!kid) {
			free(key);
			return false;
		}
		kid->key = key;
		if (!add_kid(j, kid)) {
			json_min_free(kid);
			return false;
		}
		skip_ws(ps);
		if (ps->p >= ps->end)
			return false;
		if (*ps->p == ',') {
			ps->p++;
			continue;
		}
		if (*ps->p == close) {
			ps->p++;
			return true;
		}
		return false;
	}
}

static struct json_min *parse_value(struct parser *ps)
{
	struct json_min *j;

	skip_ws(ps);
	if (ps->p >= ps->end || ps->depth >= MAX_DEPTH)
		return NULL;
	j = calloc(1, sizeof(*j));
	if (!j)
		return NULL;
	switch (*ps->p) {
	case '{':
	case '[':
		j->type = *ps->p == '{' ? JSON_MIN_OBJECT : JSON_MIN_ARRAY;
		ps->p++;
		ps->depth++;
		if (!parse_members(ps, j, j->type == JSON_MIN_OBJECT ? '}' : ']'))
			goto bad;
		ps->depth--;
		return j;
	case '"':
		j->type = JSON_MIN_STRING;
		j->str = parse_string(ps);
		if (!j->str)
			goto bad;
		return j;
	case 't':
	case 'f':
		j->type = JSON_MIN_BOOL;
		if (lit(ps, "true"))
			j->num = 1;
		else if (!lit(ps, "false"))
			goto bad;
		return j;
	case 'n':
		if (!lit(ps, "null"))
			goto bad;
		return j;
	default: {
		char buf[64], *endp;
		size_t n = 0;

		while (ps->p + n < ps->end && n < sizeof(buf) - 1 &&
		       strchr("+-0123456789.eE", ps->p[n]))
			n++;
		if (n == 0)
			goto bad;
		memcpy(buf, ps->p, n);
		buf[n] = '\0';
		j->type = JSON_MIN_NUMBER;
		j->num = strtod(buf, &endp);
		if (*endp != '\0')
			goto bad;
		ps->p += n;
		return j;
	}
	}
bad:
	json_min_free(j);
	return NULL;
}

struct json_min *json_min_parse(const char *text, size_t len)
{
	struct parser ps = { text, text + len, 0 };
	struct json_min *j = parse_value(&ps);

	skip_ws(&ps);
	if (j && ps.p != ps.end) {
		json_min_free(j);
		return NULL;
	}
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
