"""The "Inside the model" tab: page.py lays it out, plots.py and diagram.py draw its figures."""
