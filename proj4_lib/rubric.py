"""The written report's rubric, in one table: every page of the report is one item, in this order.

Page k of every student's report is ITEMS[k - 1], whatever they have done, so one Gradescope outline
fits every PDF (the TA's copy is written by `proj4-instructor release autograder`). Everything else
derives from ITEMS: the notebook's answer cells (proj4_instructor/make_notebook.py puts each one after
the analysis its question is about), the PDF and the slides (`proj4 report`, proj4_lib/report.py), the
slide template (proj4_instructor/report_template.py) and the outline. Change the report here only, then
regenerate the notebook and the template.

The course's weights: code 70 (the autograder), report 30 (these items, graded by hand).

Data only: this module imports nothing of the project.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

REPORT_POINTS = 30  # the report's share of the course's 100 (code: 70)

# What a page may show of the run record (proj4_lib/run_record.py), each for one part (by its `proj4 train` name)
# or, for "ablation", for none. proj4_lib/report.py draws each kind.
SHOWS = (
    "curves",  # loss and accuracy per epoch (training and test)
    "accuracy",  # final training and test accuracy, with the part's threshold
    "hparams",  # epochs, batch size, learning rate, weight decay, optimizer, schedule, input size, seed
    "transforms",  # the training and test transforms the run used
    "architecture",  # the model's layers
    "parameters",  # parameter counts (trainable and frozen)
    "confusion",  # the test set's confusion matrix
    "misclassified",  # test images of the most confused pair of classes
    "attributes",  # per-attribute test accuracy, and how often each attribute is "yes"
    "ablation",  # Part 2's table: one row per change, trained one after the other
)
ANCHORS = ("training", "confusion_matrix", "confusion_from_outputs", "misclassified", "attribute_accuracy",
           "ablation", "report")  # where an answer cell goes: after a part's training, after an analysis, at the end


@dataclass(frozen=True)
class Item:
    key: str  # the answer cell's marker: <!-- answer KEY -->
    title: str  # the page's heading
    question: str
    points: int
    words: Optional[int]  # at most this many words in the answer (None: no limit)
    shows: Tuple[Tuple[str, str], ...]  # (kind of SHOWS, part name or "") drawn on the page, in order
    part: int  # the notebook's part whose section holds the answer cell (0: the report section at the end)
    after: str  # one of ANCHORS: the answer cell comes right after this cell of that part

    def __post_init__(self):
        for kind, _ in self.shows:
            if kind not in SHOWS:
                raise ValueError(f"rubric item {self.key}: unknown kind {kind!r}; choose one of {', '.join(SHOWS)}")
        if self.after not in ANCHORS:
            raise ValueError(f"rubric item {self.key}: unknown anchor {self.after!r}; "
                             f"choose one of {', '.join(ANCHORS)}")


ITEMS: Tuple[Item, ...] = (
    Item("p1_fit", "Part 1: SimpleNet, loss and accuracy",
         "Look at your loss and accuracy curves: is SimpleNet overfitting, underfitting, or neither? Point to what "
         "in the curves tells you, and say what you would change first.",
         points=3, words=100, part=1, after="training",
         shows=(("curves", "simple_net"), ("accuracy", "simple_net"), ("hparams", "simple_net"))),
    Item("p2_augmentation", "Part 2: data augmentation",
         "Which augmentations did you use, and why do they help on scene images? Name one augmentation that would "
         "hurt here, and say why.",
         points=3, words=100, part=2, after="training",
         shows=(("transforms", "simple_net_final"), ("curves", "simple_net_final"), ("accuracy", "simple_net_final"))),
    Item("p2_dropout", "Part 2: dropout",
         "What does dropout do during training, and what changes at test time (model.eval())? Why does it reduce "
         "overfitting?",
         points=2, words=80, part=2, after="training",
         shows=(("architecture", "simple_net_final"), ("hparams", "simple_net_final"))),
    Item("p2_parameters", "Part 2: SimpleNet and SimpleNetFinal, parameter counts",
         "How many trainable parameters do SimpleNet and your SimpleNetFinal have? Which layers hold most of them, "
         "and why can the network with more parameters still generalise better here?",
         points=2, words=80, part=2, after="training",
         shows=(("parameters", "simple_net"), ("parameters", "simple_net_final"), ("architecture", "simple_net"),
                ("architecture", "simple_net_final"))),
    Item("p2_batchnorm", "Part 2: batch norm after a convolution",
         "What does batch normalization compute during training and at test time? What happens to the bias of a "
         "convolution that batch norm follows, and what does that mean for how you write the layer?",
         points=2, words=80, part=2, after="training",
         shows=(("architecture", "simple_net_final"),)),
    Item("p2_confusion", "Part 2: where SimpleNetFinal goes wrong",
         "Which pairs of classes does SimpleNetFinal confuse most often? Why might these scenes be hard to tell "
         "apart for this network?",
         points=3, words=100, part=2, after="confusion_matrix",
         shows=(("confusion", "simple_net_final"), ("accuracy", "simple_net_final"))),
    Item("p2_ablation", "Part 2: what each change did",
         "Read your ablation table: which change raised test accuracy most, and which narrowed the gap between "
         "training and test accuracy (the model's variance) most? Why?",
         points=3, words=120, part=2, after="ablation",
         shows=(("ablation", ""),)),
    Item("p3_freezing", "Part 3: fine-tuning a pretrained network",
         "Why do we freeze the pretrained backbone and train only a new head? What would change (accuracy, training "
         "time, risk of overfitting) if you unfroze more layers, and why does this network reach a higher accuracy "
         "than SimpleNet trained from scratch?",
         points=3, words=120, part=3, after="training",
         shows=(("curves", "my_resnet"), ("accuracy", "my_resnet"), ("parameters", "my_resnet"),
                ("hparams", "my_resnet"))),
    Item("p3_mistakes", "Part 3: misclassified test images",
         "Look at the misclassified images of the most confused pair of classes: why does the model confuse them? "
         "Would a person make the same mistake?",
         points=3, words=100, part=3, after="misclassified",
         shows=(("confusion", "my_resnet"), ("misclassified", "my_resnet"))),
    Item("p4_changes", "Part 4: from one label to seven",
         "Name three changes you made from Part 3 to Part 4 (the model's output, its activation, the loss, the "
         "accuracy, the data) and why each was needed. Does binary cross-entropy fit this task, and why not "
         "softmax with cross-entropy?",
         points=3, words=120, part=4, after="training",
         shows=(("curves", "multilabel_resnet"), ("accuracy", "multilabel_resnet"), ("hparams", "multilabel_resnet"))),
    Item("p4_pitfall", "Part 4: a multi-label pitfall",
         "Which attributes are hardest to predict? A rare attribute (few images show animals) can score a high "
         "accuracy while the model never says yes: compare each accuracy with how often the attribute is 'no', and "
         "say what you would measure instead.",
         points=3, words=120, part=4, after="attribute_accuracy",
         shows=(("attributes", "multilabel_resnet"),)),
    Item("extra_credit", "Extra credit (optional)",
         "If you did extra credit: what did you do, and what did it change (with numbers)? Leave it empty "
         "otherwise; it is graded on top of the 30 points.",
         points=0, words=None, part=0, after="report", shows=()),
)


def total_points() -> int:
    return sum(item.points for item in ITEMS)


def get_item(key: str) -> Item:
    """The item with this key; ValueError names the valid ones."""
    for item in ITEMS:
        if item.key == key:
            return item
    raise ValueError(f"unknown rubric item {key!r}; choose one of {', '.join(i.key for i in ITEMS)}")


def page_of(key: str) -> int:
    """The page (1-based) of the report that holds the item."""
    return [item.key for item in ITEMS].index(get_item(key).key) + 1
