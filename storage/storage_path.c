/* SPDX-License-Identifier: Apache-2.0 */
/* KESTRA: storage-local/.../LocalStorage.java @ 0ab909446bd6d3031b1c4100090873be65c3e4aa;
 * storage-s3 S3Storage.java @ 092d684c712559c9de7e74bc25a7be3c79cd73f0 (keys, mkdirs markers);
 * storage-minio MinioStorage.java per kestra-script-tasks.md §7.4 [MINIO]. */
#include "storage/storage_path.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/compat.h"

/* No bound of their own: inputs are task and flow ids, already bounded by the message size. */
#define NO_MAX ((size_t)-1 / 2)

/* Appends the namespace with its dots as '/'. */
static int put_ns(struct kwg_buf *b, const char *ns)
{
	int r = 0;

	for (const char *p = ns; *p && r == 0; p++)
		r = kwg_buf_putc(b, *p == '.' ? '/' : *p);
	return r;
}

char *kwg_storage_task_prefix(const char *ns, const char *flow_id, const char *execution_id,
                              const char *task_id, const char *task_run_id)
{
	char *flow = kwg_slugify(flow_id), *task = kwg_slugify(task_id);
	struct kwg_buf b;
	int r = -ENOMEM;

	kwg_buf_init(&b, NO_MAX);
	if (flow && task) {
		r = kwg_buf_puts(&b, "kestra:///");
		if (r == 0)
			r = put_ns(&b, ns);
		if (r == 0)
			r = kwg_buf_printf(&b, "/%s/executions/%s/tasks/%s/%s", flow, execution_id,
			                   task, task_run_id);
	}
	free(flow);
	free(task);
	if (r < 0) {
		kwg_buf_done(&b);
		return NULL;
	}
	return kwg_buf_steal(&b);
}

char *kwg_storage_namespace_prefix(const char *ns)
{
	struct kwg_buf b;
	int r;

	kwg_buf_init(&b, NO_MAX);
	r = kwg_buf_puts(&b, "kestra:///");
	if (r == 0)
		r = put_ns(&b, ns);
	if (r == 0)
		r = kwg_buf_puts(&b, "/_files");
	if (r < 0) {
		kwg_buf_done(&b);
		return NULL;
	}
	return kwg_buf_steal(&b);
}

int kwg_storage_uri_path(const char *uri, const char **ret_path, struct kwg_err *err)
{
	static const char scheme[] = "kestra://";
	const char *path, *seg;

	if (strncmp(uri, scheme, sizeof(scheme) - 1) != 0)
		return kwg_err_set(err, -EINVAL, "'%.300s' is not a kestra:// URI", uri);
	path = uri + sizeof(scheme) - 1;
	if (path[0] != '/')
		return kwg_err_set(err, -EINVAL,
		                   "'%.300s': a kestra URI has an empty authority and an absolute "
		                   "path (kestra:///…)",
		                   uri);
	for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
		/* SECURITY: the path becomes a file name under basePath or an object key; '%' is
		 * refused rather than decoded, so "%2e%2e" cannot turn into ".." (Kestra's own
		 * guard only looks for a literal ".."), and '?' '#' would be a query/fragment */
		if (*p < 0x20 || *p == 0x7f || *p == '%' || *p == '?' || *p == '#' || *p == '\\')
			return kwg_err_set(
			    err, -EINVAL,
			    "'%.300s': character 0x%02x is not allowed in a kestra URI", uri, *p);
	}
	/* SECURITY: no ".", "..", or empty segment (a trailing '/' ends a prefix) */
	for (seg = path + 1;; seg++) {
		size_t n = strcspn(seg, "/");
		bool last = seg[n] == '\0';
		if ((n == 0 && !last) || (n == 1 && seg[0] == '.') ||
		    (n == 2 && seg[0] == '.' && seg[1] == '.'))
			return kwg_err_set(err, -EINVAL,
			                   "'%.300s': '.', '..' and empty segments are refused",
			                   uri);
		seg += n;
		if (last)
			break;
	}
	*ret_path = path;
	return 0;
}

static bool has_tenant(const char *tenant)
{
	return tenant && *tenant;
}

