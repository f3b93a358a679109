//! Family placeholder: decoders arrive with the upstream-codecs work.

use super::Decoder;
use crate::types::TypeId;

/// Decoders of this family.
pub fn decoder(_id: TypeId) -> Option<Decoder> {
    None
}
