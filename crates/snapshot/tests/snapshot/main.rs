//! The snapshot against the store it was built from.

mod same_answers;
