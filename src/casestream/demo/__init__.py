"""The demo caseload: believable people under supervision, their officers, partners and
histories, written through the same commands as real use (``casestream demo``).

The data tables are in ``data.py``, the code that plans and writes each case in
``generator.py``.
"""

from casestream.demo.data import (
    CASES_PER_OFFICER,
    DEFAULT_MONTHS,
    OFFICERS,
    roster_for,
)
from casestream.demo.generator import demo_cases, load_demo

__all__ = [
    "CASES_PER_OFFICER",
    "DEFAULT_MONTHS",
    "OFFICERS",
    "demo_cases",
    "load_demo",
    "roster_for",
]
