"""'Your turn' exercises (`workbench.lessons.exercises`): each check passes its solution and catches plausible
wrong answers; the starter a notebook opens with does not pass; the notebooks hold their exercises' cells."""

import math
import re

import numpy as np
import pytest
from scipy.stats import norm

from workbench.lessons import exercises as E
from workbench.lessons.exercises import EXERCISES, check, describe, solved, starter, unit_hash
from workbench.report.export import NOTEBOOK_DIR, list_notebooks

# Plausible wrong answers, several per exercise: the mistakes a learner makes (the examples among them).


def _recall_over_k(recommended, relevant, k):
    return sum(1 for x in recommended[:k] if x in relevant) / k


def _recall_no_cutoff(recommended, relevant, k):
    return sum(1 for x in recommended if x in relevant) / len(relevant)


def _rrf_from_zero(lists, k=60.0):
    out = {}
    for items in lists:
        for rank, item in enumerate(items):
            out[item] = out.get(item, 0.0) + 1.0 / (k + rank)
    return out


def _rrf_without_k(lists, k=60.0):
    out = {}
    for items in lists:
        for rank, item in enumerate(items, start=1):
            out[item] = out.get(item, 0.0) + 1.0 / rank
    return out


def _auc_ignoring_ties(scores, labels):
    pos = [s for s, y in zip(scores, labels) if y]
    neg = [s for s, y in zip(scores, labels) if not y]
    return sum(p > n for p in pos for n in neg) / (len(pos) * len(neg))


def _auc_ties_win(scores, labels):
    pos = [s for s, y in zip(scores, labels) if y]
    neg = [s for s, y in zip(scores, labels) if not y]
    return sum(p >= n for p in pos for n in neg) / (len(pos) * len(neg))


def _mmr(penalty, exclude=True, use_lam=True):
    def pick(relevance, vectors, chosen, lam):
        best, best_score = None, -math.inf
        for i, rel in enumerate(relevance):
            if exclude and i in chosen:
                continue
            sims = [float(np.dot(vectors[i], vectors[j])) for j in chosen]
            score = (lam * rel - (1 - lam) * penalty(sims)) if use_lam else rel - penalty(sims)
            if score > best_score:
                best, best_score = i, score
        return best

    return pick


def _precision_no_cutoff(recommended, relevant, k):
    return sum(1 for x in recommended if x in relevant) / k


def _precision_over_relevant(recommended, relevant, k):
    return sum(1 for x in recommended[:k] if x in relevant) / len(relevant)


def _ndcg_without_log_discount(recommended, relevant, k):  # the example
    dcg = sum(1.0 for x in recommended[:k] if x in relevant)
    return dcg / min(k, len(relevant))


def _ndcg_ideal_over_all_liked(recommended, relevant, k):
    dcg = sum(1 / math.log2(p + 1) for p, x in enumerate(recommended[:k], start=1) if x in relevant)
    return dcg / sum(1 / math.log2(p + 1) for p in range(1, len(relevant) + 1))


def _ndcg_log_of_position(recommended, relevant, k):
    dcg = sum(1 / math.log2(p + 1) for p, x in enumerate(recommended[:k]) if x in relevant)  # positions from 0
    return dcg / sum(1 / math.log2(p + 1) for p in range(1, min(k, len(relevant)) + 1))


def _z_one_sided(x_a, n_a, x_b, n_b):
    pool = (x_a + x_b) / (n_a + n_b)
    return float(norm.sf((x_b / n_b - x_a / n_a) / math.sqrt(pool * (1 - pool) * (1 / n_a + 1 / n_b))))


def _z_unpooled(x_a, n_a, x_b, n_b):
    pa, pb = x_a / n_a, x_b / n_b
    return float(2 * norm.sf(abs(pb - pa) / math.sqrt(pa * (1 - pa) / n_a + pb * (1 - pb) / n_b)))


def _assign_equal_shares(user_id, experiment, split):
    return int(unit_hash(experiment, user_id) * len(split))


def _assign_not_cumulative(user_id, experiment, split):
    u = unit_hash(experiment, user_id)
    return next((arm for arm, share in enumerate(split) if u < share), len(split) - 1)


def _assign_modulo(user_id, experiment, split):
    return user_id % len(split)


def _team_draft(first_pick):
    def draft(a, b, k, coins):
        items, teams = [], []
        while len(items) < k:
            n_a, n_b = teams.count("A"), teams.count("B")
            left_a = next((x for x in a if x not in items), None)
            left_b = next((x for x in b if x not in items), None)
            if left_a is None and left_b is None:
                break
            a_turn = left_a is not None and (left_b is None or first_pick(n_a, n_b, coins[len(items)]))
            items.append(left_a if a_turn else left_b)
            teams.append("A" if a_turn else "B")
        return items, teams

    return draft


