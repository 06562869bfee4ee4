/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzzes what storage_path reads from outside: S3 ListObjectsV2 and error bodies (XML), kestra://
 * URIs, and slugify's UTF-8 input; keys are mapped for every layout. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "storage/storage_path.h"

static int on_key(void *userdata, const char *key)
{
	size_t *n = userdata;

	(*n) += strlen(key) > 0;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), *token = NULL, buf[256];
	struct kwg_err err;
	const char *path;
	size_t n = 0;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (kwg_storage_list_parse((const char *)data, size, on_key, &n, &token, &err) == 0)
		free(token);
	(void)kwg_storage_xml_text((const char *)data, size, "Message", buf, sizeof(buf));
	free(kwg_slugify(s));
	if (kwg_storage_uri_path(s, &path, &err) == 0) {
		for (int layout = KWG_STORAGE_LOCAL; layout <= KWG_STORAGE_MINIO; layout++) {
			char **markers = kwg_storage_marker_keys(layout, "main", path);
			free(kwg_storage_key(layout, NULL, path));
			for (size_t i = 0; markers && markers[i]; i++)
				free(markers[i]);
			free(markers);
		}
	}
	free(s);
	return 0;
}
