from audioid_gui.core.wording import plural


def test_plural_agrees_with_the_number() -> None:
    assert plural(1, "track") == "1 track"
    assert plural(0, "track") == "0 tracks"
    assert plural(12345, "cluster") == "12,345 clusters"
    assert plural(2, "copy", "copies") == "2 copies"
