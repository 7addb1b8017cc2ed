/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* `warmpath run`: the agent. */
#ifndef __WARMPATH_AGENT_H
#define __WARMPATH_AGENT_H

int cmd_run(int argc, char **argv);

#endif /* __WARMPATH_AGENT_H */