def _timing_dur_last(header):
    out = {}
    for entry in header.split(","):
        name, dur = entry.split(";dur=")
        out[name.strip()] = float(dur)
    return out


def _timing_first_param(header):
    out = {}
    for entry in header.split(","):
        name, _, params = entry.strip().partition(";")
        key, _, value = params.partition("=")
        if key == "dur":
            out[name] = float(value)
    return out


def _p99_nearest_rank(latencies_ms):
    ordered = sorted(latencies_ms)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


def _p99_lower(latencies_ms):
    return float(np.percentile(latencies_ms, 99, method="lower"))


def _snips(rewards, logging_p, target_p):
    w = [t / p for t, p in zip(target_p, logging_p)]
    return sum(a * r for a, r in zip(w, rewards)) / sum(w)


def _ips_inverted(rewards, logging_p, target_p):
    return sum(r * p / t if t else 0.0 for r, p, t in zip(rewards, logging_p, target_p)) / len(rewards)


def _egreedy_forgets_exploring_to_greedy(means, epsilon, arm):
    greedy = max(range(len(means)), key=lambda a: means[a])
    return 1 - epsilon if arm == greedy else epsilon / len(means)


def _egreedy_last_on_ties(means, epsilon, arm):
    greedy = max(a for a in range(len(means)) if means[a] == max(means))
    return (1 - epsilon + epsilon / len(means)) if arm == greedy else epsilon / len(means)


def _gini_unsorted(exposure):
    n = len(exposure)
    return sum((2 * i - n - 1) * v for i, v in enumerate(exposure, start=1)) / (n * sum(exposure))


def _gini_shown_items_only(exposure):
    x = sorted(v for v in exposure if v > 0)
    n = len(x)
    return sum((2 * i - n - 1) * v for i, v in enumerate(x, start=1)) / (n * sum(x))


def _holm_bonferroni(p_values):
    return [min(1.0, len(p_values) * p) for p in p_values]


def _holm(carry=True, unsort=True, start=0):
    def holm(p_values):
        m = len(p_values)
        order = sorted(range(m), key=lambda i: p_values[i])
        out, running = [0.0] * m, 0.0
        for rank, i in enumerate(order):
            value = min(1.0, (m - rank - start) * p_values[i])
            running = max(running, value) if carry else value
            out[i if unsort else rank] = running
        return out

    return holm


def _hq(interpolate_from_zero=False, inf_bucket_inf=False, interpolate=True):
    def hq(q, bounds, cumulative):
        rank = q * cumulative[-1]
        b = next(i for i, c in enumerate(cumulative) if c >= rank)
        if b == len(bounds) - 1 and not inf_bucket_inf:
            return bounds[-2]
        if not interpolate:
            return bounds[b]
        lo = bounds[b - 1] if b > 0 and not interpolate_from_zero else 0.0
        below = cumulative[b - 1] if b > 0 else 0.0
        return lo + (bounds[b] - lo) * (rank - below) / (cumulative[b] - below)

    return hq


