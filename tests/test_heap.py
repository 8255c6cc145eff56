"""The garbage-collector settings of the ``bayescale`` script (bayescale.core.heap)."""

import gc
import subprocess
import sys

from bayescale.core import heap


def test_a_library_process_is_left_alone():
    frozen, thresholds = gc.get_freeze_count(), gc.get_threshold()
    heap.settle()
    heap.before_exit()
    assert (gc.get_freeze_count(), gc.get_threshold()) == (frozen, thresholds)


def test_the_script_collects_rarely_until_settled_then_freezes_and_restores():
    code = (
        "import gc; from bayescale.core import heap\n"
        "default = gc.get_threshold(); heap.own_process(); rare = gc.get_threshold()\n"
        "heap.settle(); first = gc.get_freeze_count()\n"
        "[object() for _ in range(10)]; heap.settle()\n"
        "print(default == gc.get_threshold(), rare == heap.RARE, first > 0, gc.get_freeze_count() == first)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["True"] * 4


def test_the_console_script_opts_in():
    out = subprocess.run(
        [sys.executable, "-c", "import sys; sys.argv = ['bayescale', '--help']; from bayescale.cli import console; "
         "from bayescale.core import heap; import contextlib, io\n"
         "try:\n    with contextlib.redirect_stdout(io.StringIO()): console()\nexcept SystemExit: pass\n"
         "import gc; print(heap._STATE['own_process'], gc.get_freeze_count() > 0)"],
        capture_output=True, text=True, check=True).stdout
    assert out.split() == ["True", "True"]
