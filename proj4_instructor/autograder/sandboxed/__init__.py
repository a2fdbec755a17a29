"""What the runner starts as the sandbox user (torch): copied as plain files into grader/trusted_code/ and
sandbox/ of the zip, where they import each other by name (this package only lets the tests import them)."""
