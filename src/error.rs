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
    /// limit, image smaller than one patch, mismatched shapes...).
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

    /// Cache error for `path`.
    pub fn cache(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        IdcError::Cache {
            path: path.into(),
            reason: reason.into(),
        }
    }
}
