/* SPDX-License-Identifier: Apache-2.0 */
/* `kwg sandbox [OPTIONS] -- CMD ARGS…` (argv after "sandbox"): the task sandbox around any command,
 * with the worker's defaults (task user nobody when root, the task_* limits' defaults). The
 * process becomes kwg-exec (found next to the running binary) with the spec on fd 3; returns only
 * on failure: the exit code (64 for a usage error, 1 otherwise), after saying why. */
#pragma once

int kwg_sandbox_cli(int argc, char **argv);
