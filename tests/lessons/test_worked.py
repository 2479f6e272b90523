"""The textbook worked example: numbers checked by hand."""

import math

import numpy as np
import pytest

from workbench.lessons.worked import explain, metric_table, parse_example, position_table

LOG2_3 = math.log2(3)


@pytest.fixture
def textbook():
    return parse_example("A, B, C", "D, A, E, B, F")


def test_textbook_answers(textbook):
    table = metric_table(textbook)
    assert table.loc["precision", "@3"] == pytest.approx(1 / 3)
    assert table.loc["recall", "@5"] == pytest.approx(2 / 3)
    # DCG@3 = 1/log2(3); IDCG@3 = 1 + 1/log2(3) + 1/2
    assert table.loc["ndcg", "@3"] == pytest.approx((1 / LOG2_3) / (1 + 1 / LOG2_3 + 0.5))
    assert table.loc["ndcg", "@3"] == pytest.approx(0.2961, abs=5e-5)
    # AP@5 = (1/2 + 2/4) / 3 ; MRR = 1/2 from position 2 on
    assert table.loc["map", "@5"] == pytest.approx((1 / 2 + 2 / 4) / 3)
    assert list(table.loc["mrr"]) == pytest.approx([0, 0.5, 0.5, 0.5, 0.5])
    assert list(table.loc["hit_rate"]) == [0, 1, 1, 1, 1]


def test_explain_writes_the_formula_with_the_example_numbers(textbook):
    ex = explain(textbook, 3)
    assert ex.loc["precision", "worked"] == "1/3"
    assert ex.loc["recall", "worked"] == "1/3"
    assert ex.loc["map", "worked"] == "(1/2) / 3"
    assert ex.loc["ndcg", "worked"] == "[1/log2(3)] / [1/log2(2) + 1/log2(3) + 1/log2(4)]"
    assert ex.loc["mrr", "worked"] == "1/2"
    at5 = explain(textbook, 5)
    assert at5.loc["map", "worked"] == "(1/2 + 2/4) / 3"


def test_graded_ndcg_exp_and_linear_by_hand():
    ex = parse_example("A=3, B=2, C=1", "D, A, E, B, F")
    exp_ndcg = (7 / LOG2_3) / (7 + 3 / LOG2_3 + 1 / 2)
    lin_ndcg = (3 / LOG2_3) / (3 + 2 / LOG2_3 + 1 / 2)
    assert explain(ex, 3, "exp").loc["ndcg", "value"] == pytest.approx(exp_ndcg)
    assert explain(ex, 3, "linear").loc["ndcg", "value"] == pytest.approx(lin_ndcg)
    # grades do not change the binary metrics
    assert explain(ex, 3).loc["precision", "value"] == pytest.approx(1 / 3)
    assert "(2^3−1)/log2(3)" in explain(ex, 3, "exp").loc["ndcg", "worked"]


def test_position_table_adds_up_to_dcg():
    ex = parse_example("A=3, B=2, C=1", "D, A, E, B, F")
    pos = position_table(ex, "exp")
    assert pos["item"].tolist() == ["D", "A", "E", "B", "F"]
    assert pos["discounted_gain"].sum() == pytest.approx(7 / LOG2_3 + 3 / math.log2(5))
    np.testing.assert_allclose(pos["discount"], 1 / np.log2(np.arange(2, 7)))


@pytest.mark.parametrize(
    ("liked", "rec", "message"),
    [
        ("A, A", "A, B", "listed twice"),
        ("A", "A, B, A", "appears twice"),
        ("A=x", "A", "not a number"),
        ("A=-1", "A", "negative"),
        ("", "A", "liked items is empty"),
        ("A", " , ", "recommended list is empty"),
    ],
)
def test_bad_input_is_named(liked, rec, message):
    with pytest.raises(ValueError, match=message):
        parse_example(liked, rec)
