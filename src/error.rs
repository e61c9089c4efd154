//! One error enum for the whole crate, split by cause so callers can react (skip a bad image,
//! re-condense a stale shard, report a bad config) without parsing messages.

use std::path::PathBuf;

/// Every fallible operation in burn-idc returns this error.
#[derive(Debug, thiserror::Error)]
pub enum IdcError {
    /// File-system failure, with the path it concerned.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The file or directory the operation concerned.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The bytes are not an image the decoder understands (or are truncated).
    #[error("cannot decode image {path}: {reason}")]
    Decode {
        /// The image file.
        path: PathBuf,
        /// Why it could not be decoded.
        reason: String,
    },
    /// Well-formed input that the operation cannot accept (zero-size image, image above the pixel
    /// limit, image smaller than one patch...); counts and shapes that differ are [`IdcError::Mismatch`].
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// A configuration value outside its valid range; raised before any algorithm runs.
    #[error("invalid config: {field}: {reason}")]
    InvalidConfig {
        /// Name of the offending field (dotted for nested fields, e.g. `rlff.kernel`).
        field: String,
        /// Why the value is rejected (e.g. `must be odd and positive`).
        reason: String,
    },
    /// A shard or cache entry that is missing, stale, corrupt or of another format version.
    #[error("cache error on {path}: {reason}")]
    Cache {
        /// The shard or cache file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// Model construction, weight import or checkpoint failure.
    #[error("model error: {0}")]
    Model(String),
    /// A count, size or shape that differs from the one the operation expects (image data length,
    /// two images' shapes, a feature buffer, the pairs or patches an instance yields).
    #[error("{what}: expected {expected}, found {found}")]
    Mismatch {
        /// What was measured (e.g. `image shapes`, `pairs of instance baby`).
        what: String,
        /// The value the operation expects.
        expected: String,
        /// The value it found.
        found: String,
    },
    /// A broken invariant inside burn-idc: a bug to report, not something a caller can fix.
    #[error("internal: {0}")]
    Internal(String),
    /// A reproduction stage that has not finished yet, met by a report-only run (which runs
    /// nothing and reports what is done).
    #[error("stage {0} has not finished yet")]
    StageMissing(String),
}

/// Crate-wide result alias.
pub type Result<T> = std::result::Result<T, IdcError>;

impl IdcError {
    /// I/O error with the path that caused it.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        IdcError::Io {
            path: path.into(),
            source,
        }
    }

    /// Invalid-config error for `field`.
    pub fn config(field: impl Into<String>, reason: impl Into<String>) -> Self {
        IdcError::InvalidConfig {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// Mismatch error: `what` was expected to be `expected` and is `found`.
    pub fn mismatch(
        what: impl Into<String>,
        expected: impl std::fmt::Display,
        found: impl std::fmt::Display,
    ) -> Self {
        IdcError::Mismatch {
            what: what.into(),
            expected: expected.to_string(),
            found: found.to_string(),
        }
    }

    /// Cache error for `path`.
    pub fn cache(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        IdcError::Cache {
            path: path.into(),
            reason: reason.into(),
        }
    }
}
