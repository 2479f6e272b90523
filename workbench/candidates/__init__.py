"""Stage 1, candidate generation: many sources, each ``fit(train)`` then ``retrieve(users, k)``, fused.

``SOURCES`` maps a name to its class (constructor arguments are the hyper-parameters,
all with working defaults; ``TUNED_SOURCE_PARAMS`` the tuned ones); `CandidateGenerator`
fits several and fuses their lists.
"""

from workbench.candidates.als import ALS
from workbench.candidates.ann import AnnConfig, build_index, recall_vs_exact
from workbench.candidates.base import CandidateSource, NotFittedError
from workbench.candidates.content import ContentBased
from workbench.candidates.ease import EASE
from workbench.candidates.fusion import DEFAULT_WEIGHTS, TUNED_WEIGHTS, CandidateGenerator, fuse, quotas
from workbench.candidates.itemknn import ItemKNN
from workbench.candidates.registry import SOURCES, TUNED_SOURCE_PARAMS
from workbench.candidates.rules import NewReleases, Popular, Trending
from workbench.candidates.sasrec import SASRec
from workbench.candidates.two_tower import TwoTower

__all__ = [
    "ALS", "AnnConfig", "CandidateGenerator", "CandidateSource", "ContentBased", "DEFAULT_WEIGHTS", "EASE", "ItemKNN",
    "NewReleases", "NotFittedError", "Popular", "SASRec", "SOURCES", "TUNED_SOURCE_PARAMS", "TUNED_WEIGHTS", "Trending", "TwoTower", "build_index",
    "fuse", "quotas", "recall_vs_exact",
]  # fmt: skip
