"""The torch models compute what their papers say, checked against brute-force formulas."""

import itertools
import sys

import numpy as np
import pytest
import torch

from workbench.ranking import DeepFMConfig, NCFConfig, WideDeepConfig
from workbench.ranking.features import FeatureLayout

torch.set_num_threads(1)
FIELDS = ("user", "user_gender", "user_occupation", "user_age_bucket", "item", "item_category", "hour", "weekday", "device")
LAYOUT = FeatureLayout(("x0", "x1", "x2"), FIELDS, (5, 3, 4, 8, 7, 4, 25, 8, 4))


def batch(n=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    num = torch.randn(n, 3, generator=g)
    cat = torch.stack([torch.randint(0, c, (n,), generator=g) for c in LAYOUT.cardinalities], dim=1)
    return num, cat


def test_deepfm_second_order_term_is_the_sum_over_field_pairs():
    torch.manual_seed(0)
    model = DeepFMConfig(dropout=0.0).build(LAYOUT).eval()
    with torch.no_grad():
        model.embed.table.weight.normal_()  # larger than the init so the FM term matters
        num, cat = batch()
        e = model.embed(cat)
        fields = torch.cat([e, num[:, :, None] * model.num_embed], dim=1)  # [B, fields, k]
        pairs = sum((fields[:, i] * fields[:, j]).sum(1) for i, j in itertools.combinations(range(fields.shape[1]), 2))
        first = model.weight(cat).sum((1, 2)) + model.num_linear(num).squeeze(-1)
        deep = model.dnn(torch.cat([e.flatten(1), num], dim=1)).squeeze(-1)
        assert torch.allclose(model(num, cat), first + pairs + deep, atol=1e-4)


def test_wide_deep_cross_weights_are_one_per_value_pair():
    torch.manual_seed(0)
    model = WideDeepConfig(crosses=(("user_gender", "item_category"),), dropout=0.0).build(LAYOUT).eval()
    with torch.no_grad():
        model.wide_cross.table.weight.zero_()
        model.wide_cross.table.weight[2 * 4 + 3] = 5.0  # gender 2 AND category 3
        num, cat = batch(2)
        cat[:, 1], cat[:, 5] = torch.tensor([2, 2]), torch.tensor([3, 1])
        base = model(num, cat)
        model.wide_cross.table.weight.zero_()
        assert torch.allclose(base - model(num, cat), torch.tensor([5.0, 0.0]))
    with pytest.raises(ValueError, match="unknown fields"):
        WideDeepConfig(crosses=(("nope", "item"),)).build(LAYOUT)


def test_neumf_reads_only_ids_without_side_features():
    torch.manual_seed(0)
    model = NCFConfig(side_features=False, dropout=0.0).build(LAYOUT).eval()
    num, cat = batch()
    other = cat.clone()
    other[:, [1, 2, 3, 5, 6, 7, 8]] = 0  # change every field but user and item
    with torch.no_grad():
        assert torch.equal(model(num, cat), model(num * 10, other))
        u = model.gmf_user(cat[:, 0]) * model.gmf_item(cat[:, 4])
        m = model.tower(torch.cat([model.mlp_user(cat[:, 0]), model.mlp_item(cat[:, 4])], 1))
        assert torch.allclose(model(num, cat), model.head(torch.cat([u, m], 1)).squeeze(-1))
    with_side = NCFConfig().build(LAYOUT).eval()
    with torch.no_grad():
        assert not torch.equal(with_side(num, cat), with_side(num * 10, cat))


@pytest.mark.parametrize("cfg", [DeepFMConfig(), WideDeepConfig(), NCFConfig()])
def test_every_model_gives_one_finite_logit_per_pair(cfg):
    num, cat = batch(9)
    out = cfg.build(LAYOUT)(num, cat)
    assert out.shape == (9,) and torch.isfinite(out).all()


def test_gbdt_without_lightgbm_names_the_missing_extra(monkeypatch):
    from workbench.ranking.gbdt import _lightgbm

    monkeypatch.setitem(sys.modules, "lightgbm", None)
    with pytest.raises(ImportError, match=r"recsys-workbench\[gbdt\]"):
        _lightgbm()


def test_platt_recovers_a_known_sigmoid():
    from workbench.ranking.gbdt import platt

    rng = np.random.default_rng(0)
    s = rng.normal(size=20_000)
    y = (rng.random(20_000) < 1 / (1 + np.exp(-(2.0 * s - 1.0)))).astype(float)
    a, b = platt(s, y)
    assert abs(a - 2.0) < 0.1 and abs(b + 1.0) < 0.1
