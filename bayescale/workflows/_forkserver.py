"""Imported by the forkserver that bayescale's local worker pool starts, and by nothing else.

The server forks every worker; it should end with the program that started it, even after
``kill -9``. Its workers die with it (each sets its own parent-death signal).
"""

import os

from bayescale.workflows.executors import die_with_parent

if die_with_parent() and os.getppid() == 1:  # the driver died before the line above ran
    os._exit(1)
