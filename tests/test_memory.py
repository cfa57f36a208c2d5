import sys

import pytest

from lit_critic_rl.memory import set_malloc_mmap_threshold, trim_malloc


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
def test_threshold_is_accepted_by_glibc():
    assert set_malloc_mmap_threshold(65536) is True


def test_bad_threshold_names_the_field():
    with pytest.raises(ValueError, match="model.malloc_mmap_threshold"):
        set_malloc_mmap_threshold(0)


def _rss_mib() -> float:
    import os

    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
def test_trim_hands_back_the_heap_holes_that_free_keeps():
    # 6,000 heap blocks of 32 KiB (below any mmap threshold), then free 7 of every 8: the holes between the survivors
    # stay resident after free, and only malloc_trim returns them.
    blocks = [bytearray(32 * 1024) for _ in range(6000)]
    survivors = blocks[::8]
    del blocks
    before = _rss_mib()
    assert trim_malloc() is True
    after = _rss_mib()
    assert before - after > 100, (before, after)  # about 164 MiB of holes
    del survivors  # kept alive until after the measurement, so their blocks pin the holes between them


def test_the_allocator_in_use_is_read_from_the_preload():
    from lit_critic_rl.memory import malloc_in_use

    assert malloc_in_use({"LD_PRELOAD": "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"}) == "jemalloc"
    assert malloc_in_use({"LD_PRELOAD": "libtcmalloc_minimal.so.4"}) == "tcmalloc"
    assert malloc_in_use({}) == ("glibc" if sys.platform.startswith("linux") else "system")


def test_glibc_knobs_under_another_allocator_are_named_and_said_to_do_nothing():
    from lit_critic_rl.memory import glibc_settings_note

    note = glibc_settings_note(65536, True, "jemalloc")
    assert note.startswith("model.malloc_mmap_threshold and model.malloc_trim tune glibc's malloc")
    assert "runs jemalloc" in note and "LIT_CRITIC_RL_ALLOCATOR=system" in note
    assert glibc_settings_note(None, True, "tcmalloc").startswith("model.malloc_trim tune")
    assert glibc_settings_note(65536, True, "glibc") is None
    assert glibc_settings_note(None, False, "jemalloc") is None
