import sys

import pytest

from lit_critic_rl.memory import set_malloc_mmap_threshold


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
def test_threshold_is_accepted_by_glibc():
    assert set_malloc_mmap_threshold(65536) is True


def test_bad_threshold_names_the_field():
    with pytest.raises(ValueError, match="model.malloc_mmap_threshold"):
        set_malloc_mmap_threshold(0)
