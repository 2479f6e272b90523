"""The notebooks' back-ends: what each lesson computes, apart from how it is drawn.

- `kit`: every notebook's set-up (settings, data picker, the fitted pipeline from the model
  store, headline lines that a script run prints, the provenance footer, the ranking convention).
- `whatif`: the reranking what-if (notebook 04 and the Jupyter panel).
- `candidates`: stage-1 views (notebook 02): recall curves, who wins the fused slots.
- `rankers`: stage-2 comparison (notebook 03).
- `worked`: the textbook's worked metrics example (notebook 05).
- `lab`: simulated experiments with treatments of known effect (notebooks 06 and 07).
- `exercises`: the 'Your turn' exercises and their checks against the package (every teaching notebook).
- `guide`: the learning path (notebook 00) and the glossary panel, read from the notebook files and docs/GLOSSARY.md.
- `pitfalls`: the textbook's mistakes beside the right way (notebooks 04, 06, 07; docs/PITFALLS.md).
- `serving`: the served recommender run inside the notebook (notebook 08).
- `offpolicy`: off-policy evaluation studied over many logs (notebook 10).
- `casestudies`: the three case studies' recipes and measurements (notebook 11).

Charts and widgets live in `workbench.viz`; the models and metrics in the rest of `workbench`.
"""
