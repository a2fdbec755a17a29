"""`proj4-instructor`: the instructor's commands (not in the student release).

    proj4-instructor release {student,autograder} ...   the starter and the Gradescope autograder
    proj4-instructor grade SUBMISSION.zip               grade one submission here, in a fresh container
    proj4-instructor regrade EXPORT --jobs N            regrade a Gradescope export: CSV, summary page, flags
    proj4-instructor reports CODE_EXPORT REPORT_EXPORT  the written reports' numbers against the graded models
    proj4-instructor base-image                         a Debian base image (no registry needed)
    proj4-instructor rehearse ...                       Gradescope's default container, proven here
    proj4-instructor bench                              speed / accuracy figures for BENCHMARKS.md
"""
from __future__ import annotations

import importlib
import sys
from typing import List, Optional

COMMANDS = {
    "release": "proj4_instructor.release",
    "grade": "proj4_instructor.grade",
    "regrade": "proj4_instructor.regrade",
    "reports": "proj4_instructor.reports",
    "rehearse": "proj4_instructor.rehearse",
    "base-image": "proj4_instructor.base_images",
    "bench": "proj4_instructor.bench",
}


def main(argv: Optional[List[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in COMMANDS:
        print(__doc__.strip(), file=sys.stderr if argv else sys.stdout)
        return 0 if not argv or argv[0] in ("-h", "--help") else 2
    return importlib.import_module(COMMANDS[argv[0]]).main(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
