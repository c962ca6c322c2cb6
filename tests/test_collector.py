"""``bench.collector``: the objects alive at the first bench start are left out of later garbage
collections, and garbage made after that is still collected (issue 17). Each check runs in a
fresh interpreter: the freeze is once per process."""

from __future__ import annotations

import subprocess
import sys

PROGRAM = """
import gc, weakref
from bench.collector import freeze_long_lived

class Node:
    pass

def cycle():
    a, b = Node(), Node()
    a.other, b.other = b, a
    return weakref.ref(a)

kept = [Node() for _ in range(1000)]
before_garbage = cycle()  # garbage when the freeze comes: collected by it, not frozen
assert freeze_long_lived()
assert before_garbage() is None
assert gc.get_freeze_count() >= len(kept)
walked = {id(obj) for obj in gc.get_objects()}  # what a collection walks: the frozen ones are not in it
assert not any(id(node) in walked for node in kept)
assert not freeze_long_lived()  # once per process
after = cycle()
gc.collect()
assert after() is None  # a reference cycle made after the freeze is still collected
print("ok")
"""


def test_long_lived_objects_are_frozen_once_and_later_garbage_is_collected() -> None:
    done = subprocess.run([sys.executable, "-c", PROGRAM], capture_output=True, text=True)
    assert done.stdout.strip() == "ok", done.stderr
