//! What asking the control plane can fail with, as its callers report it.

use std::fmt;

use crate::control::plane::Unreachable;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ControlError {
    /// It did not answer (`plane::ask`).
    Unreachable(Unreachable),
    /// It answered with what could not be read: `what` it was asked for, and why.
    Unreadable { what: &'static str, reason: String },
}

impl From<Unreachable> for ControlError {
    fn from(error: Unreachable) -> ControlError {
        ControlError::Unreachable(error)
    }
}

impl fmt::Display for ControlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ControlError::Unreachable(error) => write!(f, "{error}"),
            ControlError::Unreadable { what, reason } => {
                write!(f, "the control plane's {what} are unreadable: {reason}")
            }
        }
    }
}
