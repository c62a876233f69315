"""The progress callback every slow library call accepts: ``progress(fraction, message)``.

Tabs pass one that drives Gradio's progress bar, notebooks a print, tests nothing; the library
never needs to know which.
"""

from collections.abc import Callable

ProgressFn = Callable[[float, str], None]
