"""``loaders.read_hin`` on small folders in each published layout of the HIN collection (no Neo4j)."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import LoadError
from loaders import read_hin, read_movielens


def _write(folder: Path, name: str, rows: list[tuple[object, ...]], sep: str = "\t") -> None:
    (folder / name).write_text("".join(sep.join(str(v) for v in row) + "\n" for row in rows))


@pytest.fixture
def yelp(tmp_path: Path) -> Path:
    """Yelp-like: user_business.dat plus tab-separated files with a weight column, friends, compliments."""
    _write(tmp_path, "user_business.dat", [(u, b, 1 + (u + b) % 5) for u in range(6) for b in range(4)])
    _write(tmp_path, "business_category.dat", [(b, f"c{b % 2}", 1) for b in range(4)])
    _write(tmp_path, "business_city.dat", [(b, "city0" if b < 2 else "city1", 1) for b in range(4)])
    _write(tmp_path, "user_user.dat", [(0, 1, 1), (1, 0, 1), (2, 3, 1)])
    _write(tmp_path, "user_compliment.dat", [(u, f"k{u % 3}", 1) for u in range(6)])
    (tmp_path / "readme.txt").write_text("not data\n")
    return tmp_path


@pytest.fixture
def movielens(tmp_path: Path) -> Path:
    """MovieLens-like: user_movie.dat with timestamps, user_age.dat, user_user(knn).dat, movie_genre.dat."""
    _write(
        tmp_path,
        "user_movie.dat",
        [(u, m, 1 + (u * m) % 5, 880_000_000 + u * 10 + m) for u in range(5) for m in range(3)],
    )
    _write(tmp_path, "user_age.dat", [(u, u % 2) for u in range(5)])
    _write(tmp_path, "user_occupation.dat", [(u, u % 3) for u in range(5)])
    _write(tmp_path, "user_user(knn).dat", [(u, (u + 1) % 5, 0.9) for u in range(5)])
    _write(tmp_path, "movie_genre.dat", [(m, m % 2) for m in range(3)])
    _write(tmp_path, "movie_movie(knn).dat", [(0, 1, 0.5), (1, 2, 0.4)])
    return tmp_path


def test_yelp_like_folder_loads_every_file(yelp: Path) -> None:
    ds = read_hin(yelp)
    roles = {f.file: f.role for f in ds.report.files}
    assert roles == {
        "user_business.dat": "ratings",
        "business_category.dat": "category",
        "business_city.dat": "item entity City",
        "user_user.dat": "user link FRIEND",
        "user_compliment.dat": "user entity Compliment",
        "readme.txt": "ignored",
    }
    assert len(ds.ratings) == 24 and ds.ratings["rating"].between(1, 5).all()
    assert sorted(map(tuple, ds.user_links["FRIEND"].to_numpy())) == [("0", "1"), ("1", "0"), ("2", "3")]
    assert set(ds.entities["City"]["value"]) == {"city0", "city1"}
    assert len(ds.user_entities["Compliment"]) == 6
    notes = {f.file: f.note for f in ds.report.files}
    assert "weights" in notes["business_city.dat"] and "1-5" in notes["user_business.dat"]


def test_movielens_like_folder_loads_every_file(movielens: Path) -> None:
    ds = read_hin(movielens)
    roles = {f.file: f.role for f in ds.report.files}
    assert roles == {
        "user_movie.dat": "ratings",
        "user_age.dat": "user entity Age",
        "user_occupation.dat": "user entity Occupation",
        "user_user(knn).dat": "user link KNN_USER",
        "movie_genre.dat": "item entity Genre",
        "movie_movie(knn).dat": "item link KNN_ITEM",
    }
    assert ds.ratings["ts"].min() >= 880_000_000
    assert len(ds.user_links["KNN_USER"]) == 5
    assert set(ds.user_entities["Age"]["value"]) == {"0", "1"}


def test_counts_become_implicit_feedback_per_user(tmp_path: Path) -> None:
    # LastFM-like listens: the user's most-played artist is 5 stars, one play of a heavy listener near 1
    _write(tmp_path, "user_artist.dat", [(0, "a", 1000), (0, "b", 1), (1, "a", 3)])
    _write(tmp_path, "artist_tag.dat", [("a", "rock"), ("b", "jazz")])
    ds = read_hin(tmp_path)
    stars = {(u, i): r for u, i, r in ds.ratings[["user", "item", "rating"]].itertuples(index=False)}
    assert stars[("0", "a")] == 5.0 and stars[("1", "a")] == 5.0
    assert 1.0 < stars[("0", "b")] < 1.5
    assert "implicit feedback" in ds.report.files[0].note


def test_two_column_ratings_are_positive_interactions(tmp_path: Path) -> None:
    _write(tmp_path, "user_book.dat", [(0, "x"), (1, "y")], sep=",")
    ds = read_hin(tmp_path)
    assert ds.ratings["rating"].tolist() == [5.0, 5.0]


def test_user_and_item_entity_of_one_name_are_kept_apart(tmp_path: Path) -> None:
    _write(tmp_path, "user_business.dat", [(0, 0, 5), (1, 1, 4)])
    _write(tmp_path, "business_city.dat", [(0, "Paris"), (1, "Lyon")])
    _write(tmp_path, "user_city.dat", [(0, "Paris"), (1, "Nice")])
    ds = read_hin(tmp_path)
    assert "City" in ds.entities and "UserCity" in ds.user_entities


def test_ambiguous_ratings_file_must_be_named(tmp_path: Path) -> None:
    _write(tmp_path, "user_movie.dat", [(0, 0, 5)])
    _write(tmp_path, "user_book.dat", [(0, 0, 4)])
    with pytest.raises(LoadError, match="--ratings"):
        read_hin(tmp_path)
    ds = read_hin(tmp_path, ratings="user_book.dat")
    assert ds.ratings["rating"].tolist() == [4.0]
    assert {f.file: f.role for f in ds.report.files}["user_movie.dat"] == "user entity Movie"


def test_amazon_layout_still_reads(tmp_path: Path) -> None:
    _write(tmp_path, "user_item.dat", [(0, 0, 5, 1386201600), (1, 0, 3, 1386201601)])
    _write(tmp_path, "item_brand.dat", [(0, 7)], sep=",")
    _write(tmp_path, "item_view.dat", [(0, 9)], sep=",")
    ds = read_hin(tmp_path)
    assert ds.brands.to_dict("records") == [{"item": "0", "brand": "7"}]
    assert list(ds.entities) == ["View"]


def test_movielens_100k_user_attributes_become_user_entities(tmp_path: Path) -> None:
    _write(tmp_path, "u.data", [(1, 10, 4, 881250949), (2, 10, 5, 881250950)])
    genres = "|".join(["0"] * 19)
    (tmp_path / "u.item").write_text(f"10|Toy Story (1995)|01-Jan-1995||http://x|{genres}\n")
    (tmp_path / "u.user").write_text("1|24|M|technician|85711\n2|53|F|other|94043\n")
    ds = read_movielens(tmp_path)
    found = {label: sorted(map(tuple, f.to_numpy())) for label, f in ds.user_entities.items()}
    assert found == {
        "AgeBand": [("1", "18-24"), ("2", "50-55")],
        "Gender": [("1", "M"), ("2", "F")],
        "Occupation": [("1", "technician"), ("2", "other")],
        "ZipPrefix": [("1", "857"), ("2", "940")],
    }
    assert ds.items["title"].tolist() == ["Toy Story (1995)"]


def test_title_file_names_the_items(tmp_path: Path) -> None:
    _write(tmp_path, "user_book.dat", [(0, "b1", 4), (1, "b2", 5)])
    _write(tmp_path, "book_title.dat", [("b1", "Emma"), ("b2", "Dune &amp; Co")])
    ds = read_hin(tmp_path)
    assert dict(zip(ds.items["id"], ds.items["title"], strict=True)) == {"b1": "Emma", "b2": "Dune & Co"}
    assert {f.file: f.role for f in ds.report.files}["book_title.dat"] == "item titles"