char *kwg_storage_key(enum kwg_storage_layout layout, const char *tenant, const char *path)
{
	struct kwg_buf b;
	int r = 0;

	kwg_buf_init(&b, NO_MAX);
	switch (layout) {
	case KWG_STORAGE_LOCAL:
	case KWG_STORAGE_S3:
		/* "/" + tenant + path, or the path with its leading "/" */
		if (has_tenant(tenant))
			r = kwg_buf_printf(&b, "/%s", tenant);
		if (r == 0)
			r = kwg_buf_puts(&b, path);
		break;
	case KWG_STORAGE_MINIO:
		if (has_tenant(tenant))
			r = kwg_buf_printf(&b, "%s/", tenant);
		if (r == 0)
			r = kwg_buf_puts(&b, path[0] == '/' ? path + 1 : path);
		break;
	}
	if (r < 0) {
		kwg_buf_done(&b);
		return NULL;
	}
	return kwg_buf_steal(&b);
}

char **kwg_storage_marker_keys(enum kwg_storage_layout layout, const char *tenant, const char *path)
{
	char *key = NULL, **keys = NULL;
	size_t n = 0, cap = 1;

	if (layout != KWG_STORAGE_LOCAL && !(key = kwg_storage_key(layout, tenant, path)))
		return NULL;
	/* KESTRA: mkdirs(key): the key's directory ("/a/b/" of "/a/b/c"), split on '/', and one
	 * marker per prefix, each ending in '/': "/", "/a/", "/a/b/" for S3 (leading empty
	 * segment), "a/", "a/b/" for MinIO. Java's split drops trailing empty strings only. */
	for (const char *p = key; p && *p; p++)
		cap += *p == '/';
	keys = calloc(cap, sizeof(*keys));
	if (!keys) {
		free(key);
		return NULL;
	}
	for (const char *p = key; p && *p; p++) {
		if (*p != '/')
			continue;
		size_t len = (size_t)(p - key) + 1;
		keys[n] = malloc(len + 1);
		if (!keys[n]) {
			for (size_t i = 0; i < n; i++)
				free(keys[i]);
			free(keys);
			free(key);
			return NULL;
		}
		memcpy(keys[n], key, len);
		keys[n++][len] = '\0';
	}
	free(key);
	return keys;
}

#define MAX_KEY_BYTES 4096

/* Decodes XML character data s[0..n) (the five entities and &#N; / &#xN;) into out (room for n+1
 * bytes: decoding never grows). Its length, or -EINVAL. */
static long xml_decode(const char *s, size_t n, char *out)
{
	static const struct {
		const char *name;
		char c;
	} named[] = {{"amp;", '&'}, {"lt;", '<'}, {"gt;", '>'}, {"quot;", '"'}, {"apos;", '\''}};
	size_t o = 0;

	for (size_t i = 0; i < n;) {
		if (s[i] != '&') {
			out[o++] = s[i++];
			continue;
		}
		const char *e = s + i + 1, *end = s + n;
		const char *semi = memchr(e, ';', (size_t)(end - e));
		bool found = false;
		if (!semi)
			return -EINVAL;
		for (size_t k = 0; k < sizeof(named) / sizeof(named[0]) && !found; k++) {
			size_t len = strlen(named[k].name);
			if ((size_t)(semi + 1 - e) == len && memcmp(e, named[k].name, len) == 0) {
				out[o++] = named[k].c;
				found = true;
			}
		}
		if (!found) {
			/* &#N; or &#xN; */
			uint32_t cp = 0;
			bool hex = e < semi && e[0] == '#' && e + 1 < semi && (e[1] == 'x');
			const char *d = e + (hex ? 2 : 1);
			if (e >= semi || e[0] != '#' || d >= semi || semi - d > 6)
				return -EINVAL;
			for (; d < semi; d++) {
				int v;
				if (*d >= '0' && *d <= '9')
					v = *d - '0';
				else if (hex && *d >= 'a' && *d <= 'f')
					v = *d - 'a' + 10;
				else if (hex && *d >= 'A' && *d <= 'F')
					v = *d - 'A' + 10;
				else
					return -EINVAL;
				cp = cp * (hex ? 16 : 10) + (uint32_t)v;
			}
			if (cp == 0 || cp > 0x10ffff || (cp >= 0xd800 && cp < 0xe000))
				return -EINVAL;
			/* UTF-8 of cp is never longer than "&#N;" */
			if (cp < 0x80) {
				out[o++] = (char)cp;
			} else if (cp < 0x800) {
				out[o++] = (char)(0xc0 | (cp >> 6));
				out[o++] = (char)(0x80 | (cp & 0x3f));
			} else if (cp < 0x10000) {
				out[o++] = (char)(0xe0 | (cp >> 12));
				out[o++] = (char)(0x80 | ((cp >> 6) & 0x3f));
				out[o++] = (char)(0x80 | (cp & 0x3f));
			} else {
				out[o++] = (char)(0xf0 | (cp >> 18));
				out[o++] = (char)(0x80 | ((cp >> 12) & 0x3f));
				out[o++] = (char)(0x80 | ((cp >> 6) & 0x3f));
				out[o++] = (char)(0x80 | (cp & 0x3f));
			}
		}
		i = (size_t)(semi + 1 - s);
	}
	out[o] = '\0';
	return (long)o;
}

