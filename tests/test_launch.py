"""The allocator launcher: which library it picks, its errors, and one real re-execution."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lit_critic_rl.launch import ALLOCATOR_ENV, allocator_preload, find_allocator, preloaded


@pytest.fixture
def libs(tmp_path):
    """Two library folders: the first with tcmalloc only, the second with both."""
    first, second = tmp_path / "a", tmp_path / "b"
    for folder, files in ((first, ["libtcmalloc_minimal.so.4"]), (second, ["libjemalloc.so.2", "libtcmalloc.so.4"])):
        folder.mkdir()
        for name in files:
            (folder / name).write_bytes(b"")
    return [first, second]


def test_auto_prefers_jemalloc_wherever_it_is_then_tcmalloc(libs):
    assert allocator_preload({}, libs) == libs[1] / "libjemalloc.so.2"
    assert allocator_preload({ALLOCATOR_ENV: "auto"}, libs[:1]) == libs[0] / "libtcmalloc_minimal.so.4"
    assert allocator_preload({ALLOCATOR_ENV: "tcmalloc"}, libs) == libs[0] / "libtcmalloc_minimal.so.4"
    assert allocator_preload({}, []) is None  # nothing installed: glibc's, silently


def test_system_or_an_allocator_already_preloaded_means_no_re_execution(libs):
    assert allocator_preload({ALLOCATOR_ENV: "system"}, libs) is None
    assert allocator_preload({"LD_PRELOAD": "/opt/x/libtcmalloc.so.4"}, libs) is None
    assert preloaded({"LD_PRELOAD": "/usr/lib/libfoo.so /usr/lib/libjemalloc.so.2"}) == "jemalloc"
    assert preloaded({"LD_PRELOAD": "/usr/lib/libfoo.so"}) is None


def test_bad_values_and_missing_libraries_name_the_variable(libs):
    with pytest.raises(ValueError, match=f"{ALLOCATOR_ENV} must be one of auto, jemalloc, tcmalloc, system"):
        allocator_preload({ALLOCATOR_ENV: "mimalloc"}, libs)
    with pytest.raises(ValueError, match=f"{ALLOCATOR_ENV}=jemalloc, but no libjemalloc.so.2.*apt install"):
        allocator_preload({ALLOCATOR_ENV: "jemalloc"}, libs[:1])
    assert find_allocator("jemalloc", libs[:1]) is None


def test_the_command_re_executes_once_with_the_library_preloaded(tmp_path):
    """A real exec: a copy of libm (harmless to preload) stands in for jemalloc in a folder on LD_LIBRARY_PATH."""
    candidates = map(Path, ("/lib/x86_64-linux-gnu/libm.so.6", "/usr/lib64/libm.so.6"))
    libm = next((p for p in candidates if p.is_file()), None)
    if sys.platform != "linux" or libm is None:
        pytest.skip("needs Linux with glibc's libm")
    (tmp_path / "libjemalloc.so.2").write_bytes(libm.read_bytes())
    code = (
        "import os; print('start', flush=True); from lit_critic_rl.launch import reexec_with_allocator; "
        "reexec_with_allocator(); print('preload', os.environ.get('LD_PRELOAD'))"
    )
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    env.update({ALLOCATOR_ENV: "jemalloc", "LD_LIBRARY_PATH": str(tmp_path)})
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["start", "start", f"preload {tmp_path / 'libjemalloc.so.2'}"]
