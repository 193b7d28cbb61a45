from __future__ import annotations

import qa


def test_all_names_exist_and_are_public() -> None:
    assert sorted(qa.__all__) == qa.__all__
    for name in qa.__all__:
        assert hasattr(qa, name), name
        assert not name.startswith("_")
