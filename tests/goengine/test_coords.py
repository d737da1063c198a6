"""Coordinate conversions: corners and pass in every system, round trips, and bad vertices."""
import pytest

from goengine import coords


@pytest.mark.parametrize("size", [2, 9, 19, 25])
def test_round_trips_every_point(size):
    for a in range(size * size + 1):
        p = coords.action_to_point(a, size)
        assert coords.point_to_action(p, size) == a
        v = coords.point_to_gtp(p, size)
        assert coords.gtp_to_point(v, size) == p
        assert coords.gtp_to_point(v.lower(), size) == p


def test_corners_match_the_docstring_table():
    assert coords.gtp_to_row_col("A1", 19) == (0, 0)
    assert coords.gtp_to_row_col("T19", 19) == (18, 18)
    assert coords.point_to_gtp(coords.point(0, 0, 19), 19) == "A1"
    assert coords.point(0, 0, 19) == 21 + 1  # W + 1 with W = 21
    assert coords.action_to_gtp(19 * 19, 19) == "pass"
    assert coords.gtp_to_row_col("pass", 19) is None
    assert coords.gtp_to_row_col("J1", 9) == (0, 8)  # no letter I


@pytest.mark.parametrize("bad", ["I5", "A0", "A10", "Z1", "", "5D", "AA1", "pas"])
def test_bad_vertices(bad):
    with pytest.raises(ValueError):
        coords.gtp_to_row_col(bad, 9)
