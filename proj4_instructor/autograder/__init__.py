"""The Gradescope autograder of proj4 (built by `proj4 release autograder`, run by `proj4 grade`).

    runner.py              stdlib-only: submission -> pytest run -> results.json (Gradescope's spec)
    proj4_grader_plugin.py pytest plugin: records each test's outcome as JSON lines
    hidden_tests/          structure and checkpoint-accuracy tests (grader_support: trusted helpers)
    setup.sh, run_autograder, pytest.ini   copied to the autograder zip
"""
