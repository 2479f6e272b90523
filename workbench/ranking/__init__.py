"""Stage 2: rank each user's candidates with DeepFM, Wide & Deep, NCF or LambdaMART over shared features."""

from workbench.ranking.deepfm import DeepFM, DeepFMConfig
from workbench.ranking.features import FEATURES, Context, FeatureBuilder, FeatureConfig, feature_table
from workbench.ranking.gbdt import GBDTConfig
from workbench.ranking.ncf import NCFConfig, NeuMF
from workbench.ranking.ranker import RANKERS, Ranker, fit_two_stage
from workbench.ranking.train import TrainConfig
from workbench.ranking.wide_deep import WideDeep, WideDeepConfig

__all__ = [
    "FEATURES", "RANKERS", "Context", "DeepFM", "DeepFMConfig", "FeatureBuilder", "FeatureConfig", "GBDTConfig",
    "NCFConfig", "NeuMF", "Ranker", "TrainConfig", "WideDeep", "WideDeepConfig", "feature_table", "fit_two_stage",
]  # fmt: skip
