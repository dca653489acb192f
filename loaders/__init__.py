"""Readers that turn dataset files into validated records and a report of every rejected row.

Example:
    >>> from loaders import read_hin
    >>> dataset = read_hin("../shared/data/amazon-hin")   # doctest: +SKIP
    >>> dataset.report.rejected_count                     # doctest: +SKIP
    0
"""

from loaders.formats import read_amazon2018, read_movielens, read_pairs, read_table
from loaders.hin import read_hin
from loaders.reading import ErrorBudget
from loaders.records import Dataset, FileUse, ItemRow, LoadReport, RatingRow, Rejection

__all__ = [
    "Dataset",
    "ErrorBudget",
    "FileUse",
    "ItemRow",
    "LoadReport",
    "RatingRow",
    "Rejection",
    "read_amazon2018",
    "read_hin",
    "read_movielens",
    "read_pairs",
    "read_table",
]
