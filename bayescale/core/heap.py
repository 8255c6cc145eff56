"""The garbage collector in a process that runs one ``bayescale`` command and ends.

PyMC, PyTensor, numba and ArviZ leave about a million tracked objects after import. Every
full collection walks them all, and the interpreter runs one more as it shuts down: about
1.5 s of a 5 s ``bayescale fit`` process. So the console script (:func:`own_process`)
collects rarely while it imports, and once the sampling stack is loaded (:func:`settle`)
moves the objects alive then out of the collector's reach with :func:`gc.freeze`, as it
does again before exit. Reference counting still frees frozen objects; only cycles among
them would stay, and imported modules do not become garbage.

A library must not freeze the heap of a user's session, where objects alive now (earlier
fits, say) may become cyclic garbage later: nothing here acts unless the script opted in.
"""

from __future__ import annotations

import gc

_STATE: dict = {"own_process": False, "settled": False, "thresholds": gc.get_threshold()}
RARE = (100_000, 50, 100)  # collection thresholds while the sampling stack is imported


def own_process() -> None:
    """Declare that this process runs one command and exits (the ``bayescale`` script does)."""
    _STATE["own_process"] = True
    _STATE["thresholds"] = gc.get_threshold()
    gc.set_threshold(*RARE)


def settle() -> None:
    """Once the sampling stack is imported: freeze what is alive, collect as usual from then on."""
    if _STATE["own_process"] and not _STATE["settled"]:
        _STATE["settled"] = True
        gc.freeze()
        gc.set_threshold(*_STATE["thresholds"])


def before_exit() -> None:
    """Freeze everything, so the interpreter's last collection has nothing to walk (if opted in)."""
    if _STATE["own_process"]:
        gc.freeze()