WRONG = {
    "recall_at_k": {"divides by k (precision)": _recall_over_k, "ignores the cut-off k": _recall_no_cutoff},
    "rrf_scores": {"ranks from 0": _rrf_from_zero, "no constant k": _rrf_without_k},
    "auc": {"ignores ties": _auc_ignoring_ties, "ties count as wins": _auc_ties_win},
    "mmr_pick": {"sums the similarities": _mmr(sum), "picks a chosen item again": _mmr(max, exclude=False),
                 "forgets λ": _mmr(max, use_lam=False)},  # fmt: skip
    "precision_at_k": {"ignores the cut-off k": _precision_no_cutoff, "divides by the liked items": _precision_over_relevant},
    "ndcg_at_k": {"no log discount": _ndcg_without_log_discount, "ideal over all liked items": _ndcg_ideal_over_all_liked,
                  "positions from 0": _ndcg_log_of_position},  # fmt: skip
    "two_proportion_p": {"one-sided": _z_one_sided, "unpooled standard error": _z_unpooled},
    "assign_arm": {"equal shares": _assign_equal_shares, "shares not accumulated": _assign_not_cumulative,
                   "user id modulo arms": _assign_modulo},  # fmt: skip
    "team_draft": {"always starts with A": _team_draft(lambda n_a, n_b, coin: n_a <= n_b),
                   "coin ignores the counts": _team_draft(lambda n_a, n_b, coin: coin),
                   "coin read backwards": _team_draft(lambda n_a, n_b, coin: n_a < n_b or (n_a == n_b and not coin))},  # fmt: skip
    "server_timing": {"dur is always last": _timing_dur_last, "only the first parameter": _timing_first_param},
    "p99": {"nearest rank": _p99_nearest_rank, "lower neighbour": _p99_lower},
    "ips": {"self-normalised (SNIPS)": _snips, "weights inverted": _ips_inverted},
    "egreedy_propensity": {"exploring never lands on the greedy row": _egreedy_forgets_exploring_to_greedy,
                           "last row wins a tie": _egreedy_last_on_ties},
    "exposure_gini": {"counts not sorted": _gini_unsorted, "never-shown items left out": _gini_shown_items_only},
    "holm": {"Bonferroni": _holm_bonferroni, "no running maximum": _holm(carry=False),
             "left in sorted order": _holm(unsort=False), "factors m - 1, m - 2, ...": _holm(start=1)},
    "histogram_quantile": {"the bucket's upper bound": _hq(interpolate=False),
                           "interpolates from 0": _hq(interpolate_from_zero=True),
                           "+Inf bucket gives +Inf": _hq(inf_bucket_inf=True)},
}


def test_every_exercise_has_wrong_answers_to_catch():
    assert set(WRONG) == set(EXERCISES)


@pytest.mark.parametrize("name", sorted(EXERCISES))
def test_check_passes_the_solution_and_fails_the_starter(name):
    result = check(name, solved(name))
    assert result.passed and result.failure is None, describe(result)
    assert result.checked == len(EXERCISES[name].worked) + 60
    scope = {"np": np, "math": math, "unit_hash": unit_hash}
    exec(starter(name), scope)
    assert not check(name, scope[EXERCISES[name].function]).passed  # the page opens on a task, not on a pass


@pytest.mark.parametrize(("name", "mistake"), [(n, m) for n in sorted(WRONG) for m in WRONG[n]])
def test_check_catches_a_plausible_wrong_answer(name, mistake):
    result = check(name, WRONG[name][mistake])
    assert not result.passed, f"{name}: the check let through {mistake!r}"
    f = result.failure
    assert f["label"] and set(f["case"]) == set(EXERCISES[name].worked[0][1])
    assert "not yet" in describe(result) and EXERCISES[name].function in describe(result)


def test_the_worked_examples_are_the_textbooks_numbers():
    ndcg = E.EXERCISES["ndcg_at_k"]
    label, case = ndcg.worked[0]
    assert case == {"recommended": ["D", "A", "E", "B", "F"], "relevant": {"A", "B", "C"}, "k": 3}
    expected = (1 / math.log2(3)) / (1 + 1 / math.log2(3) + 1 / 2)  # one hit (A) at position 2; three liked
    assert ndcg.reference(**case) == pytest.approx(expected) and round(expected, 4) == 0.2961
    assert E.EXERCISES["precision_at_k"].reference(**{**case}) == pytest.approx(1 / 3)
    assert E.EXERCISES["recall_at_k"].reference(**{**case, "k": 5}) == pytest.approx(2 / 3)
    p = E.EXERCISES["two_proportion_p"].reference(x_a=120, n_a=1000, x_b=150, n_b=1000)
    pool = 270 / 2000
    assert p == pytest.approx(2 * norm.sf(0.03 / math.sqrt(pool * (1 - pool) * 2 / 1000)))
    # team draft, worked by hand: coin False → B picks 2; A picks 1; level, coin True → A picks 3; B picks 4
    assert E.EXERCISES["team_draft"].reference(**E.EXERCISES["team_draft"].worked[0][1]) == ([2, 1, 3, 4], ["B", "A", "A", "B"])
    assert E.EXERCISES["ips"].reference(rewards=[1.0, 0.0, 1.0], logging_p=[0.5, 0.25, 0.8],
                                        target_p=[1.0, 0.5, 0.2]) == pytest.approx((2 + 0 + 0.25) / 3)  # fmt: skip


