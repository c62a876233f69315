"""The Pre-training tab: a model trained from scratch (page.py), its curves and the scaling fit (plots.py), and the
named endpoints (api.py)."""
