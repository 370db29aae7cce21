"""Hardware design sources: pin map checker, SKiDL board sources, power budget.

Not installed with the ``siaga112`` distribution (a Pi needs none of it); used
from the repository by the tests and by ``python -m hardware.<module>``.
"""
