"""proj4_tools: the provided tools that run your code. You use them; you do not edit them.

They import your code (proj4_code), each part's module only when that part is used, so a file of
yours with an error breaks its own part and nothing else; and the provided library (proj4_lib).
    models.py            the registry's class names -> your classes; load_trained_model
    train.py, cli.py     the `proj4` command: `proj4 train`, `proj4 data install`, `proj4 report`
                         (only train imports your code)
    notebook_checks.py   the check run after each TODO in the notebook
    notebook_helpers.py  the notebook's plumbing (paths, quick mode, pictures, recording, submission, report)
    ablation.py          Part 2's ablation table from your own models

The autograder uses its own pristine copy of this package.
"""
