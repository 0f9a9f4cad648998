//! Integration tests of the workspace live in `tests/tests/`, one file per topic.
