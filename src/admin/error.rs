//! What an admin answer reports beside what it was asked for: a tier or the control plane
//! that failed on the way. The answer is still given (`errors` in its JSON), read from here.

use std::fmt;

use crate::control::error::ControlError;
use crate::store::TierError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminError {
    Tier(TierError),
    Control(ControlError),
}

impl fmt::Display for AdminError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AdminError::Tier(error) => write!(f, "{error}"),
            AdminError::Control(error) => write!(f, "{error}"),
        }
    }
}
