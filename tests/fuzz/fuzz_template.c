/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzzes the template renderer: the input is the template, rendered against a fixed variables
 * map with fake hooks. Templates that call jq are skipped (libjq has no step limit, see
 * docs/templating.md). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "template/template.h"

static int fake_secret(void *userdata, const char *name, char **ret, struct kwg_err *err)
{
	(void)userdata;
	(void)err;
	if (strcmp(name, "A") != 0)
		return -ENOENT;
	*ret = strdup("secret");
	return *ret ? 0 : -ENOMEM;
}

static int fake_read(void *userdata, const char *path, char **ret, size_t *ret_len,
                     struct kwg_err *err)
{
	(void)userdata;
	if (strcmp(path, "f") != 0)
		return kwg_err_set(err, -ENOENT, "no file");
	*ret = strdup("{{ 1 }}");
	*ret_len = 7;
	return *ret ? 0 : -ENOMEM;
}

static int fake_kv(void *userdata, const char *key, const char *ns, json_t **ret,
                   struct kwg_err *err)
{
	(void)userdata;
	(void)ns;
	(void)err;
	if (strcmp(key, "k") != 0)
		return -ENOENT;
	*ret = json_pack("{s[ii]}", "a", 1, 2);
	return *ret ? 0 : -ENOMEM;
}

static int fake_file_uri(void *userdata, const char *path, char **ret, struct kwg_err *err)
{
	(void)userdata;
	(void)err;
	*ret = strdup(path);
	return *ret ? 0 : -ENOMEM;
}

static const struct kwg_template_hooks hooks = {
    .secret = fake_secret, .read = fake_read, .kv = fake_kv, .file_uri = fake_file_uri};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static json_t *vars;
	struct kwg_err err;
	char *tmpl, *out = NULL;

	if (!vars)
		vars = json_loads("{\"s\":\"Hello {{ n }}\",\"n\":5,\"d\":2.5,\"l\":[1,\"a\",[2]],"
		                  "\"m\":{\"a\":{\"b\":null},\"c\":\"2024-01-15T10:30:00Z\"},"
		                  "\"t\":true,\"z\":null}",
		                  0, NULL);
	if (memmem(data, size, "jq", 2))
		return 0;
	tmpl = malloc(size + 1);
	if (!tmpl)
		return 0;
	memcpy(tmpl, data, size);
	tmpl[size] = 0;
	struct kwg_template_opts opts = {
	    .vars = vars, .hooks = &hooks, .now_us = 1717243200000000LL, .seed = size};
	if (kwg_template_render(tmpl, &opts, &out, &err) == 0)
		free(out);
	free(tmpl);
	return 0;
}
