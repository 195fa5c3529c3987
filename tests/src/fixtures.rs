//! The recorded provider traffic in `tests/fixtures` (a copy of the project's shared
//! fixtures, kept in the repository so CI has them).

use std::path::PathBuf;

/// `tests/fixtures`.
pub fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}
