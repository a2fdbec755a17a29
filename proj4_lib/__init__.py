"""proj4_lib: the provided library of the project. You use it; you do not edit it.

Two layers. The base layer never imports your code (proj4_code), so it works whatever state your
files are in:
    parts.py             every part in one table: names, classes, checkpoints, thresholds, recipes, notebook text
    files.py             reading images, split folders and attribute CSVs (used by your image_loader)
    backbones.py         frozen pretrained backbones with grayscale input (Parts 3-4)
    checkpoints.py       save_trained_model_weights, and reading the files you submit back
    trainer.py           TrainerBase: loaders, image and feature caches, checkpoints, resume; the schedules
    evaluation.py        running a model over a dataset; the plots (curves, confusion matrix, attributes)
    expectations.py      what each TODO must do: the notebook's checks and the public tests call it
    fixtures.py          small synthetic images and image folders for the checks and tests
    utils.py             seeds, the device convention, the notebook's verify
    data_install.py      verified, atomic install of the dataset
    rubric.py            the written report's items, one per page
    run_record.py        model_output/run_record.json: what your runs record for the report
    report.py, slides.py `proj4 report`: the report's PDF (and slides) from the record and your answer cells
The application layer imports your code, each part's only when that part is used:
    models.py            the registry's class names -> your classes; load_trained_model
    train.py, cli.py     the `proj4 train` and `proj4 data install` commands (only train imports your code)
    notebook_checks.py   the check run after each TODO in the notebook
    notebook_helpers.py  the notebook's plumbing (paths, quick mode, pictures, recording, submission, report)
    ablation.py          Part 2's ablation table from your own models

Your code is in proj4_code/; the autograder uses its own pristine copy of this package.
"""
