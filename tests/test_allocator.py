"""``bench.allocator``: a bench process keeps at most two glibc malloc arenas however many threads
it starts, and a large block freed once does not make later large blocks stay in the heap
(issue 17). Each check runs in a fresh interpreter, once with ``configure()`` and once without:
the control shows glibc's default would fail it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from bench import allocator
from bench.allocator import ARENA_MAX, configure, glibc

pytestmark = pytest.mark.skipif(not glibc(), reason="these are glibc's malloc settings")

PRELUDE = """
import ctypes, sys
from bench.allocator import configure
if sys.argv[1] == "configured":
    assert configure()
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
"""

ARENAS = PRELUDE + """
import re, threading
libc.open_memstream.restype = ctypes.c_void_p
start, done = threading.Barrier(8), threading.Barrier(8)
def work():
    start.wait()
    blocks = [libc.malloc(4096) for _ in range(64)]  # in the thread's arena (pymalloc takes only small objects)
    done.wait()
    for block in blocks:
        libc.free(ctypes.c_void_p(block))
threads = [threading.Thread(target=work) for _ in range(8)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
text, size = ctypes.c_char_p(), ctypes.c_size_t()
stream = libc.open_memstream(ctypes.byref(text), ctypes.byref(size))
libc.malloc_info(0, ctypes.c_void_p(stream))
libc.fclose(ctypes.c_void_p(stream))
print(len(re.findall(r"<heap nr=", ctypes.string_at(text, size.value).decode())))
"""

MAPPED_APART = PRELUDE + """
class Mallinfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split()]
libc.mallinfo2.restype = Mallinfo2
libc.free(ctypes.c_void_p(libc.malloc(4 << 20)))  # a blank flash part, freed
before = libc.mallinfo2().hblks
block = libc.malloc(1 << 20)  # the next large block
print(libc.mallinfo2().hblks - before)  # 1: mapped apart, given back when freed; 0: in the heap
libc.free(ctypes.c_void_p(block))
"""


def run(program: str, mode: str) -> int:
    env = {key: value for key, value in os.environ.items() if not key.startswith("MALLOC_")}
    done = subprocess.run([sys.executable, "-c", program, mode], capture_output=True, text=True, env=env, check=True)
    return int(done.stdout)


def test_threads_share_at_most_two_arenas_once_configured() -> None:
    assert run(ARENAS, "default") > ARENA_MAX  # the control: glibc gives threads arenas of their own
    assert run(ARENAS, "configured") <= ARENA_MAX


def test_a_large_block_is_mapped_apart_after_a_larger_one_was_freed() -> None:
    assert run(MAPPED_APART, "default") == 0  # the control: the freed block raised the threshold
    assert run(MAPPED_APART, "configured") == 1


def test_a_malloc_setting_made_by_the_user_stands(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    monkeypatch.setattr(allocator, "_done", False)
    assert "MALLOC_ARENA_MAX" not in configure()
