"""Incidents injected into the loop to test its monitoring: what goes wrong, from day ``shift_day`` on.

``LoopConfig.shift_kind`` picks one (``shift_day = 0``: none):

- ``"explore"``: a bad configuration push: every slate explores at ``shift_epsilon`` (e.g. 0.5 instead of 0.1).
  What is shown moves (more items from below each slate), what is clicked barely does: under the position
  click model, random items from below the slate are clicked about as often as the low slots they replace.
- ``"ranker"``: a bad model push, meant to show in CTR as it does on a real pager: the pushed ranker's scores have the wrong
  sign (a label or loss flipped in training, a negated output in the export). Each visitor's ranked pool keeps its
  items, but the order is turned upside down (`invert_scores`), so stage 3 shows the bottom of the pool stage 2 was
  given instead of its top: CTR falls, and the scores shown (negated) leave their usual range. How far CTR falls is
  the world's: on the small synthetic world by 5-26% over the first 3 days (seeds 0-1 and 5-8, RESULTS.md), within
  the day-to-day noise of ~250 clicks a day, so the CTR rule misses it there while the drift detectors report it.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from workbench.types import CandidateSet

SHIFT_KINDS = ("explore", "ranker")


def invert_scores(ranked: CandidateSet) -> CandidateSet:
    """``ranked`` with every real (non-padding) score negated: the same items, ranked upside down; padding untouched."""
    return dataclasses.replace(ranked, scores=np.where(ranked.mask, -ranked.scores, ranked.scores))