/* The content of the element <name> found from *p (advanced past its end tag): start and length
 * in *ret_s, *ret_n. 1 found, 0 none, -EINVAL unterminated. */
static int next_element(const char **p, const char *end, const char *name, const char **ret_s,
                        size_t *ret_n)
{
	char open[64], close[64];
	int no = snprintf(open, sizeof(open), "<%s>", name);
	int nc = snprintf(close, sizeof(close), "</%s>", name);
	const char *s = memmem(*p, (size_t)(end - *p), open, (size_t)no), *e;

	if (!s)
		return 0;
	s += no;
	e = memmem(s, (size_t)(end - s), close, (size_t)nc);
	if (!e)
		return -EINVAL;
	*ret_s = s;
	*ret_n = (size_t)(e - s);
	*p = e + nc;
	return 1;
}

int kwg_storage_list_parse(const char *xml, size_t len, kwg_storage_key_fn *key, void *userdata,
                           char **ret_token, struct kwg_err *err)
{
	const char *p = xml, *end = xml + len, *s;
	char buf[MAX_KEY_BYTES + 1];
	size_t n;
	int r;

	if (!memmem(xml, len, "<ListBucketResult", 17))
		return kwg_err_set(err, -EINVAL, "not a ListBucketResult");
	while ((r = next_element(&p, end, "Key", &s, &n)) == 1) {
		if (n > MAX_KEY_BYTES)
			return kwg_err_set(err, -EINVAL, "a key longer than %d bytes",
			                   MAX_KEY_BYTES);
		if (xml_decode(s, n, buf) < 0 || strlen(buf) == 0)
			return kwg_err_set(err, -EINVAL, "a key with a bad entity or a NUL: '%.*s'",
			                   (int)KWG_MIN(n, 200), s);
		r = key(userdata, buf);
		if (r < 0)
			return r;
	}
	if (r < 0)
		return kwg_err_set(err, -EINVAL, "an unterminated <Key>");
	*ret_token = NULL;
	p = xml;
	if (next_element(&p, end, "IsTruncated", &s, &n) == 1 && n == 4 &&
	    memcmp(s, "true", 4) == 0) {
		p = xml;
		if (next_element(&p, end, "NextContinuationToken", &s, &n) != 1 || n == 0 ||
		    n > MAX_KEY_BYTES || xml_decode(s, n, buf) < 0)
			return kwg_err_set(err, -EINVAL,
			                   "truncated, without a usable NextContinuationToken");
		*ret_token = strdup(buf);
		if (!*ret_token)
			return -ENOMEM;
	}
	return 0;
}

const char *kwg_storage_xml_text(const char *xml, size_t len, const char *name, char *buf,
                                 size_t size)
{
	const char *p = xml, *s;
	size_t n;
	char *tmp;

	buf[0] = '\0';
	if (size == 0 || next_element(&p, xml + len, name, &s, &n) != 1)
		return buf;
	n = KWG_MIN(n, size - 1);
	tmp = malloc(n + 1);
	if (tmp && xml_decode(s, n, tmp) >= 0)
		(void)snprintf(buf, size, "%s", tmp);
	else
		(void)snprintf(buf, size, "%.*s", (int)n, s);
	free(tmp);
	return buf;
}
