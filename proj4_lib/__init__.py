"""proj4_lib: the provided library of the project. You use it; you do not edit it.

    parts.py             the four parts in one table: names, checkpoints, thresholds, recipes
    files.py             reading images, split folders and attribute CSVs (used by your image_loader)
    trainer.py           TrainerBase: loaders, image and feature caches, checkpoints, resume, plots
    checkpoints.py       save_trained_model_weights / load_trained_model (the files you submit)
    train.py, cli.py     the `proj4 train` and `proj4 data install` commands
    data_install.py      verified, atomic install of the dataset
    utils.py             seeds, the device convention, the notebook's verify
    notebook_checks.py   the check run after each TODO in the notebook
    notebook_helpers.py  the notebook's plumbing (paths, quick mode, pictures, submission)

Your code is in proj4_code/; the autograder uses its own pristine copy of this package.
"""
