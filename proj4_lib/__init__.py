"""proj4_lib: the provided library of the project. You use it; you do not edit it.

It never imports your code (proj4_code), so it works whatever state your files are in; your code
imports it. The tools that run your code (the `proj4` command, the notebook's checks) are the
separate package proj4_tools, which imports both.
    parts.py             every part in one table: names, classes, checkpoints, thresholds, recipes, notebook text
    files.py             reading images, split folders and attribute CSVs (used by your image_loader)
    backbones.py         frozen pretrained backbones with grayscale input (Parts 3-4)
    checkpoints.py       save_trained_model_weights, and reading the files you submit back
    architecture.py      a SimpleNetFinal's layers as data: what its checkpoint records, how a grader rebuilds it
    rules.py             the rules the graded checks enforce (Part 2's design, the augmentation's behaviour)
    trainer.py           TrainerBase: loaders, image and feature caches, checkpoints, resume; the schedules
    evaluation.py        running a model over a dataset; the plots (curves, confusion matrix, attributes)
    expectations.py      what each TODO must do: the notebook's checks and the public tests call it
    fixtures.py          small synthetic images and image folders for the checks and tests
    utils.py             seeds, the device convention, the notebook's verify
    data_install.py      verified, atomic install of the dataset
    colab.py, course.py  the notebook's Colab set-up (your project on Drive); the course's web addresses
    rubric.py            the written report's items, one per page
    run_record.py        model_output/run_record.json: what your runs record for the report
    report.py, slides.py `proj4 report`: the report's PDF (and slides) from the record and your answer cells

The autograder uses its own pristine copy of this package.
"""
