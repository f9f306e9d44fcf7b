//! Tests over the fixture files in tests/fixtures/ilmt.
