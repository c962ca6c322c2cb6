"""``bench.allocator``: a bench process keeps at most two glibc malloc arenas however many threads
it starts (issue 17). Checked in a fresh interpreter, which counts the arenas glibc reports
(``malloc_info``) while eight threads allocate at once; the same program without the bound is
the control that shows the count would be higher."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from bench.allocator import ARENA_MAX, bound_arenas, glibc

pytestmark = pytest.mark.skipif(not glibc(), reason="malloc arenas are glibc's")

PROGRAM = """
import ctypes, re, sys, threading
from bench.allocator import bound_arenas
if sys.argv[1] == "bound":
    assert bound_arenas()
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
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


def arenas(mode: str) -> int:
    env = {key: value for key, value in os.environ.items() if key != "MALLOC_ARENA_MAX"}
    done = subprocess.run([sys.executable, "-c", PROGRAM, mode], capture_output=True, text=True, env=env, check=True)
    return int(done.stdout)


def test_threads_share_at_most_two_arenas_once_bounded() -> None:
    assert arenas("free") > ARENA_MAX  # the control: glibc's default gives threads arenas of their own
    assert arenas("bound") <= ARENA_MAX


def test_a_malloc_arena_max_set_by_the_user_stands(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    monkeypatch.setattr("bench.allocator._done", False)
    assert bound_arenas() is False
