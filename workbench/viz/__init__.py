"""Charts (altair) and widgets for the notebooks; the logic they show lives in the rest of `workbench`."""
