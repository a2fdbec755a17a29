"""The autograder's runner (as root, standard library only): grader/proj4_autograder/ in the zip; see runner.py."""
