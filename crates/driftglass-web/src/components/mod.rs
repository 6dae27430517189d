//! The page's components, one per file; each renders view state and computes nothing.

pub mod card;
pub mod model_bar;
pub mod summary;
pub mod verdict;
