//! The page's components, one per file; each renders view state and computes nothing (the
//! lesson asks the model crate for its steps' numbers through [`crate::lesson`]).

pub mod card;
pub mod controls;
pub mod drop_zone;
pub mod exports;
pub mod how_it_works;
pub mod lesson;
pub mod model_bar;
pub mod practical;
pub mod results_grid;
pub mod summary;
pub mod timeline;
pub mod verdict;
pub mod what_changed;
