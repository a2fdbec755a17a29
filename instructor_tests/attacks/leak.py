
# ---- attack (appended to a student module): the feedback as a channel out ------------------------------
# Whatever proj4_code/__init__.py read (attacks/reach.py) goes into an exception raised at import: the
# grader shows it in the checks of this module (a probe's error) and in the failing public tests that
# import it (a collection error). The report comes last: the feedback keeps the end of a message.
from proj4_code import _REACH_LEAK as _leak_text, _REACH_REPORT as _leak_report

raise RuntimeError(f"{_leak_text}\nREACH-REPORT {_leak_report}")
