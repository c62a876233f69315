"""The Attention tab: ``page`` lays it out, ``plots`` draws the heatmaps."""
