"""The textbook's three case studies, rebuilt in miniature (notebook 11).

- YouTube: `freshness` (the example-age feature: item popularity bursts after upload, a model
  trained on a window under-predicts fresh items unless each example carries its age, set to
  zero at serving); `watchtime` (items with their own watch times, watch-time-weighted logistic
  regression against click-trained ranking, judged by the simulator's expected watch time).
- Amazon: `itempages` (also bought, also viewed, similar: each from its own source); `session`
  (SASRec following a session click by click; how much history it should read). The session
  reaches the pipeline at request time: ``Pipeline.recommend(users, context={"session": ...})``
  (`workbench.candidates.context`).
- Netflix: `rows` (a page of rows from sources and genres, ordered per user, deduplicated,
  measured as a page); `bandit` (LinUCB / Thompson sampling choosing the top row, against
  ε-greedy at the same exploration budget, regret from the simulator's truth); `multitask`
  (one network with click and watch-time heads against two single-task networks).

The recipes themselves are pipeline configs: ``configs/casestudies/{youtube,amazon,netflix}.toml``.
"""
