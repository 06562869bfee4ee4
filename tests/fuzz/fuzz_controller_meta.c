/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzzes the JSON of a 2.x controller's metadata services (protocol/controller_meta.c):
 * KVMetadataService.findByName, NamespaceFileMetadataService.findByPath and findAll replies. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/controller_meta.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kwg_controller_meta m;
	struct kwg_controller_nsfile *files = NULL;
	struct kwg_err err;
	size_t n = 0;

	(void)kwg_controller_kv_meta_decode((const char *)data, size, 1796472000LL * 1000000, &m,
	                                    &err);
	(void)kwg_controller_nsfile_meta_decode((const char *)data, size, &m, &err);
	if (kwg_controller_nsfile_list_decode((const char *)data, size, &files, &n, &err) == 0) {
		for (size_t i = 0; i < n; i++)
			if (files[i].path[0] != '/' || strstr(files[i].path, "/../") ||
			    files[i].version < 1)
				abort();
		kwg_controller_nsfiles_free(files, n);
	}
	return 0;
}
