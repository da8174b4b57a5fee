# fingerpos tools: the `fingerpos` command line for technicians and operators.
# SPDX-License-Identifier: MIT
