"""The Gradescope autograder of proj4: built by `proj4-instructor release autograder` (autograder_build.py),
run by Gradescope, `proj4-instructor grade` and `regrade` (in a container), and the rehearsal.

The folders say who runs what:
    root/        the runner, as root, standard library only (grader/proj4_autograder/ in the zip):
                 runner.py (submission -> results.json), intake.py (which files are graded),
                 sandbox.py (runs a command as the unprivileged user, with limits), protocol.py (the
                 messages between the runner and what it starts, every limit), checks.py and scoring.py
                 (what earns points), rules.py (the rules shared with the notebook and the public tests)
    sandboxed/   what the runner starts as the sandbox user, with torch:
                 trusted.py (the trusted evaluation, on pristine code: grader/trusted_code/), answers.py
                 (the student's answers: sandbox/), probes.py (both sides' probes),
                 proj4_grader_plugin.py and pytest.ini (the public tests, for feedback)
    setup.sh, run_autograder   at the zip's root: Gradescope's image build and entry point
"""
