"""Hidden tests: test-split accuracy of each submitted checkpoint, with partial credit.

credit = clip((accuracy - floor) / (threshold - floor), 0, 1); thresholds and floors are in the
autograder's config.json (course thresholds 45 / 55 / 85 / 90 %, floor 15 points below each).
"""
import pytest

from grader_support import grade_accuracy

POINTS = 8


@pytest.mark.points(POINTS)
@pytest.mark.parametrize("class_name", ["SimpleNet", "SimpleNetFinal", "MyResNet18", "MultilabelResNet18"])
def test_checkpoint_accuracy(class_name, record_property):
    """test-split accuracy of the submitted checkpoint"""
    grade_accuracy(class_name, record_property, POINTS)
