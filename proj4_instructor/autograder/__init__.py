"""The Gradescope autograder of proj4 (built by `proj4 release autograder`, run by `proj4 grade`).

Trusted scoring: the runner (as root) scores the answers of a sandboxed answer producer against the
reference's answers computed at build time; the public tests run for feedback only (0 points).

    runner.py              stdlib-only: submission -> intake -> facts -> answers -> scores -> results.json
    intake.py              which submitted files are graded (allow-list; zip-slip, symlinks, sizes refused)
    facts.py               checkpoint facts read with torch.load(weights_only=True), before student code
    sandbox.py             runs a command as the unprivileged user, with limits; kills what it left
    answers.py             in the sandbox: probes of the student code and checkpoint predictions (answers only)
    checks.py, scoring.py  what earns points, and the comparison with expected.json and the test key
    proj4_grader_plugin.py pytest plugin of the public-test run: records outcomes as JSON lines (feedback)
    setup.sh, run_autograder, pytest.ini   copied to the autograder zip
"""
