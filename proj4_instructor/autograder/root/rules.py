"""The autograder's copy of proj4_lib/rules.py: the rules its checks share with the notebook and the
public tests.

The release writes proj4_lib/rules.py itself in this module's place (autograder_build.lay_out), so the
trusted runner, which runs with the standard library only and never imports the proj4_lib that sits
beside student code, judges with its own copy of the same text. In this repository this module stands
for that copy.
"""
from proj4_lib.rules import *  # noqa: F403 - this module stands for the copy: all of its names