def test_holm_reference_against_a_hand_worked_example():
    holm = E.EXERCISES["holm"].reference
    # sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1: 0.02, 0.03, 0.06, 0.04; the running maximum lifts 0.04 to 0.06
    assert np.allclose(holm(p_values=[0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02])
    assert np.allclose(holm(p_values=[0.5, 0.4]), [0.8, 0.8])  # 2 · 0.4 = 0.8, then max(0.8, 0.5)
    assert np.allclose(holm(p_values=[0.3, 0.6, 0.9]), [0.9, 1.0, 1.0])  # capped at 1
    assert E.EXERCISES["holm"].worked[0][1] == {"p_values": [0.01, 0.04, 0.03, 0.005]}


def test_histogram_quantile_reference_follows_prometheus_documented_rules():
    hq = E.EXERCISES["histogram_quantile"].reference
    bounds, cumulative = [0.025, 0.05, 0.1, math.inf], [20.0, 70.0, 95.0, 100.0]
    assert E.EXERCISES["histogram_quantile"].worked[0][1] == {"q": 0.9, "bounds": bounds, "cumulative": cumulative}
    # rank 90 is the 20th of the 25 requests in (0.05, 0.1]: 0.05 + 0.05 · 20/25
    assert hq(q=0.9, bounds=bounds, cumulative=cumulative) == pytest.approx(0.09)
    assert hq(q=0.1, bounds=bounds, cumulative=cumulative) == pytest.approx(0.0125)  # first bucket starts at 0
    assert hq(q=0.99, bounds=bounds, cumulative=cumulative) == 0.1  # rank 99 in +Inf: the largest finite bound
    assert hq(q=0.7, bounds=bounds, cumulative=cumulative) == pytest.approx(0.05)  # exactly a bucket's count
    assert math.isnan(hq(q=0.5, bounds=bounds, cumulative=[0.0, 0.0, 0.0, 0.0]))  # no observations


def test_a_failing_case_reports_the_first_disagreement_and_errors():
    def raises(recommended, relevant, k):
        raise ZeroDivisionError("boom")

    r = check("ndcg_at_k", raises)
    assert not r.passed and r.checked == 1 and r.failure["error"] == "ZeroDivisionError: boom"
    assert r.failure["label"].startswith("the textbook's example")
    r = check("mmr_pick", _mmr(sum))
    assert r.failure["label"].startswith("random case") and r.failure["got"] != r.failure["expected"]
    with pytest.raises(ValueError, match="expected a function"):
        check("ips", 3)


def test_assignments_are_stable_and_split_as_planned():
    ids = np.arange(20_000)
    arms = np.array([E.EXERCISES["assign_arm"].reference(user_id=int(u), experiment="x", split=[0.2, 0.3, 0.5]) for u in ids[:4000]])
    shares = np.bincount(arms, minlength=3) / len(arms)
    assert np.allclose(shares, [0.2, 0.3, 0.5], atol=0.03)
    assert unit_hash("x", 7) == unit_hash("x", 7) and unit_hash("x", 7) != unit_hash("y", 7)


# --- the notebooks hold their exercises ---------------------------------------------------------------------

NOTEBOOKS = {p.stem: p for p in list_notebooks(NOTEBOOK_DIR)}


@pytest.mark.parametrize("name", sorted(EXERCISES))
def test_each_exercise_sits_in_its_notebook(name):
    ex = EXERCISES[name]
    if ex.notebook not in NOTEBOOKS:
        pytest.skip(f"{ex.notebook} is not in notebooks/ yet")
    source = NOTEBOOKS[ex.notebook].read_text(encoding="utf-8")
    assert f'{name}_box = exercises.editor("{name}")' in source  # the code box of a served page
    assert f'exercises.task("{name}", {name}_box)' in source
    assert re.search(rf"^{re.escape(ex.signature)}$", source, re.M), f"{ex.notebook} lacks the learner's cell {ex.signature}"
    assert f'exercises.show("{name}", {ex.function}, {name}_box)' in source


def test_every_teaching_notebook_has_one_to_three_exercises():
    counts = {stem: len(E.for_notebook(stem)) for stem in NOTEBOOKS if stem[:2] != "00"}
    assert all(1 <= n <= 3 for n in counts.values()), f"exercises per notebook (1-3 each): {counts}"
    assert {ex.notebook for ex in EXERCISES.values()} <= set(NOTEBOOKS)


def test_every_terms_link_opens_a_glossary_entry():
    """The prompt's "Terms" links open the glossary page on one entry (?file=glossary.py&term=<anchor>):
    each anchor must be the anchor of an entry of docs/GLOSSARY.md, else the page finds nothing."""
    from workbench.lessons import guide

    anchors = {t.anchor for t in guide.glossary()}
    missing = {(ex.name, term) for ex in EXERCISES.values() for term in ex.glossary if E._anchor(term) not in anchors}
    assert not missing, f"glossary terms with no entry: {sorted(missing)}"
