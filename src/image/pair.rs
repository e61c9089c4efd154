//! [`SrPair`], the item every dataset yields and the patch grid produces; it lives with the
//! images so the patch code (a lower layer) does not depend on `dataset`.

use super::Image;

/// One training pair: LR patch `[3, p, p]` and HR patch `[3, s p, s p]`, values in `[0, 1]`.
#[derive(Clone, Debug, PartialEq)]
pub struct SrPair {
    /// LR patch `[3, p, p]`.
    pub lr: Image,
    /// HR patch `[3, s p, s p]`.
    pub hr: Image,
}
