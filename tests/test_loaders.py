from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from core.errors import LoadError
from loaders import ErrorBudget, read_amazon2018, read_hin, read_movielens, read_table
from loaders.text import clean_text


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_csv_with_header_extra_columns_duplicates_and_rejections(tmp_path: Path) -> None:
    rows = ["userId,movieId,rating,timestamp,comment"]
    rows += [f"u{i},i{i % 7},{1 + i % 5},{1000 + i},x" for i in range(300)]
    rows += ["u1,i1,2,5000,later duplicate", "u2,i2,9,1,out of scale", ",i3,3,1,missing user"]
    ds = read_table(_write(tmp_path / "r.csv", "\n".join(rows) + "\n"))
    report = ds.report
    assert report.rows_read == 303
    assert [(r.line, r.field) for r in report.rejected] == [(303, "rating"), (304, "user")]
    assert "outside the scale" in report.rejected[0].reason
    assert report.duplicates_dropped == 1
    latest = ds.ratings[(ds.ratings.user == "u1") & (ds.ratings.item == "i1")]
    assert latest.rating.tolist() == [2.0] and latest.ts.tolist() == [5000]


def test_tsv_without_header_positions(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "r.tsv",
        "".join(
            f"{u}\t{i}\t{r}\t{t}\n" for u, i, r, t in [(1, 10, 5, 100), (2, 10, 3, 200), (2, 11, 4, 300)]
        ),
    )
    ds = read_table(path)
    assert ds.ratings.to_dict("records")[0] == {"user": "1", "item": "10", "rating": 5.0, "ts": 100}
    assert len(ds.ratings) == 3


def test_column_choice_by_option(tmp_path: Path) -> None:
    path = _write(tmp_path / "r.csv", "stars;who;what\n4;alice;book\n2;bob;pen\n")
    ds = read_table(path, user_col="who", item_col="what", rating_col="stars")
    assert set(zip(ds.ratings.user, ds.ratings.item, ds.ratings.rating, strict=True)) == {
        ("alice", "book", 4.0),
        ("bob", "pen", 2.0),
    }


def test_broken_line_names_file_and_line(tmp_path: Path) -> None:
    path = _write(tmp_path / "r.csv", "user,item,rating\na,b,4\nc,d\ne,f,5\n")
    with pytest.raises(LoadError) as info:
        read_table(path)
    assert info.value.file == str(path) and info.value.line == 3
    assert f"{path}:3" in str(info.value)


def test_error_budget_fails_past_one_percent(tmp_path: Path) -> None:
    rows = [f"u{i},i{i},4" for i in range(50)] + ["u,i,x"]
    path = _write(tmp_path / "r.csv", "\n".join(rows) + "\n")
    with pytest.raises(LoadError) as info:
        read_table(path)
    assert info.value.line == 51 and info.value.field == "rating"
    assert read_table(path, budget=ErrorBudget(0.05)).report.rejected_count == 1


def test_item_attribute_and_link_tables(tmp_path: Path) -> None:
    ratings = _write(tmp_path / "r.csv", "u1,i1,5\nu1,i2,3\n")
    brand = _write(tmp_path / "b.csv", "i1,Acme\ni2,Bolt\n")
    genre = _write(tmp_path / "g.tsv", "i1\tjazz\ni2\tfolk\n")
    link = _write(tmp_path / "l.csv", "i1,i2\n")
    ds = read_table(ratings, item_attrs={"Brand": brand, "Genre": genre}, item_links={"similar_to": link})
    assert ds.brands.to_dict("records") == [{"item": "i1", "brand": "Acme"}, {"item": "i2", "brand": "Bolt"}]
    assert list(ds.entities) == ["Genre"] and len(ds.entities["Genre"]) == 2
    assert list(ds.item_links) == ["SIMILAR_TO"]


def test_hin_layout(tmp_path: Path) -> None:
    _write(tmp_path / "user_item.dat", "1\t10\t5\t100\n1\t11\t2\t101\n2\t10\t4\t102\n")
    _write(tmp_path / "item_brand.dat", "10,7\n11,8\n")
    _write(tmp_path / "item_category.dat", "10,1\n10,2\n11,2\n")
    _write(tmp_path / "item_view.dat", "10,99\n")
    ds = read_hin(tmp_path)
    assert len(ds.ratings) == 3 and len(ds.brands) == 2 and len(ds.categories) == 3
    assert list(ds.entities) == ["View"]


def test_amazon2018_meta_markup_hierarchy_links(tmp_path: Path) -> None:
    meta = tmp_path / "meta.json.gz"
    lines = [
        {
            "asin": "A1",
            "title": '<span class="a-size-medium"',
            "description": ["Big ideas. Weekly."],
            "brand": "Reason Foundation",
            "category": ["Magazines", "News &amp; Politics"],
            "also_buy": ["A2", "ZZ"],
            "price": "$12.50",
        },
        {
            "asin": "A2",
            "title": "The Atlantic",
            "brand": "Atlantic",
            "category": ["Magazines"],
            "also_view": ["A1"],
        },
        {"asin": "A1", "title": "duplicate line"},
    ]
    with gzip.open(meta, "wt") as handle:
        handle.write("\n".join(json.dumps(x) for x in lines) + "\n")
    ratings = _write(tmp_path / "r.csv", "A1,bob,5.0,100\nA2,bob,4.0,200\n")
    ds = read_amazon2018(meta, ratings=ratings)
    items = ds.items.set_index("id")
    assert items.loc["A1", "title"] == "Big ideas." and items.loc["A1", "price"] == 12.5
    assert items.loc["A2", "title"] == "The Atlantic"
    assert ("Magazines", "News & Politics") in set(ds.categories.path)
    assert ds.item_links["ALSO_BOUGHT"].to_dict("records") == [{"source": "A1", "target": "A2"}]
    assert ds.report.duplicates_dropped == 1


def test_amazon2018_reviews_bad_json_line(tmp_path: Path) -> None:
    meta = _write(tmp_path / "meta.json", json.dumps({"asin": "A1"}) + "\n")
    reviews = _write(
        tmp_path / "rev.json", json.dumps({"reviewerID": "u", "asin": "A1", "overall": 5}) + "\n{oops\n"
    )
    with pytest.raises(LoadError) as info:
        read_amazon2018(meta, reviews=reviews)
    assert info.value.line == 2


def test_movielens_100k_and_csv_layouts(tmp_path: Path) -> None:
    ml = tmp_path / "ml100k"
    ml.mkdir()
    _write(ml / "u.data", "1\t1\t5\t881250949\n2\t1\t3\t881250950\n")
    flags = ["0"] * 19
    flags[1] = flags[5] = "1"
    _write(ml / "u.item", "1|Toy Story (1995)|01-Jan-1995||http://x|" + "|".join(flags) + "\n")
    ds = read_movielens(ml)
    assert set(ds.categories.path) == {("Action",), ("Comedy",)}
    assert ds.items.title.tolist() == ["Toy Story (1995)"]
    csvdir = tmp_path / "mlcsv"
    csvdir.mkdir()
    _write(csvdir / "ratings.csv", "userId,movieId,rating,timestamp\n1,1,4.5,100\n")
    _write(csvdir / "movies.csv", 'movieId,title,genres\n1,"Heat (1995)",Action|Crime\n')
    ds = read_movielens(csvdir)
    assert ds.ratings.rating.tolist() == [4.5] and len(ds.categories) == 2


def test_clean_text() -> None:
    assert clean_text("<b>A &amp; B</b>\n  C") == "A & B C"
    assert clean_text('<span class="x"') is None
