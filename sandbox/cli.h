/* SPDX-License-Identifier: Apache-2.0 */
/* `kwg sandbox [OPTIONS] -- CMD ARGS…` (argv after "sandbox"): the task sandbox around any command,
 * with the worker's defaults (task user nobody when root, the task_* limits' defaults). The
 * process runs the launcher's steps itself (sandbox/launch.h) and ends as the command does, or
 * 125/126/127 naming the failed step; returns only when it could not start them: the exit code
 * (64 for a usage error, 1 otherwise), after saying why. */
#pragma once

int kwg_sandbox_cli(int argc, char **argv);
