/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* `stdfu-sim mkfw --version MAJOR.MINOR --size BYTES [--seed N] [--base ADDR] -o FILE`:
 * writes a valid application image (sim_fw_make_at) as .bin, .dfu (DfuSe) or .hex.
 * argv[0] is "mkfw". Returns the process exit status. */
int sim_mkfw_main(int argc, char **argv);
