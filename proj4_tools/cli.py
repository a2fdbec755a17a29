"""The `proj4` command: a thin layer over the library.

    proj4 data install [--from PATH_OR_URL] [--dest data]
    proj4 train {simple_net,simple_net_final,my_resnet,multilabel_resnet,all} [options]
    proj4 report --gt_username NAME [--slides]     NAME_proj4.pdf: the written report, one rubric item per page

Only `proj4 train` imports your code (proj4_tools.train), and only when it runs: `proj4 data install`
and `proj4 report` work whatever state the files in proj4_code/ are in.
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import List, Optional

from proj4_lib import parts
from proj4_lib.backbones import BACKBONES
from proj4_lib.utils import DEFAULT_SEED, tune_cpu_allocator


class DefaultsHelp(argparse.ArgumentDefaultsHelpFormatter):
    """Adds "(default: X)" to an option's help where X says something: not for a flag, nor where the
    help says the default itself (a default of None)."""

    def _get_help_string(self, action) -> str:
        if action.default is None or isinstance(action.default, bool):
            return action.help
        return super()._get_help_string(action)


def _add_train_parser(sub) -> None:
    p = sub.add_parser("train", help="train a model with its reference recipe", formatter_class=DefaultsHelp)
    p.add_argument("model", choices=(*parts.names(), "all"), help="which part's model; 'all' runs every part in order")
    p.add_argument("--epochs", type=int, default=None, help="epochs (default: the recipe's, see proj4_lib/parts.py)")
    p.add_argument("--batch-size", type=int, default=None, help="batch size (default: the recipe's)")
    p.add_argument("--lr", type=float, default=None, help="peak learning rate (default: the recipe's)")
    p.add_argument("--device", default="auto", choices=("auto", "cuda", "mps", "cpu"),
                   help="auto: CUDA, then Apple MPS, then the CPU")
    p.add_argument("--out", default="model_output", help="folder for checkpoints, plots, metrics.json")
    p.add_argument("--data-dir", default="data", help="folder with train/, test/ and the attribute CSVs")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED, help="seeds initialisation, batch order, augmentation")
    p.add_argument("--backbone", default=None, choices=BACKBONES,
                   help="backbone of the pretrained parts (default: $PROJ4_BACKBONE, else resnet18 if its "
                        "ImageNet weights are cached or can be downloaded, else efficientnet_lite0)")
    p.add_argument("--restart", action="store_true", help="start over instead of resuming a checkpoint")
    p.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bars (default: show them)")


def _run_train(args) -> int:
    from proj4_tools.train import TrainConfig, train_model  # imports your code: only this command needs it

    names = parts.names() if args.model == "all" else (args.model,)
    for name in names:
        fields = {k: getattr(args, k) for k in ("epochs", "batch_size", "lr", "device", "out", "data_dir",
                                                "seed", "backbone", "restart", "progress")}
        train_model(TrainConfig(model=name, **fields))
    return 0


# -- proj4 report (proj4_lib/report.py) -------------------------------------------------------------------------
def _add_report_parser(sub) -> None:
    p = sub.add_parser("report", help="make the written report's PDF from the run record and the notebook's answers",
                       formatter_class=DefaultsHelp)
    p.add_argument("--gt_username", required=True, help="your GT username: the PDF is <username>_proj4.pdf")
    p.add_argument("--notebook", default="notebooks/proj4.ipynb",
                   help="the saved notebook holding your answer cells (save it first)")
    p.add_argument("--record", default="model_output/run_record.json", help="the run record training wrote")
    p.add_argument("--out", default=".", help="folder for the PDF")
    p.add_argument("--slides", action="store_true", help="also write <username>_proj4.pptx, the same content as slides")


def _run_report(args) -> int:
    from proj4_lib.report import make_report
    from proj4_lib.run_record import RecordError

    try:
        pdf, missing = make_report(args.gt_username, args.record, args.notebook, args.out, args.slides)
    except (RecordError, ValueError, OSError, RuntimeError) as err:
        print(f"proj4 report: {err}\nYour code submission does not depend on the report (zip_submission.py).",
              file=sys.stderr)
        return 1
    print(f"wrote {pdf}" + (f" and {pdf.with_suffix('.pptx')}" if args.slides else "")
          + ": one page per rubric item, page k = item k")
    if missing:
        print("missing (each is shown on its page):\n  " + "\n  ".join(missing))
    return 0


def _run_data(args) -> int:
    from proj4_lib.data_install import DataInstallError, default_dest, install_data

    try:
        dest = args.dest
        if dest is None:
            dest = default_dest()
            print(f"Installing into {dest} (the project folder's data/)")
        install_data(args.source, dest)
    except DataInstallError as err:
        print(f"proj4 data install: {err}", file=sys.stderr)
        return 1
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="proj4", description="Scene Recognition with Deep Learning")
    sub = parser.add_subparsers(dest="command", required=True)
    data = sub.add_parser("data", help="manage the dataset")
    data_sub = data.add_subparsers(dest="action", required=True)
    install = data_sub.add_parser("install", help="verify and unpack the 15-Scene data into data/",
                                  formatter_class=DefaultsHelp)
    install.add_argument("--from", dest="source", default=None,
                         help="where the course's data files are: a folder holding proj4_data.zip and the two "
                              "attribute CSVs, the path of proj4_data.zip, or the http(s) URL of such a web folder "
                              "or of proj4_data.zip (not a Google Drive or Dropbox share link); default: "
                              "$PROJ4_DATA_SOURCE, else the course's address in proj4_lib/course.py")
    install.add_argument("--dest", default=None, help="where to put train/, test/ and the CSVs (default: data/ in "
                                                      "the project folder: the one with setup.py and proj4_code/ "
                                                      "that you run the command in, or that proj4 is installed from)")
    _add_train_parser(sub)
    _add_report_parser(sub)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    os.environ.setdefault("MPLBACKEND", "Agg")  # plots go to files; no display needed
    tune_cpu_allocator()  # a third faster CPU training on Linux; see proj4_lib/utils.py
    args = build_parser().parse_args(argv)
    if args.command == "data":
        return _run_data(args)
    if args.command == "report":
        return _run_report(args)
    return _run_train(args)


if __name__ == "__main__":
    sys.exit(main())
